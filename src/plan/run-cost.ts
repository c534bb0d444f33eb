/**
 * What a run has cost so far and will cost in total (issue 14), from the instances the monitor
 * observed and the spot price history: each instance's seconds from launch to termination (or now),
 * priced with the price in force in its own zone and type over that time (plan/pricing.ts), and a
 * projection from the current burn rate and the completion rate. Spot compute, plus (when the caller
 * gives their hourly sum, from plan/pricing.ts perInstanceHourExtras) the lines that run by the instance-hour:
 * each instance's EBS volume, public IPv4 address and idle alarm. The small per-request lines (logs, SQS,
 * S3) are in `dcp estimate` and the summary, not in the live figure. Pure.
 */
import { estimateRemainingMs } from "./monitor-decisions.js";
import type { InstanceRecord, Observations } from "./monitor-observations.js";
import {
  NON_SPOT_PRICES,
  currentQuotes,
  instanceCost,
  perGroupExtras,
  perInstanceHourExtras,
  type SpotQuote,
} from "./pricing.js";

export interface RunCost {
  /** epoch ms of the figures */
  at: number;
  instanceHours: number;
  /** USD so far (spot compute + the per-instance-hour lines); undefined when an observed type has no price */
  spentUsd: number | undefined;
  /** the part of `spentUsd` that is not spot compute (EBS, public IPv4, alarms) */
  otherUsd: number;
  /** USD per hour of the instances running now (the same lines) */
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
  /** USD per instance-hour besides spot compute (EBS, public IPv4, idle alarm); 0: spot compute only */
  otherPerInstanceHour = 0,
): RunCost {
  const byType: RunCost["byType"] = {};
  const unpriced = new Set<string>();
  let instanceHours = 0;
  let spent = 0;
  let burn = 0;
  let running = 0;
  for (const record of Object.values(instances)) {
    if (record.goneAt === undefined) running += 1;
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
  const otherUsd = instanceHours * otherPerInstanceHour;
  const spentUsd = complete ? spent + otherUsd : undefined;
  const burnPerHour = complete ? burn + running * otherPerInstanceHour : undefined;
  return {
    at: now,
    instanceHours,
    spentUsd,
    otherUsd,
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
  otherUsd?: number;
  projectedUsd?: number;
} {
  const round = (n: number) => Math.round(n * 10_000) / 10_000;
  return {
    at: cost.at,
    instanceHours: round(cost.instanceHours),
    ...(cost.spentUsd !== undefined ? { spentUsd: round(cost.spentUsd) } : {}),
    ...(cost.otherUsd > 0 ? { otherUsd: round(cost.otherUsd) } : {}),
    ...(cost.projectedUsd !== undefined ? { projectedUsd: round(cost.projectedUsd) } : {}),
  };
}

/**
 * The live cost in words, as `dcp status` prints it: "1.50 instance-hours, about $0.32 (spot compute $0.27,
 * EBS, IPv4 and alarms $0.05); projected total about $4.10". Says what is missing instead of guessing.
 */
export function formatRunCost(cost: RunCost, priceProblem: string | undefined): string {
  const hours = `${cost.instanceHours.toFixed(2)} instance-hours`;
  if (priceProblem) return `${hours}; cost estimate unavailable (${priceProblem})`;
  if (cost.spentUsd === undefined)
    return cost.unpriced.length ? `${hours}; no spot price found for ${cost.unpriced.join(", ")}` : hours;
  const split =
    cost.otherUsd > 0
      ? ` (spot compute ${cents(cost.spentUsd - cost.otherUsd)}, EBS, IPv4 and alarms ${cents(cost.otherUsd)})`
      : " at spot prices";
  const projected = cost.projectedUsd === undefined ? "" : `; projected total about ${cents(cost.projectedUsd)}`;
  return `${hours}, about ${cents(cost.spentUsd)}${split}${projected}`;
}

/** "$12.34": the run's cost figures (and the budget's) are read to the cent. */
export function cents(value: number): string {
  return `$${value.toFixed(2)}`;
}

/** How many plates a one-line per-plate cost names before "and N more". */
const LISTED_PLATES = 8;

/**
 * A finished run's cost in words (the teardown's summary and `dcp status`): "$0.53 = compute $0.50 +
 * storage $0.02 + rest $0.01" and "Plate1 $0.30, Plate2 $0.23 and 3 more" (plates sorted by name).
 */
export function costSummaryWords(costs: Omit<CostBreakdown, "byGroup">): { total: string; perPlate: string } {
  const plates = Object.entries(costs.byPlate).sort(([a], [b]) => a.localeCompare(b));
  const shown = plates.slice(0, LISTED_PLATES).map(([plate, c]) => `${plate} ${cents(c.totalUsd)}`);
  const more = plates.length > LISTED_PLATES ? ` and ${plates.length - LISTED_PLATES} more` : "";
  return {
    total: `${cents(costs.totalUsd)} = compute ${cents(costs.computeUsd)} + storage ${cents(costs.storageUsd)} + rest ${cents(costs.restUsd)}`,
    perPlate: `${shown.join(", ")}${more}`,
  };
}

/** A run's cost split as the summary gives it, in USD. */
export interface CostSplit {
  computeUsd: number;
  storageUsd: number;
  restUsd: number;
  totalUsd: number;
}

export interface CostBreakdown extends CostSplit {
  /** how the run's cost is shared out */
  basis: string;
  byPlate: Record<string, CostSplit>;
  byGroup: Record<string, CostSplit & { plate?: string }>;
}

export interface BreakdownInput {
  computeUsd: number;
  instanceHours: number;
  wallHours: number;
  /** EBS GB per instance, ASSIGN_IP, CREATE_DASHBOARD and EXPECTED_NUMBER_FILES of the run (its run.json) */
  ebsGb: number;
  assignIp: boolean;
  dashboard: boolean;
  outputFiles: number;
  /** every attempt of the run: its group, the group's Metadata_Plate, and how long it ran */
  attempts: readonly { metadataId: string; plate?: string | undefined; seconds: number }[];
}

function split(compute: number, storage: number, rest: number): CostSplit {
  return { computeUsd: compute, storageUsd: storage, restUsd: rest, totalUsd: compute + storage + rest };
}

function addInto(into: CostSplit | undefined, add: CostSplit): CostSplit {
  if (!into) return { ...add };
  return split(into.computeUsd + add.computeUsd, into.storageUsd + add.storageUsd, into.restUsd + add.restUsd);
}

/**
 * Cost per group and per plate (issue 14): compute (spot instances), storage (their EBS volumes) and the
 * rest (public IPv4, alarms, dashboard, log ingestion, SQS and S3 requests, from plan/pricing.ts) of the
 * whole run, shared out by each group's task time (all its attempts, failed ones included), so boots,
 * idle tails and retries are paid by the groups that caused the run. Pure.
 */
export function costBreakdown(input: BreakdownInput): CostBreakdown {
  const perHour = perInstanceHourExtras(input.ebsGb, input.assignIp);
  const groups = new Set(input.attempts.map((a) => a.metadataId));
  const perGroup = perGroupExtras(input.outputFiles);
  const storage = perHour.ebs * input.instanceHours;
  const rest =
    (perHour.ipv4 + perHour.alarm) * input.instanceHours +
    (input.dashboard ? (input.wallHours * NON_SPOT_PRICES.dashboardPerMonth) / NON_SPOT_PRICES.hoursPerMonth : 0) +
    (perGroup.logs + perGroup.sqs + perGroup.s3) * groups.size;
  const seconds = new Map<string, { seconds: number; plate?: string | undefined }>();
  for (const a of input.attempts) {
    const entry = seconds.get(a.metadataId) ?? { seconds: 0, plate: a.plate };
    entry.seconds += Math.max(0, a.seconds);
    seconds.set(a.metadataId, entry);
  }
  const totalSeconds = [...seconds.values()].reduce((s, g) => s + g.seconds, 0);
  const byGroup: CostBreakdown["byGroup"] = {};
  const byPlate: CostBreakdown["byPlate"] = {};
  for (const [id, g] of seconds) {
    const share = totalSeconds > 0 ? g.seconds / totalSeconds : 1 / seconds.size;
    const cost = split(input.computeUsd * share, storage * share, rest * share);
    byGroup[id] = { ...cost, ...(g.plate !== undefined ? { plate: g.plate } : {}) };
    const plate = g.plate ?? "(no Metadata_Plate)";
    byPlate[plate] = addInto(byPlate[plate], cost);
  }
  return {
    ...split(input.computeUsd, storage, rest),
    basis: "the run's compute, EBS and other costs shared out by each group's task time (all attempts)",
    byPlate,
    byGroup,
  };
}
