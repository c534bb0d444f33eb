/**
 * What a run's instances cost: their hours priced with the spot price history in force in each
 * instance's zone and type (plan/run-cost.ts, plan/pricing.ts). Used by the monitor at every reading
 * (cost so far, projection, budget), by the teardown's summary (with EC2's own launch and termination
 * times), and by `dcp status` (runCostNow).
 */
import type { EC2Client } from "@aws-sdk/client-ec2";
import { instanceLifetimes, spotPriceHistory } from "../aws/ec2.js";
import { describeAwsFailure, unlessNotFound } from "../aws/errors.js";
import { observedTypes, type CostEstimate } from "../plan/monitor-cost.js";
import type { InstanceRecord, Observations } from "../plan/monitor-observations.js";
import type { SpotQuote } from "../plan/pricing.js";
import { costBreakdown, remainingOf, runCost, type CostBreakdown, type RunCost } from "../plan/run-cost.js";
import { attemptKey, attemptRecordSchema, runLedgerKeys, runRecordSchema } from "../plan/ledger.js";
import { mapLimit } from "../concurrency.js";
import { listAttempts, readLedgerJson, type LedgerLocation } from "./ledger.js";
import type { RunClients } from "./clients.js";

/** The monitor reads the price history again after this long (prices change every few hours at most). */
export const PRICE_REFRESH_MS = 15 * 60_000;

function problemOf(err: unknown): string {
  const text = describeAwsFailure(err) ?? `${(err as { name?: string }).name ?? ""} ${(err as Error).message ?? ""}`;
  return `DescribeSpotPriceHistory failed: ${text.trim()}`;
}

/** The spot price history of the run's instance types since it started, read again when stale or when a type appears. */
export class PriceBook {
  private quotes: SpotQuote[] = [];
  private readAt = 0;
  private types = "";

  constructor(
    private readonly ec2: EC2Client,
    private readonly startedAt: Date,
  ) {}

  async quotesFor(instances: Readonly<Record<string, InstanceRecord>>, now: number): Promise<SpotQuote[]> {
    const types = observedTypes(instances);
    const key = types.join(",");
    if (types.length && (key !== this.types || now - this.readAt >= PRICE_REFRESH_MS)) {
      const points = await spotPriceHistory(this.ec2, types, this.startedAt, new Date(now));
      this.quotes = points.map((p) => ({
        type: p.type,
        zone: p.az ?? "",
        price: p.price,
        ...(p.at ? { at: p.at } : {}),
      }));
      this.readAt = now;
      this.types = key;
    }
    return this.quotes;
  }
}

/** Cost so far and projected total of a run from its observations (for `dcp status` and the monitor). */
export async function runCostNow(
  ec2: EC2Client,
  observations: Observations,
  startedAt: Date,
  now: number = Date.now(),
  book: PriceBook = new PriceBook(ec2, startedAt),
  /** USD per instance-hour besides spot compute (plan/pricing.ts perInstanceHourExtras); 0: compute only */
  otherPerInstanceHour = 0,
): Promise<{ cost: RunCost; problem?: string }> {
  try {
    const quotes = await book.quotesFor(observations.instances, now);
    return {
      cost: runCost(observations.instances, quotes, now, remainingOf(observations), otherPerInstanceHour),
    };
  } catch (err) {
    return { cost: runCost(observations.instances, [], now, undefined), problem: problemOf(err) };
  }
}

/**
 * The instance records with EC2's own launch and termination times where EC2 still knows them, so the
 * final cost is billed time, not the monitor's view of it (which lags by up to one reading).
 */
export async function withBilledTimes(
  ec2: EC2Client,
  instances: Readonly<Record<string, InstanceRecord>>,
): Promise<Record<string, InstanceRecord>> {
  const ids = Object.keys(instances);
  if (!ids.length) return { ...instances };
  const times = await instanceLifetimes(ec2, ids);
  return Object.fromEntries(
    Object.entries(instances).map(([id, record]) => {
      const t = times.get(id);
      const launchedAt = t?.launchedAt ?? record.launchedAt;
      const goneAt = t?.endedAt ?? record.goneAt;
      return [id, { ...record, launchedAt, ...(goneAt !== undefined ? { goneAt } : {}) }];
    }),
  );
}

/** The summary's cost: billed times, priced with the history in force. */
export async function priceEstimate(
  clients: Pick<RunClients, "ec2">,
  observations: Observations | undefined,
  startedAt: Date,
  endAt: number,
): Promise<{ estimate: CostEstimate; problem?: string }> {
  let instances = observations?.instances ?? {};
  try {
    instances = await withBilledTimes(clients.ec2, instances);
  } catch {
    // EC2 no longer answers for them: the monitor's own times stand.
  }
  let quotes: SpotQuote[] = [];
  let problem: string | undefined;
  try {
    quotes = await new PriceBook(clients.ec2, startedAt).quotesFor(instances, endAt);
  } catch (err) {
    problem = problemOf(err);
  }
  const cost = runCost(instances, quotes, endAt, 0);
  const byType: CostEstimate["byType"] = Object.fromEntries(
    Object.entries(cost.byType).map(([type, t]) => [
      type,
      {
        instanceHours: t.instanceHours,
        ...(t.usd !== undefined ? { dollars: t.usd } : {}),
        ...(t.usd !== undefined && t.instanceHours > 0 ? { pricePerHour: t.usd / t.instanceHours } : {}),
      },
    ]),
  );
  const anyPriced = Object.values(cost.byType).some((t) => t.usd !== undefined);
  const dollars = anyPriced ? Object.values(cost.byType).reduce((sum, t) => sum + (t.usd ?? 0), 0) : undefined;
  return {
    estimate: { instanceHours: cost.instanceHours, dollars, byType, unpriced: cost.unpriced },
    ...(problem ? { problem } : {}),
  };
}

/** Attempt records read for the per-group split at most (about one second per 1,000 at 32 in parallel). */
const BREAKDOWN_RECORDS = 50_000;

/**
 * The summary's cost per group and per plate, from the run ledger's attempt records (task times and the
 * groups' Metadata_Plate) and its run.json (the config's EBS size, ASSIGN_IP, dashboard, output files);
 * undefined when the run has no ledger.
 */
export async function ledgerCostBreakdown(
  at: LedgerLocation,
  runId: string,
  totals: { computeUsd: number; instanceHours: number; wallHours: number },
): Promise<CostBreakdown | undefined> {
  const listed = await unlessNotFound(listAttempts(at, runId));
  const attempts = (listed ?? []).slice(0, BREAKDOWN_RECORDS);
  if (!attempts.length) return undefined;
  const run = await readLedgerJson(at, runLedgerKeys(at.appName, runId).run, runRecordSchema);
  const config = run?.config ?? {};
  const num = (v: unknown, fallback: number) => (typeof v === "number" ? v : fallback);
  const records = await mapLimit(attempts, 32, async (a) => {
    const key = attemptKey(at.appName, runId, a.metadataId, a.attempt, a.outcome, a.cause);
    const record = await readLedgerJson(at, key, attemptRecordSchema);
    const seconds = record ? (Date.parse(record.endedAt) - Date.parse(record.startedAt)) / 1000 : 0;
    const plate = record?.group.find(([k]) => k === "Metadata_Plate")?.[1];
    return { metadataId: a.metadataId, plate, seconds: Number.isFinite(seconds) ? seconds : 0 };
  });
  return costBreakdown({
    ...totals,
    ebsGb: num(config.EBS_VOL_SIZE, 22),
    assignIp: config.ASSIGN_IP === true,
    dashboard: config.CREATE_DASHBOARD !== false,
    outputFiles: num(config.EXPECTED_NUMBER_FILES, 0),
    attempts: records,
  });
}
