/**
 * dcp's one pricing module: every cost figure (estimate, monitor, status, summary, budget) takes its
 * non-spot unit prices from NON_SPOT_PRICES below and its spot prices from DescribeSpotPriceHistory
 * (passed in as data). Pure: no AWS calls, no files.
 *
 * Assumptions, next to the numbers:
 * - The table holds AWS's public list prices for us-east-1 (N. Virginia), as dated in `asOf`. They were
 *   copied into the code, not read at run time (AWS's Pricing API needs its own endpoint and permission,
 *   and moto has none). Other regions differ, mostly by 0-30 %; the estimate says which region it priced.
 * - Spot instances are billed per second, with a minimum of 60 s per launch (Linux, EC2 per-second
 *   billing), from the time the instance enters `running` until it is terminated, at the spot price in
 *   force in its zone and type (it changes over time; the price history says when).
 * - EBS volumes live as long as their instance (DeleteOnTermination, as dcp's fleet requests set it).
 * - Free tiers (10 alarms, 3 dashboards, 1 million SQS requests, 5 GB of logs a month) are NOT subtracted:
 *   the account may already use them, so the figure is an upper bound for these small lines.
 * NOT counted anywhere (see NOT_COUNTED): data transfer, S3 storage of images and results, ECR, taxes.
 */

/** What is deliberately left out of every dcp cost figure. */
export const NOT_COUNTED: readonly string[] = [
  "data transfer (a bucket in another region, internet egress, NAT gateways)",
  "S3 storage of the images and of the results, and S3 GET requests of the images",
  "ECR storage and pulls of the worker image",
  "free tiers and credits of the account; taxes",
];

export const NON_SPOT_PRICES = {
  /** The date these list prices were copied from AWS's price pages. */
  asOf: "2026-11-30",
  region: "us-east-1",
  source: "AWS public list prices for us-east-1, copied into src/plan/pricing.ts",
  /** Amazon EBS gp3 storage, USD per GB-month (3,000 IOPS and 125 MB/s included). */
  ebsGp3PerGbMonth: 0.08,
  /** Public IPv4 address, in use or idle, USD per hour (since 2024-02-01; DCP issue 182). */
  publicIpv4PerHour: 0.005,
  /** CloudWatch standard-resolution alarm, USD per alarm-month (prorated hourly). */
  alarmPerMonth: 0.1,
  /** CloudWatch dashboard, USD per dashboard-month (prorated hourly). */
  dashboardPerMonth: 3,
  /** CloudWatch Logs ingestion (standard class), USD per GB. */
  logIngestionPerGb: 0.5,
  /** SQS standard queue requests, USD per million (each 64 KiB chunk of a payload is one request). */
  sqsPerMillionRequests: 0.4,
  /** S3 Standard PUT, COPY, POST, LIST requests, USD per 1,000. */
  s3PutPer1000: 0.005,
  /** Hours in AWS's billing month. */
  hoursPerMonth: 730,
} as const;

/** Linux spot instances: per-second billing with a 60-second minimum per launch. */
export const MIN_BILLED_SECONDS = 60;

/**
 * Usage assumed per group where dcp cannot know it in advance, stated with every estimate.
 * - log bytes: the worker's lines plus CellProfiler's per group (measured with the test double: ~6 KB;
 *   a real pipeline prints more per module): 20 KB.
 * - SQS requests: send (a tenth of a SendMessageBatch), receive, delete, two visibility extensions, and
 *   empty long polls of idle loops (20 s each): 6 per group.
 * - S3 PUTs: EXPECTED_NUMBER_FILES outputs (or 10 when it is 0) plus the ledger's open and attempt records (2).
 */
export const USAGE_PER_GROUP = {
  logBytes: 20_000,
  sqsRequests: 6,
  ledgerPuts: 2,
  defaultOutputFiles: 10,
} as const;

/** Seconds from an instance's launch (billing starts) to its first task: boot, ECS agent, image pull. */
export const BOOT_SECONDS = 120;

/** Spot price in force for one type in one zone, from DescribeSpotPriceHistory. */
export interface SpotQuote {
  type: string;
  zone: string;
  /** USD per hour */
  price: number;
  /** epoch ms of the price change (absent: in force all along) */
  at?: number;
}

/** The quote in force per (type, zone) at `at`: the newest at or before it, else the oldest. */
export function currentQuotes(quotes: readonly SpotQuote[], at = Number.POSITIVE_INFINITY): SpotQuote[] {
  const byKey = new Map<string, SpotQuote[]>();
  for (const q of quotes) {
    const key = `${q.type}\u0000${q.zone}`;
    byKey.set(key, [...(byKey.get(key) ?? []), q]);
  }
  return [...byKey.values()].map((list) => {
    const sorted = [...list].sort((a, b) => (a.at ?? 0) - (b.at ?? 0));
    return sorted.filter((q) => (q.at ?? 0) <= at).at(-1) ?? sorted[0]!;
  });
}

/**
 * USD for one instance of `type` in `zone` running from `from` to `to` (epoch ms), integrating the
 * price history: each price applies from its timestamp until the next change. Before the oldest point
 * the oldest price applies. Zone points are preferred; without any, the mean over the type's zones.
 * undefined when the type has no price at all.
 */
export function instanceCost(
  quotes: readonly SpotQuote[],
  type: string,
  zone: string | undefined,
  from: number,
  to: number,
): number | undefined {
  const ofType = quotes.filter((q) => q.type === type);
  if (!ofType.length) return undefined;
  const billedTo = Math.max(to, from + MIN_BILLED_SECONDS * 1000);
  const inZone = zone ? ofType.filter((q) => q.zone === zone) : [];
  if (!inZone.length) {
    const zones = [...new Set(ofType.map((q) => q.zone))];
    const costs = zones.map((z) => instanceCost(ofType, type, z, from, to) ?? 0);
    return costs.reduce((a, b) => a + b, 0) / zones.length;
  }
  const points = [...inZone].sort((a, b) => (a.at ?? 0) - (b.at ?? 0));
  let dollars = 0;
  for (let i = 0; i < points.length; i++) {
    const start = i === 0 ? from : Math.max(from, points[i]!.at ?? from);
    const end = i + 1 < points.length ? Math.min(billedTo, points[i + 1]!.at ?? billedTo) : billedTo;
    if (end > start) dollars += ((end - start) / 3_600_000) * points[i]!.price;
  }
  return dollars;
}

/** Hourly USD of the non-compute lines that scale with instance-hours, per instance. */
export function perInstanceHourExtras(ebsGb: number, assignIp: boolean): { ebs: number; ipv4: number; alarm: number } {
  const p = NON_SPOT_PRICES;
  return {
    ebs: (ebsGb * p.ebsGp3PerGbMonth) / p.hoursPerMonth,
    ipv4: assignIp ? p.publicIpv4PerHour : 0,
    alarm: p.alarmPerMonth / p.hoursPerMonth,
  };
}

/** Their sum: USD per instance-hour besides spot compute (the monitor's live cost and budget). */
export function extrasPerInstanceHour(ebsGb: number, assignIp: boolean): number {
  const { ebs, ipv4, alarm } = perInstanceHourExtras(ebsGb, assignIp);
  return ebs + ipv4 + alarm;
}

/** USD of the lines that scale with groups (logs, SQS requests, S3 PUTs). */
export function perGroupExtras(outputFiles: number): { logs: number; sqs: number; s3: number } {
  const p = NON_SPOT_PRICES;
  const u = USAGE_PER_GROUP;
  return {
    logs: (u.logBytes / 1e9) * p.logIngestionPerGb,
    sqs: (u.sqsRequests / 1e6) * p.sqsPerMillionRequests,
    s3: ((outputFiles || u.defaultOutputFiles) + u.ledgerPuts) * (p.s3PutPer1000 / 1000),
  };
}

/** "$12.34" with cents, "$0.0012" below a cent. */
export function usd(value: number): string {
  if (value !== 0 && Math.abs(value) < 0.01) return `$${value.toPrecision(2)}`;
  return `$${value.toFixed(2)}`;
}

/** The line every estimate prints about where non-spot prices come from. */
export function priceTableNote(): string {
  const p = NON_SPOT_PRICES;
  return `non-spot prices: ${p.source}, as of ${p.asOf}; not counted: ${NOT_COUNTED.join("; ")}`;
}
