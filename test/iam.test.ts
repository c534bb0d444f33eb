/** `dcp iam create` twice (the second changes nothing), `--write-config`, `dcp iam policy`, `dcp iam delete`. */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  GetInstanceProfileCommand,
  GetRoleCommand,
  IAMClient,
  ListAttachedRolePoliciesCommand,
  ListInstanceProfilesCommand,
  ListRolesCommand,
  ListRoleTagsCommand,
} from "@aws-sdk/client-iam";
import { describe, expect, it } from "vitest";
import type { IamCreateSummary } from "../src/flows/iam.js";
import type { PolicyDocument } from "../src/plan/iam-policy.js";
import { driftOf, readRecordedCalls } from "./harness/iam-drift.js";
import { runDcp, tempDir, uniqueAppName } from "./harness/dcp.js";

const iam = new IAMClient({ region: "us-east-1" });

describe("dcp iam", () => {
  it("create makes the roles once (a second run changes nothing), policy prints scoped documents, delete leaves nothing tagged", async () => {
    const app = uniqueAppName("Iam");
    const dir = tempDir();
    const record = join(dir, "calls.tsv");
    const configPath = join(dir, "config.json");
    writeFileSync(configPath, JSON.stringify({ APP_NAME: app, AWS_BUCKET: `${app.toLowerCase()}-data` }, null, 2));
    const dcp = (...args: string[]) =>
      runDcp(["--config", configPath, ...args], { cwd: dir, env: { DCP_RECORD_CALLS: record } });

    const first = await dcp("iam", "create", "--write-config", "--json");
    expect(first.code, first.stderr).toBe(0);
    const created = JSON.parse(first.stdout) as IamCreateSummary;
    expect(created.resources.filter((r) => r.kind !== "service-linked role")).toEqual([
      { kind: "task role", name: `${app}TaskRole`, status: "created", changes: [] },
      { kind: "instance role", name: `${app}InstanceRole`, status: "created", changes: [] },
      { kind: "instance profile", name: `${app}InstanceRole`, status: "created", changes: [] },
      { kind: "fleet role", name: `${app}FleetRole`, status: "created", changes: [] },
    ]);
    expect(JSON.parse(readFileSync(configPath, "utf8"))).toMatchObject({ TASK_ROLE_ARN: created.taskRoleArn });

    // Trust, managed policies, tags.
    const trustOf = async (name: string) =>
      JSON.parse(
        decodeURIComponent((await iam.send(new GetRoleCommand({ RoleName: name }))).Role!.AssumeRolePolicyDocument!),
      );
    expect(JSON.stringify(await trustOf(`${app}TaskRole`))).toContain("ecs-tasks.amazonaws.com");
    expect(JSON.stringify(await trustOf(`${app}FleetRole`))).toContain("spotfleet.amazonaws.com");
    const attached = async (name: string) =>
      ((await iam.send(new ListAttachedRolePoliciesCommand({ RoleName: name }))).AttachedPolicies ?? []).map(
        (p) => p.PolicyName,
      );
    expect(await attached(`${app}FleetRole`)).toEqual(["AmazonEC2SpotFleetTaggingRole"]);
    expect(await attached(`${app}InstanceRole`)).toEqual(["AmazonEC2ContainerServiceforEC2Role"]);
    const profile = await iam.send(new GetInstanceProfileCommand({ InstanceProfileName: `${app}InstanceRole` }));
    expect(profile.InstanceProfile?.Roles?.map((r) => r.RoleName)).toEqual([`${app}InstanceRole`]);

    const second = await dcp("iam", "create", "--write-config", "--json");
    expect(second.code, second.stderr).toBe(0);
    const again = JSON.parse(second.stdout) as IamCreateSummary;
    expect(again.changed).toBe(false);
    expect(again.resources.every((r) => r.status === "unchanged")).toBe(true);

    // The worker's policy names this app's queues, buckets and log groups; the operator's EC2 changes need the tag.
    const worker = await dcp("iam", "policy", "worker", "--json");
    expect(worker.code, worker.stderr).toBe(0);
    const workerPolicy = JSON.parse(worker.stdout) as PolicyDocument;
    const resources = workerPolicy.Statement.flatMap((s) => s.Resource);
    expect(resources).toContain(`arn:aws:sqs:us-east-1:123456789012:${app}Queue`);
    expect(resources).toContain(`arn:aws:s3:::${app.toLowerCase()}-data/*`);
    expect(resources).toContain(`arn:aws:logs:us-east-1:123456789012:log-group:${app}:*`);
    expect(resources).not.toContain("*");
    const operator = JSON.parse((await dcp("iam", "policy", "operator", "--json")).stdout) as PolicyDocument;
    const cancel = operator.Statement.find((s) => s.Action.includes("ec2:CancelSpotFleetRequests"));
    expect(cancel?.Condition).toEqual({ StringEquals: { "aws:ResourceTag/dcp:app": app } });

    const withIam = JSON.parse(
      (await dcp("iam", "policy", "operator", "--commands", "all", "--json")).stdout,
    ) as PolicyDocument;
    expect(withIam.Statement.some((s) => s.Action.includes("iam:CreateRole"))).toBe(true);
    expect(operator.Statement.some((s) => s.Action.includes("iam:CreateRole"))).toBe(false);
    const bad = await dcp("iam", "policy", "operator", "--commands", "setup,nope");
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--commands: unknown command nope\. Fix: list some of setup, make-jobs/);

    const deleted = await dcp("iam", "delete", "--json");
    expect(deleted.code, deleted.stderr).toBe(0);
    const roles = (await iam.send(new ListRolesCommand({ MaxItems: 1000 }))).Roles ?? [];
    const tagged = [];
    for (const role of roles) {
      const tags = (await iam.send(new ListRoleTagsCommand({ RoleName: role.RoleName! }))).Tags ?? [];
      if (tags.some((t) => t.Key === "dcp:app" && t.Value === app)) tagged.push(role.RoleName);
    }
    expect(tagged).toEqual([]);
    const profiles = (await iam.send(new ListInstanceProfilesCommand({ MaxItems: 1000 }))).InstanceProfiles ?? [];
    expect(profiles.filter((p) => p.InstanceProfileName?.startsWith(app))).toEqual([]);
    expect(driftOf(readRecordedCalls(record))).toEqual([]);
  });
});
