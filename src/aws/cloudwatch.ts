import { CloudWatchClient } from "@aws-sdk/client-cloudwatch";
import { clientOptions, instrument, type AwsContext } from "./context.js";

export function cloudwatchClient(ctx: AwsContext): CloudWatchClient {
  return instrument(new CloudWatchClient(clientOptions(ctx)), "cloudwatch");
}
