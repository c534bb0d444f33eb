/**
 * `dcp estimate`: what a run will cost before anything is created, as pure arithmetic over the job's
 * group count, seconds per group, the fleet's size and the prices (plan/pricing.ts). The model:
 *   - machines used = min(CLUSTER_MACHINES, ceil(groups / loops)), loops = TASKS_PER_MACHINE x DOCKER_CORES;
 *   - busy instance-hours = groups x seconds per group / loops;
 *   - each machine also pays its boot (BOOT_SECONDS), the monitor's tail decision (TAIL_DECISION_SECONDS:
 *     a machine with no task is terminated at the tail's next reading) and, at its end, the job loops that ran
 *     out of work while its last task finished (END_IDLE_SHARE of a task per idle loop);
 *   - wall time = boot + groups x seconds / (machines x loops) + the end of the slowest machine.
 * The ± range comes from the spot prices (cheapest to dearest zone and type), not from the model.
 */
import { wrapWords } from "./wrap.js";
import {
  BOOT_SECONDS,
  NON_SPOT_PRICES,
  USAGE_PER_GROUP,
  currentQuotes,
  perGroupExtras,
  perInstanceHourExtras,
  type SpotQuote,
} from "./pricing.js";

/**
 * How long a machine whose last task ended waits for the monitor's tail to terminate it: the tail reads every
 * 15 s (plan/monitor-tail.ts TAIL_INTERVAL_S, 7.5 s on average), lists the open records again TAIL_CONFIRM_MS
 * (3 s) later, and the machines idle at the tail's very start wait for its confirmation reading too (the bench's
 * model: 9 s per machine on average before the 3 s listing, about 12 s with it).
 */
export const TAIL_DECISION_SECONDS = 15;
/** When the queue runs dry, a machine's loops finish their last tasks at different times; the idle ones wait. */
export const END_IDLE_SHARE = 0.5;

export interface EstimateInput {
  groups: number;
  secondsPerGroup: number;
  /** where the seconds come from, e.g. "--seconds-per-group" or "median of 120 tasks of run sfr-..." */
  secondsSource: string;
  machines: number;
  tasksPerMachine: number;
  dockerCores: number;
  types: readonly string[];
  /** the fleet's zones (from its subnets); undefined when unknown: every zone quoted counts */
  zones: readonly string[] | undefined;
  /** spot prices; undefined when they could not be read (`quoteProblem` says why) */
  quotes: readonly SpotQuote[] | undefined;
  quoteProblem?: string;
  region: string;
  ebsGbPerInstance: number;
  assignIp: boolean;
  dashboard: boolean;
  outputFilesPerGroup: number;
  /** epoch ms the spot prices were read */
  pricedAt: number;
}

export interface RunShape {
  machinesUsed: number;
  wallSeconds: number;
  busyInstanceHours: number;
  instanceHours: number;
}

/** Machines used, wall time and instance-hours of a run (see the model above). */
export function runShape(groups: number, secondsPerGroup: number, machines: number, loops: number): RunShape {
  const machinesUsed = Math.max(1, Math.min(machines, Math.ceil(groups / loops)));
  const busyLoopSeconds = groups * secondsPerGroup;
  const endIdle = END_IDLE_SHARE * secondsPerGroup * ((loops - 1) / loops);
  const perMachineOverhead = BOOT_SECONDS + TAIL_DECISION_SECONDS + endIdle;
  const work = Math.max(secondsPerGroup, busyLoopSeconds / (machinesUsed * loops));
  return {
    machinesUsed,
    wallSeconds: BOOT_SECONDS + work + endIdle + TAIL_DECISION_SECONDS,
    busyInstanceHours: busyLoopSeconds / loops / 3600,
    instanceHours: (busyLoopSeconds / loops + machinesUsed * perMachineOverhead) / 3600,
  };
}

/**
 * The run's expected hours as `dcp estimate` gives them (its wall time), for start-cluster's EC2 Fleet
 * MaxTotalPrice (the budget per expected hour): the groups queued at the start, the seconds per group.
 */
export function expectedRunHours(
  groups: number,
  secondsPerGroup: number,
  config: { CLUSTER_MACHINES: number; TASKS_PER_MACHINE: number; DOCKER_CORES: number },
): number {
  const loops = config.TASKS_PER_MACHINE * config.DOCKER_CORES;
  return runShape(groups, secondsPerGroup, config.CLUSTER_MACHINES, loops).wallSeconds / 3600;
}

export interface EstimateLine {
  item: string;
  /** e.g. "41.9 instance-h x $0.0384/h" */
  quantity: string;
  source: string;
  /** undefined when a price is missing */
  usd: number | undefined;
  /** the dearest spot price (compute only) */
  highUsd?: number;
}

export interface PricedType {
  type: string;
  /** cheapest zone's price and the dearest, USD/h; undefined when no price */
  low?: { zone: string; price: number };
  high?: { zone: string; price: number };
}

export interface ScaleRow {
  machines: number;
  type: string;
  wallSeconds: number;
  instanceHours: number;
  usd: number | undefined;
}

export interface RunEstimate {
  groups: number;
  secondsPerGroup: number;
  secondsSource: string;
  loopsPerMachine: number;
  region: string;
  shape: RunShape;
  prices: PricedType[];
  /** the type and zone the allocation strategy would most likely pick (the cheapest), when priced */
  likely?: { type: string; zone: string; price: number };
  lines: EstimateLine[];
  totalUsd: number | undefined;
  range: { low: number; high: number } | undefined;
  /** figures that could not be computed, and why */
  missing: string[];
  scale: ScaleRow[];
  pricesAsOf: string;
  spotPricedAt: string;
  assumptions: string[];
}

/** Cheapest and dearest quote of each type within the fleet's zones. */
export function pricedTypes(
  types: readonly string[],
  quotes: readonly SpotQuote[],
  zones: readonly string[] | undefined,
): PricedType[] {
  const inForce = currentQuotes(quotes).filter((q) => !zones || zones.includes(q.zone));
  return types.map((type) => {
    const mine = inForce.filter((q) => q.type === type).sort((a, b) => a.price - b.price);
    const low = mine[0];
    const high = mine.at(-1);
    return {
      type,
      ...(low ? { low: { zone: low.zone, price: low.price } } : {}),
      ...(high ? { high: { zone: high.zone, price: high.price } } : {}),
    };
  });
}

const HOURS = (h: number) => `${h.toFixed(h < 10 ? 2 : 1)} instance-h`;

function extrasLines(input: EstimateInput, shape: RunShape): EstimateLine[] {
  const p = NON_SPOT_PRICES;
  const table = `price table ${p.asOf}`;
  const perHour = perInstanceHourExtras(input.ebsGbPerInstance, input.assignIp);
  const perGroup = perGroupExtras(input.outputFilesPerGroup);
  const h = shape.instanceHours;
  const files = input.outputFilesPerGroup || USAGE_PER_GROUP.defaultOutputFiles;
  const lines: EstimateLine[] = [
    {
      item: "EBS gp3",
      quantity: `${input.ebsGbPerInstance} GB x ${HOURS(h)} x $${p.ebsGp3PerGbMonth}/GB-month`,
      source: table,
      usd: perHour.ebs * h,
    },
  ];
  if (input.assignIp)
    lines.push({
      item: "public IPv4",
      quantity: `${HOURS(h)} x $${p.publicIpv4PerHour}/h (ASSIGN_IP)`,
      source: table,
      usd: perHour.ipv4 * h,
    });
  lines.push({
    item: "idle alarms",
    quantity: `one per instance: ${h.toFixed(1)} alarm-h x $${p.alarmPerMonth}/month`,
    source: table,
    usd: perHour.alarm * h,
  });
  if (input.dashboard)
    lines.push({
      item: "dashboard",
      quantity: `${(shape.wallSeconds / 3600).toFixed(1)} h x $${p.dashboardPerMonth}/month`,
      source: table,
      usd: (shape.wallSeconds / 3600) * (p.dashboardPerMonth / p.hoursPerMonth),
    });
  lines.push(
    {
      item: "log ingestion",
      quantity: `${input.groups} groups x ${USAGE_PER_GROUP.logBytes / 1000} KB x $${p.logIngestionPerGb}/GB`,
      source: `${table}; assumed bytes per group`,
      usd: perGroup.logs * input.groups,
    },
    {
      item: "SQS requests",
      quantity: `${input.groups * USAGE_PER_GROUP.sqsRequests} x $${p.sqsPerMillionRequests}/million`,
      source: `${table}; assumed ${USAGE_PER_GROUP.sqsRequests} per group`,
      usd: perGroup.sqs * input.groups,
    },
    {
      item: "S3 PUTs",
      quantity: `${input.groups * (files + USAGE_PER_GROUP.ledgerPuts)} x $${p.s3PutPer1000}/1,000`,
      source: `${table}; ${files} output files + ${USAGE_PER_GROUP.ledgerPuts} ledger records per group`,
      usd: perGroup.s3 * input.groups,
    },
  );
  return lines;
}

function extrasTotal(input: EstimateInput, shape: RunShape): number {
  return extrasLines(input, shape).reduce((sum, l) => sum + (l.usd ?? 0), 0);
}

function scaleTable(input: EstimateInput, loops: number, prices: PricedType[]): ScaleRow[] {
  const sizes = [...new Set([Math.max(1, Math.ceil(input.machines / 2)), input.machines, input.machines * 2])];
  const cheapest = prices.filter((t) => t.low).sort((a, b) => a.low!.price - b.low!.price)[0];
  const rowFor = (machines: number, type: string, price: number | undefined): ScaleRow => {
    const shape = runShape(input.groups, input.secondsPerGroup, machines, loops);
    const usd = price === undefined ? undefined : shape.instanceHours * price + extrasTotal(input, shape);
    return { machines, type, wallSeconds: shape.wallSeconds, instanceHours: shape.instanceHours, usd };
  };
  const byMachines = sizes.map((m) =>
    rowFor(m, cheapest?.type ?? input.types[0] ?? "?", cheapest?.low?.price ?? undefined),
  );
  const byType = prices
    .filter((t) => t.type !== cheapest?.type)
    .map((t) => rowFor(input.machines, t.type, t.low?.price));
  return [...byMachines, ...byType];
}

export function estimateRun(input: EstimateInput): RunEstimate {
  const loops = input.tasksPerMachine * input.dockerCores;
  const shape = runShape(input.groups, input.secondsPerGroup, input.machines, loops);
  const prices = input.quotes ? pricedTypes(input.types, input.quotes, input.zones) : [];
  const missing: string[] = [];
  if (!input.quotes) missing.push(`spot prices of ${input.types.join(", ")}: ${input.quoteProblem ?? "not read"}`);
  for (const t of prices)
    if (!t.low)
      missing.push(
        `spot price of ${t.type}${input.zones ? ` in ${input.zones.join(", ")}` : ""}: DescribeSpotPriceHistory returned none`,
      );
  const priced = prices.filter((t) => t.low);
  const cheapest = [...priced].sort((a, b) => a.low!.price - b.low!.price)[0];
  const dearest = [...priced].sort((a, b) => b.high!.price - a.high!.price)[0];
  const complete = input.quotes !== undefined && priced.length === input.types.length;
  const computeLow = cheapest ? shape.instanceHours * cheapest.low!.price : undefined;
  const computeHigh = dearest ? shape.instanceHours * dearest.high!.price : undefined;
  const compute: EstimateLine = {
    item: "compute (spot)",
    quantity: cheapest
      ? `${HOURS(shape.instanceHours)} x $${cheapest.low!.price.toFixed(4)}/h (${cheapest.type} in ${cheapest.low!.zone}, the cheapest)`
      : `${HOURS(shape.instanceHours)} x (spot price missing)`,
    source: `DescribeSpotPriceHistory, ${new Date(input.pricedAt).toISOString().slice(0, 16).replace("T", " ")} UTC`,
    usd: complete ? computeLow : undefined,
    ...(complete && computeHigh !== undefined ? { highUsd: computeHigh } : {}),
  };
  const lines = [compute, ...extrasLines(input, shape)];
  const extras = extrasTotal(input, shape);
  const totalUsd = complete && computeLow !== undefined ? computeLow + extras : undefined;
  return {
    groups: input.groups,
    secondsPerGroup: input.secondsPerGroup,
    secondsSource: input.secondsSource,
    loopsPerMachine: loops,
    region: input.region,
    shape,
    prices,
    ...(cheapest ? { likely: { type: cheapest.type, zone: cheapest.low!.zone, price: cheapest.low!.price } } : {}),
    lines,
    totalUsd,
    range:
      totalUsd !== undefined && computeHigh !== undefined ? { low: totalUsd, high: computeHigh + extras } : undefined,
    missing,
    scale: scaleTable(input, loops, prices),
    pricesAsOf: NON_SPOT_PRICES.asOf,
    spotPricedAt: new Date(input.pricedAt).toISOString(),
    assumptions: [
      `boot ${BOOT_SECONDS} s per machine (billed); idle machines terminated within two monitor readings (${TAIL_DECISION_SECONDS} s on average)`,
      `non-spot prices are us-east-1 list prices of ${NON_SPOT_PRICES.asOf}${input.region === NON_SPOT_PRICES.region ? "" : ` (this run is in ${input.region}: they may differ by up to ~30 %)`}`,
    ],
  };
}

/** "4 h 12 min", "35 min", "50 s". */
export function formatDuration(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  const m = Math.round(s / 60);
  if (m < 60) return `${m} min`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

/** Label column of the estimate's lines: "  compute (spot)   " (2 + 16 + 1). */
const LABEL_WIDTH = 19;

/** The estimate as the lines `dcp estimate` prints; `width`: the terminal's columns to wrap to (none: as they are). */
export function estimateLines(e: RunEstimate, usd: (n: number) => string, width?: number): string[] {
  const wrap = (text: string, indent: number) => wrapWords(text, indent, width);
  const out = [
    ...wrap(
      `${e.groups} groups x ${e.secondsPerGroup} s per group (${e.secondsSource}); ${e.shape.machinesUsed} machines x ${e.loopsPerMachine} job loops; ${e.region}`,
      2,
    ),
    `  wall time        about ${formatDuration(e.shape.wallSeconds)}`,
    `  instance-hours   ${e.shape.instanceHours.toFixed(2)} (${e.shape.busyInstanceHours.toFixed(2)} running tasks)`,
  ];
  for (const l of e.lines) {
    const amount = l.usd === undefined ? "missing" : usd(l.usd);
    const high = l.highUsd !== undefined && l.highUsd > (l.usd ?? 0) ? ` (up to ${usd(l.highUsd)})` : "";
    out.push(...wrap(`  ${l.item.padEnd(16)} ${amount}${high}  ${l.quantity}  [${l.source}]`, LABEL_WIDTH));
  }
  out.push(
    ...wrap(
      e.totalUsd === undefined
        ? `  total            unknown: ${e.missing.length ? "missing figures below" : "no price"}`
        : `  total            ${usd(e.totalUsd)}${e.range && e.range.high > e.range.low ? ` (range ${usd(e.range.low)} - ${usd(e.range.high)} across the fleet's zones and types)` : ""}`,
      LABEL_WIDTH,
    ),
  );
  for (const m of e.missing) out.push(...wrap(`  missing: ${m}`, 4));
  out.push("", "  machines  type           wall time     instance-h   cost");
  for (const r of e.scale)
    out.push(
      `  ${String(r.machines).padStart(8)}  ${r.type.padEnd(13)}  ${formatDuration(r.wallSeconds).padEnd(12)}  ${r.instanceHours.toFixed(1).padStart(10)}   ${r.usd === undefined ? "missing" : usd(r.usd)}`,
    );
  out.push("", ...e.assumptions.flatMap((a) => wrap(`  assumed: ${a}`, 4)));
  return out;
}
