/**
 * Instance-hours and an estimated spot cost for a run, from the instances the monitor observed
 * and the spot price history (DescribeSpotPriceHistory). Pure: prices come in as data.
 */
import type { InstanceRecord } from "./monitor-observations.js";

export interface PricePoint {
  type: string;
  az?: string;
  /** USD per hour */
  price: number;
  /** epoch ms the price took effect (DescribeSpotPriceHistory's Timestamp) */
  at?: number;
}

export interface CostEstimate {
  instanceHours: number;
  /** undefined when no instance type had a price */
  dollars: number | undefined;
  byType: Record<string, { instanceHours: number; dollars?: number; pricePerHour?: number }>;
  /** instance types without any price point (their hours are not in `dollars`) */
  unpriced: string[];
}

const UNKNOWN_TYPE = "unknown";

/**
 * An instance is billed from its launch until it is gone. Gone instances count until the first
 * reading that missed them (an upper bound); instances still running count until `endAt`.
 */
export function instanceHoursOf(record: InstanceRecord, endAt: number): number {
  const end = record.goneAt ?? endAt;
  return Math.max(0, end - record.launchedAt) / 3_600_000;
}

function mean(values: readonly number[]): number | undefined {
  return values.length ? values.reduce((a, b) => a + b, 0) / values.length : undefined;
}

/** Mean price for a type, preferring points from the instance's own zone when there are any. */
export function priceFor(prices: readonly PricePoint[], type: string, az: string | undefined): number | undefined {
  const ofType = prices.filter((p) => p.type === type);
  const inZone = az ? ofType.filter((p) => p.az === az) : [];
  return mean((inZone.length ? inZone : ofType).map((p) => p.price));
}

export function estimateCost(
  instances: Readonly<Record<string, InstanceRecord>>,
  prices: readonly PricePoint[] | undefined,
  endAt: number,
): CostEstimate {
  const byType: CostEstimate["byType"] = {};
  let instanceHours = 0;
  let dollars: number | undefined;
  const unpriced = new Set<string>();
  for (const record of Object.values(instances)) {
    const hours = instanceHoursOf(record, endAt);
    const type = record.type ?? UNKNOWN_TYPE;
    instanceHours += hours;
    const entry = (byType[type] ??= { instanceHours: 0 });
    entry.instanceHours += hours;
    const price = prices && record.type ? priceFor(prices, record.type, record.az) : undefined;
    if (price === undefined) {
      unpriced.add(type);
      continue;
    }
    entry.dollars = (entry.dollars ?? 0) + hours * price;
    entry.pricePerHour = priceFor(prices ?? [], type, undefined);
    dollars = (dollars ?? 0) + hours * price;
  }
  return { instanceHours, dollars, byType, unpriced: [...unpriced].sort() };
}

/** The instance types observed in a run (to ask the price history for). */
export function observedTypes(instances: Readonly<Record<string, InstanceRecord>>): string[] {
  return [...new Set(Object.values(instances).flatMap((r) => (r.type ? [r.type] : [])))].sort();
}

export function formatCost(estimate: CostEstimate, priceProblem: string | undefined): string {
  const hours = `${estimate.instanceHours.toFixed(2)} instance-hours`;
  if (priceProblem) return `${hours}; cost estimate unavailable (${priceProblem})`;
  if (estimate.dollars === undefined) {
    return Object.keys(estimate.byType).length
      ? `${hours}; no spot price found for ${estimate.unpriced.join(", ")}`
      : hours;
  }
  const partial = estimate.unpriced.length ? ` (without ${estimate.unpriced.join(", ")}: no price)` : "";
  return `${hours}, about $${estimate.dollars.toFixed(2)} at spot prices${partial}`;
}
