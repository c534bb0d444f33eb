/**
 * The IAM table cannot drift from the code. Every dcp the tests run records its AWS calls
 * (DCP_RECORD_CALLS, set by test/harness/global-setup.ts); each must be allowed by the policy that
 * src/plan/iam-policy.ts generates for the principal making it, through this test's own mapping of SDK
 * operations to IAM actions (test/harness/iam-drift.ts). The whole suite's calls are checked again when
 * it ends (global teardown: a drift fails `make test`).
 */
import { appendFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, inject, it } from "vitest";
import { driftOf, iamActionsOf, readRecordedCalls } from "./harness/iam-drift.js";
import { runDcp, tempDir } from "./harness/dcp.js";

describe("IAM drift", () => {
  it("maps SDK operations to the IAM actions that authorize them", () => {
    expect(iamActionsOf("s3", "ListObjectsV2")).toEqual(["s3:ListBucket"]);
    expect(iamActionsOf("sqs", "SendMessageBatch")).toEqual(["sqs:SendMessage"]);
    expect(iamActionsOf("s3", "UploadPart")).toEqual(["s3:PutObject"]);
    expect(iamActionsOf("service-quotas", "GetServiceQuota")).toEqual(["servicequotas:GetServiceQuota"]);
    expect(iamActionsOf("ec2", "RequestSpotFleet")).toContain("iam:PassRole");
    expect(iamActionsOf("sts", "GetCallerIdentity")).toEqual([]);
  });

  it("fails when a command makes a call the table lacks (a new call added to the code without the table)", () => {
    const recorded = [
      { command: "setup", service: "sqs", operation: "CreateQueue" },
      { command: "setup", service: "ec2", operation: "RunScheduledInstances" },
      { command: "worker", service: "s3", operation: "DeleteBucket" },
      { command: "submit", service: "sqs", operation: "PurgeQueue" },
      { command: "brand-new-command", service: "sqs", operation: "GetQueueUrl" },
    ];
    const drift = driftOf(recorded);
    expect(drift).toHaveLength(4);
    expect(drift.join("\n")).toMatch(
      /dcp setup calls ec2 RunScheduledInstances, which needs ec2:RunScheduledInstances/,
    );
    expect(drift.join("\n")).toMatch(/dcp worker calls s3 DeleteBucket, which needs s3:DeleteBucket/);
    expect(drift.join("\n")).toMatch(/dcp submit calls sqs PurgeQueue/);
    expect(drift.join("\n")).toMatch(/dcp brand-new-command calls sqs GetQueueUrl/);
    // A call allowed to another principal or command does not count for this one.
    expect(driftOf([{ command: "submit", service: "ecs", operation: "DeleteCluster" }])).toHaveLength(1);
  });

  it("the CLI records each call as command, service, operation (what the check reads)", async () => {
    const dir = tempDir();
    const record = join(dir, "calls.tsv");
    const config = join(dir, "config.json");
    writeFileSync(config, JSON.stringify({ APP_NAME: "DriftRecord" }));
    const result = await runDcp(["--config", config, "iam", "policy", "fleet"], {
      cwd: dir,
      env: { DCP_RECORD_CALLS: record },
    });
    expect(result.code, result.stderr).toBe(0);
    expect(readRecordedCalls(record)).toEqual([
      { command: "iam policy", service: "sts", operation: "GetCallerIdentity" },
    ]);
    appendFileSync(record, "iam policy\tiam\tDeleteAccountPasswordPolicy\n");
    expect(driftOf(readRecordedCalls(record))).toHaveLength(1);
  });

  it("every call recorded so far in this test run is in the table", () => {
    expect(driftOf(readRecordedCalls(inject("callRecordFile")))).toEqual([]);
  });
});
