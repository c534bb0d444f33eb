import { EC2Client } from "@aws-sdk/client-ec2";
import { clientOptions, instrument, type AwsContext } from "./context.js";

export function ec2Client(ctx: AwsContext): EC2Client {
  return instrument(new EC2Client(clientOptions(ctx)), "ec2");
}
