import type { ServiceQuotasClient } from "@aws-sdk/client-service-quotas";
import { sdk } from "./sdk.js";
import { clientOptions, instrument, type AwsContext } from "./context.js";

const { ServiceQuotasClient: ServiceQuotasClientClass, GetServiceQuotaCommand } = sdk("@aws-sdk/client-service-quotas");

export function serviceQuotasClient(ctx: AwsContext): ServiceQuotasClient {
  return instrument(new ServiceQuotasClientClass(clientOptions(ctx)), "service-quotas");
}

/** "All Standard (A, C, D, H, I, M, R, T, Z) Spot Instance Requests", in vCPUs. */
export const SPOT_STANDARD_VCPU_QUOTA = "L-34B43A08";

/** A quota's value, or undefined when Service Quotas does not know it (NoSuchResourceException). */
export async function serviceQuota(
  client: ServiceQuotasClient,
  serviceCode: string,
  quotaCode: string,
): Promise<number | undefined> {
  try {
    const out = await client.send(new GetServiceQuotaCommand({ ServiceCode: serviceCode, QuotaCode: quotaCode }));
    return out.Quota?.Value;
  } catch (err) {
    if ((err as { name?: string }).name === "NoSuchResourceException") return undefined;
    throw err;
  }
}
