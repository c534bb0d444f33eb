/**
 * What a run has cost so far and will cost in total (issue 14), from the instances the monitor
 * observed and the spot price history: each instance's seconds from launch to termination (or now),
 * priced with the price in force in its own zone and type over that time (plan/pricing.ts), and a
 * projection from the current burn rate and the completion rate. Spot compute only: EBS, IPv4 and the
 * small per-request lines are in `dcp estimate`, not in the live figure. Pure.
 */
import { estimateRemainingMs } from "./monitor-decisions.js";
import type { InstanceRecord, Observations } from "./monitor-observations.js";
import { currentQuotes, instanceCost, type SpotQuote } from "./pricing.js";

export interface RunCost {
  /** epoch ms of the figures */
  at: number;
  instanceHours: number;
  /** USD of spot compute so far; undefined when an observed type has no price */
  spentUsd: number | undefined;
  /** USD per hour of the instances running now */
  burnPerHour: number | undefined;
  /** spent + burn x the remaining time at the recent completion rate; undefined when either is unknown */
  projectedUsd: number | undefined;
  byType: Record<string, { instanceHours: number; usd?: number }>;
  unpriced: string[];
}

/** USD/h for one running instance: the newest quote of its zone and type, else the mean over its type's zones. */
export function priceNow(quotes: readonly SpotQuote[], type: string, zone: string | undefined, at: number) {
  const ofType = currentQuotes(
    quotes.filter((q) => q.type === type),
    at,
  );
  const inZone = ofType.find((q) => q.zone === zone);
  if (inZone) return inZone.price;
  return ofType.length ? ofType.reduce((s, q) => s + q.price, 0) / ofType.length : undefined;
}

export function runCost(
  instances: Readonly<Record<string, InstanceRecord>>,
  quotes: readonly SpotQuote[],
  now: number,
  remainingMs: number | undefined,
): RunCost {
  const byType: RunCost["byType"] = {};
  const unpriced = new Set<string>();
  let instanceHours = 0;
  let spent = 0;
  let burn = 0;
  for (const record of Object.values(instances)) {
    const type = record.type ?? "unknown";
    const end = record.goneAt ?? now;
    const hours = Math.max(0, end - record.launchedAt) / 3_600_000;
    instanceHours += hours;
    const entry = (byType[type] ??= { instanceHours: 0 });
    entry.instanceHours += hours;
    const usd = record.type ? instanceCost(quotes, record.type, record.az, record.launchedAt, end) : undefined;
    if (usd === undefined) {
      unpriced.add(type);
      continue;
    }
    entry.usd = (entry.usd ?? 0) + usd;
    spent += usd;
    if (record.goneAt === undefined) burn += priceNow(quotes, type, record.az, now) ?? 0;
  }
  const complete = unpriced.size === 0;
  const spentUsd = complete ? spent : undefined;
  const burnPerHour = complete ? burn : undefined;
  return {
    at: now,
    instanceHours,
    spentUsd,
    burnPerHour,
    projectedUsd:
      spentUsd !== undefined && burnPerHour !== undefined && remainingMs !== undefined
        ? spentUsd + (burnPerHour * remainingMs) / 3_600_000
        : undefined,
    byType,
    unpriced: [...unpriced].sort(),
  };
}

/** Milliseconds the run still needs at its recent completion rate (undefined before a rate is known). */
export function remainingOf(observations: Observations): number | undefined {
  const { last, samples } = observations;
  return estimateRemainingMs(samples, last.visible + last.inFlight);
}

/** The figures the state file and the heartbeat carry (observations.cost), rounded for reading. */
export function costRecord(cost: RunCost): {
  at: number;
  instanceHours: number;
  spentUsd?: number;
  projectedUsd?: number;
} {
  const round = (n: number) => Math.round(n * 10_000) / 10_000;
  return {
    at: cost.at,
    instanceHours: round(cost.instanceHours),
    ...(cost.spentUsd !== undefined ? { spentUsd: round(cost.spentUsd) } : {}),
    ...(cost.projectedUsd !== undefined ? { projectedUsd: round(cost.projectedUsd) } : {}),
  };
}
