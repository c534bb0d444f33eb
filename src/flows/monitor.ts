/**
 * `dcp monitor`: watch a run until its queue drains, then tear it down. Each interval: one reading
 * (queue, DLQ, fleet, running instances), idle alarms for new instances, alarms of gone instances
 * deleted, the fleet target lowered to the jobs in flight once nothing waits (DCP's downscale),
 * observations saved to the state file. Two empty readings in a row start the teardown.
 */
import { deleteAlarms, listAlarmNames, putIdleAlarm } from "../aws/cloudwatch.js";
import { idleAlarmName } from "../plan/names.js";
import { awsErrorName, describeAwsFailure } from "../aws/errors.js";
import { EXIT_INTERRUPTED, Interrupted, OperationalError, UserInputError } from "../errors.js";
import { FleetOperationUnsupportedError } from "../fleet/provider.js";
import { fleetProvider } from "../fleet/registry.js";
import {
  alarmInstanceId,
  observe,
  planAlarms,
  planTarget,
  recordTargetChange,
  shouldTearDown,
  teardownHold,
  type Reading,
  type TargetChange,
} from "../plan/monitor-decisions.js";
import { fleetIsLive } from "../plan/fleet-status.js";
import { parseObservations, runBaseline, type Observations } from "../plan/monitor-observations.js";
import type { MonitorView } from "../plan/monitor-view.js";
import { runClients, type RunClients } from "../run/clients.js";
import { RunDisplay } from "../run/display.js";
import { RunReader } from "../run/reader.js";
import { RunLedgerWriter } from "../run/run-ledger.js";
import { reportIfFinished, resolveRun, resumeHints, type RunLocation, type RunTarget } from "../run/target.js";
import { PriceBook, runCostNow } from "../run/cost.js";
import { costRecord, type RunCost } from "../plan/run-cost.js";
import { planBudget } from "../plan/budget.js";
import { extrasPerInstanceHour } from "../plan/pricing.js";
import { tailStep } from "../run/tail.js";
import { readingDelayMs } from "../plan/monitor-tail.js";
import { tearDown } from "../run/teardown.js";
import { s3Client } from "../aws/s3.js";
import type { S3Client } from "@aws-sdk/client-s3";
import { interruptOnSignals } from "../signals.js";
import { sleep } from "../sleep.js";
import { readRunState, updateRunState, type RunState } from "../state/run-state.js";
import type { Output } from "../ui/output.js";
import { mapLimit } from "../concurrency.js";

export interface MonitorOptions extends RunLocation {
  cheapest: boolean;
  intervalS: number;
  /** one reading (and the teardown if it is due), then exit: for cron */
  once: boolean;
  /** --budget: overrides the config's BUDGET_USD */
  budgetUsd?: number;
}

/** The alarm list is read in full at start and every this many polls; in between the monitor's own bookkeeping suffices. */
export const ALARM_RESYNC_POLLS = 60;
const ALARM_CONCURRENCY = 8;
/** Readings that may fail in a row (network, throttling, an expired session) before the monitor gives up. */
export const MAX_FAILED_READINGS = 30;
const LISTED_IDS = 4;

function listIds(ids: readonly string[]): string {
  return ids.length <= LISTED_IDS
    ? ids.join(", ")
    : `${ids.slice(0, LISTED_IDS).join(", ")} and ${ids.length - LISTED_IDS} more`;
}

type WatchOutcome = "drained" | "queue-gone" | "interrupted" | "once" | "finished-elsewhere" | "budget";

export class Watcher {
  private state: RunState;
  private reader: RunReader;
  private observations: Observations | undefined;
  private alarms = new Set<string>();
  private polls = 0;
  private targetUnsupported = false;
  private warned = new Set<string>();
  private readonly ledger: RunLedgerWriter;
  readonly display: RunDisplay;

  constructor(
    private readonly target: RunTarget,
    private readonly clients: RunClients,
    private readonly options: MonitorOptions,
    output: Output,
  ) {
    this.state = target.state;
    this.reader = new RunReader(clients, this.state);
    this.observations = parseObservations(this.state.dcp.observations);
    this.display = new RunDisplay(output);
    this.ledger = new RunLedgerWriter(target.ctx, this.state, options.intervalS, (t) => this.warnOnce("ledger", t));
  }

  private get app(): string {
    return this.state.MONITOR_APP_NAME;
  }

  private warnOnce(key: string, text: string): void {
    if (this.warned.has(key)) return;
    this.warned.add(key);
    this.display.warn(text);
  }

  private async syncAlarms(): Promise<void> {
    const names = await listAlarmNames(this.clients.cw, `${this.app}_`);
    this.alarms = new Set(names.filter((n) => alarmInstanceId(this.app, n) !== undefined));
  }

  /** A start-cluster --replace may have written a new fleet into the state file: follow it. */
  private async refreshState(): Promise<void> {
    const state = await readRunState(this.target.path);
    if (state.dcp.fleetId !== this.state.dcp.fleetId || state.dcp.fleetApi !== this.state.dcp.fleetApi) {
      this.display.event(`the state file now names fleet ${state.dcp.fleetId}; watching it`);
      this.clients.fleet = await fleetProvider(state.dcp.fleetApi, this.target.ctx);
      this.reader = new RunReader(this.clients, state);
    }
    this.state = state;
  }

  private async reconcileAlarms(reading: Reading): Promise<void> {
    const plan = planAlarms(
      this.app,
      reading.live.map((i) => i.id),
      [...this.alarms],
    );
    if (plan.create.length) {
      await mapLimit(plan.create, ALARM_CONCURRENCY, async (id) => {
        await putIdleAlarm(this.clients.cw, this.app, id);
        this.alarms.add(idleAlarmName(this.app, id));
      });
      this.display.event(`idle alarm created for ${plan.create.length} new instance(s): ${listIds(plan.create)}`);
    }
    if (plan.delete.length) {
      await deleteAlarms(this.clients.cw, plan.delete);
      for (const name of plan.delete) this.alarms.delete(name);
      const ids = plan.delete.map((n) => alarmInstanceId(this.app, n) ?? n);
      this.display.event(`idle alarm deleted for ${ids.length} gone instance(s): ${listIds(ids)}`);
    }
  }

  private async adjustTarget(reading: Reading, observations: Observations): Promise<Observations> {
    const fleet = reading.fleet;
    if (!fleet || this.targetUnsupported || !fleetIsLive(fleet)) return observations;
    const change = planTarget({
      now: reading.at,
      visible: reading.visible,
      inFlight: reading.inFlight,
      liveInstances: reading.live.length,
      target: fleet.target,
      cheapest: this.options.cheapest,
      observations,
    });
    if (!change) return observations;
    try {
      await this.clients.fleet.setTarget(this.state.dcp.fleetId, change.to);
    } catch (err) {
      if (err instanceof FleetOperationUnsupportedError) {
        this.targetUnsupported = true;
        this.display.warn(`${err.message}; the fleet keeps its target and idle instances end through their alarms`);
      } else {
        this.display.warn(
          `could not change the fleet target to ${change.to}: ${(err as Error).message}; trying again at the next reading`,
        );
      }
      return observations;
    }
    this.display.event(describeChange(change, reading));
    return recordTargetChange(observations, change, reading.at);
  }

  /** The tail (run/tail.ts): machines with no task in flight terminated once nothing is queued. */
  private async tail(reading: Reading, observations: Observations): Promise<Observations> {
    const fleet = reading.fleet;
    if (!fleet || this.targetUnsupported || !fleetIsLive(fleet)) return observations;
    const lowered = observations.downscales.at(-1);
    const target = lowered?.at === reading.at ? lowered.to : fleet.target;
    try {
      const step = await tailStep(this.clients, this.s3, this.state, reading, observations, target);
      if (step.event) this.display.event(step.event);
      return step.observations;
    } catch (err) {
      if (err instanceof FleetOperationUnsupportedError) {
        this.targetUnsupported = true;
        this.display.warn(`${err.message}; idle instances end through their alarms`);
      } else
        this.warnOnce(
          "tail",
          `tail: ${(err as Error).message}; idle instances end through their alarms until it works`,
        );
      return observations;
    }
  }

  private priceBook: PriceBook | undefined;
  /** The run's cost at the last reading (run/cost.ts), for the display and the budget. */
  cost: RunCost | undefined;

  private async costs(reading: Reading, observations: Observations): Promise<Observations> {
    const startedAt = new Date(Date.parse(this.state.dcp.startedAt) || Number(this.state.MONITOR_START_TIME));
    this.priceBook ??= new PriceBook(this.clients.ec2, startedAt);
    // Spot compute plus each instance's EBS volume, public IPv4 address and idle alarm (plan/pricing.ts).
    const extras = this.target.instanceExtras;
    const other = extras ? extrasPerInstanceHour(extras.ebsGb, extras.assignIp) : 0;
    const { cost, problem } = await runCostNow(
      this.clients.ec2,
      observations,
      startedAt,
      reading.at,
      this.priceBook,
      other,
    );
    if (problem) this.warnOnce("price", `cost so far unavailable (${problem})`);
    this.cost = cost;
    return this.checkBudget({ ...observations, cost: costRecord(cost) }, cost, reading.at);
  }

  /** Set when spend reached the budget: the watch ends and the run's spending stops. */
  budgetStop: string | undefined;

  private checkBudget(observations: Observations, cost: RunCost, at: number): Observations {
    const budgetUsd = this.options.budgetUsd ?? this.target.budgetUsd;
    if (budgetUsd === undefined) return observations;
    const decision = planBudget({
      budgetUsd,
      cost,
      intervalMs: this.options.intervalS * 1000,
      warned: observations.budget?.warnedAt !== undefined,
    });
    let next = observations;
    if (decision.warn) {
      this.display.warn(decision.warn);
      next = { ...next, budget: { ...next.budget, warnedAt: at } };
    }
    if (decision.stop) {
      this.budgetStop = decision.stop;
      next = { ...next, budget: { ...next.budget, stoppedAt: at } };
    }
    return next;
  }

  private s3Client: S3Client | undefined;
  private readonly s3 = (): S3Client => (this.s3Client ??= s3Client(this.target.ctx));

  /** One reading and what follows from it; returns the updated observations. */
  /** One poll; undefined when the state file says the run is no longer running (a `dcp teardown` took over). */
  async poll(): Promise<Observations | undefined> {
    await this.refreshState();
    // Creating alarms or writing observations now would race with that teardown.
    if (this.state.dcp.status !== "running") return undefined;
    if (this.polls % ALARM_RESYNC_POLLS === 0) await this.syncAlarms();
    this.polls += 1;
    const reading = await this.reader.read();
    if (this.reader.queueMissing)
      this.warnOnce("queue", `job queue ${this.state.MONITOR_QUEUE_NAME} not found: counting the run as drained`);
    if (!reading.fleet)
      this.warnOnce(
        "fleet",
        `fleet ${this.state.dcp.fleetId} is gone or cancelled: no instance works on the queue (dcp start-cluster starts a new one)`,
      );
    let observations = observe(this.observations, reading, runBaseline(this.state));
    await this.reconcileAlarms(reading);
    observations = await this.adjustTarget(reading, observations);
    observations = await this.tail(reading, observations);
    observations = await this.costs(reading, observations);
    this.observations = observations;
    this.state = await updateRunState(this.target.path, (s) =>
      s.dcp.status === "running"
        ? { ...s, dcp: { ...s.dcp, observations: observations as unknown as Record<string, unknown> } }
        : s,
    );
    // One PUT per poll, so `dcp status` elsewhere shows these figures and knows someone watches.
    await this.ledger.heartbeat("running", observations, this.state);
    return observations;
  }

  view(observations: Observations): MonitorView {
    const fleetLabel = `${this.state.dcp.fleetApi} ${this.state.dcp.fleetId}`;
    const startedAt = Date.parse(this.state.dcp.startedAt) || Number(this.state.MONITOR_START_TIME);
    return {
      appName: this.app,
      fleetLabel,
      observations,
      startedAt,
      now: Date.now(),
      intervalS: this.options.intervalS,
    };
  }

  async watch(signal: AbortSignal): Promise<WatchOutcome> {
    let failures = 0;
    for (;;) {
      let observations: Observations | undefined;
      try {
        observations = await this.poll();
        failures = 0;
      } catch (err) {
        // A monitor runs for hours: a network blip or a throttled call must not end it.
        if (err instanceof UserInputError || ++failures >= MAX_FAILED_READINGS) throw err;
        this.display.warn(
          `reading failed (${failures} in a row; giving up at ${MAX_FAILED_READINGS}): ${describeAwsFailure(err) ?? `${awsErrorName(err)}: ${(err as Error).message}`}`,
        );
        await sleep(this.options.intervalS * 1000, signal);
        if (signal.aborted) return "interrupted";
        continue;
      }
      if (signal.aborted) return "interrupted";
      if (!observations || this.state.dcp.status !== "running") return "finished-elsewhere";
      this.display.status(this.view(observations));
      // A job queue that no longer exists (a teardown interrupted after deleting it) can never receive
      // work: finish the teardown now rather than waiting for a second empty reading or for `dcp submit`.
      if (this.reader.queueMissing) return "queue-gone";
      if (this.budgetStop) return "budget";
      if (shouldTearDown(observations)) {
        const hold = teardownHold(observations, Date.parse(this.state.dcp.startedAt), Date.now());
        if (hold === 0) return "drained";
        this.warnOnce(
          "empty-start",
          `the queue was empty when the fleet started and no work has arrived: waiting up to ${Math.ceil(hold / 60_000)} min for \`dcp submit\` before tearing down`,
        );
      }
      if (this.options.once) return "once";
      // The tail reads faster (plan/monitor-tail.ts): an idle machine waits for the next reading to end.
      await sleep(readingDelayMs(observations.last, observations.tailQuietSince, this.options.intervalS), signal);
      if (signal.aborted) return "interrupted";
    }
  }
}

function describeChange(change: TargetChange, reading: Reading): string {
  const why =
    change.reason === "cheapest"
      ? "--cheapest, after 15 min"
      : `${reading.inFlight} jobs on ${reading.live.length} instances`;
  return `fleet target ${change.from} -> ${change.to} (${why}); nothing terminated`;
}

export async function runMonitor(options: MonitorOptions, output: Output): Promise<number> {
  const target = await resolveRun(options);
  const { state } = target;
  if (reportIfFinished(state, output)) return 0;
  if (state.dcp.status === "starting")
    throw new OperationalError(
      `start-cluster did not finish for ${state.MONITOR_APP_NAME}: run the same \`dcp start-cluster\` again (it resends the same request with the same client token: no second fleet), or \`dcp teardown ${target.path}\` to remove what it made`,
    );
  const clients = await runClients(target);
  const signals = interruptOnSignals();
  const watcher = new Watcher(target, clients, options, output);
  try {
    if (state.dcp.status === "running") {
      output.line(`watching ${target.path} every ${options.intervalS}s`);
      const outcome = await watcher.watch(signals.signal);
      watcher.display.release();
      if (outcome === "interrupted") throw new Interrupted();
      if (outcome === "once") {
        output.result({
          appName: state.MONITOR_APP_NAME,
          status: "running",
          observations: parseObservations((await readRunState(target.path)).dcp.observations),
        });
        return 0;
      }
      if (outcome === "finished-elsewhere") {
        output.line("the run is being torn down by another dcp (dcp teardown); stopped watching");
        output.result({ appName: state.MONITOR_APP_NAME, status: "tearing-down-elsewhere" });
        return 0;
      }
      if (outcome === "budget") {
        output.line(`budget reached: ${watcher.budgetStop}; stopping the fleet and the service, keeping the queue`);
        await updateRunState(target.path, (s) => ({ ...s, dcp: { ...s.dcp, stoppedBy: "budget" } }));
      } else
        output.line(
          outcome === "queue-gone"
            ? "the job queue no longer exists: no work can arrive; finishing the teardown"
            : "queue drained (empty on two readings in a row): tearing down",
        );
    }
    const summary = await tearDown(target, clients, output, signals.signal);
    output.result(summary);
    return 0;
  } catch (err) {
    if (!(err instanceof Interrupted)) throw err;
    watcher.display.endLine();
    const during = (await readRunState(target.path)).dcp.status === "tearing-down";
    output.line(
      during
        ? "stopped mid-teardown; the steps done are recorded in the state file."
        : "stopped watching; nothing was torn down.",
    );
    for (const hint of resumeHints(target.path, during)) output.line(`  ${hint}`);
    output.result({ appName: state.MONITOR_APP_NAME, status: "interrupted" });
    return EXIT_INTERRUPTED;
  } finally {
    signals.dispose();
  }
}
