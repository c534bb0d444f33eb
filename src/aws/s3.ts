import { S3Client } from "@aws-sdk/client-s3";
import { clientOptions, endpointOverridden, instrument, type AwsContext } from "./context.js";

export function s3Client(ctx: AwsContext): S3Client {
  // Virtual-host addressing cannot resolve <bucket>.localhost, so emulators need path style.
  return instrument(new S3Client({ ...clientOptions(ctx), forcePathStyle: endpointOverridden("s3") }), "s3");
}
