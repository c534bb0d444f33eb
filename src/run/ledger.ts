/**
 * Reading and writing the run ledger in S3 (layout and records: plan/ledger.ts). Reads count with
 * listings (group, outcome and cause are in the keys); records are read only when asked for.
 */
import type { S3Client } from "@aws-sdk/client-s3";
import type { z } from "zod";
import { deleteObject, listFolders, listObjectPages, putText, textIfExists } from "../aws/s3.js";
import {
  appLedgerPrefix,
  currentPointerKey,
  currentPointerSchema,
  parseAttemptKey,
  parseOpenKey,
  runLedgerKeys,
  type AttemptKeyParts,
  type CurrentPointer,
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
