/**
 * The tail (issue 14): when the queue has nothing visible, a machine with no task in flight only costs
 * money. DCP (and dcp before this) lowered the fleet target and let such machines idle until their
 * CloudWatch alarm fired (CPU < 1 % for 15 minutes). Here the monitor terminates them itself, lowering
 * the target with them so the fleet does not replace them, at the first reading that finds them idle
 * once the queue has shown nothing visible on two readings in a row (one approximate zero mid-run must
 * not cost a booting machine): within one monitor interval of their last task ending, two at the start
 * of the tail. Pure: the reading and the worker signal come in as data.
 *
 * The signal that a machine has no task in flight comes from the workers, not from CPU: each task
 * writes `open/<instance>/<attempt>.json` in the run ledger while it runs (plan/ledger.ts). It is
 * trusted only when it accounts for every message in flight: open tasks on running machines >= the
 * queue's in-flight count. A worker that writes no ledger (an older image, a workstation) leaves
 * messages in flight that no open record explains, and then nothing is terminated.
 */

/** Why the tail did nothing this reading (for the display and tests). */
export type TailHold =
  | "work-visible"
  | "work-stranded"
  | "no-work-yet"
  | "queue-empty"
  | "signal-incomplete"
  | "nothing-idle"
  | "confirming";

export interface TailInput {
  now: number;
  /** the queue's visible messages (delayed ones included) */
  visible: number;
  /** the queue's messages in flight */
  inFlight: number;
  /** groups known to the run so far (observations.progress.total): 0 means no work has arrived yet */
  knownWork: number;
  /** running instances of the fleet */
  live: readonly string[];
  /** open tasks per instance id, from the ledger (instances that are not live are ignored) */
  openByInstance: ReadonlyMap<string, number>;
  /** the fleet's current target capacity */
  target: number;
  /** epoch ms of the first reading of the current run of readings with nothing visible (the previous decision's) */
  quietSince: number | undefined;
  /** groups done per ms at the recent completion rate (plan/monitor-decisions.ts doneRatePerMs), when known */
  doneRatePerMs?: number | undefined;
  /** ms from a machine's launch to its first task (plan/pricing.ts BOOT_SECONDS) */
  bootMs?: number;
  /** the most machines the run has asked for (the highest target seen): a raise never goes above it */
  ceiling?: number;
}

export interface TailDecision {
  /** what to persist for the next reading */
  quietSince: number | undefined;
  /** instances to terminate now (none has a task in flight) */
  terminate: string[];
  /**
   * the fleet target to set (before terminating `terminate`): set when machines are terminated, when
   * the target exceeds the running machines while nothing is queued (no replacement could get work), or
   * raised when groups are queued with no machine and a target of 0 (stranded work)
   */
  target?: number;
  hold?: TailHold;
}

/**
 * Milliseconds between the decision and the listing of open records that confirms it, right before the
 * termination. A worker PUTs its open record just after it receives a message (in the background, ahead of
 * its other ledger writes but after one of its 4 write slots frees); on real AWS the queue's counts are approximate and can still show nothing
 * visible for a message just taken. Listing again a few seconds later lets a record in flight land, so a
 * machine that just took the last group keeps it. The simulation (bench/tail-sim.ts) pays it on every
 * termination.
 */
export const TAIL_CONFIRM_MS = 3_000;

/** Open tasks on running machines: the part of the worker signal the decision may trust. */
export function openOnLive(live: readonly string[], openByInstance: ReadonlyMap<string, number>): number {
  return live.reduce((sum, id) => sum + (openByInstance.get(id) ?? 0), 0);
}

/**
 * True when the visible work will be gone before a new machine could take any: at the recent completion
 * rate the running machines finish `visible` groups' worth within one boot, so each of the visible groups
 * is taken by a loop already running. A replacement launched now would only boot and idle.
 */
export function drainsBeforeBoot(visible: number, doneRatePerMs: number | undefined, bootMs: number): boolean {
  return doneRatePerMs !== undefined && visible <= doneRatePerMs * bootMs;
}

export function planTail(input: TailInput): TailDecision {
  if (input.visible > 0) {
    // Groups came back (a lost machine's task handed back or timed out) after the tail let the fleet go:
    // nothing would ever take them, and the run would wait forever. Ask for machines again.
    if (input.target === 0 && input.live.length === 0) {
      const target = Math.max(1, Math.min(input.visible, input.ceiling ?? 1));
      return { quietSince: undefined, terminate: [], target, hold: "work-stranded" };
    }
    // The queue drains: a target above the running machines would launch replacements with nothing left to
    // take. Only while machines run: the recent rate is theirs, and with none running nobody takes the queue.
    const replacing = input.target > input.live.length;
    if (replacing && input.live.length > 0 && drainsBeforeBoot(input.visible, input.doneRatePerMs, input.bootMs ?? 0))
      return { quietSince: undefined, terminate: [], target: input.live.length, hold: "work-visible" };
    return { quietSince: undefined, terminate: [], hold: "work-visible" };
  }
  const quietSince = input.quietSince ?? input.now;
  const none = (hold: TailHold): TailDecision => ({ quietSince, terminate: [], hold });
  // A fleet started before `dcp submit` waits for work (teardownHold); its machines are not a tail.
  if (input.knownWork === 0) return none("no-work-yet");
  // Nothing visible and nothing in flight: the teardown follows at the next reading.
  if (input.inFlight === 0) return none("queue-empty");
  if (openOnLive(input.live, input.openByInstance) < input.inFlight) return none("signal-incomplete");
  if (input.quietSince === undefined) return none("confirming");
  const terminate = input.live.filter((id) => (input.openByInstance.get(id) ?? 0) === 0);
  const target = Math.max(0, Math.min(input.target, input.live.length - terminate.length));
  if (terminate.length) return { quietSince, terminate, target };
  // A target above the running machines (an interrupted or lost machine) would launch a replacement that
  // can only boot and idle: nothing is queued for it. Lower the target to the machines that run.
  if (target < input.target) return { quietSince, terminate, target, hold: "nothing-idle" };
  return none("nothing-idle");
}

/**
 * Seconds between readings while the tail runs: nothing visible, tasks still in flight. A machine whose last
 * task ends waits for the next reading to be terminated, so the monitor's interval is paid once per machine
 * at the end of every run (60 s by default: half a minute per machine on average). The tail reads every
 * `TAIL_INTERVAL_S` instead (never slower than the user's interval); the rest of the run keeps the interval.
 * The teardown's two empty readings keep the user's spacing (inFlight 0 ends the fast readings).
 */
export const TAIL_INTERVAL_S = 15;

export function readingDelayMs(
  last: { visible: number; inFlight: number } | undefined,
  quietSince: number | undefined,
  intervalS: number,
): number {
  const tail = last !== undefined && quietSince !== undefined && last.visible === 0 && last.inFlight > 0;
  return Math.min(intervalS, tail ? TAIL_INTERVAL_S : intervalS) * 1000;
}
