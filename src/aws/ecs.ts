import { ECSClient } from "@aws-sdk/client-ecs";
import { clientOptions, instrument, type AwsContext } from "./context.js";

export function ecsClient(ctx: AwsContext): ECSClient {
  return instrument(new ECSClient(clientOptions(ctx)), "ecs");
}
