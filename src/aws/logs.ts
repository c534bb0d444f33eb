import { CloudWatchLogsClient } from "@aws-sdk/client-cloudwatch-logs";
import { clientOptions, instrument, type AwsContext } from "./context.js";

export function logsClient(ctx: AwsContext): CloudWatchLogsClient {
  return instrument(new CloudWatchLogsClient(clientOptions(ctx)), "logs");
}
