/** The capacity wait of start-cluster, driven by scripted fleet readings and a fake clock. */
import { describe, expect, it } from "vitest";
import type { FleetStatus } from "../src/plan/fleet-status.js";
import { awaitCapacity, type CapacityWait } from "../src/flows/start-cluster.js";

interface Reading {
  status: FleetStatus | undefined;
  instances: string[];
}

function scripted(readings: Reading[], overrides: Partial<CapacityWait> = {}) {
  let i = 0;
  let now = 0;
  const current = () => readings[Math.min(i, readings.length - 1)]!;
  const newInstances: string[][] = [];
  const progress: string[] = [];
  const wait: CapacityWait = {
    fleetId: "sfr-1",
    fleet: {
      describe: async () => current().status,
      activeInstances: async () => {
        const { instances } = current();
        i += 1;
        return instances;
      },
    },
    createErrors: [],
    expectedTarget: 3,
    timeoutSeconds: 60,
    pollSeconds: 10,
    seen: new Set(),
    onNewInstances: async (ids) => void newInstances.push(ids),
    progress: (text) => progress.push(text),
    clock: { now: () => now, sleep: async (ms) => void (now += ms) },
    ...overrides,
  };
  return { wait, newInstances, progress, elapsed: () => now };
}

const fleet = (fulfilled: number, extra: Partial<FleetStatus> = {}): FleetStatus => ({
  id: "sfr-1",
  state: "active",
  target: 3,
  fulfilled,
  errors: [],
  ...extra,
});

describe("awaitCapacity", () => {
  it("reports progress, hands each new instance over once, and returns when fulfilled", async () => {
    const { wait, newInstances, progress } = scripted([
      { status: fleet(0, { activityStatus: "pending_fulfillment" }), instances: [] },
      { status: fleet(1), instances: ["i-1"] },
      { status: fleet(3, { activityStatus: "fulfilled" }), instances: ["i-1", "i-2", "i-3"] },
    ]);
    const outcome = await awaitCapacity(wait);
    expect(outcome).toEqual({ running: ["i-1", "i-2", "i-3"], target: 3, fulfilled: 3, partial: false });
    expect(newInstances).toEqual([["i-1"], ["i-2", "i-3"]]);
    expect(progress).toEqual(["fulfilled 0/3", "fulfilled 1/3", "fulfilled 3/3"]);
  });

  it("partial capacity at the timeout is not an error (DCP #107)", async () => {
    const { wait, elapsed } = scripted([{ status: fleet(2), instances: ["i-1", "i-2"] }], { timeoutSeconds: 25 });
    await expect(awaitCapacity(wait)).resolves.toEqual({
      running: ["i-1", "i-2"],
      target: 3,
      fulfilled: 2,
      partial: true,
    });
    expect(elapsed()).toBe(25_000);
  });

  it("--wait-timeout 0 takes one reading", async () => {
    const { wait, progress } = scripted([{ status: fleet(0), instances: [] }], { timeoutSeconds: 0 });
    expect((await awaitCapacity(wait)).partial).toBe(true);
    expect(progress).toHaveLength(1);
  });

  it("a fleet in error with no machine and no explanation fails, after alarming what it had", async () => {
    const { wait, newInstances } = scripted([
      { status: fleet(0), instances: ["i-1"] },
      { status: fleet(0, { activityStatus: "error" }), instances: [] },
    ]);
    await expect(awaitCapacity(wait)).rejects.toThrow(
      /fleet sfr-1 failed and was cancelled:\n {2}fleet activity status is error/,
    );
    expect(newInstances).toEqual([["i-1"]]);
  });

  it("with machines running, activity status error is ridden out and AWS's words shown once (DCP #107)", async () => {
    const warnings: string[] = [];
    const capacity =
      "allLaunchSpecsTemporarilyBlacklisted: There is no Spot capacity available that matches your request.";
    const { wait } = scripted(
      [
        { status: fleet(1), instances: ["i-1"] },
        { status: fleet(1, { activityStatus: "error", errors: [capacity] }), instances: ["i-1"] },
        { status: fleet(2, { activityStatus: "error", errors: [capacity] }), instances: ["i-1", "i-2"] },
      ],
      { timeoutSeconds: 40, warn: (text: string) => warnings.push(text) },
    );
    await expect(awaitCapacity(wait)).resolves.toMatchObject({ fulfilled: 2, partial: true });
    expect(warnings).toEqual([expect.stringContaining("There is no Spot capacity available")]);
  });

  it("configuration errors with no machine are fatal; capacity errors only wait; a fleet gone for 60 s is fatal", async () => {
    const launch = scripted([{ status: fleet(0), instances: [] }], {
      createErrors: ["InvalidParameterValue: bad subnet"],
    });
    await expect(awaitCapacity(launch.wait)).rejects.toThrow(/InvalidParameterValue: bad subnet/);
    const described = scripted(
      [{ status: fleet(0, { errors: ["UnfulfillableCapacity: no capacity"] }), instances: [] }],
      {
        timeoutSeconds: 30,
      },
    );
    await expect(awaitCapacity(described.wait)).resolves.toMatchObject({ fulfilled: 0, partial: true });
    // EC2 is eventually consistent: a new fleet that is not found yet is waited for, up to 60 s.
    const gone = scripted([{ status: undefined, instances: [] }], { timeoutSeconds: 600 });
    await expect(awaitCapacity(gone.wait)).rejects.toThrow(/no longer exists/);
    expect(gone.elapsed()).toBeGreaterThanOrEqual(60_000);
    expect(gone.progress[0]).toBe("waiting for AWS to show fleet sfr-1");
  });
});
