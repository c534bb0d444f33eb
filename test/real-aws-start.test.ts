/**
 * Issue 10 acceptance, `dcp start-cluster` through the realism layer (test/harness/realism-proxy.ts),
 * the built CLI (`make build` first) as a user runs it; fleets are checked on the emulator directly.
 * - a fleet whose describe answers NotFound for its first seconds (EC2 eventual consistency) is waited
 *   for: the run is never marked finished and no fleet runs without a state file saying so (items 2, 15);
 * - an interrupted start (SIGINT while waiting for capacity) sends the cancel / delete, exit 130;
 * - a throttled PutMetricAlarm, or InvalidInstanceID.NotFound while tagging new instances' volumes,
 *   never cancels a healthy fleet: exit 0, fleet alive, a warning (item 3).
 */
import { existsSync } from "node:fs";
import { afterAll, describe, expect, it } from "vitest";
import { fleetApiOfId, fleetProvider } from "../src/fleet/registry.js";
import { readRunState } from "../src/state/run-state.js";
import { runDcp } from "./harness/dcp.js";
import { startRealismProxy, type ProxyOptions, type RealismProxy } from "./harness/realism-proxy.js";
import { ctx, startDcp, type FleetApi } from "./monitor-helpers.js";
import { fleetFile, liveFleetsOf, param, realApp, until, type RealApp } from "./real-aws-helpers.js";

const proxies: RealismProxy[] = [];
const apps: RealApp[] = [];
afterAll(async () => {
  // Fleets the tests left running are cancelled (on the emulator, not through a proxy).
  for (const app of apps)
    for (const id of await liveFleetsOf(app.app)) await (await fleetProvider(fleetApiOfId(id), ctx)).cancel(id);
  await Promise.all(proxies.map((p) => p.stop()));
});

async function prepared(fleetApi: FleetApi, options: ProxyOptions, machines = 2) {
  const proxy = await startRealismProxy({ seed: 3, ...options });
  proxies.push(proxy);
  const app = await realApp({ fleetApi, machines });
  apps.push(app);
  const setup = await runDcp(["setup"], { cwd: app.dir });
  expect(setup.code, setup.stderr).toBe(0);
  return { proxy, app, fleet: fleetFile(app, "fleet.json") };
}

/** Every live fleet of the app is the one its state file records as running. */
async function expectEveryFleetRecorded(app: RealApp): Promise<void> {
  const live = await liveFleetsOf(app.app);
  if (!live.length) return;
  expect(existsSync(app.statePath), `fleet ${live.join(", ")} runs without a state file`).toBe(true);
  const state = await readRunState(app.statePath);
  expect(live).toEqual([state.dcp.fleetId]);
  expect(state.dcp.status, `fleet ${live[0]} runs while the state file says ${state.dcp.status}`).toBe("running");
}

const CREATE = { "spot-fleet": "RequestSpotFleet", "ec2-fleet": "CreateFleet" } as const;
const DESCRIBE = { "spot-fleet": "DescribeSpotFleetRequests", "ec2-fleet": "DescribeFleets" } as const;
const CANCEL = { "spot-fleet": "CancelSpotFleetRequests", "ec2-fleet": "DeleteFleets" } as const;
const ID_PARAM = { "spot-fleet": "SpotFleetRequestId.1", "ec2-fleet": "FleetId.1" } as const;

describe.concurrent.each(["spot-fleet", "ec2-fleet"] as const)(
  "start-cluster through the realism layer (%s)",
  (api) => {
    it("a fleet invisible for its first seconds is waited for: exit 0, state running, fleet alive", async () => {
      const { proxy, app, fleet } = await prepared(api, { invisibleSeconds: 4 });
      const result = await runDcp(["start-cluster", fleet, "--wait-timeout", "40", "--poll-interval", "0.5"], {
        cwd: app.dir,
        env: proxy.env,
      });
      // Whatever the outcome, never a fleet without a state file saying it runs.
      await expectEveryFleetRecorded(app);
      expect(result.code, result.stdout + result.stderr).toBe(0);
      // The proxy did hide it at first (Spot Fleet: NotFound; EC2 Fleet: left out of DescribeFleets).
      if (api === "spot-fleet") expect(proxy.requests(DESCRIBE[api]).some((r) => r.fault === "invisible")).toBe(true);
      const state = await readRunState(app.statePath);
      expect(state.dcp.status).toBe("running");
      expect(await liveFleetsOf(app.app)).toEqual([state.dcp.fleetId]);
    });

    it("SIGINT while waiting for capacity sends the cancel/delete and exits 130", async () => {
      const { proxy, app, fleet } = await prepared(api, { capacity: { available: 1 } });
      const run = startDcp(["start-cluster", fleet, "--wait-timeout", "120", "--poll-interval", "0.5"], app.dir, {
        ...proxy.env,
      });
      // In the capacity wait: the fleet exists and has been described after its creation.
      await until(
        () =>
          run.child.exitCode !== null ||
          (proxy.requests(CREATE[api]).some((r) => r.status === 200) &&
            proxy.requests(DESCRIBE[api]).filter((r) => r.seq > proxy.requests(CREATE[api]).at(-1)!.seq).length >= 2),
        "start-cluster to wait for capacity",
      );
      expect(run.child.exitCode, run.output()).toBeNull();
      // Still waiting, not undoing a failed start: nothing cancelled yet.
      expect(proxy.requests(CANCEL[api]), run.output()).toEqual([]);
      const fleetId = (await readRunState(app.statePath)).dcp.fleetId;
      run.child.kill("SIGINT");
      const { code } = await run.exited;
      expect(code, run.output()).toBe(130);
      expect(run.output()).not.toMatch(/failed and was cancelled/);
      const cancels = proxy.requests(CANCEL[api]);
      expect(
        cancels.map((r) => param(r, ID_PARAM[api])),
        run.output(),
      ).toContain(fleetId);
      expect(await liveFleetsOf(app.app), run.output()).toEqual([]);
    });
  },
);

describe.concurrent("start-cluster: best-effort steps never cancel a healthy fleet", () => {
  it("PutMetricAlarm throttled (every call): exit 0, fleet alive and recorded, a warning", async () => {
    const { proxy, app, fleet } = await prepared(
      "spot-fleet",
      {
        throttle: { PutMetricAlarm: 3 },
        fail: [{ action: "PutMetricAlarm", error: { code: "Throttling", message: "Rate exceeded", status: 400 } }],
      },
      1,
    );
    const result = await runDcp(["start-cluster", fleet, "--wait-timeout", "30", "--poll-interval", "0.5"], {
      cwd: app.dir,
      env: proxy.env,
      timeoutMs: 180_000,
    });
    const output = result.stdout + result.stderr;
    expect(proxy.requests("PutMetricAlarm").length).toBeGreaterThan(0);
    expect(result.code, output).toBe(0);
    expect(proxy.requests(CANCEL["spot-fleet"]), output).toEqual([]);
    await expectEveryFleetRecorded(app);
    expect(await liveFleetsOf(app.app)).toHaveLength(1);
    expect(output).toMatch(/warning: .*alarm/i);
  });

  it("InvalidInstanceID.NotFound while tagging new instances' volumes: exit 0, fleet alive and recorded, a warning", async () => {
    const { proxy, app, fleet } = await prepared(
      "spot-fleet",
      {
        fail: [
          {
            action: "DescribeInstances",
            error: {
              code: "InvalidInstanceID.NotFound",
              message: "The instance IDs 'i-0123456789abcdef0' do not exist",
              status: 400,
            },
          },
        ],
      },
      1,
    );
    const result = await runDcp(["start-cluster", fleet, "--wait-timeout", "30", "--poll-interval", "0.5"], {
      cwd: app.dir,
      env: proxy.env,
      timeoutMs: 180_000,
    });
    const output = result.stdout + result.stderr;
    expect(proxy.requests("DescribeInstances").some((r) => r.fault === "failed")).toBe(true);
    expect(result.code, output).toBe(0);
    expect(proxy.requests(CANCEL["spot-fleet"]), output).toEqual([]);
    await expectEveryFleetRecorded(app);
    expect(await liveFleetsOf(app.app)).toHaveLength(1);
    expect(output).toMatch(/warning: /);
  });
});
