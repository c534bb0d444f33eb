import { SQSClient } from "@aws-sdk/client-sqs";
import { clientOptions, endpointOverridden, instrument, type AwsContext } from "./context.js";

export function sqsClient(ctx: AwsContext): SQSClient {
  // With an endpoint override (an emulator or a VPC endpoint) the queue URL's own host may not
  // resolve; send every call to the configured endpoint instead.
  const useQueueUrlAsEndpoint = !endpointOverridden("sqs");
  return instrument(new SQSClient({ ...clientOptions(ctx), useQueueUrlAsEndpoint }), "sqs");
}
