/** Issue 14, pure parts: the pricing module and `dcp estimate`'s model. */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ec2FleetRequests } from "../src/fleet/ec2-fleet.js";
import { planBudget } from "../src/plan/budget.js";
import { costBreakdown, costRecord, formatRunCost, runCost } from "../src/plan/run-cost.js";
import { planTeardown } from "../src/plan/teardown-plan.js";
import { REPO_ROOT } from "./harness/process.js";
import { estimateLines, estimateRun, expectedRunHours, runShape, type EstimateInput } from "../src/plan/estimate.js";
import {
  MIN_BILLED_SECONDS,
  currentQuotes,
  instanceCost,
  perGroupExtras,
  perInstanceHourExtras,
  usd,
} from "../src/plan/pricing.js";

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

describe("cost so far, projection and budget", () => {
  const quotes = [
    { type: "m5.xlarge", zone: "a", price: 0.2 },
    { type: "c5.large", zone: "b", price: 0.1 },
  ];
  const instances = {
    "i-1": { type: "m5.xlarge", az: "a", launchedAt: 0, lastSeenAt: 2 * HOUR },
    "i-2": { type: "c5.large", az: "b", launchedAt: 0, lastSeenAt: HOUR, goneAt: HOUR },
  };

  it("prices each instance in its zone and type and projects with the running ones' burn rate", () => {
    const cost = runCost(instances, quotes, 2 * HOUR, HOUR);
    expect(cost.spentUsd).toBeCloseTo(2 * 0.2 + 0.1);
    expect(cost.burnPerHour).toBeCloseTo(0.2);
    expect(cost.projectedUsd).toBeCloseTo(0.5 + 0.2);
    expect(runCost(instances, quotes, 2 * HOUR, undefined).projectedUsd).toBeUndefined();
    expect(runCost(instances, quotes.slice(0, 1), 2 * HOUR, HOUR)).toMatchObject({
      spentUsd: undefined,
      unpriced: ["c5.large"],
    });
  });

  it("adds each instance-hour's EBS, public IPv4 and alarm to the cost so far, the burn and the projection", () => {
    const perHour = perInstanceHourExtras(30, true);
    const other = perHour.ebs + perHour.ipv4 + perHour.alarm;
    // 30 GB of gp3 ($0.08/GB-month over 730 h) + $0.005/h of IPv4 + one alarm ($0.10/month): about $0.0084/h
    expect(other).toBeCloseTo((30 * 0.08) / 730 + 0.005 + 0.1 / 730, 6);
    const cost = runCost(instances, quotes, 2 * HOUR, HOUR, other);
    // 3 instance-hours so far, 1 instance running
    expect(cost.otherUsd).toBeCloseTo(3 * other);
    expect(cost.spentUsd).toBeCloseTo(0.5 + 3 * other);
    expect(cost.burnPerHour).toBeCloseTo(0.2 + other);
    expect(cost.projectedUsd).toBeCloseTo(0.5 + 3 * other + 0.2 + other);
    expect(costRecord(cost).otherUsd).toBeCloseTo(3 * other, 4);
    // without the config (the summary's billed compute): spot compute only
    expect(runCost(instances, quotes, 2 * HOUR, HOUR).otherUsd).toBe(0);
    expect(costRecord(runCost(instances, quotes, 2 * HOUR, HOUR))).not.toHaveProperty("otherUsd");
  });

  it("words the live cost as dcp status prints it, with the split and the projection, or what is missing", () => {
    const other = perInstanceHourExtras(30, true);
    const cost = runCost(instances, quotes, 2 * HOUR, HOUR, other.ebs + other.ipv4 + other.alarm);
    expect(formatRunCost(cost, undefined)).toBe(
      "3.00 instance-hours, about $0.53 (spot compute $0.50, EBS, IPv4 and alarms $0.03); projected total about $0.73",
    );
    expect(formatRunCost(runCost(instances, quotes, 2 * HOUR, undefined), undefined)).toBe(
      "3.00 instance-hours, about $0.50 at spot prices",
    );
    expect(formatRunCost(runCost(instances, quotes.slice(0, 1), 2 * HOUR, HOUR), undefined)).toBe(
      "3.00 instance-hours; no spot price found for c5.large",
    );
    expect(formatRunCost(cost, "AccessDenied")).toBe("3.00 instance-hours; cost estimate unavailable (AccessDenied)");
  });

  it("warns once when the projection exceeds the budget, stops when one more interval would reach it", () => {
    const cost = { spentUsd: 5, burnPerHour: 36, projectedUsd: 20 };
    expect(planBudget({ budgetUsd: 10, cost, intervalMs: 60_000, warned: false })).toEqual({
      warn: expect.stringMatching(/projected total \$20\.00 exceeds the budget of \$10\.00/),
    });
    expect(planBudget({ budgetUsd: 10, cost, intervalMs: 60_000, warned: true })).toEqual({});
    // 5 + 36 $/h x (60 s + the termination) = 6.5 >= 6
    expect(planBudget({ budgetUsd: 6, cost, intervalMs: 60_000, warned: true }).stop).toMatch(
      /spent \$5\.00 of the budget of \$6\.00/,
    );
    expect(planBudget({ budgetUsd: 100, cost, intervalMs: 60_000, warned: false })).toEqual({});
  });

  it("the budget stop keeps the queue and what a new start needs; ec2-fleet gets MaxTotalPrice", () => {
    const plan = planTeardown({
      appName: "A",
      cluster: "C",
      serviceName: "S",
      taskFamily: "T",
      queueName: "Q",
      deadLetterQueueName: "D",
      fleetApi: "ec2-fleet",
      fleetId: "fleet-1",
      launchTemplateId: "lt-1",
      dashboardName: null,
      cleanDashboard: true,
      bucket: "b",
      logGroup: "L",
      perInstanceLogGroup: "L_perInstance",
      startTimeMs: 0,
      completed: [],
      stopOnly: true,
    });
    expect(plan.steps.map((s) => s.id)).toEqual([
      "scale-service",
      "delete-alarms",
      "cancel-fleet",
      "delete-launch-template",
      "finish",
    ]);
    expect(plan.kept[0]).toMatch(/job queue Q with the groups not done/);
    const fleet = JSON.parse(readFileSync(join(REPO_ROOT, "test/fixtures/fleets/dcp-original.json"), "utf8"));
    const config = {
      APP_NAME: "A",
      ECS_CLUSTER: "C",
      CLUSTER_MACHINES: 2,
      MACHINE_TYPE: ["m5.xlarge"],
      MACHINE_PRICE: null,
      EBS_VOL_SIZE: 22,
      ASSIGN_IP: false,
      BUDGET_USD: 50,
    };
    const request = ec2FleetRequests({ config, fleet, resolvedImageId: "ami-1", now: new Date(), expectedHours: 4 });
    expect(request.fleet("lt-1").SpotOptions?.MaxTotalPrice).toBe("12.5");
    expect(request.notes.join("\n")).toMatch(
      /MaxTotalPrice is \$12\.5\/h \(the budget over the estimated wall time, 4\.00 h\)/,
    );
    // No expected duration (start-cluster without --seconds-per-group): the whole budget per hour, said so.
    const unknown = ec2FleetRequests({ config, fleet, resolvedImageId: "ami-1", now: new Date() });
    expect(unknown.fleet("lt-1").SpotOptions?.MaxTotalPrice).toBe("50");
    expect(unknown.notes.join("\n")).toMatch(/\$50\/h \(the whole budget per hour: pass --seconds-per-group/);
    // start-cluster's expected hours are dcp estimate's wall time for the groups queued at the start.
    const shape = { CLUSTER_MACHINES: 2, TASKS_PER_MACHINE: 2, DOCKER_CORES: 2 };
    const estimate = estimateRun({
      groups: 1000,
      secondsPerGroup: 600,
      secondsSource: "--seconds-per-group",
      machines: 2,
      tasksPerMachine: 2,
      dockerCores: 2,
      types: ["m5.xlarge"],
      zones: undefined,
      quotes: undefined,
      region: "us-east-1",
      ebsGbPerInstance: 0,
      assignIp: false,
      dashboard: false,
      outputFilesPerGroup: 0,
      pricedAt: 0,
    });
    expect(expectedRunHours(1000, 600, shape)).toBeCloseTo(estimate.shape.wallSeconds / 3600, 9);
    expect(expectedRunHours(1000, 600, shape)).toBeGreaterThan((1000 * 600) / (2 * 4) / 3600);
  });
});

describe("cost per group and per plate", () => {
  it("splits compute, storage and the rest, and shares them out by task time", () => {
    const b = costBreakdown({
      computeUsd: 10,
      instanceHours: 100,
      wallHours: 10,
      ebsGb: 73,
      assignIp: true,
      dashboard: false,
      outputFiles: 3,
      attempts: [
        { metadataId: "P1-A01", plate: "P1", seconds: 100 },
        { metadataId: "P1-A01", plate: "P1", seconds: 100 }, // a retry counts against its group
        { metadataId: "P1-A02", plate: "P1", seconds: 100 },
        { metadataId: "P2-A01", plate: "P2", seconds: 100 },
      ],
    });
    expect(b.computeUsd).toBe(10);
    expect(b.storageUsd).toBeCloseTo(((73 * 0.08) / 730) * 100);
    expect(b.restUsd).toBeGreaterThan(100 * 0.005);
    expect(b.totalUsd).toBeCloseTo(b.computeUsd + b.storageUsd + b.restUsd);
    expect(b.byGroup["P1-A01"]!.computeUsd).toBeCloseTo(5);
    expect(b.byGroup["P2-A01"]).toMatchObject({ computeUsd: 2.5, plate: "P2" });
    expect(b.byPlate.P1!.totalUsd).toBeCloseTo(0.75 * b.totalUsd);
    expect(b.byPlate.P2!.totalUsd + b.byPlate.P1!.totalUsd).toBeCloseTo(b.totalUsd);
  });
});
