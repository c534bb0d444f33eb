/**
 * The decisions `dcp monitor` takes at each reading, as pure functions of the reading and what
 * was observed before: progress, alarms to create/delete, the fleet target, when to tear down.
 */
import { MAX_DOWNSCALES, MAX_SAMPLES, type InstanceRecord, type Observations } from "./monitor-observations.js";

/** A running instance of the fleet, as one DescribeInstances call reports it. */
export interface LiveInstance {
  id: string;
  type?: string;
  az?: string;
  /** epoch ms */
  launchedAt?: number;
}

export interface Reading {
  /** epoch ms */
  at: number;
  visible: number;
  inFlight: number;
  /** DLQ depth (visible + in flight), 0 when the DLQ does not exist. */
  dlq: number;
  fleet?: { target: number; fulfilled: number; state: string };
  live: LiveInstance[];
}

/** Readings in a row with nothing visible and nothing in flight before the run is torn down. */
export const EMPTY_READINGS_FOR_TEARDOWN = 2;
/** `--cheapest`: the fleet target drops to 1 this long after the monitor first looked (DCP: 900 s). */
export const CHEAPEST_AFTER_MS = 15 * 60_000;

/**
 * The queue as `dcp start-cluster` found it: work that workers finish (or CHECK_IF_DONE skips)
 * before the monitor's first reading still counts toward the run's total.
 */
export interface RunBaseline {
  queued: number;
  deadLetter: number;
}

/** Folds one reading into the observations (a new object; the input is not changed). */
export function observe(previous: Observations | undefined, reading: Reading, baseline?: RunBaseline): Observations {
  const outstanding = reading.visible + reading.inFlight;
  const base = previous ?? firstObservations(reading, baseline);
  const deadLettered = Math.max(base.progress.deadLettered, reading.dlq - base.progress.dlqBaseline);
  // Approximate counts wobble: `done` never goes down, and `total` grows only when more work appears.
  const done = Math.max(base.progress.done, base.progress.total - outstanding - deadLettered);
  const total = Math.max(base.progress.total, done + outstanding + deadLettered);

  const instances = trackInstances(base.instances, reading.live, reading.at);
  const samples = [...base.samples, [reading.at, done] as [number, number]].slice(-MAX_SAMPLES);
  return {
    ...base,
    last: {
      at: reading.at,
      visible: reading.visible,
      inFlight: reading.inFlight,
      dlq: reading.dlq,
      ...(reading.fleet ? { target: reading.fleet.target, fulfilled: reading.fleet.fulfilled } : {}),
      instances: reading.live.length,
    },
    progress: { ...base.progress, total, done, deadLettered },
    consecutiveEmpty: outstanding === 0 ? (previous ? previous.consecutiveEmpty : 0) + 1 : 0,
    samples,
    instances,
  };
}

/** Updates the instance records from the running instances seen at `at`; the others are gone. */
export function trackInstances(
  known: Readonly<Record<string, InstanceRecord>>,
  live: readonly LiveInstance[],
  at: number,
): Record<string, InstanceRecord> {
  const instances: Record<string, InstanceRecord> = {};
  const liveIds = new Set(live.map((i) => i.id));
  for (const [id, record] of Object.entries(known)) {
    instances[id] = liveIds.has(id) || record.goneAt !== undefined ? record : { ...record, goneAt: at };
  }
  for (const instance of live) {
    const record = instances[instance.id];
    const type = instance.type ?? record?.type;
    const az = instance.az ?? record?.az;
    instances[instance.id] = {
      ...(type ? { type } : {}),
      ...(az ? { az } : {}),
      launchedAt: record?.launchedAt ?? instance.launchedAt ?? at,
      lastSeenAt: at,
    };
  }
  return instances;
}

/** Marks every instance still running as gone at `at` (the fleet was cancelled, terminating them). */
export function endInstances(
  known: Readonly<Record<string, InstanceRecord>>,
  at: number,
): Record<string, InstanceRecord> {
  return Object.fromEntries(
    Object.entries(known).map(([id, r]) => [id, r.goneAt === undefined ? { ...r, goneAt: at } : r]),
  );
}

function firstObservations(reading: Reading, baseline?: RunBaseline): Observations {
  const dlqBaseline = baseline ? Math.min(baseline.deadLetter, reading.dlq) : reading.dlq;
  const total = Math.max(reading.visible + reading.inFlight, baseline?.queued ?? 0);
  return {
    version: 1,
    firstReadingAt: reading.at,
    last: { at: reading.at, visible: 0, inFlight: 0, dlq: reading.dlq, instances: 0 },
    progress: { total, done: 0, deadLettered: 0, dlqBaseline },
    consecutiveEmpty: 0,
    samples: [],
    instances: {},
    downscales: [],
    cheapestApplied: false,
    ...(baseline ? { startBaseline: baseline } : {}),
  };
}

export function shouldTearDown(observations: Observations): boolean {
  return observations.consecutiveEmpty >= EMPTY_READINGS_FOR_TEARDOWN;
}

/** How long a fleet started on an empty queue waits for `dcp submit` before an empty queue means "done". */
export const EMPTY_START_GRACE_MS = 10 * 60_000;

/**
 * Milliseconds the teardown should still wait, or 0. When start-cluster found the queue empty and
 * no work has appeared since, the user most likely started the fleet before submitting: tearing
 * it down at once would throw the fleet away. Past the grace, an empty queue ends the run as usual.
 */
export function teardownHold(observations: Observations, startedAtMs: number, now: number): number {
  const baseline = observations.startBaseline;
  if (!baseline || baseline.queued > 0 || observations.progress.total > 0) return 0;
  return Math.max(0, startedAtMs + EMPTY_START_GRACE_MS - now);
}

// ---------------------------------------------------------------------------------------------
// Idle alarms: one per running instance, named <APP_NAME>_<instance-id> (DCP's names).

const INSTANCE_ID = /^i-[0-9a-f]{8,17}$/;

/**
 * The instance id an alarm watches, or undefined when the alarm is not one of this app's idle
 * alarms. The shape check matters: app "Run" must not touch the alarms of app "Run_2".
 */
export function alarmInstanceId(appName: string, name: string): string | undefined {
  const prefix = `${appName}_`;
  if (!name.startsWith(prefix)) return undefined;
  const id = name.slice(prefix.length);
  return INSTANCE_ID.test(id) ? id : undefined;
}

export interface AlarmPlan {
  /** instance ids that need an alarm */
  create: string[];
  /** alarm names whose instance is gone */
  delete: string[];
}

/** Compares the app's alarms with the running instances; no time window, no history needed. */
export function planAlarms(
  appName: string,
  liveInstanceIds: readonly string[],
  alarmNames: readonly string[],
): AlarmPlan {
  const live = new Set(liveInstanceIds);
  const watched = new Set<string>();
  const remove: string[] = [];
  for (const name of alarmNames) {
    const id = alarmInstanceId(appName, name);
    if (id === undefined) continue;
    if (live.has(id)) watched.add(id);
    else remove.push(name);
  }
  return { create: liveInstanceIds.filter((id) => !watched.has(id)), delete: remove };
}

// ---------------------------------------------------------------------------------------------
// Fleet target.

export interface TargetInput {
  now: number;
  visible: number;
  inFlight: number;
  liveInstances: number;
  /** The fleet's current target capacity. */
  target: number;
  cheapest: boolean;
  observations: Pick<Observations, "firstReadingAt" | "cheapestApplied">;
}

export interface TargetChange {
  from: number;
  to: number;
  /** tail: machines with no task in flight terminated with the target (plan/monitor-tail.ts); budget: the spend limit */
  reason: "drain" | "cheapest" | "tail" | "budget";
}

/**
 * DCP's downscale: when nothing is waiting and fewer jobs run than machines exist, lower the target
 * to the jobs in flight, without terminating anyone (idle machines finish, idle out and are not
 * replaced). Never raises the target. With nothing in flight the teardown takes over instead.
 * `--cheapest`: the target drops to 1 once, 15 minutes after the monitor first looked.
 */
export function planTarget(input: TargetInput): TargetChange | undefined {
  const candidates: TargetChange[] = [];
  if (input.visible === 0 && input.inFlight > 0 && input.inFlight < input.liveInstances) {
    candidates.push({ from: input.target, to: input.inFlight, reason: "drain" });
  }
  if (
    input.cheapest &&
    !input.observations.cheapestApplied &&
    input.now - input.observations.firstReadingAt >= CHEAPEST_AFTER_MS
  ) {
    candidates.push({ from: input.target, to: 1, reason: "cheapest" });
  }
  const lowest = candidates.filter((c) => c.to < input.target).sort((a, b) => a.to - b.to)[0];
  return lowest;
}

/** Records a target change (and that --cheapest was applied) in the observations. */
export function recordTargetChange(observations: Observations, change: TargetChange, at: number): Observations {
  return {
    ...observations,
    cheapestApplied: observations.cheapestApplied || change.reason === "cheapest",
    downscales: [...observations.downscales, { at, from: change.from, to: change.to, reason: change.reason }].slice(
      -MAX_DOWNSCALES,
    ),
  };
}

// ---------------------------------------------------------------------------------------------
// ETA from the completion rate.

export const ETA_WINDOW_MS = 30 * 60_000;

/** Milliseconds until `remaining` groups are done at the recent completion rate; undefined when unknown. */
export function estimateRemainingMs(
  samples: ReadonlyArray<readonly [number, number]>,
  remaining: number,
  windowMs = ETA_WINDOW_MS,
): number | undefined {
  if (remaining === 0) return 0;
  const ratePerMs = doneRatePerMs(samples, windowMs);
  return ratePerMs === undefined ? undefined : Math.round(remaining / ratePerMs);
}

/** Groups done per millisecond over the window's samples; undefined until two samples show progress. */
export function doneRatePerMs(
  samples: ReadonlyArray<readonly [number, number]>,
  windowMs = ETA_WINDOW_MS,
): number | undefined {
  const last = samples[samples.length - 1];
  if (!last) return undefined;
  // The oldest sample inside the window, or at least the one before the newest.
  const first = samples.find(([at]) => at >= last[0] - windowMs && at < last[0]) ?? samples[samples.length - 2];
  if (!first || last[0] <= first[0] || last[1] <= first[1]) return undefined;
  return (last[1] - first[1]) / (last[0] - first[0]);
}
