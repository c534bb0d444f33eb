/**
 * Reading and writing the run ledger in S3 (layout and records: plan/ledger.ts). Reads count with
 * listings (group, outcome and cause are in the keys); records are read only when asked for.
 */
import type { S3Client } from "@aws-sdk/client-s3";
import type { z } from "zod";
import { deleteObject, listFolders, listObjectPages, putText, textIfExists } from "../aws/s3.js";
import { mapLimit } from "../concurrency.js";
import {
  appLedgerPrefix,
  currentPointerKey,
  currentPointerSchema,
  ledgerCounts,
  parseAttemptKey,
  parseOpenKey,
  runLedgerKeys,
  submissionKey,
  submissionKeyTime,
  submissionRecordSchema,
  submissionsPrefix,
  type AttemptKeyParts,
  type CurrentPointer,
  type LedgerCounts,
  type RunRecord,
  type SubmissionRecord,
} from "../plan/ledger.js";

export interface LedgerLocation {
  s3: S3Client;
  bucket: string;
  appName: string;
}

/** A JSON object of the ledger, checked against its schema; undefined when absent or not valid. */
export async function readLedgerJson<S extends z.ZodType>(
  at: LedgerLocation,
  key: string,
  schema: S,
): Promise<z.output<S> | undefined> {
  const text = await textIfExists(at.s3, at.bucket, key);
  if (text === undefined) return undefined;
  try {
    const parsed = schema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

export async function writeLedgerJson(
  at: LedgerLocation,
  key: string,
  value: unknown,
  signal?: AbortSignal,
): Promise<void> {
  await putText(at.s3, at.bucket, key, `${JSON.stringify(value)}\n`, signal);
}

export async function removeLedgerObject(at: LedgerLocation, key: string, signal?: AbortSignal): Promise<void> {
  await deleteObject(at.s3, at.bucket, key, signal);
}

/** The run the app's workers currently write for (start-cluster's pointer). */
export async function readCurrentPointer(at: LedgerLocation): Promise<CurrentPointer | undefined> {
  return readLedgerJson(at, currentPointerKey(at.appName), currentPointerSchema);
}

/** The run ids that have a ledger folder under the app. */
export async function listLedgerRuns(at: LedgerLocation): Promise<string[]> {
  const prefix = appLedgerPrefix(at.appName);
  return (await listFolders(at.s3, at.bucket, prefix)).map((p) => p.slice(prefix.length, -1));
}

/** Every finished attempt of a run, from the keys alone (one ListObjectsV2 per 1,000 attempts). */
export async function listAttempts(at: LedgerLocation, runId: string): Promise<AttemptKeyParts[]> {
  const prefix = runLedgerKeys(at.appName, runId).attemptsPrefix;
  const attempts: AttemptKeyParts[] = [];
  for await (const page of listObjectPages(at.s3, at.bucket, prefix))
    for (const o of page) {
      const parts = parseAttemptKey(o.key, prefix);
      if (parts) attempts.push(parts);
    }
  return attempts;
}

/** The attempts of a run still open (started, not ended), with the instance each runs on. */
export async function listOpenAttempts(
  at: LedgerLocation,
  runId: string,
): Promise<{ instanceId: string; attempt: string; key: string }[]> {
  const prefix = runLedgerKeys(at.appName, runId).openPrefix;
  const open: { instanceId: string; attempt: string; key: string }[] = [];
  for await (const page of listObjectPages(at.s3, at.bucket, prefix))
    for (const o of page) {
      const parts = parseOpenKey(o.key, prefix);
      if (parts) open.push({ ...parts, key: o.key });
    }
  return open;
}

/**
 * A run's groups as the ledger's listings tell them: two listings (attempts, open), no record read.
 * `counts.running` counts every open key; `openAttempts` lets status drop stale ones (plan/run-status.ts).
 */
export async function readLedgerCounts(
  at: LedgerLocation,
  runId: string,
): Promise<{
  attempts: AttemptKeyParts[];
  open: number;
  openAttempts: { instanceId: string; attempt: string }[];
  counts: LedgerCounts;
}> {
  const [attempts, open] = await Promise.all([listAttempts(at, runId), listOpenAttempts(at, runId)]);
  return { attempts, open: open.length, openAttempts: open, counts: ledgerCounts(attempts, open.length) };
}

/** start-cluster: run.json first, then the pointer the workers follow (current.json). */
export async function writeRunStart(at: LedgerLocation, record: RunRecord): Promise<void> {
  await writeLedgerJson(at, runLedgerKeys(at.appName, record.runId).run, record);
  const pointer: CurrentPointer = { version: 1, runId: record.runId, startedAt: record.startedAt };
  await writeLedgerJson(at, currentPointerKey(at.appName), pointer);
}

/** `dcp submit`: one record per job file sent. */
export async function recordSubmission(at: LedgerLocation, record: SubmissionRecord): Promise<void> {
  await writeLedgerJson(at, submissionKey(at.appName, Date.parse(record.submittedAt), record.sha256), record);
}

/** Submissions recorded at or after `sinceMs` (all when undefined), oldest first; at most `max` are read. */
export async function listSubmissionsSince(
  at: LedgerLocation,
  sinceMs: number | undefined,
  max = 200,
): Promise<SubmissionRecord[]> {
  const prefix = submissionsPrefix(at.appName);
  const keys: string[] = [];
  for await (const page of listObjectPages(at.s3, at.bucket, prefix))
    for (const o of page) {
      const time = submissionKeyTime(o.key, prefix);
      if (time !== undefined && (sinceMs === undefined || time >= sinceMs)) keys.push(o.key);
    }
  const records = await mapLimit(keys.sort().slice(-max), 8, (key) => readLedgerJson(at, key, submissionRecordSchema));
  return records.filter((r): r is SubmissionRecord => r !== undefined);
}
