import type { S3Client, PutObjectCommandInput } from "@aws-sdk/client-s3";
import { sdk } from "./sdk.js";
import { createReadStream } from "node:fs";
import { mkdir, readFile } from "node:fs/promises";
import { dirname } from "node:path";
import type { Readable } from "node:stream";
import { writeFileAtomic } from "../io/atomic-write.js";
import { clientOptions, endpointOverridden, instrument, type AwsContext } from "./context.js";

const {
  S3Client: S3ClientClass,
  DeleteObjectCommand,
  GetBucketLocationCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  paginateListObjectsV2,
} = sdk("@aws-sdk/client-s3");

export function s3Client(ctx: AwsContext): S3Client {
  // Virtual-host addressing cannot resolve <bucket>.localhost, so emulators need path style.
  // followRegionRedirects: a bucket in another region than the config's answers 301/PermanentRedirect;
  // the client then retries in the bucket's region instead of failing.
  return instrument(
    new S3ClientClass({ ...clientOptions(ctx), forcePathStyle: endpointOverridden("s3"), followRegionRedirects: true }),
    "s3",
  );
}

export interface S3ObjectSummary {
  key: string;
  size: number;
}

/** Every object under `prefix` (ListObjectsV2, all pages). */
export async function listObjects(
  client: S3Client,
  bucket: string,
  prefix: string,
  signal?: AbortSignal,
): Promise<S3ObjectSummary[]> {
  const objects: S3ObjectSummary[] = [];
  for await (const page of listObjectPages(client, bucket, prefix, signal)) objects.push(...page);
  return objects;
}

/** Streams one object to `file` (written to a temporary name, then renamed: never a partial file). */
export async function downloadToFile(
  client: S3Client,
  bucket: string,
  key: string,
  file: string,
  signal?: AbortSignal,
): Promise<number> {
  await mkdir(dirname(file), { recursive: true });
  const { Body, ContentLength } = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }), {
    abortSignal: signal,
  });
  if (!Body) throw new Error(`s3://${bucket}/${key} has no body`);
  await writeFileAtomic(file, Body as Readable, { signal });
  return ContentLength ?? 0;
}

/** Files up to this size go up in one PutObject from memory; larger ones stream as multipart uploads. */
const SINGLE_PUT_BYTES = 1024 * 1024;

/** Uploads one local file: one PutObject when small, otherwise a multipart upload through @aws-sdk/lib-storage. */
export async function uploadFile(
  client: S3Client,
  params: Omit<PutObjectCommandInput, "Body">,
  file: string,
  size: number,
  signal?: AbortSignal,
): Promise<void> {
  if (signal?.aborted) throw signal.reason ?? new Error("aborted");
  if (size <= SINGLE_PUT_BYTES) {
    await client.send(new PutObjectCommand({ ...params, Body: await readFile(file) }), { abortSignal: signal });
    return;
  }
  // Loaded on first use: only the worker uploads, and lib-storage is a tenth of S3's start-up.
  const { Upload } = sdk("@aws-sdk/lib-storage");
  const upload = new Upload({
    client,
    params: { ...params, Body: createReadStream(file) },
    queueSize: 4,
    partSize: 8 * 1024 * 1024,
    leavePartsOnError: false,
  });
  const abort = () => void upload.abort();
  signal?.addEventListener("abort", abort, { once: true });
  try {
    await upload.done();
  } finally {
    signal?.removeEventListener("abort", abort);
  }
}

/** The objects under `prefix`, one ListObjectsV2 page (up to 1,000 keys) at a time, in key order. */
export async function* listObjectPages(
  client: S3Client,
  bucket: string,
  prefix: string,
  signal?: AbortSignal,
): AsyncGenerator<S3ObjectSummary[]> {
  // The paginator passes the send options (the abort signal) to every page's call.
  for await (const page of paginateListObjectsV2(
    { client },
    { Bucket: bucket, Prefix: prefix },
    { abortSignal: signal },
  ))
    yield (page.Contents ?? []).flatMap((o) => (o.Key === undefined ? [] : [{ key: o.Key, size: o.Size ?? 0 }]));
}

// --- doctor: buckets and objects, read-only --------------------------------------------------------

/** The bucket's region ("us-east-1" for S3's empty answer), or undefined when it does not exist. */
export async function bucketRegion(client: S3Client, bucket: string): Promise<string | undefined> {
  try {
    const out = await client.send(new GetBucketLocationCommand({ Bucket: bucket }));
    return out.LocationConstraint || "us-east-1";
  } catch (err) {
    if ((err as { name?: string }).name === "NoSuchBucket") return undefined;
    throw err;
  }
}

/** Whether the object exists (HeadObject; needs s3:GetObject). */
export async function objectExists(client: S3Client, bucket: string, key: string): Promise<boolean> {
  try {
    await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    return true;
  } catch (err) {
    const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
    if (e.name === "NotFound" || e.name === "NoSuchKey" || e.$metadata?.httpStatusCode === 404) return false;
    throw err;
  }
}

/** A small object's text (the doctor's LoadData CSV). */
export async function objectText(client: S3Client, bucket: string, key: string): Promise<string> {
  const out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return (await out.Body?.transformToString("utf8")) ?? "";
}

// --- small JSON objects (the run ledger) -----------------------------------------------------------

/** Writes a small object from memory in one PutObject. */
export async function putText(
  client: S3Client,
  bucket: string,
  key: string,
  body: string,
  signal?: AbortSignal,
): Promise<void> {
  await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: "application/json" }), {
    abortSignal: signal,
  });
}

/** A small object's text, or undefined when it does not exist. */
export async function textIfExists(client: S3Client, bucket: string, key: string): Promise<string | undefined> {
  try {
    return await objectText(client, bucket, key);
  } catch (err) {
    const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
    if (e.name === "NoSuchKey" || e.name === "NotFound" || e.$metadata?.httpStatusCode === 404) return undefined;
    throw err;
  }
}

/** Deletes one object; S3 answers 204 whether or not it existed, so "already gone" is done. */
export async function deleteObject(client: S3Client, bucket: string, key: string, signal?: AbortSignal): Promise<void> {
  await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }), { abortSignal: signal });
}

/** The "folders" directly under `prefix` (ListObjectsV2 with Delimiter "/"), as full prefixes. */
export async function listFolders(client: S3Client, bucket: string, prefix: string): Promise<string[]> {
  const folders: string[] = [];
  for await (const page of paginateListObjectsV2({ client }, { Bucket: bucket, Prefix: prefix, Delimiter: "/" }))
    for (const p of page.CommonPrefixes ?? []) if (p.Prefix) folders.push(p.Prefix);
  return folders;
}
