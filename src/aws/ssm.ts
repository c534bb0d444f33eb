import { SSMClient } from "@aws-sdk/client-ssm";
import { clientOptions, instrument, type AwsContext } from "./context.js";

export function ssmClient(ctx: AwsContext): SSMClient {
  return instrument(new SSMClient(clientOptions(ctx)), "ssm");
}
