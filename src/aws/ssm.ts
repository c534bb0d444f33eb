import type { SSMClient } from "@aws-sdk/client-ssm";
import { sdk } from "./sdk.js";
import { clientOptions, instrument, type AwsContext } from "./context.js";
import { isNotFound } from "./errors.js";
import { OperationalError } from "../errors.js";

const { SSMClient: SSMClientClass, GetParameterCommand } = sdk("@aws-sdk/client-ssm");

export function ssmClient(ctx: AwsContext): SSMClient {
  return instrument(new SSMClientClass(clientOptions(ctx)), "ssm");
}

// --- start-cluster: the current ECS-optimized AMI ---------------------------------------------

/**
 * The AMI id in the first of `parameters` that exists (AWS's public ECS-optimized AMI parameters,
 * newest Amazon Linux first). Throws an OperationalError naming the parameters when none exists.
 */
export async function resolvePublicAmi(
  client: SSMClient,
  parameters: readonly string[],
): Promise<{ imageId: string; parameter: string }> {
  for (const parameter of parameters) {
    try {
      const out = await client.send(new GetParameterCommand({ Name: parameter }));
      const value = out.Parameter?.Value;
      if (value && /^ami-[0-9a-f]+$/.test(value)) return { imageId: value, parameter };
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
  throw new OperationalError(
    `no ECS-optimized AMI found in SSM (${parameters.join(", ")}); set LaunchSpecifications[0].ImageId in the fleet file to an AMI id of your region`,
  );
}
