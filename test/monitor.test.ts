import { readFileSync } from "node:fs";
import { DescribeInstancesCommand, TerminateInstancesCommand } from "@aws-sdk/client-ec2";
import { ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import { describe, expect, it } from "vitest";
import { fleetProvider } from "../src/fleet/registry.js";
import { runDcp } from "./harness/dcp.js";
import {
  NOTHING_LEFT,
  alarmNamesOf,
  configuredApp,
  ctx,
  ec2,
  eventually,
  fleetState,
  fleetWithState,
  leftovers,
  sqs,
  startDcp,
  submitGroups,
  type FleetApi,
  type TestRun,
} from "./monitor-helpers.js";

async function runningStates(ids: string[]): Promise<string[]> {
  const out = await ec2.send(new DescribeInstancesCommand({ InstanceIds: ids }));
  return (out.Reservations ?? []).flatMap((r) => r.Instances ?? []).map((i) => i.State?.Name ?? "?");
}

/** A run of `machines` instances whose queue holds `inFlight` jobs, all received (in flight), none waiting. */
async function runWithJobsInFlight(
  api: FleetApi,
  machines: number,
  inFlight: number,
  prefix: string,
): Promise<TestRun> {
  const base = await configuredApp(api, machines, prefix);
  await submitGroups(base.app, inFlight);
  const run = await fleetWithState(base, machines);
  const received = await sqs.send(
    new ReceiveMessageCommand({
      QueueUrl: run.queueUrl,
      MaxNumberOfMessages: 10,
      VisibilityTimeout: 600,
      WaitTimeSeconds: 1,
    }),
  );
  expect(received.Messages).toHaveLength(inFlight);
  return run;
}

describe("dcp monitor", () => {
  it("downscale: 0 visible, 3 in flight, 5 instances -> fleet target 3, nothing terminated; teardown aborts the run", async () => {
    const run = await runWithJobsInFlight("spot-fleet", 5, 3, "Down");
    const instances = await (await fleetProvider("spot-fleet", ctx)).activeInstances(run.fleetId);
    expect(instances).toHaveLength(5);

    const result = await runDcp(["--config", run.configPath, "monitor", "--once"], { cwd: run.dir });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/fleet target 5 -> 3 \(3 jobs on 5 instances\); nothing terminated/);
    expect(await fleetState(run)).toEqual({ state: "active", target: 3 });
    expect(await runningStates(instances)).toEqual(Array(5).fill("running"));
    const state = JSON.parse(readFileSync(run.statePath, "utf8"));
    expect(state.dcp.status).toBe("running");
    expect(state.dcp.observations.downscales).toEqual([expect.objectContaining({ from: 5, to: 3, reason: "drain" })]);

    const aborted = await runDcp(["--config", run.configPath, "teardown"], { cwd: run.dir });
    expect(aborted.code, aborted.stderr).toBe(0);
    expect(aborted.stdout).toMatch(/3 group\(s\) not done \(0 waiting, 3 in flight\) go with the queue/);
    expect(await leftovers(run)).toEqual(NOTHING_LEFT);
  });

  it("dead alarm: an instance terminated outside dcp loses its alarm at the next poll; Ctrl-C stops without teardown (exit 130)", async () => {
    const base = await configuredApp("spot-fleet", 3, "Dead");
    await submitGroups(base.app, 4);
    const run = await fleetWithState(base, 3);
    const instances = await (await fleetProvider("spot-fleet", ctx)).activeInstances(run.fleetId);
    expect(await alarmNamesOf(run.app)).toEqual(instances.map((id) => `${run.app}_${id}`).sort());

    const monitor = startDcp(["--config", run.configPath, "monitor", "--interval", "1"], run.dir);
    await monitor.waitFor(/done 0\/4/);
    const [victim, ...survivors] = instances;
    await ec2.send(new TerminateInstancesCommand({ InstanceIds: [victim!] }));
    await eventually(async () => (await alarmNamesOf(run.app)).length === 2, "the dead instance's alarm to go");
    expect(await alarmNamesOf(run.app)).toEqual(survivors.map((id) => `${run.app}_${id}`).sort());
    await monitor.waitFor(/idle alarm deleted for 1 gone instance\(s\)/);

    monitor.child.kill("SIGINT");
    const { code } = await monitor.exited;
    expect(code).toBe(130);
    expect(monitor.output()).toMatch(/stopped watching; nothing was torn down/);
    expect(monitor.output()).toContain(`dcp monitor ${run.statePath.replace(`${run.dir}/`, "")}`);
    expect(monitor.output()).toContain(`dcp teardown ${run.statePath.replace(`${run.dir}/`, "")}`);
    expect((await fleetState(run)).state).toBe("active");
    expect(JSON.parse(readFileSync(run.statePath, "utf8")).dcp.status).toBe("running");

    const done = await runDcp(["--config", run.configPath, "teardown"], { cwd: run.dir });
    expect(done.code, done.stderr).toBe(0);
    expect(await leftovers(run)).toEqual(NOTHING_LEFT);
  });

  it("ec2-fleet: where ModifyFleet is missing (the emulator) the monitor says so once and keeps watching", async () => {
    const run = await runWithJobsInFlight("ec2-fleet", 3, 2, "Efl");
    const result = await runDcp(["--config", run.configPath, "monitor", "--once"], { cwd: run.dir });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(
      /warning: ModifyFleet is not available for fleet fleet-\S+ .*; the fleet keeps its target/,
    );
    expect(await fleetState(run)).toEqual({ state: "active", target: 3 });
    const done = await runDcp(["--config", run.configPath, "teardown"], { cwd: run.dir });
    expect(done.code, done.stderr).toBe(0);
    expect(await leftovers(run)).toEqual(NOTHING_LEFT);
  });

  it("a failing reading (EC2 unreachable) is reported and retried, not fatal", async () => {
    const run = await fleetWithState(await configuredApp("spot-fleet", 1, "Flaky"), 1);
    const monitor = startDcp(["--config", run.configPath, "monitor", "--interval", "1"], run.dir, {
      AWS_ENDPOINT_URL_EC2: "http://127.0.0.1:9",
    });
    await monitor.waitFor(/warning: reading failed \(1 in a row; giving up at 30\)/);
    monitor.child.kill("SIGINT");
    expect((await monitor.exited).code).toBe(130);
    const done = await runDcp(["--config", run.configPath, "teardown"], { cwd: run.dir });
    expect(done.code, done.stderr).toBe(0);
    expect(await leftovers(run)).toEqual(NOTHING_LEFT);
  });

  it("refuses a bad --interval with one clear error and touches nothing", async () => {
    const result = await runDcp(["monitor", "missing.json", "--interval", "0"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/--interval: must be at least 1 second\. Fix: pass a number of seconds/);
  });
});
