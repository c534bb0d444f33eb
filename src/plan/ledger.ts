/**
 * The run ledger: what a run leaves in S3 so that any machine with the credentials can say what
 * happened (`dcp status`, `dcp failures`, `dcp retry`, `dcp gc`, cost per plate), after the
 * state file, the laptop or the CloudWatch logs are gone. Pure: keys, record shapes, key parsing.
 *
 *   s3://AWS_BUCKET/dcp-runs/<APP_NAME>/
 *     current.json                        the pointer the workers read: which run they work for
 *     submissions/<epoch ms>-<sha256>.json  one per `dcp submit` (name, groups, hash); start-cluster
 *                                         copies those since the previous run into run.json
 *     <run-id>/                           run-id = the fleet request id (one fleet per run)
 *       run.json                          written by start-cluster: config, task definition, jobs, fleet
 *       heartbeat.json                    overwritten by the monitor at every poll (status tells "unattended")
 *       summary.json                      written at teardown: counts, instance-hours, cost
 *       open/<instance>/<attempt-id>.json  PUT by the worker when a task starts, DELETEd when it ends:
 *                                         "running" groups, and which machines have a task in flight
 *       attempts/<group>/<attempt-id>~<outcome>[~<cause>].json
 *                                         one record per finished attempt; group, outcome and cause are in
 *                                         the key, so status and failures count with listings, not reads
 *
 * <group> is the task's metadataId (its output folder) URI-encoded into one key segment; an attempt
 * id is `<start epoch ms, 13 digits>-<worker id>`, so a group's attempts list in start order.
 */
import { z } from "zod";
import { observationsSchema } from "./monitor-observations.js";

export const LEDGER_ROOT = "dcp-runs";

/** Why an attempt failed, as `dcp failures` groups and `dcp retry --cause` selects. */
export const CAUSE_CLASSES = [
  /** an image, the pipeline or the data file named by the task does not exist */
  "missing-input",
  /** CellProfiler ran and wrote "Failure" in its done file (a module raised on this group's images) */
  "pipeline-error",
  /** the -g group matched no rows of the data file, or a -g key is not one of its columns */
  "grouping-mismatch",
  /** CellProfiler exited non-zero without a done file, or was killed by a signal other than the OOM killer */
  "crash",
  /** exit 137 / SIGKILL: the kernel's OOM killer (raise MEMORY or lower DOCKER_CORES) */
  "out-of-memory",
  /** the task ran longer than the worker allows */
  "timeout",
  /** S3 answered SlowDown / 503 on a download or upload */
  "s3-throttling",
  /** the instance was reclaimed (spot notice) or the worker was stopped: the task was handed back */
  "spot-interruption",
  /** the message body is not a task dcp can run */
  "bad-message",
  /** anything else (the record's message says what) */
  "other",
] as const;
export type CauseClass = (typeof CAUSE_CLASSES)[number];

/**
 * How an attempt ended. `handed-back`: the worker stopped (spot notice, SIGTERM) and re-sent the
 * task without spending an attempt; `dead-lettered`: the worker moved it to the DLQ itself.
 */
export const OUTCOMES = ["done", "skipped-done", "failed", "handed-back", "dead-lettered"] as const;
export type Outcome = (typeof OUTCOMES)[number];

/** `dcp-runs/<app>/` */
export function appLedgerPrefix(appName: string): string {
  return `${LEDGER_ROOT}/${appName}/`;
}

/** `dcp-runs/<app>/current.json`: the run the workers write their records for. */
export function currentPointerKey(appName: string): string {
  return `${appLedgerPrefix(appName)}current.json`;
}

/** `dcp-runs/<app>/submissions/`: one record per `dcp submit`, keyed by time so they list in order. */
export function submissionsPrefix(appName: string): string {
  return `${appLedgerPrefix(appName)}submissions/`;
}

export function submissionKey(appName: string, submittedAtMs: number, sha256: string): string {
  return `${submissionsPrefix(appName)}${String(Math.floor(submittedAtMs)).padStart(13, "0")}-${sha256.slice(0, 16)}.json`;
}

/** The submission time a submission key starts with (epoch ms), or undefined. */
export function submissionKeyTime(key: string, prefix: string): number | undefined {
  const match = /^(\d{13})-/.exec(key.slice(prefix.length));
  return key.startsWith(prefix) && match ? Number(match[1]) : undefined;
}

/** The keys of one run's ledger. */
export function runLedgerKeys(appName: string, runId: string) {
  const root = `${appLedgerPrefix(appName)}${runId}/`;
  return {
    root,
    run: `${root}run.json`,
    heartbeat: `${root}heartbeat.json`,
    summary: `${root}summary.json`,
    openPrefix: `${root}open/`,
    attemptsPrefix: `${root}attempts/`,
  };
}

/** Attempt ids sort by start time: 13-digit epoch ms, then the worker's id (no `~`, no `/`). */
export function attemptId(startedAtMs: number, workerId: string): string {
  return `${String(Math.floor(startedAtMs)).padStart(13, "0")}-${safeSegment(workerId)}`;
}

function safeSegment(text: string): string {
  return text.replace(/[^A-Za-z0-9._-]/g, "_") || "_";
}

export function groupSegment(metadataId: string): string {
  return encodeURIComponent(metadataId);
}

export function openKey(appName: string, runId: string, instanceId: string, attempt: string): string {
  return `${runLedgerKeys(appName, runId).openPrefix}${safeSegment(instanceId)}/${attempt}.json`;
}

export function attemptKey(
  appName: string,
  runId: string,
  metadataId: string,
  attempt: string,
  outcome: Outcome,
  cause?: CauseClass,
): string {
  const tail = cause ? `${outcome}~${cause}` : outcome;
  return `${runLedgerKeys(appName, runId).attemptsPrefix}${groupSegment(metadataId)}/${attempt}~${tail}.json`;
}

export interface AttemptKeyParts {
  metadataId: string;
  attempt: string;
  /** epoch ms, from the attempt id */
  startedAt: number;
  outcome: Outcome;
  cause?: CauseClass;
}

/** Reads group, attempt, outcome and cause back from an attempt record's key; undefined for other keys. */
export function parseAttemptKey(key: string, attemptsPrefix: string): AttemptKeyParts | undefined {
  if (!key.startsWith(attemptsPrefix) || !key.endsWith(".json")) return undefined;
  const rest = key.slice(attemptsPrefix.length, -".json".length);
  const slash = rest.indexOf("/");
  if (slash <= 0) return undefined;
  const [attempt, outcome, cause] = rest.slice(slash + 1).split("~");
  if (!attempt || !(OUTCOMES as readonly string[]).includes(outcome ?? "")) return undefined;
  if (cause !== undefined && !(CAUSE_CLASSES as readonly string[]).includes(cause)) return undefined;
  let metadataId: string;
  try {
    metadataId = decodeURIComponent(rest.slice(0, slash));
  } catch {
    return undefined;
  }
  return {
    metadataId,
    attempt,
    startedAt: Number(attempt.slice(0, 13)),
    outcome: outcome as Outcome,
    ...(cause ? { cause: cause as CauseClass } : {}),
  };
}

/** Reads instance and attempt back from an open-attempt key; undefined for other keys. */
export function parseOpenKey(key: string, openPrefix: string): { instanceId: string; attempt: string } | undefined {
  if (!key.startsWith(openPrefix) || !key.endsWith(".json")) return undefined;
  const [instanceId, attempt, ...more] = key.slice(openPrefix.length, -".json".length).split("/");
  return instanceId && attempt && !more.length ? { instanceId, attempt } : undefined;
}

/** Where a worker runs, from the instance metadata service (absent on a workstation). */
export const placementSchema = z.object({
  instanceId: z.string(),
  instanceType: z.string().optional(),
  availabilityZone: z.string().optional(),
  /** instance-life-cycle: "spot" or "on-demand" */
  spot: z.boolean().optional(),
});

/** The bounded tail of CellProfiler's output kept in a record. */
export const STDERR_TAIL_LINES = 20;
export const STDERR_TAIL_BYTES = 4_096;
/** Output files listed in one record (the count is always exact). */
export const MAX_LISTED_OUTPUTS = 200;

export const attemptRecordSchema = z.object({
  version: z.literal(1),
  runId: z.string(),
  metadataId: z.string(),
  /** The group's Metadata pairs, in -g order. */
  group: z.array(z.tuple([z.string(), z.string()])),
  attempt: z.string(),
  /** 1-based count of receives, including those spent before a hand-back */
  attemptNumber: z.number().int().positive(),
  messageId: z.string().optional(),
  workerId: z.string(),
  placement: placementSchema.optional(),
  startedAt: z.string(),
  endedAt: z.string(),
  outcome: z.enum(OUTCOMES),
  cause: z.object({ class: z.enum(CAUSE_CLASSES), message: z.string() }).optional(),
  exitCode: z.number().int().nullable().optional(),
  signal: z.string().nullable().optional(),
  /** CellProfiler's last output lines (at most STDERR_TAIL_LINES lines, STDERR_TAIL_BYTES bytes) */
  lastLines: z.array(z.string()).default([]),
  phasesMs: z.record(z.string(), z.number()).default({}),
  outputs: z.object({
    count: z.number().int().nonnegative(),
    bytes: z.number().int().nonnegative(),
    files: z.array(z.object({ key: z.string(), size: z.number().int().nonnegative() })),
  }),
  logGroup: z.string().optional(),
  logStream: z.string().optional(),
});
export type AttemptRecord = z.output<typeof attemptRecordSchema>;

export const openRecordSchema = z.object({
  version: z.literal(1),
  metadataId: z.string(),
  attempt: z.string(),
  workerId: z.string(),
  placement: placementSchema.optional(),
  startedAt: z.string(),
});
export type OpenRecord = z.output<typeof openRecordSchema>;

export const currentPointerSchema = z.object({
  version: z.literal(1),
  runId: z.string().min(1),
  startedAt: z.string(),
});
export type CurrentPointer = z.output<typeof currentPointerSchema>;

/**
 * A run is unattended when the monitor's heartbeat is older than three polls or ten minutes,
 * whichever is longer: its resources may still be billing with nobody to stop them.
 */
export function heartbeatTimeoutMs(pollSeconds: number, minimumMs = DEFAULT_HEARTBEAT_TIMEOUT_MS): number {
  return Math.max(3 * pollSeconds * 1000, minimumMs);
}

/** The "ten minutes" of heartbeatTimeoutMs (MONITOR_HEARTBEAT_TIMEOUT_MINUTES changes it). */
export const DEFAULT_HEARTBEAT_TIMEOUT_MS = 10 * 60_000;

/** One group as the ledger tells it: its latest finished attempt, how many attempts, whether one is open. */
export interface GroupState {
  metadataId: string;
  latest: AttemptKeyParts | undefined;
  attempts: number;
  /** the attempts of this group still open (started, not ended): running, or their worker died */
  open: number;
}

/** Folds attempt keys (and open attempts, by group) into one state per group. */
export function groupStates(
  attempts: readonly AttemptKeyParts[],
  openByGroup: ReadonlyMap<string, number> = new Map(),
): Map<string, GroupState> {
  const groups = new Map<string, GroupState>();
  const stateOf = (metadataId: string): GroupState => {
    let state = groups.get(metadataId);
    if (!state) groups.set(metadataId, (state = { metadataId, latest: undefined, attempts: 0, open: 0 }));
    return state;
  };
  for (const a of attempts) {
    const state = stateOf(a.metadataId);
    state.attempts += 1;
    if (!state.latest || a.attempt > state.latest.attempt) state.latest = a;
  }
  for (const [metadataId, open] of openByGroup) stateOf(metadataId).open = open;
  return groups;
}

/** The run phases a heartbeat reports (the state file's statuses, as the monitor sees them). */
export const HEARTBEAT_PHASES = ["starting", "running", "tearing-down", "finished"] as const;

/**
 * heartbeat.json, overwritten by `dcp monitor` at every poll: the observations it draws its status
 * block from, so `dcp status` on another machine shows the same figures; `at` tells it whether
 * anyone is still watching (heartbeatTimeoutMs).
 */
export const heartbeatSchema = z.object({
  version: z.literal(1),
  runId: z.string(),
  /** ISO time of this poll */
  at: z.string(),
  pollSeconds: z.number().positive(),
  phase: z.enum(HEARTBEAT_PHASES),
  /** where the monitor runs (hostname and pid), so a teammate knows whose tmux to look in */
  host: z.string(),
  pid: z.number().int(),
  fleetApi: z.string(),
  fleetLabel: z.string(),
  /** epoch ms, as the state file's start */
  startedAt: z.number(),
  observations: observationsSchema,
});
export type Heartbeat = z.output<typeof heartbeatSchema>;

/** One `dcp submit` of a job file, as start-cluster copies it into run.json. */
export const submissionRecordSchema = z.object({
  version: z.literal(1),
  /** The job file's name as given to submit (its base name) */
  name: z.string(),
  groups: z.number().int().nonnegative(),
  /** Messages actually sent */
  sent: z.number().int().nonnegative(),
  sha256: z.string(),
  submittedAt: z.string(),
  queue: z.string(),
});
export type SubmissionRecord = z.output<typeof submissionRecordSchema>;

/**
 * run.json, written by start-cluster once the fleet exists (and again by a resumed start): enough to
 * know later what ran, after the state file, the laptop or the CloudWatch logs are gone.
 */
export const runRecordSchema = z.object({
  version: z.literal(1),
  runId: z.string(),
  appName: z.string(),
  region: z.string(),
  startedAt: z.string(),
  fleetApi: z.string(),
  fleetId: z.string(),
  launchTemplateId: z.string().optional(),
  /** The config, with anything that looks like a secret removed (configForLedger) */
  config: z.record(z.string(), z.unknown()),
  /** family:revision of the task definition the service runs, and its container image */
  taskDefinition: z.string().optional(),
  image: z.string().optional(),
  /** The fleet request as planned (what `start-cluster --dry-run` prints) */
  fleetRequest: z.unknown(),
  /** Job files submitted since the previous run */
  jobs: z.array(submissionRecordSchema).default([]),
  /** Submissions from this time on (the previous run's start; ISO) are this run's jobs */
  jobsSince: z.string().optional(),
  /** The state file on the machine that started the run */
  stateFile: z.string().optional(),
});
export type RunRecord = z.output<typeof runRecordSchema>;

/** Config keys whose values may be secrets, and values shaped like AWS access keys: never in the ledger. */
const SECRET_KEY = /secret|password|passwd|token|credential|access_?key|session|private/i;
const SECRET_VALUE = /^(AKIA|ASIA)[A-Z0-9]{16}$|-----BEGIN [A-Z ]*PRIVATE KEY-----/;

/** The config as run.json records it: keys that look like secrets and secret-shaped values removed. */
export function configForLedger(config: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const clean = (value: unknown): unknown => {
    if (typeof value === "string") return SECRET_VALUE.test(value) ? undefined : value;
    if (Array.isArray(value)) return value.map(clean);
    if (value && typeof value === "object")
      return Object.fromEntries(
        Object.entries(value)
          .filter(([k]) => !SECRET_KEY.test(k))
          .map(([k, v]) => [k, clean(v)])
          .filter(([, v]) => v !== undefined),
      );
    return value;
  };
  return clean(config) as Record<string, unknown>;
}

/** What the ledger's listings say about a run's groups (from keys only: no record is read). */
export interface LedgerCounts {
  /** groups with at least one finished attempt */
  groups: number;
  /** groups with a done attempt (skipped-done included) */
  done: number;
  /** of `done`, groups whose outputs were already there (CHECK_IF_DONE) and nothing else */
  skipped: number;
  /** groups not done whose latest finished attempt failed or was dead-lettered (SQS may be retrying them) */
  failed: number;
  /** of `failed`, by cause class */
  failedByCause: Partial<Record<CauseClass, number>>;
  /** groups not done whose latest attempt was handed back (waiting for their next attempt) */
  handedBack: number;
  /** groups the worker moved to the dead-letter queue itself (SQS's own moves are not in the ledger) */
  deadLettered: number;
  attempts: number;
  /** attempts open now, one per running task (a worker killed mid-task leaves its attempt open) */
  running: number;
}

/** Counts a run's groups from its attempt keys, and its running tasks from the open keys. */
export function ledgerCounts(attempts: readonly AttemptKeyParts[], openAttempts: number): LedgerCounts {
  const done = new Set<string>();
  const skippedOnly = new Set<string>();
  for (const a of attempts) {
    if (a.outcome === "done") {
      done.add(a.metadataId);
      skippedOnly.delete(a.metadataId);
    } else if (a.outcome === "skipped-done" && !done.has(a.metadataId)) {
      done.add(a.metadataId);
      skippedOnly.add(a.metadataId);
    }
  }
  const states = groupStates(attempts);
  const counts: LedgerCounts = {
    groups: states.size,
    done: done.size,
    skipped: skippedOnly.size,
    failed: 0,
    failedByCause: {},
    handedBack: 0,
    deadLettered: 0,
    attempts: attempts.length,
    running: openAttempts,
  };
  for (const { metadataId, latest } of states.values()) {
    if (done.has(metadataId) || !latest) continue;
    if (latest.outcome === "handed-back") counts.handedBack += 1;
    else if (latest.outcome === "failed" || latest.outcome === "dead-lettered") {
      counts.failed += 1;
      if (latest.outcome === "dead-lettered") counts.deadLettered += 1;
      const cause = latest.cause ?? "other";
      counts.failedByCause[cause] = (counts.failedByCause[cause] ?? 0) + 1;
    }
  }
  return counts;
}

/**
 * summary.json, written at teardown: the ledger's counts, the monitor's figures, instance-hours and
 * cost (run/cost.ts), so a finished run can be read without its state file.
 */
const costSplitSchema = z.object({
  computeUsd: z.number(),
  storageUsd: z.number(),
  restUsd: z.number(),
  totalUsd: z.number(),
});

export const summarySchema = z.object({
  version: z.literal(1),
  runId: z.string(),
  appName: z.string(),
  startedAt: z.string(),
  finishedAt: z.string(),
  elapsedMs: z.number(),
  /** From the ledger's listings (LedgerCounts) */
  ledger: z.object({
    groups: z.number().int(),
    done: z.number().int(),
    skipped: z.number().int(),
    failed: z.number().int(),
    failedByCause: z.record(z.string(), z.number().int()),
    handedBack: z.number().int(),
    deadLettered: z.number().int(),
    attempts: z.number().int(),
    running: z.number().int(),
  }),
  /** As the monitor counted them from the queues */
  monitor: z.object({
    groupsDone: z.number().int(),
    groupsTotal: z.number().int(),
    deadLettered: z.number().int(),
  }),
  instanceHours: z.number(),
  estimatedCostUsd: z.number().optional(),
  /** The cost in words (what teardown prints) */
  cost: z.string(),
  /** Cost split into compute, storage and the rest, per plate and per group (plan/run-cost.ts costBreakdown) */
  costs: z
    .object({
      computeUsd: z.number(),
      storageUsd: z.number(),
      restUsd: z.number(),
      totalUsd: z.number(),
      basis: z.string(),
      byPlate: z.record(z.string(), costSplitSchema),
      byGroup: z.record(z.string(), costSplitSchema.extend({ plate: z.string().optional() })),
    })
    .optional(),
});
export type RunSummaryRecord = z.output<typeof summarySchema>;
