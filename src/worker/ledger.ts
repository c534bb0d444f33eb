/**
 * The worker's side of the run ledger (plan/ledger.ts): for each attempt, PUT
 * `attempts/<group>/<attempt-id>~<outcome>[~<cause>].json` when it ends; a task still running
 * OPEN_RECORD_DELAY_MS after it started (0: at once, see there) also PUTs
 * `open/<instance>/<attempt-id>.json`, and DELETEs it at the end: three requests per task; a task that
 * ends before its open PUT went out costs one.
 * Every write is fire-and-forget: queued with bounded concurrency, never
 * awaited by a task, never failing one (the first failure is one warning line; later ones are
 * counted and reported at shutdown), and awaited for a few seconds at most when the worker stops.
 *
 * The run comes from `dcp-runs/<APP_NAME>/current.json` (written by start-cluster), read at start
 * and again when a task starts if it was missing or is older than a minute, so a worker that
 * outlives a run writes for the next one. No pointer: the ledger is off (one log line).
 */
import type { S3Client } from "@aws-sdk/client-s3";
import { hostname } from "node:os";
import { attemptKey, openKey } from "../plan/ledger.js";
import { readCurrentPointer, removeLedgerObject, writeLedgerJson, type LedgerLocation } from "../run/ledger.js";
import { describeError } from "./log.js";
import { attemptRecord, openRecord, type AttemptFacts, type AttemptIdentity, type Placement } from "./attempt.js";
import type { Outcome, CauseClass } from "../plan/ledger.js";
import { ImdsClient } from "./imds.js";

/** A known pointer is re-read after this long; a missing one after the shorter wait. */
export const POINTER_MAX_AGE_MS = 60_000;
const MISSING_POINTER_RETRY_MS = 15_000;
/** Ledger requests in flight at once (per worker), and queued at most before writes are dropped. */
const CONCURRENCY = 4;
const MAX_QUEUED = 500;
/** One ledger request gives up after this long (the SDK retries inside it). */
const REQUEST_TIMEOUT_MS = 15_000;
/** How long a stopping worker waits for its last ledger writes. */
export const FLUSH_TIMEOUT_MS = 5_000;
/**
 * How long a task runs before its open record is PUT: 0, at once. The monitor's tail terminates a machine
 * whose open keys show no task, after a count check against the queue's in-flight messages and a second
 * listing right before terminating (run/tail.ts). A record that waits widens the moment in which a task
 * just started on an otherwise idle machine is invisible to both: with a 1 s wait, a finished task's open
 * key not yet deleted elsewhere could balance the count and the machine be terminated with a task in
 * flight. Measured on moto, writing at once costs no more than waiting (bench/worker.bench.ts).
 */
export const OPEN_RECORD_DELAY_MS = 0;
/** How long the placement lookup may take (off the task's path). */
const PLACEMENT_TIMEOUT_MS = 1_000;

/** The id of one job loop of this worker process: `<hostname>-<pid>-<loop>`. */
export function workerId(loop: number, host = hostname(), pid = process.pid): string {
  return `${host}-${pid}-${loop}`;
}

/**
 * Where this worker runs. DCP_INSTANCE_ID (set by a test harness or an operator) wins; otherwise
 * the instance metadata service at `imdsBase` (instance-id, instance-type, placement/availability-zone,
 * instance-life-cycle: "spot" or "on-demand"); undefined on a workstation (the worker id stands in).
 */
export async function resolvePlacement(
  imdsBase: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): Promise<Placement | undefined> {
  if (env.DCP_INSTANCE_ID) return { instanceId: env.DCP_INSTANCE_ID };
  if (!imdsBase) return undefined;
  const imds = new ImdsClient(imdsBase, PLACEMENT_TIMEOUT_MS);
  try {
    const instanceId = await imds.value("instance-id");
    const optional = (path: string) => imds.value(path).catch(() => undefined);
    const [instanceType, availabilityZone, lifeCycle] = await Promise.all([
      optional("instance-type"),
      optional("placement/availability-zone"),
      optional("instance-life-cycle"),
    ]);
    return {
      instanceId,
      ...(instanceType ? { instanceType } : {}),
      ...(availabilityZone ? { availabilityZone } : {}),
      ...(lifeCycle ? { spot: lifeCycle === "spot" } : {}),
    };
  } catch {
    return undefined;
  }
}

export type AttemptStart = Omit<AttemptIdentity, "runId" | "placement">;

export interface AttemptEnding {
  outcome: Outcome;
  cause?: { class: CauseClass; message: string };
}

/** One attempt's ledger entry: `end` writes its record and removes its open key, in the background. */
export interface LedgerAttempt {
  end(ending: AttemptEnding, facts: AttemptFacts, phasesMs: Record<string, number>, endedAtMs?: number): void;
}

export class WorkerLedger {
  private runId: string | undefined;
  private readAt = 0;
  private reading: Promise<string | undefined> | undefined;
  private readonly placement: Promise<Placement | undefined>;
  private active = 0;
  private readonly queue: Array<() => void> = [];
  private readonly pending = new Set<Promise<unknown>>();
  private failures = 0;
  /** S3 requests sent (the benchmark reports them per task). */
  requests = 0;

  constructor(
    private readonly at: LedgerLocation,
    placement: Promise<Placement | undefined>,
    private readonly log: (line: string) => void,
    private readonly openDelayMs = OPEN_RECORD_DELAY_MS,
  ) {
    this.placement = placement;
  }

  static forWorker(
    s3: S3Client,
    bucket: string,
    appName: string,
    imdsBase: string | undefined,
    log: (line: string) => void,
  ): WorkerLedger {
    return new WorkerLedger({ s3, bucket, appName }, resolvePlacement(imdsBase), log);
  }

  /** Reads the pointer once at start, saying whether the ledger is on. Never throws. */
  async start(): Promise<void> {
    const runId = await this.currentRun(true);
    if (!runId) this.log(this.offLine());
  }

  private offLine(): string {
    return `run ledger off: no run pointer s3://${this.at.bucket}/dcp-runs/${this.at.appName}/current.json (dcp start-cluster writes it); checked again as tasks start`;
  }

  /** The current run id, re-reading the pointer when it is missing or stale. */
  private currentRun(force = false): Promise<string | undefined> {
    const age = Date.now() - this.readAt;
    const stale = force || age > (this.runId ? POINTER_MAX_AGE_MS : MISSING_POINTER_RETRY_MS);
    if (!stale) return Promise.resolve(this.runId);
    this.reading ??= this.track(
      this.limited(() => readCurrentPointer(this.at))
        .then((pointer) => {
          const before = this.runId;
          this.runId = pointer?.runId;
          if (this.runId && this.runId !== before)
            this.log(
              `run ledger on: writing attempt records under s3://${this.at.bucket}/dcp-runs/${this.at.appName}/${this.runId}/`,
            );
          else if (before && !this.runId) this.log(this.offLine());
          return this.runId;
        })
        .catch((err: unknown) => {
          this.failed("read the run pointer", err);
          return this.runId;
        })
        .finally(() => {
          this.readAt = Date.now();
          this.reading = undefined;
        }),
    );
    return this.reading;
  }

  /**
   * Registers an attempt that starts now; its open record is PUT in the background once the attempt
   * has run for `openDelayMs`, not at all when it ends sooner.
   */
  begin(start: AttemptStart): LedgerAttempt {
    let endedEarly: () => void = () => undefined;
    const due = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(true), this.openDelayMs);
      endedEarly = () => {
        clearTimeout(timer);
        resolve(false);
      };
    });
    const opened = this.currentRun().then(async (runId) => {
      if (!runId) return undefined;
      const placement = await this.placement;
      const identity: AttemptIdentity = { ...start, runId, placement };
      if (!(await due)) return { identity, written: false };
      const key = openKey(this.at.appName, runId, placement?.instanceId ?? start.workerId, start.attempt);
      // First in line: the monitor's tail reads this record to know the machine is busy (plan/monitor-tail.ts).
      const written = await this.write(() => writeLedgerJson(this.at, key, openRecord(identity), timeout()), true);
      return { identity, key, written };
    });
    this.track(opened);
    return {
      end: (ending, facts, phasesMs, endedAtMs = Date.now()) => {
        endedEarly();
        this.track(
          opened.then(async (entry) => {
            if (!entry) return;
            const { identity } = entry;
            const record = attemptRecord(identity, ending, facts, phasesMs, endedAtMs);
            const key = attemptKey(
              this.at.appName,
              identity.runId,
              identity.metadataId,
              identity.attempt,
              ending.outcome,
              ending.cause?.class,
            );
            await this.write(() => writeLedgerJson(this.at, key, record, timeout()));
            if (entry.written && entry.key) await this.write(() => removeLedgerObject(this.at, entry.key!, timeout()));
          }),
        );
      },
    };
  }

  /** Waits for the writes in flight, at most `timeoutMs`; says what was left unwritten. */
  async flush(timeoutMs = FLUSH_TIMEOUT_MS): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const waited = await Promise.race([
      (async () => {
        while (this.pending.size) await Promise.allSettled([...this.pending]);
        return true;
      })(),
      new Promise<false>((resolve) => {
        timer = setTimeout(() => resolve(false), timeoutMs);
      }),
    ]);
    clearTimeout(timer);
    if (!waited)
      this.log(
        `warning: run ledger: ${this.pending.size} write(s) still pending after ${timeoutMs / 1000} s; left unwritten`,
      );
    if (this.failures > 1) this.log(`warning: run ledger: ${this.failures} write(s) failed in all`);
  }

  private track<T>(promise: Promise<T>): Promise<T> {
    const settled = promise.catch(() => undefined).finally(() => this.pending.delete(settled));
    this.pending.add(settled);
    return promise;
  }

  /** One write, at most CONCURRENCY at once, queued behind the others unless `first`; true when it succeeded. */
  private async write(send: () => Promise<void>, first = false): Promise<boolean> {
    if (this.queue.length >= MAX_QUEUED) {
      this.failed("queue a write", new Error(`${MAX_QUEUED} writes already queued`));
      return false;
    }
    try {
      await this.limited(send, first);
      return true;
    } catch (err) {
      this.failed("write a record", err);
      return false;
    }
  }

  private async limited<T>(fn: () => Promise<T>, first = false): Promise<T> {
    // A finished request hands its slot straight to the next one queued (active stays counted).
    if (this.active >= CONCURRENCY)
      await new Promise<void>((resolve) => {
        if (first) this.queue.unshift(resolve);
        else this.queue.push(resolve);
      });
    else this.active += 1;
    this.requests += 1;
    try {
      return await fn();
    } finally {
      const next = this.queue.shift();
      if (next) next();
      else this.active -= 1;
    }
  }

  private failed(what: string, err: unknown): void {
    this.failures += 1;
    if (this.failures === 1)
      this.log(
        `warning: run ledger: could not ${what} (${describeError(err)}); tasks go on, later ledger failures are only counted`,
      );
  }
}

function timeout(): AbortSignal {
  return AbortSignal.timeout(REQUEST_TIMEOUT_MS);
}
