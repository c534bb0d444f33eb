/**
 * Malformed config files: `dcp config validate` and `dcp setup` exit 2 with one message naming
 * the file, the field and the fix, and nothing is created in AWS.
 */
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CloudWatchLogsClient, DescribeLogGroupsCommand } from "@aws-sdk/client-cloudwatch-logs";
import { DescribeClustersCommand, ECSClient, ListTaskDefinitionsCommand } from "@aws-sdk/client-ecs";
import { GetQueueUrlCommand, SQSClient } from "@aws-sdk/client-sqs";
import { describe, expect, it } from "vitest";
import { REPO_ROOT, runDcp, tempDir, uniqueAppName } from "./harness/dcp.js";

const BAD = join(REPO_ROOT, "test/fixtures/config/bad");

/** What the one message must say for each fixture: the field (or position) and the problem. */
const EXPECTED: Record<string, RegExp> = {
  "invalid-json-trailing-comma.json": /: is not valid JSON at line 6, column 1 .*Fix: make the config file valid JSON/,
  "empty-file.json": /: \(top level\): is empty\. Fix: write a JSON object/,
  "not-an-object.json": /: \(top level\): must be a JSON object of settings\. Fix:/,
  "machines-wrong-type.json": /: CLUSTER_MACHINES: expected a whole number\. Fix: set the number of machines/,
  "machines-negative.json": /: CLUSTER_MACHINES: must be at least 1\. Fix: set the number of machines/,
  "misspelled-key.json": /: SQS_MESAGE_VISIBILITY: unknown key\. Fix: did you mean "SQS_MESSAGE_VISIBILITY"\?/,
  "bad-region.json": /: AWS_REGION: expected a region such as us-east-1\. Fix: use a region code/,
  "empty-machine-type.json": /: MACHINE_TYPE: expected a list of instance types .*Fix: list instance types/,
  "machine-type-empty-list.json": /: MACHINE_TYPE: list at least one instance type\. Fix: list instance types/,
  "bad-fleet-api.json": /: FLEET_API: expected one of spot-fleet, ec2-fleet\. Fix: use "spot-fleet" or "ec2-fleet"/,
  "boolean-typo.json": /: CHECK_IF_DONE_BOOL: expected true or false .*Fix: write true or false/,
  "visibility-too-long.json": /: SQS_MESSAGE_VISIBILITY: SQS allows at most 43200 seconds \(12 h\)\. Fix:/,
  "ebs-too-small.json": /: EBS_VOL_SIZE: must be at least 22 \(GB\)\. Fix: set it to at least 22/,
  "app-name-with-space.json": /: APP_NAME: use only letters, digits, '-' and '_'\. Fix: set a short name/,
  "task-role-not-arn.json": /: TASK_ROLE_ARN: expected an IAM role ARN\. Fix: use an ARN like/,
  "cores-fraction.json": /: DOCKER_CORES: expected a whole number\. Fix:/,
  "job-retries-zero.json": /: JOB_RETRIES: SQS allows 1 to 1000 receives\. Fix:/,
  "bucket-with-s3-prefix.json": /: SOURCE_BUCKET: expected an S3 bucket name .*Fix: write the bucket name only/,
  "memory-null.json": /: MEMORY: expected a whole number\. Fix: set the container memory/,
  "log-retention-not-allowed.json":
    /: LOG_RETENTION_DAYS: CloudWatch Logs keeps logs for one of 1, 3, 5.*Fix: use one of/,
  "dead-letter-queue-is-job-queue.json":
    /: SQS_DEAD_LETTER_QUEUE: is the same queue as SQS_QUEUE_NAME \(Bad\w+Queue\)\. Fix: give the dead-letter queue its own name/,
  "profile-not-defined.json": /: AWS_PROFILE: profile "Bad\w+-no-such-profile" is not defined in .*Fix: create it/,
};

const sqs = new SQSClient({ region: "us-east-1" });
const ecs = new ECSClient({ region: "us-east-1" });
const logs = new CloudWatchLogsClient({ region: "us-east-1" });

async function queueExists(name: string): Promise<boolean> {
  try {
    await sqs.send(new GetQueueUrlCommand({ QueueName: name }));
    return true;
  } catch (err) {
    if (/NonExistentQueue|QueueDoesNotExist/.test((err as Error).name + (err as Error).message)) return false;
    throw err;
  }
}

async function createdFor(app: string): Promise<string[]> {
  const found: string[] = [];
  if (await queueExists(`${app}Queue`)) found.push("queue");
  if (await queueExists(`${app}Dead`)) found.push("dead-letter queue");
  const clusters = await ecs.send(new DescribeClustersCommand({ clusters: [`${app}Cluster`] }));
  if (clusters.clusters?.some((c) => c.status === "ACTIVE")) found.push("cluster");
  const families = await ecs.send(new ListTaskDefinitionsCommand({ familyPrefix: `${app}Task` }));
  if (families.taskDefinitionArns?.length) found.push("task definition");
  const groups = await logs.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: app }));
  if (groups.logGroups?.length) found.push("log group");
  return found;
}

describe("bad config files", () => {
  const fixtures = readdirSync(BAD).sort();

  it("has a case for every fixture (and at least 12)", () => {
    expect(fixtures.length).toBeGreaterThanOrEqual(12);
    expect(fixtures).toEqual(Object.keys(EXPECTED).sort());
  });

  it.concurrent.each(fixtures)(
    "%s: exit 2, one message naming the file, the field and the fix; nothing created",
    async (fixture) => {
      const app = uniqueAppName("Bad");
      const dir = tempDir("dcp-badcfg-");
      const path = join(dir, fixture);
      writeFileSync(path, readFileSync(join(BAD, fixture), "utf8").replaceAll("__APP__", app));
      for (const args of [
        ["config", "validate", path],
        ["setup", "--config", path],
      ]) {
        const result = await runDcp(args, { cwd: dir });
        const lines = result.stderr.trim().split("\n");
        expect(result.code, `${args.join(" ")}: ${result.stderr}`).toBe(2);
        expect(lines, `${args.join(" ")} printed more than one line`).toHaveLength(1);
        expect(lines[0]).toContain(path);
        expect(lines[0]).toMatch(EXPECTED[fixture]!);
        expect(result.stdout).toBe("");
      }
      expect(await createdFor(app)).toEqual([]);
    },
  );
});
