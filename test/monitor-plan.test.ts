import { describe, expect, it } from "vitest";
import {
  CHEAPEST_AFTER_MS,
  alarmInstanceId,
  estimateRemainingMs,
  observe,
  planAlarms,
  planTarget,
  recordTargetChange,
  shouldTearDown,
  teardownHold,
  EMPTY_START_GRACE_MS,
  type Reading,
} from "../src/plan/monitor-decisions.js";
import { formatCost } from "../src/plan/monitor-cost.js";
import { parseObservations, runBaseline, type Observations } from "../src/plan/monitor-observations.js";
import { modifyFleetInput } from "../src/fleet/ec2-fleet.js";
import { modifySpotFleetInput } from "../src/fleet/spot-fleet.js";
import { MAX_COLUMNS, formatDuration, statusBlock, statusLine } from "../src/plan/monitor-view.js";

const HOUR = 3_600_000;

function reading(at: number, visible: number, inFlight: number, dlq = 0, live: Reading["live"] = []): Reading {
  return { at, visible, inFlight, dlq, live, fleet: { target: 3, fulfilled: 3, state: "active" } };
}

function run(readings: Reading[]): Observations {
  let o: Observations | undefined;
  for (const r of readings) o = observe(o, r);
  return o!;
}

describe("monitor progress", () => {
  it("counts done groups from the drained queue and dead letters from the DLQ's growth", () => {
    const o = run([reading(0, 18, 2, 5), reading(60_000, 10, 2, 5), reading(120_000, 0, 3, 6)]);
    expect(o.progress).toEqual({ total: 20, done: 16, deadLettered: 1, dlqBaseline: 5 });
  });

  it("counts from the queue start-cluster found, so groups finished before the first reading are done", () => {
    const baseline = runBaseline({
      dcp: { observations: { fleetTarget: 2, queuedAtStart: 50, deadLetteredAtStart: 4 } },
    });
    expect(baseline).toEqual({ queued: 50, deadLetter: 4 });
    const o = observe(undefined, reading(0, 40, 2, 5), baseline);
    expect(o.progress).toEqual({ total: 50, done: 7, deadLettered: 1, dlqBaseline: 4 });
    expect(runBaseline({ dcp: { observations: { fleetTarget: 2 } } })).toBeUndefined();
  });

  it("holds the teardown while a fleet started on an empty queue waits for its first jobs, then lets it go", () => {
    const from = (baseline: { queued: number; deadLetter: number } | undefined, ...rest: Reading[]) => {
      let o = observe(undefined, reading(0, 0, 0), baseline);
      for (const r of rest) o = observe(o, r);
      return o;
    };
    const empty = from({ queued: 0, deadLetter: 0 }, reading(1, 0, 0));
    expect(shouldTearDown(empty)).toBe(true);
    // The baseline survives the trip through the state file.
    const saved = parseObservations(JSON.parse(JSON.stringify(empty)))!;
    expect(teardownHold(saved, 0, 60_000)).toBe(EMPTY_START_GRACE_MS - 60_000);
    expect(teardownHold(saved, 0, EMPTY_START_GRACE_MS + 1)).toBe(0);
    expect(teardownHold(from({ queued: 5, deadLetter: 0 }, reading(1, 0, 0)), 0, 60_000)).toBe(0); // there was work: drained means done
    expect(teardownHold(from(undefined, reading(1, 0, 0)), 0, 60_000)).toBe(0); // no baseline recorded: DCP's behaviour
    const late = from({ queued: 0, deadLetter: 0 }, reading(1, 2, 0), reading(2, 0, 0), reading(3, 0, 0));
    expect(teardownHold(late, 0, 60_000)).toBe(0); // work arrived after the start
  });

  it("never lets done go down when approximate counts wobble, and grows total when more jobs arrive", () => {
    const o = run([reading(0, 10, 0), reading(1, 4, 2), reading(2, 5, 2), reading(3, 15, 1)]);
    expect(o.progress.done).toBe(4);
    expect(o.progress.total).toBe(20);
  });

  it("tears down only after two consecutive empty readings", () => {
    expect(shouldTearDown(run([reading(0, 1, 0), reading(1, 0, 0)]))).toBe(false);
    expect(shouldTearDown(run([reading(0, 0, 0), reading(1, 0, 1), reading(2, 0, 0)]))).toBe(false);
    expect(shouldTearDown(run([reading(0, 1, 0), reading(1, 0, 0), reading(2, 0, 0)]))).toBe(true);
  });

  it("records instances: launch time, last seen, and when they disappeared", () => {
    const o = run([
      reading(1000, 1, 1, 0, [
        { id: "i-0000000a", type: "m5.xlarge", az: "us-east-1a", launchedAt: 500 },
        { id: "i-0000000b" },
      ]),
      reading(2000, 1, 1, 0, [{ id: "i-0000000a" }]),
    ]);
    expect(o.instances["i-0000000a"]).toEqual({
      type: "m5.xlarge",
      az: "us-east-1a",
      launchedAt: 500,
      lastSeenAt: 2000,
    });
    expect(o.instances["i-0000000b"]).toEqual({ launchedAt: 1000, lastSeenAt: 1000, goneAt: 2000 });
  });

  it("survives a round trip through the state file, and ignores unreadable observations", () => {
    const o = run([reading(0, 3, 1, 0, [{ id: "i-0000000a" }])]);
    expect(parseObservations(JSON.parse(JSON.stringify(o)))).toEqual(o);
    expect(parseObservations({ version: 7 })).toBeUndefined();
  });
});

describe("idle alarms", () => {
  it("creates alarms for new instances and deletes those of gone instances, leaving other apps alone", () => {
    const plan = planAlarms(
      "Run",
      ["i-0000000a", "i-0000000c"],
      ["Run_i-0000000a", "Run_i-0000000b", "Run_2_i-0000000d", "Run_dashboard"],
    );
    expect(plan).toEqual({ create: ["i-0000000c"], delete: ["Run_i-0000000b"] });
    expect(alarmInstanceId("Run", "Run_2_i-0000000d")).toBeUndefined();
    expect(alarmInstanceId("Run", "Run_i-0123456789abcdef0")).toBe("i-0123456789abcdef0");
  });
});

describe("fleet target", () => {
  const fresh = { firstReadingAt: 0, cheapestApplied: false };
  it("lowers the target to the jobs in flight when nothing is waiting (0 visible, 3 in flight, 5 instances → 3)", () => {
    expect(
      planTarget({
        now: 1,
        visible: 0,
        inFlight: 3,
        liveInstances: 5,
        target: 5,
        cheapest: false,
        observations: fresh,
      }),
    ).toEqual({ from: 5, to: 3, reason: "drain" });
  });

  it("turns that decision into the EC2 Fleet and Spot Fleet requests the monitor sends (no termination)", () => {
    const change = planTarget({
      now: 1,
      visible: 0,
      inFlight: 3,
      liveInstances: 5,
      target: 5,
      cheapest: false,
      observations: fresh,
    })!;
    expect(modifyFleetInput("fleet-0123", change.to)).toEqual({
      FleetId: "fleet-0123",
      TargetCapacitySpecification: { TotalTargetCapacity: 3, SpotTargetCapacity: 3, DefaultTargetCapacityType: "spot" },
      ExcessCapacityTerminationPolicy: "no-termination",
    });
    expect(modifySpotFleetInput("sfr-0123", change.to)).toEqual({
      SpotFleetRequestId: "sfr-0123",
      TargetCapacity: 3,
      ExcessCapacityTerminationPolicy: "noTermination",
    });
  });

  it("does nothing while jobs wait, never raises the target, and leaves the empty queue to the teardown", () => {
    expect(
      planTarget({
        now: 1,
        visible: 2,
        inFlight: 3,
        liveInstances: 5,
        target: 5,
        cheapest: false,
        observations: fresh,
      }),
    ).toBeUndefined();
    expect(
      planTarget({
        now: 1,
        visible: 0,
        inFlight: 3,
        liveInstances: 5,
        target: 2,
        cheapest: false,
        observations: fresh,
      }),
    ).toBeUndefined();
    expect(
      planTarget({
        now: 1,
        visible: 0,
        inFlight: 0,
        liveInstances: 5,
        target: 5,
        cheapest: false,
        observations: fresh,
      }),
    ).toBeUndefined();
  });

  it("--cheapest drops the target to 1 once, 15 minutes after the monitor first looked", () => {
    const input = { visible: 9, inFlight: 3, liveInstances: 5, target: 5, cheapest: true, observations: fresh };
    expect(planTarget({ ...input, now: CHEAPEST_AFTER_MS - 1 })).toBeUndefined();
    const change = planTarget({ ...input, now: CHEAPEST_AFTER_MS });
    expect(change).toEqual({ from: 5, to: 1, reason: "cheapest" });
    const o = recordTargetChange(run([reading(0, 9, 3)]), change!, CHEAPEST_AFTER_MS);
    expect(planTarget({ ...input, now: 2 * CHEAPEST_AFTER_MS, observations: o })).toBeUndefined();
  });
});

describe("ETA, cost and display", () => {
  it("estimates the time left from the recent completion rate", () => {
    expect(
      estimateRemainingMs(
        [
          [0, 0],
          [60_000, 10],
        ],
        20,
      ),
    ).toBe(120_000);
    expect(
      estimateRemainingMs(
        [
          [0, 5],
          [60_000, 5],
        ],
        20,
      ),
    ).toBeUndefined();
    expect(estimateRemainingMs([], 0)).toBe(0);
    expect(
      estimateRemainingMs(
        [
          [0, 0],
          [HOUR, 10],
          [2 * HOUR, 30],
        ],
        40,
      ),
    ).toBe(2 * HOUR);
  });

  it("words a run's cost, naming the instance types it could not price", () => {
    const cost = {
      instanceHours: 5,
      dollars: 0.2,
      byType: { "m5.xlarge": { instanceHours: 2, dollars: 0.2 }, "c5.large": { instanceHours: 3 } },
      unpriced: ["c5.large"],
    };
    expect(formatCost(cost, undefined)).toBe(
      "5.00 instance-hours, about $0.20 at spot prices (without c5.large: no price)",
    );
    expect(formatCost(cost, "AccessDenied")).toContain("cost estimate unavailable (AccessDenied)");
  });

  it("fits the live block in 80 columns, even with long names and big numbers", () => {
    const o = run([reading(0, 123456, 9999, 0), reading(HOUR, 100000, 9999, 777)]);
    const view = {
      appName: "A".repeat(70),
      fleetLabel: "spot-fleet sfr-0123456789abcdef",
      observations: o,
      startedAt: 0,
      now: 50 * HOUR,
      intervalS: 60,
    };
    const block = statusBlock(view);
    expect(block).toHaveLength(5);
    for (const line of block) expect(line.length).toBeLessThan(MAX_COLUMNS);
    expect(block[1]).toMatch(/22679\/133455 done 16% {2}ETA 4h51m$/);
    expect(block[0]).toHaveLength(MAX_COLUMNS - 1);
    expect(statusLine(view)).toContain("dead-lettered 777");
    expect(formatDuration(50 * HOUR)).toBe("2d02h");
    expect(formatDuration(65_000)).toBe("1m05s");
  });
});
