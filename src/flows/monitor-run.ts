/**
 * What `dcp monitor` and `dcp teardown` share: finding the run (state file, AWS context), the AWS
 * clients, one reading of the run (queue, DLQ, fleet, running instances), and Ctrl-C handling.
 */
import { existsSync } from "node:fs";
import type { CloudWatchClient } from "@aws-sdk/client-cloudwatch";
import type { CloudWatchLogsClient } from "@aws-sdk/client-cloudwatch-logs";
import type { EC2Client } from "@aws-sdk/client-ec2";
import type { ECSClient } from "@aws-sdk/client-ecs";
import type { SQSClient } from "@aws-sdk/client-sqs";
import { cloudwatchClient } from "../aws/cloudwatch.js";
import { awsContext, type AwsContext } from "../aws/context.js";
import { describeLiveInstances, ec2Client } from "../aws/ec2.js";
import { ecsClient } from "../aws/ecs.js";
import { fleetAdapter, type FleetAdapter } from "../aws/fleet.js";
import { logsClient } from "../aws/logs.js";
import { findQueueUrl, queueActivity, sqsClient } from "../aws/sqs.js";
import { loadConfig } from "../config/load.js";
import { resourceNames } from "../config/schema.js";
import type { Reading } from "../plan/monitor-decisions.js";
import { readRunState, type RunState } from "../state/run-state.js";
import type { Output } from "../ui/output.js";

export interface RunLocation {
  /** the positional state-file argument, if given */
  stateFile: string | undefined;
  /** --config, --region, --profile */
  config: string;
  region?: string | undefined;
  profile?: string | undefined;
}

export interface RunTarget {
  path: string;
  state: RunState;
  ctx: AwsContext;
}

/**
 * The state file (argument, or the config's APP_NAME default) and the AWS context: the run's own
 * region (where its resources are) unless --region says otherwise. The config is only needed to
 * name the default state file; with an explicit state file it is read when present, for AWS_PROFILE.
 */
export async function resolveRun(where: RunLocation): Promise<RunTarget> {
  const needConfig = !where.stateFile || existsSync(where.config);
  const config = needConfig
    ? await loadConfig(where.config, { region: where.region, profile: where.profile })
    : undefined;
  const path = where.stateFile ?? resourceNames(config!).stateFile;
  const state = await readRunState(path);
  const profile = config ? awsContext(config).profile : where.profile;
  return { path, state, ctx: { region: where.region ?? state.dcp.region, profile } };
}

export interface RunClients {
  sqs: SQSClient;
  ecs: ECSClient;
  ec2: EC2Client;
  cw: CloudWatchClient;
  logs: CloudWatchLogsClient;
  fleet: FleetAdapter;
}

export function runClients(target: RunTarget): RunClients {
  const { ctx, state } = target;
  return {
    sqs: sqsClient(ctx),
    ecs: ecsClient(ctx),
    ec2: ec2Client(ctx),
    cw: cloudwatchClient(ctx),
    logs: logsClient(ctx),
    fleet: fleetAdapter(ctx, state.dcp.fleetApi),
  };
}

/** Queue URLs are looked up once and again only when a queue seems gone. */
export class RunReader {
  private queueUrl: string | undefined;
  private dlqUrl: string | undefined;
  /** set once the job queue was found missing (someone deleted it): the run counts as drained */
  queueMissing = false;

  constructor(
    private readonly clients: RunClients,
    private readonly state: RunState,
  ) {}

  private async depth(
    name: string,
    cached: string | undefined,
    remember: (url: string | undefined) => void,
  ): Promise<{ visible: number; inFlight: number } | undefined> {
    const url = cached ?? (await findQueueUrl(this.clients.sqs, name));
    remember(url);
    if (!url) return undefined;
    try {
      const a = await queueActivity(this.clients.sqs, url);
      // Delayed messages are waiting work: count them as visible so the run is not torn down under them.
      return { visible: a.visible + a.delayed, inFlight: a.inFlight };
    } catch (err) {
      if (!/QueueDoesNotExist|NonExistentQueue/.test((err as { name?: string }).name ?? "")) throw err;
      remember(undefined);
      return undefined;
    }
  }

  /**
   * One reading: 2 SQS calls, 2 fleet calls and 1 DescribeInstances per 200 instances, whatever
   * happened since the last one.
   */
  async read(now: () => number = Date.now): Promise<Reading> {
    const { fleet, ec2 } = this.clients;
    const fleetId = this.state.dcp.fleetId;
    const [queue, dlq, status] = await Promise.all([
      this.depth(this.state.MONITOR_QUEUE_NAME, this.queueUrl, (u) => (this.queueUrl = u)),
      this.depth(this.state.dcp.deadLetterQueueName, this.dlqUrl, (u) => (this.dlqUrl = u)),
      fleet.describe(fleetId),
    ]);
    this.queueMissing = queue === undefined;
    const ids = status ? await fleet.activeInstances(fleetId) : [];
    const live = ids.length ? await describeLiveInstances(ec2, ids) : [];
    return {
      at: now(),
      visible: queue?.visible ?? 0,
      inFlight: queue?.inFlight ?? 0,
      dlq: dlq ? dlq.visible + dlq.inFlight : 0,
      ...(status ? { fleet: { target: status.target, fulfilled: status.fulfilled, state: status.state } } : {}),
      live,
    };
  }
}

/** Thrown between steps when the user pressed Ctrl-C (exit 130). */
export class Interrupted extends Error {
  constructor() {
    super("interrupted");
    this.name = "Interrupted";
  }
}

export const EXIT_INTERRUPTED = 130;

/**
 * Ctrl-C (or SIGTERM) aborts `signal`: loops stop at the next safe point. A second Ctrl-C exits
 * at once, which is safe too: the state file is written atomically and teardown resumes.
 */
export function interruptOnSignals(): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const handler = () => {
    if (controller.signal.aborted) process.exit(EXIT_INTERRUPTED);
    controller.abort();
  };
  process.on("SIGINT", handler);
  process.on("SIGTERM", handler);
  return {
    signal: controller.signal,
    dispose() {
      process.off("SIGINT", handler);
      process.off("SIGTERM", handler);
    },
  };
}

export { sleep } from "../sleep.js";

/** True (after saying so) when the run is already torn down: nothing left to watch or tear down. */
export function reportIfFinished(state: RunState, output: Output): boolean {
  if (state.dcp.status !== "finished") return false;
  output.line(
    `run ${state.MONITOR_APP_NAME} is already torn down (finished ${state.dcp.finishedAt ?? ""}); nothing to do`,
  );
  output.result({ appName: state.MONITOR_APP_NAME, status: "finished", alreadyFinished: true });
  return true;
}

/** How to carry on after an interruption. */
export function resumeHints(path: string, tearingDown: boolean): string[] {
  if (tearingDown) return [`finish the teardown: dcp teardown ${path}`];
  return [`resume watching: dcp monitor ${path}`, `tear the run down now: dcp teardown ${path}`];
}
