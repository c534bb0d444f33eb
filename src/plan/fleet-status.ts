/**
 * A fleet as every provider reports it, and what dcp concludes from one reading. The state names
 * are AWS's (Spot Fleet: cancelled_*; EC2 Fleet: deleted_*), defined here once. Pure.
 */

export interface FleetStatus {
  id: string;
  /** submitted | active | modifying | cancelled_running | cancelled_terminating | failed (and deleted_* for EC2 Fleet). */
  state: string;
  /** error | pending_fulfillment | pending_termination | fulfilled, when AWS reports one. */
  activityStatus?: string;
  target: number;
  /** Fulfilled capacity, in the fleet's units (machines unless the file sets WeightedCapacity). */
  fulfilled: number;
  /** Fatal or launch errors AWS reports for the fleet, as "code: message" lines. */
  errors: string[];
}

/** States in which the fleet may still hold or launch instances. */
const LIVE_STATES = new Set(["submitted", "active", "modifying"]);
/** Cancelled/deleted WITHOUT terminating: the instances keep running (and billing). */
const RUNNING_AFTER_CANCEL_STATES = new Set(["cancelled_running", "deleted_running"]);
/** States after which nothing of the fleet is left to cancel (instances, if any, are already terminating). */
export const GONE_STATES = new Set(["cancelled", "cancelled_terminating", "deleted", "deleted_terminating"]);
/** States start-cluster treats as a failed start. */
const FAILED_STATES = new Set(["failed", ...RUNNING_AFTER_CANCEL_STATES, ...GONE_STATES]);

/** True when the fleet is still live: it may launch or replace instances. */
export function fleetIsLive(status: Pick<FleetStatus, "state"> | undefined): boolean {
  return status !== undefined && LIVE_STATES.has(status.state);
}

/** Cancelled without terminating: its instances still bill and must be terminated directly. */
export function fleetLeftInstancesRunning(status: Pick<FleetStatus, "state"> | undefined): boolean {
  return status !== undefined && RUNNING_AFTER_CANCEL_STATES.has(status.state);
}

export type WaitVerdict =
  { kind: "wait"; notes?: string[] } | { kind: "fulfilled"; notes?: string[] } | { kind: "failed"; reasons: string[] };

/** The part of a status judgeFleet reads. */
export type FleetReading = Omit<FleetStatus, "id">;

/**
 * AWS's words for "no spot capacity right now" (Spot Fleet request-history event subtypes and
 * descriptions, EC2 Fleet error codes). These pass: the fleet keeps trying (DCP #107).
 */
const CAPACITY_ERROR =
  /capacity|allLaunchSpecsTemporarilyBlacklisted|launchSpecTemporarilyBlacklisted|InsufficientInstanceCapacity|UnfulfillableCapacity|SpotMaxPriceTooLow|price-too-low|bidTooLow/i;

export function isCapacityError(line: string): boolean {
  return CAPACITY_ERROR.test(line);
}

/**
 * What start-cluster concludes from one reading. Fatal: the fleet failed, was cancelled/deleted
 * behind dcp's back, or reports configuration or role errors (or activity `error` AWS does not
 * explain) while no machine runs. Spot Fleet reports activity `error` for capacity shortages too, so
 * capacity errors, and any error once machines run, mean "keep going" and are shown as notes.
 * A missing reading (the fleet is gone) is fatal; the caller first allows for EC2's eventual
 * consistency on a new id.
 */
export function judgeFleet(reading: FleetReading | undefined): WaitVerdict {
  if (!reading) return { kind: "failed", reasons: ["the fleet no longer exists (cancelled or deleted outside dcp?)"] };
  if (FAILED_STATES.has(reading.state)) return { kind: "failed", reasons: [`fleet state is ${reading.state}`] };
  const errors = [...new Set(reading.errors)];
  const troubled = reading.activityStatus === "error" || errors.length > 0;
  const capacityOnly = errors.length > 0 && errors.every(isCapacityError);
  if (troubled && reading.fulfilled === 0 && !capacityOnly) {
    const reasons = reading.activityStatus === "error" ? ["fleet activity status is error", ...errors] : errors;
    return { kind: "failed", reasons: [...new Set(reasons)] };
  }
  const notes = errors.length ? { notes: errors } : {};
  return reading.fulfilled >= reading.target ? { kind: "fulfilled", ...notes } : { kind: "wait", ...notes };
}
