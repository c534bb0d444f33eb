/**
 * What the commands write to the run ledger (plan/ledger.ts): start-cluster's run.json and
 * current.json, submit's submission records, the monitor's heartbeat at every poll, teardown's
 * summary.json. Never the reason a command fails: each write is best effort, its failure one warning.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { hostname } from "node:os";
import { basename } from "node:path";
import { awsContext, type AwsContext } from "../aws/context.js";
import { latestTaskDefinition, ecsClient } from "../aws/ecs.js";
import { describeAwsFailure } from "../aws/errors.js";
import { s3Client } from "../aws/s3.js";
import type { Config } from "../config/schema.js";
import { resourceNames } from "../config/schema.js";
import {
  configForLedger,
  runLedgerKeys,
  runRecordSchema,
  type Heartbeat,
  type RunRecord,
  type RunSummaryRecord,
} from "../plan/ledger.js";
import type { Observations } from "../plan/monitor-observations.js";
import type { RunState } from "../state/run-state.js";
import {
  listSubmissionsSince,
  readCurrentPointer,
  readLedgerCounts,
  readLedgerJson,
  recordSubmission,
  writeLedgerJson,
  writeRunStart,
  type LedgerLocation,
} from "./ledger.js";
import type { RunSummary } from "./summary.js";

/** One ledger request gives up after this long (the SDK retries inside it). */
const WRITE_TIMEOUT_MS = 10_000;

export function ledgerLocation(ctx: AwsContext, bucket: string, appName: string): LedgerLocation {
  return { s3: s3Client(ctx), bucket, appName };
}

function reason(err: unknown): string {
  return describeAwsFailure(err) ?? `${(err as { name?: string }).name ?? "Error"}: ${(err as Error).message}`;
}

export interface RunStart {
  fleetApi: string;
  fleetId: string;
  launchTemplateId?: string | undefined;
  startedAt: Date;
  fleetRequest: unknown;
  stateFile: string;
}

/**
 * start-cluster: run.json (config without secrets, task definition and image, the fleet request as
 * planned, the job files submitted since the previous run) and then current.json, which the workers
 * follow. A resumed start (same fleet) writes the same, keeping the jobs it first recorded.
 * Returns a warning when it could not, undefined when written.
 */
export async function recordRunStart(ctx: AwsContext, config: Config, start: RunStart): Promise<string | undefined> {
  const at = ledgerLocation(ctx, config.AWS_BUCKET, config.APP_NAME);
  try {
    const previous = await readCurrentPointer(at);
    const existing =
      previous?.runId === start.fleetId
        ? await readLedgerJson(at, runLedgerKeys(at.appName, start.fleetId).run, runRecordSchema)
        : undefined;
    const jobsSince = existing ? existing.jobsSince : previous?.startedAt;
    const [definition, jobs] = await Promise.all([
      latestTaskDefinition(ecsClient(ctx), resourceNames(config).taskFamily).catch(() => undefined),
      listSubmissionsSince(at, jobsSince ? Date.parse(jobsSince) : undefined),
    ]);
    const record: RunRecord = {
      version: 1,
      runId: start.fleetId,
      appName: config.APP_NAME,
      region: config.AWS_REGION,
      startedAt: existing?.startedAt ?? start.startedAt.toISOString(),
      fleetApi: start.fleetApi,
      fleetId: start.fleetId,
      ...(start.launchTemplateId ? { launchTemplateId: start.launchTemplateId } : {}),
      config: configForLedger(config as unknown as Record<string, unknown>),
      ...(definition
        ? {
            taskDefinition: `${definition.definition.family}:${definition.definition.revision}`,
            ...(definition.definition.containerDefinitions?.[0]?.image
              ? { image: definition.definition.containerDefinitions[0].image }
              : {}),
          }
        : {}),
      fleetRequest: start.fleetRequest,
      jobs,
      ...(jobsSince ? { jobsSince } : {}),
      stateFile: start.stateFile,
    };
    await writeRunStart(at, record);
    return undefined;
  } catch (err) {
    return `could not write the run ledger to s3://${config.AWS_BUCKET}/dcp-runs/${config.APP_NAME}/ (${reason(err)}): workers keep no attempt records and \`dcp status\` cannot find this run`;
  }
}

async function sha256Of(file: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/** submit: records the job file sent (name, groups, hash) for the next start-cluster's run.json. */
export async function recordJobSubmission(
  config: Config,
  file: string,
  groups: number,
  sent: number,
): Promise<string | undefined> {
  try {
    const at = ledgerLocation(awsContext(config), config.AWS_BUCKET, config.APP_NAME);
    await recordSubmission(at, {
      version: 1,
      name: basename(file),
      groups,
      sent,
      sha256: await sha256Of(file),
      submittedAt: new Date().toISOString(),
      queue: config.SQS_QUEUE_NAME,
    });
    return undefined;
  } catch (err) {
    return `could not record this submission in the run ledger (${reason(err)}); the next run.json will not list it`;
  }
}

/**
 * The monitor's heartbeat and teardown's summary, for one run (its state file). Each write is one
 * request; a failure is reported once through `warn` and never thrown.
 */
export class RunLedgerWriter {
  private readonly at: LedgerLocation;
  private warned = false;

  constructor(
    ctx: AwsContext,
    private state: RunState,
    private readonly pollSeconds: number,
    private readonly warn: (text: string) => void,
  ) {
    this.at = ledgerLocation(ctx, state.MONITOR_BUCKET_NAME, state.MONITOR_APP_NAME);
  }

  private get runId(): string {
    return this.state.dcp.fleetId;
  }

  private failed(what: string, err: unknown): void {
    if (this.warned) return;
    this.warned = true;
    this.warn(
      `could not write the run ledger's ${what} (${reason(err)}); \`dcp status\` elsewhere may call this run unattended`,
    );
  }

  /** One PUT of heartbeat.json; the state may have changed (a start-cluster --replace). */
  async heartbeat(
    phase: Heartbeat["phase"],
    observations: Observations | undefined,
    state = this.state,
  ): Promise<void> {
    this.state = state;
    if (!this.runId || !observations) return;
    const beat: Heartbeat = {
      version: 1,
      runId: this.runId,
      at: new Date().toISOString(),
      pollSeconds: this.pollSeconds,
      phase,
      host: hostname(),
      pid: process.pid,
      fleetApi: state.dcp.fleetApi,
      fleetLabel: `${state.dcp.fleetApi} ${state.dcp.fleetId}`,
      startedAt: Date.parse(state.dcp.startedAt) || Number(state.MONITOR_START_TIME),
      observations,
    };
    try {
      await writeLedgerJson(
        this.at,
        runLedgerKeys(this.at.appName, this.runId).heartbeat,
        beat,
        AbortSignal.timeout(WRITE_TIMEOUT_MS),
      );
    } catch (err) {
      this.failed("heartbeat", err);
    }
  }

  /** teardown: summary.json from the ledger's listings and the run summary, then the heartbeat "finished". */
  async finish(
    summary: RunSummary,
    observations: Observations | undefined,
    state = this.state,
    costs?: RunSummaryRecord["costs"],
  ): Promise<void> {
    this.state = state;
    if (!this.runId) return;
    try {
      const { counts } = await readLedgerCounts(this.at, this.runId);
      const finishedAt = Date.parse(state.dcp.finishedAt ?? "") || Date.now();
      const record: RunSummaryRecord = {
        version: 1,
        runId: this.runId,
        appName: state.MONITOR_APP_NAME,
        startedAt: state.dcp.startedAt,
        finishedAt: new Date(finishedAt).toISOString(),
        elapsedMs: summary.elapsedMs,
        ledger: { ...counts, failedByCause: { ...counts.failedByCause } as Record<string, number> },
        monitor: {
          groupsDone: summary.groupsDone,
          groupsTotal: summary.groupsTotal,
          deadLettered: summary.deadLettered,
        },
        instanceHours: summary.instanceHours,
        ...(summary.estimatedCostUsd === undefined ? {} : { estimatedCostUsd: summary.estimatedCostUsd }),
        cost: summary.cost,
        ...(costs ? { costs } : {}),
      };
      await writeLedgerJson(
        this.at,
        runLedgerKeys(this.at.appName, this.runId).summary,
        record,
        AbortSignal.timeout(WRITE_TIMEOUT_MS),
      );
    } catch (err) {
      this.failed("summary", err);
    }
    await this.heartbeat("finished", observations, state);
  }
}
