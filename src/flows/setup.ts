/**
 * `dcp setup`: create or reconcile, in order, the dead-letter queue, the job queue, the ECS
 * cluster, the task definition, the ECS service (desiredCount 0) and both log groups.
 * Idempotent: a second run changes nothing and says so; a changed setting updates the existing
 * resource and the summary says what changed.
 */
import { ecsClient, ensureCluster, ensureService, ensureTaskDefinition } from "../aws/ecs.js";
import { awsContext } from "../aws/context.js";
import { ensureLogGroups } from "../aws/logs.js";
import { ensureQueue, sqsClient } from "../aws/sqs.js";
import { resourceNames, type Config } from "../config/schema.js";
import { UserInputError } from "../errors.js";
import { DEAD_LETTER_QUEUE_ATTRIBUTES, jobQueueAttributes } from "../plan/queue-attributes.js";
import { newNonce } from "../plan/client-token.js";
import { appTags } from "../plan/names.js";
import type { ResourceChange } from "../plan/reconcile.js";
import { taskDefinitionSpec } from "../plan/task-definition.js";
import type { Output } from "../ui/output.js";
import { setupPreflight } from "../run/preflight.js";

export interface SetupSummary {
  /** False when every resource already matched the config. */
  changed: boolean;
  created: string[];
  updated: Array<{ kind: string; name: string; changes: string[] }>;
  unchanged: string[];
  resources: ResourceChange[];
  queueUrl: string;
  taskDefinitionArn: string;
}

/** Settings that would make setup fail half-way are refused before any AWS call. */
export function checkSetupConfig(config: Config, configPath: string): void {
  if (config.SQS_DEAD_LETTER_QUEUE === config.SQS_QUEUE_NAME) {
    throw new UserInputError(
      configPath,
      "SQS_DEAD_LETTER_QUEUE",
      `is the same queue as SQS_QUEUE_NAME (${config.SQS_QUEUE_NAME})`,
      'give the dead-letter queue its own name, e.g. "MyApp_DeadMessages"',
    );
  }
}

function describe(change: ResourceChange): string {
  return change.changes.length ? `${change.status} (${change.changes.join("; ")})` : change.status;
}

/** One status for a step's resources when they agree ("unchanged"), else one per resource. */
function describeAll(changes: ResourceChange[]): string {
  const [first] = changes;
  if (first && changes.every((c) => c.status === first.status && !c.changes.length)) return first.status;
  return changes.map((c) => (changes.length > 1 ? `${c.name} ${describe(c)}` : describe(c))).join(", ");
}

function label(change: ResourceChange): string {
  return `${change.kind} ${change.name}`;
}

export function summarize(resources: ResourceChange[], queueUrl: string, taskDefinitionArn: string): SetupSummary {
  const pick = (status: ResourceChange["status"]) => resources.filter((r) => r.status === status);
  return {
    changed: resources.some((r) => r.status !== "unchanged"),
    created: pick("created").map(label),
    updated: pick("updated").map(({ kind, name, changes }) => ({ kind, name, changes })),
    unchanged: pick("unchanged").map(label),
    resources,
    queueUrl,
    taskDefinitionArn,
  };
}

export async function runSetup(config: Config, output: Output): Promise<SetupSummary> {
  // The doctor's cheap checks first: stop with its message rather than half-way (issue 12).
  await setupPreflight(config, output);
  const ctx = awsContext(config);
  const sqs = sqsClient(ctx);
  const ecs = ecsClient(ctx);
  const names = resourceNames(config);
  const tags = appTags(config.APP_NAME);
  const resources: ResourceChange[] = [];
  /** One spinner step; its resource changes are collected for the summary and shown on its line. */
  const step = <T>(text: string, run: () => Promise<T>, changesOf: (result: T) => ResourceChange[]) =>
    output.step(
      text,
      async () => {
        const result = await run();
        resources.push(...changesOf(result));
        return result;
      },
      (result) => describeAll(changesOf(result)),
    );

  const deadLetter = await step(
    `Dead-letter queue ${config.SQS_DEAD_LETTER_QUEUE}`,
    () => ensureQueue(sqs, config.SQS_DEAD_LETTER_QUEUE, DEAD_LETTER_QUEUE_ATTRIBUTES, tags, "dead-letter queue"),
    (q) => [q.change],
  );
  const queue = await step(
    `Job queue ${config.SQS_QUEUE_NAME}`,
    () => ensureQueue(sqs, config.SQS_QUEUE_NAME, jobQueueAttributes(config, deadLetter.arn), tags, "job queue"),
    (q) => [q.change],
  );
  await step(
    `ECS cluster ${config.ECS_CLUSTER}`,
    () => ensureCluster(ecs, config.ECS_CLUSTER, tags),
    (c) => [c],
  );
  const taskDefinition = await step(
    `Task definition ${names.taskFamily}`,
    () => ensureTaskDefinition(ecs, taskDefinitionSpec(config, queue.url)),
    (t) => [t.change],
  );
  await step(
    `ECS service ${names.serviceName}`,
    // One token per setup: the SDK's retries of a CreateService whose answer was lost reuse it.
    () => ensureService(ecs, config.ECS_CLUSTER, names.serviceName, taskDefinition.arn, tags, newNonce()),
    (s) => [s],
  );
  await step(
    `Log groups ${config.LOG_GROUP_NAME}, ${names.perInstanceLogGroup}`,
    () => ensureLogGroups(ctx, config),
    (groups) => groups,
  );

  const summary = summarize(resources, queue.url, taskDefinition.arn);
  if (summary.changed) {
    output.line(
      `Setup done: ${summary.created.length} created, ${summary.updated.length} updated, ${summary.unchanged.length} unchanged.`,
    );
  } else {
    output.line(`Nothing to change: all ${resources.length} resources already match the config.`);
  }
  if (!config.TASK_ROLE_ARN) output.warn(NO_TASK_ROLE_WARNING(config.APP_NAME));
  output.result(summary);
  return summary;
}

/**
 * Without a task role the workers have only the instance role's permissions, and the instance role
 * DCP documents (ecsInstanceRole) has S3 and CloudWatch but no SQS: DCP worked only because it put
 * the user's keys into the task definition, which dcp never does. So every worker would fail on its
 * first ReceiveMessage.
 */
const NO_TASK_ROLE_WARNING = (app: string) =>
  `TASK_ROLE_ARN is not set: the workers will run with the instance role only, and DCP's documented instance role (ecsInstanceRole) cannot read SQS, so every worker would fail at its first message. ` +
  `Run \`dcp iam create --write-config\` (it makes ${app}TaskRole with exactly the queue, bucket and log permissions the worker needs and sets TASK_ROLE_ARN), then dcp setup again; docs/REAL-AWS.md has the first-run checklist`;
