/**
 * `dcp status [APP_NAME|state-file]`: a run as anyone with the config's APP_NAME and AWS_BUCKET
 * (and credentials) can see it, from any machine: the run found through the run ledger's pointer
 * (or a state file), one fresh reading of its queues and fleet (run/reader.ts, as the monitor
 * reads), the monitor's observations from its heartbeat refreshed with that reading and drawn with
 * the monitor's own status block, plus the ledger's counts, the phase (running, tearing down,
 * finished, UNATTENDED and billing) and the cost so far.
 */
import { existsSync } from "node:fs";
import { describeAwsFailure } from "../aws/errors.js";
import { awsContext, type AwsContext } from "../aws/context.js";
import { s3Client } from "../aws/s3.js";
import { loadConfig } from "../config/load.js";
import type { Config } from "../config/schema.js";
import { Interrupted, OperationalError } from "../errors.js";
import { fleetApiOfId, fleetProvider, FLEET_PROVIDER_NAMES, type FleetApi } from "../fleet/registry.js";
import { fleetIsLive, fleetLeftInstancesRunning } from "../plan/fleet-status.js";
import { heartbeatSchema, runLedgerKeys, runRecordSchema, summarySchema, type LedgerCounts } from "../plan/ledger.js";
import { doneRatePerMs, estimateRemainingMs, observe } from "../plan/monitor-decisions.js";
import type { Observations } from "../plan/monitor-observations.js";
import { statusBlock, type MonitorView } from "../plan/monitor-view.js";
import { extrasPerInstanceHour } from "../plan/pricing.js";
import { costRecord, costSummaryWords, formatRunCost } from "../plan/run-cost.js";
import { openAttemptsRunning, runPhase, statusLines, type PhaseVerdict } from "../plan/run-status.js";
import { RunDisplay } from "../run/display.js";
import { readCurrentPointer, readLedgerCounts, readLedgerJson, type LedgerLocation } from "../run/ledger.js";
import type { ReadableRun } from "../run/reader.js";
import { interruptOnSignals } from "../signals.js";
import { sleep } from "../sleep.js";
import { readRunState } from "../state/run-state.js";
import type { Output } from "../ui/output.js";

export interface StatusOptions {
  /** APP_NAME, or a state file (files/<APP_NAME>SpotFleetRequestId.json) */
  target: string | undefined;
  config: string;
  region?: string | undefined;
  profile?: string | undefined;
  /** redraw every this many seconds until Ctrl-C */
  watchSeconds?: number | undefined;
}

/** Where the run is: its ledger, its AWS context, its queues and fleet. */
interface RunWhere {
  at: LedgerLocation;
  ctx: AwsContext;
  runId: string;
  /** from the state file when one was given */
  queues?: { queue: string; deadLetter: string };
  config: Config | undefined;
  /** epoch ms the run started, from the pointer or the state file (when run.json and the heartbeat are missing) */
  startedAt?: number;
}

export interface StatusReport {
  appName: string;
  runId: string;
  fleetApi: FleetApi;
  phase: PhaseVerdict["phase"];
  billing: boolean;
  heartbeat: { at: string; ageSeconds: number; phase: string; host: string; pid: number } | null;
  queue: { visible: number; inFlight: number };
  deadLetter: number;
  fleet: { target: number; fulfilled: number; state: string } | null;
  instances: { running: number; types: Record<string, number> };
  /** the monitor's figures, refreshed with this reading */
  groups: { total: number; done: number; deadLettered: number };
  ledger: LedgerCounts;
  /** open keys left by workers that are gone: not counted in ledger.running */
  staleOpenAttempts: number;
  ratePerHour: number | null;
  etaSeconds: number | null;
  /** USD so far (spot compute + otherDollars: EBS, public IPv4, alarms) and projected, as the monitor shows them */
  cost: {
    instanceHours: number;
    dollars: number | null;
    otherDollars: number | null;
    projectedDollars: number | null;
    text: string;
    /** the summary's figures once the teardown wrote it: USD in all, split, and per plate */
    final: {
      totalUsd: number;
      computeUsd: number;
      storageUsd: number;
      restUsd: number;
      byPlate: Record<string, number>;
    } | null;
  };
  observedAt: string;
}

/**
 * The modules that load the EC2 and SQS clients, most of status's start-up time (client-ec2 alone is
 * about a second of CPU): loaded while the ledger's requests are in flight, not before them.
 */
function readingModules(likelyFleetApi: FleetApi, ctx: AwsContext) {
  return Promise.all([
    import("../run/reader.js"),
    import("../run/cost.js"),
    import("../aws/ec2.js"),
    import("../aws/sqs.js"),
    // the provider of the fleet id's API (run.json confirms it below)
    fleetProvider(likelyFleetApi, ctx),
  ]);
}

function looksLikeStateFile(target: string): boolean {
  return target.endsWith(".json") || target.includes("/") || existsSync(target);
}

async function locate(options: StatusOptions): Promise<RunWhere> {
  const overrides = { region: options.region, profile: options.profile };
  if (options.target && looksLikeStateFile(options.target)) {
    const state = await readRunState(options.target);
    const config = existsSync(options.config) ? await loadConfig(options.config, overrides) : undefined;
    const ctx = {
      region: options.region ?? state.dcp.region,
      profile: config ? awsContext(config).profile : options.profile,
    };
    return {
      at: { s3: s3Client(ctx), bucket: state.MONITOR_BUCKET_NAME, appName: state.MONITOR_APP_NAME },
      ctx,
      runId: state.dcp.fleetId,
      queues: { queue: state.MONITOR_QUEUE_NAME, deadLetter: state.dcp.deadLetterQueueName },
      config,
      ...startedAtOf(state.dcp.startedAt),
    };
  }
  const config = await loadConfig(options.config, overrides);
  const ctx = awsContext(config);
  const at = { s3: s3Client(ctx), bucket: config.AWS_BUCKET, appName: options.target ?? config.APP_NAME };
  const pointer = await readCurrentPointer(at);
  if (!pointer)
    throw new OperationalError(
      `no run of ${at.appName} is recorded in s3://${at.bucket}/dcp-runs/${at.appName}/current.json: ` +
        "dcp start-cluster writes it (check APP_NAME and AWS_BUCKET, or pass the run's state file)",
    );
  return { at, ctx, runId: pointer.runId, config, ...startedAtOf(pointer.startedAt) };
}

function startedAtOf(iso: string | undefined): { startedAt?: number } {
  const ms = Date.parse(iso ?? "");
  return Number.isFinite(ms) ? { startedAt: ms } : {};
}

/** USD per instance-hour besides spot compute, from the run's recorded config or the local one. */
function extrasOf(recorded: Record<string, unknown> | undefined, local: Config | undefined): number {
  const ebsGb = recorded?.EBS_VOL_SIZE ?? local?.EBS_VOL_SIZE;
  const assignIp = recorded?.ASSIGN_IP ?? local?.ASSIGN_IP;
  return typeof ebsGb === "number" ? extrasPerInstanceHour(ebsGb, assignIp === true) : 0;
}

/** One look at the run: ledger objects and listings, and one reading of queues and fleet, all at once. */
async function readStatus(
  where: RunWhere,
  minimumTimeoutMs: number,
): Promise<{ report: StatusReport; view: MonitorView; lines: string[] }> {
  const { at, runId } = where;
  const keys = runLedgerKeys(at.appName, runId);
  const ledgerReads = Promise.all([
    readLedgerJson(at, keys.run, runRecordSchema),
    readLedgerJson(at, keys.heartbeat, heartbeatSchema),
    readLedgerJson(at, keys.summary, summarySchema),
    readLedgerCounts(at, runId),
  ]);
  ledgerReads.catch(() => undefined); // awaited below; not an unhandled rejection meanwhile
  const likelyFleetApi = fleetApiOfId(runId);
  const [{ RunReader }, { runCostNow }, { ec2Client }, { sqsClient }, likelyFleet] = await readingModules(
    likelyFleetApi,
    where.ctx,
  );
  const [run, heartbeat, summary, ledger] = await ledgerReads;
  const fleetApi = (FLEET_PROVIDER_NAMES as readonly string[]).includes(run?.fleetApi ?? "")
    ? (run!.fleetApi as FleetApi)
    : likelyFleetApi;
  const runConfig = run?.config as { SQS_QUEUE_NAME?: unknown; SQS_DEAD_LETTER_QUEUE?: unknown } | undefined;
  const name = (value: unknown, fallback: string | undefined) => (typeof value === "string" ? value : fallback);
  const queue = where.queues?.queue ?? name(runConfig?.SQS_QUEUE_NAME, where.config?.SQS_QUEUE_NAME);
  const deadLetter =
    where.queues?.deadLetter ?? name(runConfig?.SQS_DEAD_LETTER_QUEUE, where.config?.SQS_DEAD_LETTER_QUEUE);
  if (!queue || !deadLetter)
    throw new OperationalError(`run ${runId} of ${at.appName} has no run.json naming its queues; pass its state file`);
  const readable: ReadableRun = { MONITOR_QUEUE_NAME: queue, dcp: { fleetId: runId, deadLetterQueueName: deadLetter } };
  const clients = {
    sqs: sqsClient(where.ctx),
    ec2: ec2Client(where.ctx),
    fleet: fleetApi === likelyFleetApi ? likelyFleet : await fleetProvider(fleetApi, where.ctx),
  };
  const reading = await new RunReader(clients, readable).read();
  const observed: Observations = observe(heartbeat?.observations, reading);
  const startedAt =
    heartbeat?.startedAt ?? (Date.parse(run?.startedAt ?? "") || where.startedAt || observed.firstReadingAt);
  const now = Date.now();
  // The cost so far and the projection as the monitor computes them: spot compute plus each instance-hour's
  // EBS, public IPv4 and alarm, from the run's config (run.json, else the local config).
  const { cost: spent, problem } = await runCostNow(
    clients.ec2,
    observed,
    new Date(startedAt),
    now,
    undefined,
    extrasOf(run?.config, where.config),
  );
  const observations: Observations = { ...observed, cost: costRecord(spent) };
  const alive = fleetIsLive(reading.fleet) || fleetLeftInstancesRunning(reading.fleet) || reading.live.length > 0;
  const verdict = runPhase({
    heartbeat,
    summaryWritten: summary !== undefined,
    startedAt,
    now,
    minimumTimeoutMs,
    alive,
  });
  // Open keys of killed workers (instances gone, or attempts already recorded) are not running tasks.
  const open = openAttemptsRunning(
    ledger.openAttempts,
    new Set(ledger.attempts.map((a) => a.attempt)),
    reading.fleet || reading.live.length ? new Set(reading.live.map((i) => i.id)) : undefined,
  );
  const counts = { ...ledger.counts, running: open.running };
  const types: Record<string, number> = {};
  for (const i of reading.live) types[i.type ?? "unknown"] = (types[i.type ?? "unknown"] ?? 0) + 1;
  const rate = doneRatePerMs(observations.samples);
  const eta = estimateRemainingMs(observations.samples, observations.last.visible + observations.last.inFlight);
  const cost = formatRunCost(spent, problem);
  // Once the teardown wrote the summary: its final figures (billed times), split, and per plate.
  const final = summary?.costs;
  const words = final ? costSummaryWords(final) : undefined;
  const costFacts = words
    ? [
        { label: "cost", text: `${words.total} (${summary!.instanceHours.toFixed(2)} instance-hours)` },
        { label: "per plate", text: words.perPlate },
      ]
    : [{ label: "cost so far", text: cost }];
  const report: StatusReport = {
    appName: at.appName,
    runId,
    fleetApi,
    phase: verdict.phase,
    billing: verdict.billing,
    heartbeat: heartbeat
      ? {
          at: heartbeat.at,
          ageSeconds: Math.round((verdict.heartbeatAgeMs ?? 0) / 1000),
          phase: heartbeat.phase,
          host: heartbeat.host,
          pid: heartbeat.pid,
        }
      : null,
    queue: { visible: reading.visible, inFlight: reading.inFlight },
    deadLetter: reading.dlq,
    fleet: reading.fleet ?? null,
    instances: { running: reading.live.length, types },
    groups: {
      total: observations.progress.total,
      done: observations.progress.done,
      deadLettered: observations.progress.deadLettered,
    },
    ledger: counts,
    staleOpenAttempts: open.stale,
    ratePerHour: rate === undefined ? null : Number((rate * 3_600_000).toFixed(2)),
    etaSeconds: eta === undefined ? null : Math.round(eta / 1000),
    cost: {
      instanceHours: Number(spent.instanceHours.toFixed(3)),
      dollars: spent.spentUsd === undefined || problem ? null : Number(spent.spentUsd.toFixed(4)),
      otherDollars: problem ? null : Number(spent.otherUsd.toFixed(4)),
      projectedDollars: spent.projectedUsd === undefined || problem ? null : Number(spent.projectedUsd.toFixed(4)),
      text: cost,
      final: final
        ? {
            totalUsd: final.totalUsd,
            computeUsd: final.computeUsd,
            storageUsd: final.storageUsd,
            restUsd: final.restUsd,
            byPlate: Object.fromEntries(Object.entries(final.byPlate).map(([plate, c]) => [plate, c.totalUsd])),
          }
        : null,
    },
    observedAt: new Date(reading.at).toISOString(),
  };
  const view: MonitorView = {
    appName: at.appName,
    fleetLabel: heartbeat?.fleetLabel ?? `${fleetApi} ${runId}`,
    observations,
    startedAt,
    now,
    intervalS: heartbeat?.pollSeconds ?? 60,
    command: "dcp status",
    hint: "dcp status --watch redraws",
  };
  const lines = statusLines({
    verdict,
    heartbeat,
    counts,
    staleOpen: open.stale,
    ratePerHour: report.ratePerHour ?? undefined,
    cost: costFacts,
    types,
  });
  return { report, view, lines };
}

export async function runStatus(options: StatusOptions, output: Output): Promise<number> {
  const where = await locate(options);
  const minimumTimeoutMs = (where.config?.MONITOR_HEARTBEAT_TIMEOUT_MINUTES ?? 10) * 60_000;
  if (!options.watchSeconds) {
    const { report, view, lines } = await readStatus(where, minimumTimeoutMs);
    if (output.json) output.result(report);
    else {
      process.stdout.write(`${[...statusBlock(view), ...lines].join("\n")}\n`);
    }
    return 0;
  }
  const display = new RunDisplay(output);
  const signals = interruptOnSignals();
  try {
    for (;;) {
      try {
        const { report, view, lines } = await readStatus(where, minimumTimeoutMs);
        display.status({ ...view, hint: `redrawn every ${options.watchSeconds}s · Ctrl-C stops` }, lines);
        if (output.json) output.result(report);
      } catch (err) {
        // Watching for hours: a network blip must not end it (one warning per failed reading).
        if (err instanceof OperationalError) throw err;
        display.warn(`reading failed: ${describeAwsFailure(err) ?? (err as Error).message}; trying again`);
      }
      await sleep(options.watchSeconds * 1000, signals.signal);
      if (signals.signal.aborted) throw new Interrupted();
    }
  } catch (err) {
    if (!(err instanceof Interrupted)) throw err;
    display.endLine();
    return 0;
  } finally {
    signals.dispose();
  }
}
