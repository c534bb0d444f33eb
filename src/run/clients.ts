/** The AWS clients of one run, made once per command and shared by its reader, monitor and teardown. */
import type { CloudWatchClient } from "@aws-sdk/client-cloudwatch";
import type { CloudWatchLogsClient } from "@aws-sdk/client-cloudwatch-logs";
import type { EC2Client } from "@aws-sdk/client-ec2";
import type { ECSClient } from "@aws-sdk/client-ecs";
import type { SQSClient } from "@aws-sdk/client-sqs";
import { cloudwatchClient } from "../aws/cloudwatch.js";
import type { AwsContext } from "../aws/context.js";
import { ec2Client } from "../aws/ec2.js";
import { ecsClient } from "../aws/ecs.js";
import { logsClient } from "../aws/logs.js";
import { sqsClient } from "../aws/sqs.js";
import type { FleetProvider } from "../fleet/provider.js";
import { fleetProvider } from "../fleet/registry.js";
import type { RunTarget } from "./target.js";

export interface RunClients {
  sqs: SQSClient;
  ecs: ECSClient;
  ec2: EC2Client;
  cw: CloudWatchClient;
  logs: CloudWatchLogsClient;
  /** The provider of the fleet the state file names (monitor swaps it when start-cluster --replace changes it). */
  fleet: FleetProvider;
}

export async function runClients(target: RunTarget): Promise<RunClients> {
  return clientsWith(target.ctx, await fleetProvider(target.state.dcp.fleetApi, target.ctx));
}

/** The clients for a context and a fleet provider (gc: runs without a state file here). */
export function clientsWith(ctx: AwsContext, fleet: FleetProvider): RunClients {
  return {
    sqs: sqsClient(ctx),
    ecs: ecsClient(ctx),
    ec2: ec2Client(ctx),
    cw: cloudwatchClient(ctx),
    logs: logsClient(ctx),
    fleet,
  };
}
