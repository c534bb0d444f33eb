/**
 * What `dcp failures` and `dcp retry --from-dlq` both need: the run's ledger (attempt keys, from
 * listings), the dead-letter queue read without consuming it, the two joined (plan/failures.ts),
 * and, for the failing groups only, their attempt records (last lines, log stream).
 */
import type { S3Client } from "@aws-sdk/client-s3";
import type { SQSClient } from "@aws-sdk/client-sqs";
import { s3Client } from "../aws/s3.js";
import { findQueueUrl, sqsClient } from "../aws/sqs.js";
import type { AwsContext } from "../aws/context.js";
import type { Config } from "../config/schema.js";
import { mapLimit } from "../concurrency.js";
import { failedGroups, type DlqEntry, type FailedGroup, type FailureDetail } from "../plan/failures.js";
import { attemptKey, attemptRecordSchema, runLedgerKeys, type AttemptKeyParts } from "../plan/ledger.js";
import { messageSchema } from "../plan/message.js";
import { formatPath } from "../errors.js";
import { deriveNames } from "../worker/naming.js";
import { listAttempts, readCurrentPointer, readLedgerJson, type LedgerLocation } from "./ledger.js";
import type { HeldMessage, QueueReading } from "./queue-reading.js";

export interface FailureClients {
  sqs: SQSClient;
  s3: S3Client;
  ledger: LedgerLocation;
}

export function failureClients(config: Config, ctx: AwsContext): FailureClients {
  const s3 = s3Client(ctx);
  return { sqs: sqsClient(ctx), s3, ledger: { s3, bucket: config.AWS_BUCKET, appName: config.APP_NAME } };
}

/** The run whose ledger is read: --run, else the app's current pointer; undefined when there is no ledger. */
export async function ledgerRunId(clients: FailureClients, run: string | undefined): Promise<string | undefined> {
  return run ?? (await readCurrentPointer(clients.ledger))?.runId;
}

export async function runAttempts(clients: FailureClients, runId: string | undefined): Promise<AttemptKeyParts[]> {
  return runId ? listAttempts(clients.ledger, runId) : [];
}

/** The dead-letter queue's URL, or undefined when it does not exist (nothing was ever dead-lettered there). */
export async function deadLetterUrl(clients: FailureClients, config: Config): Promise<string | undefined> {
  return findQueueUrl(clients.sqs, config.SQS_DEAD_LETTER_QUEUE);
}

/** The task a body names, or an Error saying why it is not one. */
export function taskOfBody(body: string): ReturnType<typeof messageSchema.parse> {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    throw new Error("the body is not JSON");
  }
  const result = messageSchema.safeParse(json);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw new Error(`${formatPath(issue.path)}: ${issue.message}`);
  }
  return result.data;
}

/** A dead-letter message as a group: its metadataId and Metadata, or why its body is not a task. */
export function dlqEntry(m: HeldMessage): DlqEntry {
  try {
    const names = deriveNames(taskOfBody(m.body));
    return {
      messageId: m.messageId,
      metadataId: names.metadataId,
      metadata: names.group,
      receiveCount: m.receiveCount,
    };
  } catch (err) {
    return {
      messageId: m.messageId,
      metadataId: undefined,
      metadata: [],
      receiveCount: m.receiveCount,
      problem: `not a task dcp can run: ${(err as Error).message}`,
    };
  }
}

export function joinFailures(attempts: readonly AttemptKeyParts[], reading: QueueReading | undefined): FailedGroup[] {
  return failedGroups(attempts, (reading?.messages ?? []).map(dlqEntry));
}

/**
 * The attempt record of each failing group's latest failed attempt (only those: a run of 100,000
 * groups with 20 failures reads 20 objects), as the details `dcp failures` shows. A group with no
 * record gets the log stream the worker would have used (its metadataId, `:` and `*` replaced).
 */
export async function failureDetails(
  clients: FailureClients,
  config: Config,
  runId: string | undefined,
  groups: readonly FailedGroup[],
): Promise<Map<string, FailureDetail>> {
  const details = new Map<string, FailureDetail>();
  const fallback = (g: FailedGroup): FailureDetail => ({
    lastLines: [],
    logGroup: config.LOG_GROUP_NAME,
    logStream: g.metadataId.replace(/[:*]/g, "_").slice(0, 512),
  });
  await mapLimit([...groups], 16, async (g) => {
    const a = g.failedAttempt;
    const record =
      runId && a
        ? await readLedgerJson(
            clients.ledger,
            attemptKey(config.APP_NAME, runId, a.metadataId, a.attempt, a.outcome, a.cause),
            attemptRecordSchema,
          )
        : undefined;
    if (!record) {
      details.set(g.metadataId, fallback(g));
      return;
    }
    if (!g.metadata.length) g.metadata = record.group;
    details.set(g.metadataId, {
      lastLines: record.lastLines,
      message: record.cause?.message,
      logGroup: record.logGroup ?? config.LOG_GROUP_NAME,
      logStream: record.logStream ?? fallback(g).logStream,
    });
  });
  return details;
}

/** Where a run's ledger lives, for messages. */
export function ledgerWhere(config: Config, runId: string | undefined): string {
  return runId
    ? `s3://${config.AWS_BUCKET}/${runLedgerKeys(config.APP_NAME, runId).root}`
    : `s3://${config.AWS_BUCKET}/dcp-runs/${config.APP_NAME}/`;
}
