/** Issue 14, pure parts: the pricing module and `dcp estimate`'s model. */
import { describe, expect, it } from "vitest";
import { estimateLines, estimateRun, runShape, type EstimateInput } from "../src/plan/estimate.js";
import { MIN_BILLED_SECONDS, currentQuotes, instanceCost, perGroupExtras, usd } from "../src/plan/pricing.js";

const HOUR = 3_600_000;

describe("pricing", () => {
  it("integrates the price history in force: each price from its timestamp to the next change", () => {
    const quotes = [
      { type: "m5.xlarge", zone: "a", price: 0.1, at: 0 },
      { type: "m5.xlarge", zone: "a", price: 0.3, at: 2 * HOUR },
      { type: "m5.xlarge", zone: "b", price: 1, at: 0 },
    ];
    // 1 h at 0.1 then 1 h at 0.3, in zone a (zone b's price is not used)
    expect(instanceCost(quotes, "m5.xlarge", "a", HOUR, 3 * HOUR)).toBeCloseTo(0.4);
    // before the oldest point, the oldest price applies
    expect(instanceCost(quotes, "m5.xlarge", "a", -HOUR, 0)).toBeCloseTo(0.1);
    // an unknown zone: the mean over the type's zones
    expect(instanceCost(quotes, "m5.xlarge", "c", 0, HOUR)).toBeCloseTo((0.1 + 1) / 2);
    expect(instanceCost(quotes, "c5.xlarge", "a", 0, HOUR)).toBeUndefined();
  });

  it("bills at least 60 seconds per launch", () => {
    const quotes = [{ type: "t", zone: "a", price: 3.6 }];
    expect(instanceCost(quotes, "t", "a", 0, 1000)).toBeCloseTo((3.6 * MIN_BILLED_SECONDS) / 3600);
  });

  it("takes the quote in force at a time per zone and type", () => {
    const quotes = [
      { type: "t", zone: "a", price: 1, at: 10 },
      { type: "t", zone: "a", price: 2, at: 20 },
      { type: "t", zone: "b", price: 5, at: 30 },
    ];
    expect(currentQuotes(quotes, 15).map((q) => q.price)).toEqual([1, 5]);
    expect(currentQuotes(quotes).map((q) => q.price)).toEqual([2, 5]);
  });

  it("prices the per-group lines and formats dollars", () => {
    const g = perGroupExtras(3);
    expect(g.s3).toBeCloseTo((5 * 0.005) / 1000);
    expect(usd(12.345)).toBe("$12.35");
    expect(usd(0.00123)).toBe("$0.0012");
  });
});

const INPUT: EstimateInput = {
  groups: 1000,
  secondsPerGroup: 600,
  secondsSource: "--seconds-per-group",
  machines: 10,
  tasksPerMachine: 1,
  dockerCores: 4,
  types: ["m5.xlarge", "c5.xlarge"],
  zones: ["us-east-1a", "us-east-1b"],
  quotes: [
    { type: "m5.xlarge", zone: "us-east-1a", price: 0.05 },
    { type: "m5.xlarge", zone: "us-east-1b", price: 0.07 },
    { type: "m5.xlarge", zone: "us-east-1c", price: 0.01 },
    { type: "c5.xlarge", zone: "us-east-1a", price: 0.06 },
  ],
  region: "us-east-1",
  ebsGbPerInstance: 30,
  assignIp: true,
  dashboard: true,
  outputFilesPerGroup: 3,
  pricedAt: Date.UTC(2026, 11, 1),
};

describe("dcp estimate's model", () => {
  it("turns groups x seconds over machines x loops into wall time and instance-hours", () => {
    const shape = runShape(1000, 600, 10, 4);
    expect(shape.machinesUsed).toBe(10);
    expect(shape.busyInstanceHours).toBeCloseTo((1000 * 600) / 4 / 3600);
    expect(shape.instanceHours).toBeGreaterThan(shape.busyInstanceHours);
    expect(shape.wallSeconds).toBeGreaterThan((1000 * 600) / 40);
    // fewer groups than loops: only the machines that get work are counted
    expect(runShape(6, 600, 10, 4).machinesUsed).toBe(2);
  });

  it("prices with the cheapest zone of the fleet's zones and gives the range", () => {
    const e = estimateRun(INPUT);
    expect(e.likely).toEqual({ type: "m5.xlarge", zone: "us-east-1a", price: 0.05 });
    expect(e.missing).toEqual([]);
    const compute = e.lines[0]!;
    expect(compute.usd).toBeCloseTo(e.shape.instanceHours * 0.05);
    expect(compute.highUsd).toBeCloseTo(e.shape.instanceHours * 0.07);
    expect(e.totalUsd).toBeCloseTo(e.lines.reduce((s, l) => s + (l.usd ?? 0), 0));
    expect(e.range!.high - e.range!.low).toBeCloseTo(e.shape.instanceHours * 0.02);
    expect(e.lines.map((l) => l.item)).toEqual([
      "compute (spot)",
      "EBS gp3",
      "public IPv4",
      "idle alarms",
      "dashboard",
      "log ingestion",
      "SQS requests",
      "S3 PUTs",
    ]);
    // the table: half, same and double the machines, then the other type
    expect(e.scale.map((r) => [r.machines, r.type])).toEqual([
      [5, "m5.xlarge"],
      [10, "m5.xlarge"],
      [20, "m5.xlarge"],
      [10, "c5.xlarge"],
    ]);
    expect(e.scale[0]!.wallSeconds).toBeGreaterThan(e.scale[2]!.wallSeconds);
    const text = estimateLines(e, usd).join("\n");
    expect(text).toMatch(/compute \(spot\)\s+\$\d/);
    expect(text).toMatch(/\[price table \d{4}-\d\d-\d\d\]/);
  });

  it("says which figures are missing instead of guessing", () => {
    const none = estimateRun({ ...INPUT, quotes: undefined, quoteProblem: "DescribeSpotPriceHistory failed: network" });
    expect(none.totalUsd).toBeUndefined();
    expect(none.lines[0]!.usd).toBeUndefined();
    expect(none.missing.join("\n")).toMatch(/spot prices of m5.xlarge, c5.xlarge: DescribeSpotPriceHistory failed/);
    expect(estimateLines(none, usd).join("\n")).toMatch(/total\s+unknown/);
    const partial = estimateRun({ ...INPUT, quotes: INPUT.quotes!.filter((q) => q.type === "m5.xlarge") });
    expect(partial.totalUsd).toBeUndefined();
    expect(partial.missing).toEqual([
      "spot price of c5.xlarge in us-east-1a, us-east-1b: DescribeSpotPriceHistory returned none",
    ]);
  });
});
