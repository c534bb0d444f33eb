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

  it("a fleet in error fails with AWS's words, after alarming the instances it had", async () => {
    const { wait, newInstances } = scripted([
      { status: fleet(1), instances: ["i-1"] },
      { status: fleet(1, { activityStatus: "error" }), instances: ["i-1"] },
    ]);
    await expect(awaitCapacity(wait)).rejects.toThrow(
      /fleet sfr-1 failed and was cancelled:\n {2}fleet activity status is error/,
    );
    expect(newInstances).toEqual([["i-1"]]);
  });

  it("EC2 Fleet launch errors from CreateFleet or DescribeFleets are fatal, and so is a fleet that vanished", async () => {
    const launch = scripted([{ status: fleet(0), instances: [] }], {
      createErrors: ["InvalidParameterValue: bad subnet"],
    });
    await expect(awaitCapacity(launch.wait)).rejects.toThrow(/InvalidParameterValue: bad subnet/);
    const described = scripted([
      { status: fleet(0, { errors: ["UnfulfillableCapacity: no capacity"] }), instances: [] },
    ]);
    await expect(awaitCapacity(described.wait)).rejects.toThrow(/UnfulfillableCapacity: no capacity/);
    const gone = scripted([{ status: undefined, instances: [] }]);
    await expect(awaitCapacity(gone.wait)).rejects.toThrow(/no longer exists/);
  });
});
