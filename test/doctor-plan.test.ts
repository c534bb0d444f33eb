/** The doctor's and `dcp iam`'s pure parts: the Allow evaluator, trust policies, machine fit, the policies. */
import { describe, expect, it } from "vitest";
import { parseConfig } from "../src/config/load.js";
import {
  actionMatches,
  callerPrincipal,
  ecrImage,
  evaluateAllows,
  fitCheck,
  formatCheck,
  report,
  trustedServices,
  visibilityCheck,
} from "../src/plan/doctor.js";
import { IAM_TABLE, allowedActions, iamScope, policyFor, roleSpecs } from "../src/plan/iam-policy.js";

describe("doctor plan", () => {
  it("evaluates Allow statements with wildcards; Deny and conditions make it unsure", () => {
    expect(actionMatches("ec2:Describe*", "ec2:DescribeSubnets")).toBe(true);
    expect(actionMatches("sqs:*", "SQS:SendMessage")).toBe(true);
    expect(actionMatches("s3:Get?bject", "s3:GetObject")).toBe(true);
    expect(actionMatches("s3:GetObject", "s3:GetObjectAcl")).toBe(false);
    const allow = { Statement: [{ Effect: "Allow", Action: ["sqs:*", "ec2:Describe*"], Resource: "*" }] };
    expect(evaluateAllows([allow], ["sqs:SendMessage", "ec2:DescribeImages", "ecs:CreateCluster"])).toEqual({
      missing: ["ecs:CreateCluster"],
      unsure: [],
    });
    const deny = { Statement: { Effect: "Deny", Action: "ec2:RequestSpotFleet", Resource: "*" } };
    const conditional = {
      Statement: [
        { Effect: "Allow", Action: "*", Resource: "*", Condition: { Bool: { "aws:MultiFactorAuthPresent": "true" } } },
      ],
    };
    expect(evaluateAllows([deny, conditional], ["ec2:RequestSpotFleet"])).toEqual({
      missing: [],
      unsure: ["a Deny statement", "conditions"],
    });
  });

  it("reads trust policies and caller ARNs", () => {
    const trust = {
      Statement: [{ Effect: "Allow", Principal: { Service: ["ec2.amazonaws.com", "spotfleet.amazonaws.com"] } }],
    };
    expect(trustedServices(trust)).toEqual(["ec2.amazonaws.com", "spotfleet.amazonaws.com"]);
    expect(callerPrincipal("arn:aws:iam::123456789012:user/dev/alice")).toEqual({ kind: "user", name: "alice" });
    expect(callerPrincipal("arn:aws:sts::123456789012:assumed-role/Admin/alice@example.org")).toEqual({
      kind: "role",
      name: "Admin",
    });
    expect(callerPrincipal("arn:aws:iam::123456789012:root").kind).toBe("root");
  });

  it("fits MEMORY × TASKS_PER_MACHINE into what ECS registers, and CPU_SHARES into the vCPUs", () => {
    const m5 = { type: "m5.xlarge", vcpus: 4, memoryMiB: 16384 };
    expect(fitCheck(m5, 15000, 4096, 1).fits).toBe(true);
    expect(fitCheck(m5, 16000, 4096, 1).fits).toBe(false);
    expect(fitCheck(m5, 7000, 2048, 2).fits).toBe(true);
    expect(fitCheck(m5, 7000, 4096, 2).fits).toBe(false);
  });

  it("recognises ECR image URIs (other registries cannot be checked)", () => {
    expect(ecrImage("123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/dcp:2.0")).toEqual({
      registryId: "123456789012",
      region: "eu-west-1",
      repository: "team/dcp",
      tag: "2.0",
    });
    expect(ecrImage("123456789012.dkr.ecr.us-east-1.amazonaws.com/dcp")?.tag).toBe("latest");
    expect(ecrImage("cellprofiler/distributed-cellprofiler:2.2.0_4.2.8")).toBeUndefined();
  });

  it("formats ✔/✖/! lines, the fix under a failure, and counts", () => {
    const r = report([
      { subject: "a", status: "ok", detail: "fine" },
      { subject: "b", status: "fail", detail: "broken", fix: "do x" },
      { subject: "c", status: "warn", detail: "could not check: y" },
    ]);
    expect(r).toMatchObject({ failed: 1, warnings: 1 });
    expect(r.checks.map(formatCheck)).toEqual(["✔ a: fine", "✖ b: broken\n    Fix: do x", "! c: could not check: y"]);
  });
});

describe("IAM policies", () => {
  const config = parseConfig(
    { APP_NAME: "Lab", AWS_BUCKET: "lab-logs", SOURCE_BUCKET: "lab-images", DESTINATION_BUCKET: "lab-out" },
    "test",
  );
  const scope = iamScope(config, "123456789012");

  it("scopes the worker to the app's queues, buckets and log groups; it may write only the destination", () => {
    const worker = policyFor("worker", scope);
    const put = worker.Statement.find((s) => s.Action.includes("s3:PutObject"))!;
    expect(put.Resource).toEqual(["arn:aws:s3:::lab-out/*"]);
    const get = worker.Statement.find((s) => s.Action.includes("s3:GetObject"))!;
    expect(get.Resource).toEqual(["arn:aws:s3:::lab-images/*", "arn:aws:s3:::lab-out/*"]);
    const sqs = worker.Statement.find((s) => s.Action.includes("sqs:ReceiveMessage"))!;
    expect(sqs.Resource).toEqual([
      "arn:aws:sqs:us-east-1:123456789012:LabQueue",
      "arn:aws:sqs:us-east-1:123456789012:user_DeadMessages",
    ]);
    expect(worker.Statement.flatMap((s) => s.Resource)).not.toContain("*");
  });

  it("gives the operator EC2 changes only on resources tagged with the app, and PassRole only on its roles", () => {
    const operator = policyFor("operator", scope);
    for (const action of ["ec2:CancelSpotFleetRequests", "ec2:TerminateInstances", "ec2:DeleteLaunchTemplate"]) {
      const st = operator.Statement.find((s) => s.Action.includes(action))!;
      expect(st.Condition).toEqual({ StringEquals: { "aws:ResourceTag/dcp:app": "Lab" } });
    }
    const create = operator.Statement.find((s) => s.Action.includes("ec2:RequestSpotFleet"))!;
    expect(create.Condition).toEqual({ StringEquals: { "aws:RequestTag/dcp:app": "Lab" } });
    const pass = operator.Statement.filter((s) => s.Action.includes("iam:PassRole")).flatMap((s) => s.Resource);
    expect(pass.sort()).toEqual([
      "arn:aws:iam::123456789012:role/LabFleetRole",
      "arn:aws:iam::123456789012:role/LabInstanceRole",
      "arn:aws:iam::123456789012:role/LabTaskRole",
    ]);
    // No statement allows a whole service.
    expect([...allowedActions(operator)].filter((a) => a.endsWith(":*"))).toEqual([]);
  });

  it("keeps every policy within IAM's 6,144-character limit of a managed policy (whitespace not counted)", () => {
    const long = parseConfig(
      {
        APP_NAME: "A".repeat(40),
        AWS_BUCKET: "b".repeat(40),
        SOURCE_BUCKET: "c".repeat(40),
        WORKSPACE_BUCKET: "d".repeat(40),
        DESTINATION_BUCKET: "e".repeat(40),
      },
      "test",
    );
    for (const principal of ["operator", "worker", "fleet", "instance"] as const)
      expect(JSON.stringify(policyFor(principal, iamScope(long, "123456789012"))).length, principal).toBeLessThan(6144);
  });

  it("narrows the operator's policy to one command, and every row says why", () => {
    const submit = allowedActions(policyFor("operator", scope, ["submit"]));
    expect([...submit].sort()).toEqual([
      "s3:PutObject",
      "sqs:GetQueueAttributes",
      "sqs:GetQueueUrl",
      "sqs:SendMessage",
    ]);
    expect(IAM_TABLE.every((row) => row.why.length > 10)).toBe(true);
  });

  it("describes the three roles dcp iam create makes", () => {
    expect(roleSpecs(scope).map((r) => [r.name, r.trustedService, r.managedPolicyArns])).toEqual([
      ["LabTaskRole", "ecs-tasks.amazonaws.com", []],
      [
        "LabInstanceRole",
        "ec2.amazonaws.com",
        ["arn:aws:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role"],
      ],
      [
        "LabFleetRole",
        "spotfleet.amazonaws.com",
        ["arn:aws:iam::aws:policy/service-role/AmazonEC2SpotFleetTaggingRole"],
      ],
    ]);
  });
});

describe("SQS_MESSAGE_VISIBILITY", () => {
  it("short is fine (the worker's lease extends it); long delays the retry of a dead worker's task", () => {
    expect(visibilityCheck(600)).toMatchObject({ status: "ok", subject: "SQS_MESSAGE_VISIBILITY" });
    expect(visibilityCheck(600).detail).toMatch(/retried after about 10 min/);
    const long = visibilityCheck(10800);
    expect(long.status).toBe("warn");
    expect(long.detail).toMatch(/about 180 min/);
    expect(long.fix).toMatch(/lower it to about 600/);
  });
});
