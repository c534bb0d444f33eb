/**
 * The shapes of a run's spot cost and its one-line wording (the figures: plan/run-cost.ts). Pure.
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
