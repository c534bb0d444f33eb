import type { STSClient } from "@aws-sdk/client-sts";
import { sdk } from "./sdk.js";
import { clientOptions, instrument, type AwsContext } from "./context.js";

const { STSClient: STSClientClass, GetCallerIdentityCommand } = sdk("@aws-sdk/client-sts");

export function stsClient(ctx: AwsContext): STSClient {
  return instrument(new STSClientClass(clientOptions(ctx)), "sts");
}

export interface CallerIdentity {
  account: string;
  arn: string;
  userId: string;
}

/** Who the credentials belong to (GetCallerIdentity needs no permission). */
export async function callerIdentity(client: STSClient): Promise<CallerIdentity> {
  const out = await client.send(new GetCallerIdentityCommand({}));
  return { account: out.Account ?? "", arn: out.Arn ?? "", userId: out.UserId ?? "" };
}
