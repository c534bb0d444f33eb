import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  CreateClusterCommand,
  DescribeClustersCommand,
  DescribeServicesCommand,
  DescribeTaskDefinitionCommand,
} from "@aws-sdk/client-ecs";
import { CreateQueueCommand, GetQueueAttributesCommand, ListQueueTagsCommand } from "@aws-sdk/client-sqs";
import { describe, expect, it } from "vitest";
import { ecsClient } from "../src/aws/ecs.js";
import { findLogGroup, logsClient } from "../src/aws/logs.js";
import { findQueueUrl, sqsClient } from "../src/aws/sqs.js";
import type { SetupSummary } from "../src/flows/setup.js";
import { runDcp, tempDir, uniqueAppName } from "./harness/dcp.js";

const ctx = { region: "us-east-1", profile: undefined };
const sqs = sqsClient(ctx);
const ecs = ecsClient(ctx);

/** Credentials in the caller's environment that must never reach the task definition. */
const CALLER_SECRETS = {
  AWS_ACCESS_KEY_ID: "TESTDCPSETUPKEY00001",
  AWS_SECRET_ACCESS_KEY: "dcp-setup-test-secret-value",
  AWS_SESSION_TOKEN: "dcp-setup-test-session-token",
};

function writeConfig(dir: string, settings: Record<string, unknown>): string {
  mkdirSync(join(dir, "config"), { recursive: true });
  const path = join(dir, "config", "config.json");
  writeFileSync(path, JSON.stringify(settings, null, 2));
  return path;
}

function appSettings(app: string) {
  return { APP_NAME: app, ECS_CLUSTER: `${app}Cluster`, SQS_DEAD_LETTER_QUEUE: `${app}_Dead`, LOG_RETENTION_DAYS: 14 };
}

async function setup(dir: string, configPath: string): Promise<SetupSummary> {
  const result = await runDcp(["--config", configPath, "setup", "--json"], { cwd: dir, env: CALLER_SECRETS });
  expect(result.stderr).not.toMatch(/dcp: /);
  expect(result.code).toBe(0);
  return JSON.parse(result.stdout) as SetupSummary;
}

async function queueAttributes(name: string): Promise<Record<string, string>> {
  const url = await findQueueUrl(sqs, name);
  expect(url).toBeDefined();
  const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ["All"] }));
  return Attributes ?? {};
}

describe("dcp setup", () => {
  it("creates every resource as configured, changes nothing on a second run, and updates the queue when settings change", async () => {
    const app = uniqueAppName("Setup");
    const dir = tempDir();
    const settings = { ...appSettings(app), SQS_MESSAGE_VISIBILITY: 300, JOB_RETRIES: 4 };
    const configPath = writeConfig(dir, settings);

    const first = await setup(dir, configPath);
    expect(first.changed).toBe(true);
    expect(first.created).toEqual([
      `dead-letter queue ${app}_Dead`,
      `job queue ${app}Queue`,
      `ECS cluster ${app}Cluster`,
      `task definition ${app}Task:1`,
      `ECS service ${app}Service`,
      `log group ${app}`,
      `log group ${app}_perInstance`,
    ]);

    // Queues: visibility, 14-day retention, redrive to the DLQ after JOB_RETRIES receives, tags.
    const dead = await queueAttributes(`${app}_Dead`);
    expect(dead.MessageRetentionPeriod).toBe("1209600");
    const queue = await queueAttributes(`${app}Queue`);
    expect(queue).toMatchObject({
      VisibilityTimeout: "300",
      MessageRetentionPeriod: "1209600",
      MaximumMessageSize: "262144",
    });
    const redrive = JSON.parse(queue.RedrivePolicy!) as { deadLetterTargetArn: string; maxReceiveCount: unknown };
    expect(redrive.deadLetterTargetArn).toBe(dead.QueueArn);
    expect(Number(redrive.maxReceiveCount)).toBe(4);
    for (const name of [`${app}Queue`, `${app}_Dead`]) {
      const { Tags } = await sqs.send(new ListQueueTagsCommand({ QueueUrl: await findQueueUrl(sqs, name) }));
      expect(Tags).toMatchObject({ "dcp:app": app });
    }

    // ECS: cluster, task definition, service, all tagged; the service starts with 0 workers.
    const { clusters } = await ecs.send(
      new DescribeClustersCommand({ clusters: [`${app}Cluster`], include: ["TAGS"] }),
    );
    expect(clusters?.[0]?.tags).toContainEqual({ key: "dcp:app", value: app });
    const { taskDefinition, tags: taskTags } = await ecs.send(
      new DescribeTaskDefinitionCommand({ taskDefinition: `${app}Task`, include: ["TAGS"] }),
    );
    expect(taskTags).toContainEqual({ key: "dcp:app", value: app });
    const container = taskDefinition!.containerDefinitions![0]!;
    expect(container).toMatchObject({
      name: app,
      cpu: 4096,
      memory: 15000,
      privileged: true,
      essential: true,
      stopTimeout: 120,
    });
    expect(container.logConfiguration?.options?.["awslogs-group"]).toBe(`${app}_perInstance`);
    const env = Object.fromEntries((container.environment ?? []).map((e) => [e.name, e.value]));
    expect(env).toMatchObject({
      APP_NAME: app,
      SQS_QUEUE_URL: first.queueUrl,
      SQS_MESSAGE_VISIBILITY: "300",
      JOB_RETRIES: "4",
    });
    // The task definition holds no credential, although the caller's environment had some.
    const serialized = JSON.stringify(taskDefinition);
    for (const [name, value] of Object.entries(CALLER_SECRETS)) {
      expect(serialized).not.toContain(name);
      expect(serialized).not.toContain(value);
    }
    expect(Object.keys(env).filter((n) => /KEY|SECRET|TOKEN|PASSWORD/i.test(n))).toEqual([]);
    const { services } = await ecs.send(
      new DescribeServicesCommand({ cluster: `${app}Cluster`, services: [`${app}Service`], include: ["TAGS"] }),
    );
    expect(services?.[0]).toMatchObject({ desiredCount: 0, taskDefinition: taskDefinition!.taskDefinitionArn });
    expect(services?.[0]?.tags).toContainEqual({ key: "dcp:app", value: app });

    // Log groups: retention and tag.
    for (const name of [app, `${app}_perInstance`])
      expect((await findLogGroup(logsClient(ctx), name))?.retentionInDays).toBe(14);

    // Second run: nothing changes, and the summary says so.
    const second = await setup(dir, configPath);
    expect(second).toMatchObject({ changed: false, created: [], updated: [] });
    expect(second.unchanged).toHaveLength(7);
    expect(second.taskDefinitionArn).toBe(first.taskDefinitionArn);

    // A changed visibility and JOB_RETRIES update the existing queue (DCP ignored them, 7.1.26).
    writeConfig(dir, { ...settings, SQS_MESSAGE_VISIBILITY: 900, JOB_RETRIES: 6 });
    const third = await setup(dir, configPath);
    expect(third.changed).toBe(true);
    expect(third.created).toEqual([]);
    expect(third.updated).toContainEqual({
      kind: "job queue",
      name: `${app}Queue`,
      changes: ["VisibilityTimeout 300 -> 900", "maxReceiveCount 4 -> 6"],
    });
    const updatedQueue = await queueAttributes(`${app}Queue`);
    expect(updatedQueue.VisibilityTimeout).toBe("900");
    expect(Number((JSON.parse(updatedQueue.RedrivePolicy!) as { maxReceiveCount: unknown }).maxReceiveCount)).toBe(6);
    // The workers read both settings too: a new revision, and the service follows it.
    expect(third.taskDefinitionArn).toMatch(new RegExp(`${app}Task:2$`));
    const { services: after } = await ecs.send(
      new DescribeServicesCommand({ cluster: `${app}Cluster`, services: [`${app}Service`] }),
    );
    expect(after?.[0]).toMatchObject({ taskDefinition: third.taskDefinitionArn, desiredCount: 0 });
    expect(third.updated.map((u) => u.kind)).toEqual(["job queue", "task definition", "ECS service"]);

    const fourth = await setup(dir, configPath);
    expect(fourth.changed).toBe(false);
  });

  it("adopts queues DCP created (untagged, 4-day DLQ, string maxReceiveCount) and matches the cluster name exactly", async () => {
    const app = uniqueAppName("Adopt");
    const dir = tempDir();
    const configPath = writeConfig(dir, { ...appSettings(app), JOB_RETRIES: 10 });
    const { QueueUrl: deadUrl } = await sqs.send(new CreateQueueCommand({ QueueName: `${app}_Dead` }));
    const { Attributes } = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: deadUrl, AttributeNames: ["QueueArn"] }),
    );
    await sqs.send(
      new CreateQueueCommand({
        QueueName: `${app}Queue`,
        Attributes: {
          VisibilityTimeout: "60",
          MessageRetentionPeriod: "1209600",
          MaximumMessageSize: "262144",
          DelaySeconds: "0",
          ReceiveMessageWaitTimeSeconds: "0",
          RedrivePolicy: `{"deadLetterTargetArn":"${Attributes!.QueueArn}","maxReceiveCount":"10"}`,
        },
      }),
    );
    // DCP took any cluster whose ARN ends with ECS_CLUSTER; dcp wants that very cluster.
    await ecs.send(new CreateClusterCommand({ clusterName: `Other${app}Cluster` }));

    const summary = await setup(dir, configPath);
    const byName = Object.fromEntries(summary.resources.map((r) => [r.name, r]));
    expect(byName[`${app}_Dead`]).toMatchObject({
      status: "updated",
      changes: ["MessageRetentionPeriod 345600 -> 1209600", "tags dcp:app"],
    });
    expect(byName[`${app}Queue`]).toMatchObject({ status: "updated", changes: ["tags dcp:app"] });
    expect(byName[`${app}Cluster`]).toMatchObject({ kind: "ECS cluster", status: "created" });
    const { clusters } = await ecs.send(new DescribeClustersCommand({ clusters: [`${app}Cluster`] }));
    expect(clusters?.[0]?.status).toBe("ACTIVE");

    // A second app sharing the dead-letter queue (DCP's default "user_DeadMessages" is shared) leaves
    // its dcp:app tag alone, so neither app's setup keeps "updating" it.
    const other = uniqueAppName("Share");
    const otherDir = tempDir();
    const shared = await setup(
      otherDir,
      writeConfig(otherDir, { ...appSettings(other), SQS_DEAD_LETTER_QUEUE: `${app}_Dead` }),
    );
    expect(shared.resources[0]).toEqual({
      kind: "dead-letter queue",
      name: `${app}_Dead`,
      status: "unchanged",
      changes: [],
    });
    const { Tags } = await sqs.send(new ListQueueTagsCommand({ QueueUrl: deadUrl }));
    expect(Tags).toEqual({ "dcp:app": app });
  });

  it("refuses a config whose dead-letter queue is the job queue, with exit 2 and nothing created", async () => {
    const app = uniqueAppName("Bad");
    const dir = tempDir();
    const configPath = writeConfig(dir, { ...appSettings(app), SQS_DEAD_LETTER_QUEUE: `${app}Queue` });
    const result = await runDcp(["--config", configPath, "setup"], { cwd: dir });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`${configPath}: SQS_DEAD_LETTER_QUEUE: is the same queue as SQS_QUEUE_NAME`);
    expect(await findQueueUrl(sqs, `${app}Queue`)).toBeUndefined();

    writeConfig(dir, { ...appSettings(app), JOB_RETRIES: "three" });
    const typo = await runDcp(["--config", configPath, "setup"], { cwd: dir });
    expect(typo.code).toBe(2);
    expect(typo.stderr).toMatch(/JOB_RETRIES/);
    expect(await findQueueUrl(sqs, `${app}_Dead`)).toBeUndefined();
    const { clusters } = await ecs.send(new DescribeClustersCommand({ clusters: [`${app}Cluster`] }));
    expect(clusters).toEqual([]);
  });
});
