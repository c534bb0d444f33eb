import type { CloudWatchLogsClient, InputLogEvent, LogGroup } from "@aws-sdk/client-cloudwatch-logs";
import { sdk } from "./sdk.js";
import { clientOptions, instrument, type AwsContext } from "./context.js";
import { awsErrorName, doneUnlessGone, isAccessDenied, isNotFound, unlessNotFound } from "./errors.js";
import type { Config } from "../config/schema.js";
import { appTags } from "../plan/names.js";
import { existingStatus, missingTags, type ResourceChange } from "../plan/reconcile.js";
import { sleep } from "../sleep.js";
import { mapLimit } from "../concurrency.js";
import type { FoundResource } from "../plan/gc.js";

const {
  CloudWatchLogsClient: CloudWatchLogsClientClass,
  CreateLogStreamCommand,
  PutLogEventsCommand,
  CreateLogGroupCommand,
  ListTagsForResourceCommand,
  PutRetentionPolicyCommand,
  TagResourceCommand,
  CreateExportTaskCommand,
  DescribeExportTasksCommand,
  paginateDescribeLogGroups,
  DeleteLogGroupCommand,
} = sdk("@aws-sdk/client-cloudwatch-logs");

export function logsClient(ctx: AwsContext): CloudWatchLogsClient {
  return instrument(new CloudWatchLogsClientClass(clientOptions(ctx)), "logs");
}

/** The log group named exactly `name`, or undefined (DescribeLogGroups only filters by prefix). */
export async function findLogGroup(client: CloudWatchLogsClient, name: string): Promise<LogGroup | undefined> {
  for await (const page of paginateDescribeLogGroups({ client }, { logGroupNamePrefix: name })) {
    const found = page.logGroups?.find((g) => g.logGroupName === name);
    if (found) return found;
  }
  return undefined;
}

/** Creates one log group (tagged dcp:app) or brings an existing one to the wanted retention and tags. */
export async function ensureLogGroup(
  client: CloudWatchLogsClient,
  name: string,
  retentionDays: number,
  tags: Record<string, string>,
): Promise<ResourceChange> {
  const existing = await findLogGroup(client, name);
  if (!existing) {
    await client.send(new CreateLogGroupCommand({ logGroupName: name, tags }));
    await client.send(new PutRetentionPolicyCommand({ logGroupName: name, retentionInDays: retentionDays }));
    return { kind: "log group", name, status: "created", changes: [] };
  }
  const changes: string[] = [];
  if (existing.retentionInDays !== retentionDays) {
    await client.send(new PutRetentionPolicyCommand({ logGroupName: name, retentionInDays: retentionDays }));
    changes.push(`retention ${existing.retentionInDays ?? "never expire"} -> ${retentionDays} days`);
  }
  const arn = existing.logGroupArn ?? existing.arn?.replace(/:\*$/, "");
  if (arn) {
    const current = (await client.send(new ListTagsForResourceCommand({ resourceArn: arn }))).tags ?? {};
    const add = missingTags(current, tags);
    if (Object.keys(add).length) {
      await client.send(new TagResourceCommand({ resourceArn: arn, tags: add }));
      changes.push(`tags ${Object.keys(add).join(", ")}`);
    }
  }
  return existingStatus("log group", name, changes);
}

/**
 * Both log groups of an app: LOG_GROUP_NAME (one stream per job) and LOG_GROUP_NAME_perInstance
 * (the containers' awslogs output), with LOG_RETENTION_DAYS and the dcp:app tag. Idempotent.
 */
export async function ensureLogGroups(
  ctx: AwsContext,
  config: Pick<Config, "APP_NAME" | "LOG_GROUP_NAME" | "LOG_RETENTION_DAYS">,
): Promise<ResourceChange[]> {
  const client = logsClient(ctx);
  const tags = appTags(config.APP_NAME);
  const results: ResourceChange[] = [];
  for (const name of [config.LOG_GROUP_NAME, `${config.LOG_GROUP_NAME}_perInstance`]) {
    results.push(await ensureLogGroup(client, name, config.LOG_RETENTION_DAYS, tags));
  }
  return results;
}

/** Creates a log stream unless it exists (retries of a job append to the same stream). */
export async function ensureLogStream(client: CloudWatchLogsClient, group: string, stream: string): Promise<void> {
  try {
    await client.send(new CreateLogStreamCommand({ logGroupName: group, logStreamName: stream }));
  } catch (err) {
    if (awsErrorName(err) !== "ResourceAlreadyExistsException") throw err;
  }
}

/** PutLogEvents limits: 10,000 events and 1,048,576 bytes (message bytes + 26 each) per call. */
const MAX_BATCH_EVENTS = 10_000;
const MAX_BATCH_BYTES = 1_048_576;
const EVENT_OVERHEAD = 26;
/** One event's message is at most 256 KiB minus the overhead; longer lines are cut. */
const MAX_EVENT_BYTES = 262_144 - EVENT_OVERHEAD;

/** Sends events (sorted by time, cut to CloudWatch's limits) in as few PutLogEvents calls as allowed. */
export async function putLogEvents(
  client: CloudWatchLogsClient,
  group: string,
  stream: string,
  events: InputLogEvent[],
): Promise<void> {
  const sorted = [...events].sort((a, b) => (a.timestamp ?? 0) - (b.timestamp ?? 0));
  let batch: InputLogEvent[] = [];
  let bytes = 0;
  const flush = async () => {
    if (batch.length)
      await client.send(new PutLogEventsCommand({ logGroupName: group, logStreamName: stream, logEvents: batch }));
    batch = [];
    bytes = 0;
  };
  for (const event of sorted) {
    let message = event.message ?? "";
    if (Buffer.byteLength(message) > MAX_EVENT_BYTES)
      message = Buffer.from(message)
        .subarray(0, MAX_EVENT_BYTES - 8)
        .toString(); // room for a cut character
    const size = Buffer.byteLength(message) + EVENT_OVERHEAD;
    if (batch.length >= MAX_BATCH_EVENTS || bytes + size > MAX_BATCH_BYTES) await flush();
    batch.push({ timestamp: event.timestamp, message: message || " " });
    bytes += size;
  }
  await flush();
}

// --- monitor/teardown: export a log group to S3 -------------------------------------------------

export interface LogExport {
  logGroup: string;
  bucket: string;
  /** key prefix, without a trailing slash */
  prefix: string;
  fromMs: number;
  toMs: number;
}

export interface ExportTiming {
  /** between DescribeExportTasks polls */
  pollMs: number;
  /** between CreateExportTask retries while another export runs (one per account at a time) */
  retryMs: number;
  /** give up waiting after this long */
  deadlineMs: number;
  onWait?: (message: string) => void;
  /** Stops waiting at the next poll or retry (the export task itself continues in AWS). */
  signal?: AbortSignal;
}

/** COMPLETED (or another final export status), or why nothing was exported. */
export type LogExportOutcome = { exported: true; status: string; taskId: string } | { exported: false; reason: string };

/**
 * Exports a log group to s3://bucket/prefix/ and waits for the export to finish. Retries while
 * another export runs (LimitExceededException); a missing group, a missing bucket or a bucket
 * that does not let CloudWatch Logs write is reported as the reason nothing was exported.
 */
export async function exportLogGroup(
  client: CloudWatchLogsClient,
  job: LogExport,
  timing: ExportTiming,
): Promise<LogExportOutcome> {
  const deadline = Date.now() + timing.deadlineMs;
  let taskId: string | undefined;
  while (!taskId) {
    if (timing.signal?.aborted) return { exported: false, reason: "interrupted before the export started" };
    try {
      const out = await client.send(
        new CreateExportTaskCommand({
          taskName: job.logGroup,
          logGroupName: job.logGroup,
          from: job.fromMs,
          to: Math.max(job.fromMs, job.toMs),
          destination: job.bucket,
          destinationPrefix: job.prefix,
        }),
      );
      taskId = out.taskId;
      if (!taskId) return { exported: false, reason: "CloudWatch Logs returned no export task id" };
    } catch (err) {
      const name = awsErrorName(err);
      const message = (err as Error).message ?? "";
      if (isNotFound(err)) return { exported: false, reason: `log group ${job.logGroup} does not exist` };
      if (name === "InvalidParameterException" || isAccessDenied(err)) {
        return {
          exported: false,
          reason: `bucket ${job.bucket} does not exist or does not let CloudWatch Logs write to it (it needs a bucket policy for the logs service principal): ${message}`,
        };
      }
      if (name !== "LimitExceededException") throw err;
      if (Date.now() + timing.retryMs > deadline)
        return {
          exported: false,
          reason: "another log export kept running; export it later from the CloudWatch console",
        };
      timing.onWait?.("another log export is running in this account; retrying");
      await sleep(timing.retryMs, timing.signal);
    }
  }
  for (;;) {
    const { exportTasks = [] } = await client.send(new DescribeExportTasksCommand({ taskId }));
    const status = exportTasks[0]?.status?.code ?? "UNKNOWN";
    if (status !== "PENDING" && status !== "RUNNING" && status !== "PENDING_CANCEL")
      return { exported: true, status, taskId };
    if (Date.now() + timing.pollMs > deadline || timing.signal?.aborted)
      return { exported: true, status: `${status} (stopped waiting; task ${taskId} continues)`, taskId };
    timing.onWait?.(`export ${status.toLowerCase()}`);
    await sleep(timing.pollMs, timing.signal);
  }
}

// --- gc ----------------------------------------------------------------------------------------

/** Every log group tagged `tagKey`: DescribeLogGroups (all pages), then ListTagsForResource per group, 8 at a time. */
export async function listTaggedLogGroups(client: CloudWatchLogsClient, tagKey: string): Promise<FoundResource[]> {
  const groups: LogGroup[] = [];
  for await (const page of paginateDescribeLogGroups({ client }, {})) groups.push(...(page.logGroups ?? []));
  const found = await mapLimit(groups, 8, async (g): Promise<FoundResource | undefined> => {
    // logGroupArn is the ARN without the trailing ":*" that `arn` carries; tagging takes that one.
    const arn = g.logGroupArn ?? g.arn?.replace(/:\*$/, "");
    if (!arn || !g.logGroupName) return undefined;
    const out = await unlessNotFound(client.send(new ListTagsForResourceCommand({ resourceArn: arn })));
    const app = out?.tags?.[tagKey];
    if (!app) return undefined;
    return {
      kind: "log-group",
      id: g.logGroupName,
      app,
      ...(g.creationTime ? { createdMs: g.creationTime } : {}),
    };
  });
  return found.filter((r) => r !== undefined);
}

/** Deletes a log group; false when it was already gone. */
export async function deleteLogGroupIfExists(client: CloudWatchLogsClient, name: string): Promise<boolean> {
  return doneUnlessGone(client.send(new DeleteLogGroupCommand({ logGroupName: name })));
}
