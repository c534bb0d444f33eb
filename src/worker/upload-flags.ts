/**
 * UPLOAD_FLAGS: DCP appended these to `aws s3 mv`; dcp uploads with the SDK, so each supported
 * flag maps to a PutObject parameter and anything else is a config error at start-up (never a
 * silently ignored flag, never a shell string). Pure.
 */
import type { PutObjectCommandInput } from "@aws-sdk/client-s3";
import { UserInputError } from "../errors.js";

export type UploadParams = Pick<
  PutObjectCommandInput,
  "ACL" | "ServerSideEncryption" | "SSEKMSKeyId" | "StorageClass" | "RequestPayer" | "ExpectedBucketOwner"
>;

const ACLS = [
  "private",
  "public-read",
  "public-read-write",
  "authenticated-read",
  "aws-exec-read",
  "bucket-owner-read",
  "bucket-owner-full-control",
];
const SSE = ["AES256", "aws:kms", "aws:kms:dsse"];
const STORAGE_CLASSES = [
  "STANDARD",
  "REDUCED_REDUNDANCY",
  "STANDARD_IA",
  "ONEZONE_IA",
  "INTELLIGENT_TIERING",
  "GLACIER",
  "DEEP_ARCHIVE",
  "GLACIER_IR",
  "EXPRESS_ONEZONE",
];

/** Flags that change nothing for an upload of new objects (they matter to `aws s3` copies or output only). */
const NO_EFFECT_WITH_VALUE = new Set(["--metadata-directive"]);
const NO_EFFECT = new Set(["--no-progress", "--only-show-errors", "--quiet"]);

export function parseUploadFlags(flags: string | null, source: string): UploadParams {
  const params: UploadParams = {};
  if (!flags?.trim()) return params;
  const tokens = flags
    .trim()
    .split(/\s+/)
    .flatMap((t) =>
      t.startsWith("--") && t.includes("=") ? [t.slice(0, t.indexOf("=")), t.slice(t.indexOf("=") + 1)] : [t],
    );
  const fail = (problem: string, fix: string): never => {
    throw new UserInputError(source, "UPLOAD_FLAGS", problem, fix);
  };
  const value = (i: number, flag: string, allowed?: string[]): string => {
    const v = tokens[i + 1];
    if (v === undefined || v.startsWith("--")) fail(`${flag} needs a value`, `write "${flag} <value>"`);
    if (allowed && !allowed.includes(v!))
      fail(`${flag} ${v} is not one of ${allowed.join(", ")}`, `use one of ${allowed.join(", ")}`);
    return v!;
  };
  for (let i = 0; i < tokens.length; i++) {
    const flag = tokens[i]!;
    switch (flag) {
      case "--acl":
        params.ACL = value(i++, flag, ACLS) as UploadParams["ACL"];
        break;
      case "--sse": {
        const next = tokens[i + 1];
        params.ServerSideEncryption = (
          next && !next.startsWith("--") ? value(i++, flag, SSE) : "AES256"
        ) as UploadParams["ServerSideEncryption"];
        break;
      }
      case "--sse-kms-key-id":
        params.SSEKMSKeyId = value(i++, flag);
        break;
      case "--storage-class":
        params.StorageClass = value(i++, flag, STORAGE_CLASSES) as UploadParams["StorageClass"];
        break;
      case "--request-payer": {
        const next = tokens[i + 1];
        params.RequestPayer = (
          next && !next.startsWith("--") ? value(i++, flag, ["requester"]) : "requester"
        ) as UploadParams["RequestPayer"];
        break;
      }
      case "--expected-bucket-owner":
        params.ExpectedBucketOwner = value(i++, flag);
        break;
      default:
        if (NO_EFFECT_WITH_VALUE.has(flag)) value(i++, flag);
        else if (!NO_EFFECT.has(flag)) {
          fail(
            `"${flag}" is not supported by dcp's uploader`,
            "use --acl, --sse, --sse-kms-key-id, --storage-class, --request-payer or --expected-bucket-owner (--metadata-directive and output flags are accepted and have no effect on uploads)",
          );
        }
    }
  }
  return params;
}
