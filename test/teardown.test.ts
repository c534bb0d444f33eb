import { readFileSync } from "node:fs";
import { CreateServiceCommand, DeleteClusterCommand, DeleteServiceCommand } from "@aws-sdk/client-ecs";
import { describe, expect, it } from "vitest";
import { updateRunState } from "../src/state/run-state.js";
import { spawn } from "node:child_process";
import { DCP_BIN, emulatorEnv, runDcp } from "./harness/dcp.js";
import {
  NOTHING_LEFT,
  configuredApp,
  ecs,
  fleetState,
  fleetWithState,
  leftovers,
  startDcp,
  submitGroups,
  type FleetApi,
} from "./monitor-helpers.js";

function stateOf(path: string) {
  return JSON.parse(readFileSync(path, "utf8"));
}

describe("teardown", () => {
  it.each<[FleetApi, string]>([
    ["ec2-fleet", "cancel-fleet"],
    ["spot-fleet", "delete-service"],
  ])("crash: %s monitor SIGKILLed right after %s, run again: completes, nothing left", async (fleetApi, pauseAfter) => {
    const run = await fleetWithState(await configuredApp(fleetApi, 2, "Crash"), 2);
    const monitor = startDcp(["--config", run.configPath, "monitor", "--interval", "1"], run.dir, {
      DCP_TEARDOWN_PAUSE_AFTER: pauseAfter,
    });
    await monitor.waitFor(new RegExp(`paused after ${pauseAfter}`));
    monitor.child.kill("SIGKILL");
    expect((await monitor.exited).signal).toBe("SIGKILL");
    const killed = stateOf(run.statePath);
    expect(killed.dcp.status).toBe("tearing-down");
    expect(killed.dcp.teardown.completed).toContain(pauseAfter);
    expect(killed.dcp.teardown.completed).not.toContain("finish");

    const again = await runDcp(["--config", run.configPath, "monitor", "--interval", "1"], { cwd: run.dir });
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(new RegExp(`resuming the teardown of ${run.app} \\(done before: .*${pauseAfter}\\)`));
    expect(await leftovers(run)).toEqual(NOTHING_LEFT);
    expect(stateOf(run.statePath).dcp.status).toBe("finished");
  });

  it("on a terminal, asks before deleting a queue of unfinished groups: 'n' changes nothing (exit 1), 'y' tears down", async () => {
    const run = await fleetWithState(await configuredApp("spot-fleet", 2, "Ask"), 2);
    await submitGroups(run.app, 3);
    // `script` gives dcp a real terminal on stdin, as a person at a shell has.
    const onTerminal = (answer: string) =>
      new Promise<{ code: number | null; out: string }>((resolve) => {
        const child = spawn(
          "script",
          [
            "-qec",
            `${JSON.stringify(process.execPath)} ${JSON.stringify(DCP_BIN)} --config ${JSON.stringify(run.configPath)} teardown`,
            "/dev/null",
          ],
          {
            cwd: run.dir,
            env: { ...process.env, ...emulatorEnv() },
          },
        );
        let out = "";
        child.stdout.on("data", (c: Buffer) => {
          if (out.length < 20_000) out += c.toString();
          else child.kill("SIGKILL");
          if (out.includes("[y/N]") && !child.stdin.writableEnded) child.stdin.end(`${answer}\n`);
        });
        const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
        child.on("close", (code) => {
          clearTimeout(timer);
          resolve({ code, out });
        });
      });
    const declined = await onTerminal("n");
    expect(declined.out).toMatch(/3 group\(s\) not done .* Tear .* down now\? \[y\/N\]/);
    expect(declined.code, declined.out).toBe(1);
    expect(stateOf(run.statePath).dcp.status).toBe("running");
    expect(await fleetState(run)).toEqual({ state: "active", target: 2 });

    const accepted = await onTerminal("y");
    expect(accepted.code, accepted.out).toBe(0);
    expect(await leftovers(run)).toEqual(NOTHING_LEFT);
  });

  it("Ctrl-C in the middle of the teardown stops between steps (exit 130) and says how to finish", async () => {
    const run = await fleetWithState(await configuredApp("spot-fleet", 1, "Int"), 1);
    const monitor = startDcp(["--config", run.configPath, "monitor", "--interval", "1"], run.dir, {
      DCP_TEARDOWN_PAUSE_AFTER: "delete-alarms",
    });
    await monitor.waitFor(/paused after delete-alarms/);
    monitor.child.kill("SIGINT");
    expect((await monitor.exited).code).toBe(130);
    expect(monitor.output()).toMatch(/stopped mid-teardown; the steps done are recorded in the state file/);
    expect(monitor.output()).toMatch(/finish the teardown: dcp teardown files\/\S+SpotFleetRequestId\.json/);
    expect(stateOf(run.statePath).dcp.teardown.completed).toEqual(["scale-service", "delete-alarms"]);
    const finished = await runDcp(["--config", run.configPath, "teardown"], { cwd: run.dir });
    expect(finished.code, finished.stderr).toBe(0);
    expect(await leftovers(run)).toEqual(NOTHING_LEFT);
  });

  it("dcp teardown while a monitor watches: the monitor steps aside (exit 0) and nothing is left", async () => {
    const base = await configuredApp("spot-fleet", 2, "Aside");
    await submitGroups(base.app, 3);
    const run = await fleetWithState(base, 2);
    const monitor = startDcp(["--config", run.configPath, "monitor", "--interval", "1"], run.dir);
    await monitor.waitFor(/done 0\/3/);
    const aborted = await runDcp(["--config", run.configPath, "teardown"], { cwd: run.dir });
    expect(aborted.code, aborted.stderr).toBe(0);
    expect((await monitor.exited).code).toBe(0);
    expect(monitor.output()).toMatch(/the run is being torn down by another dcp/);
    expect(await leftovers(run)).toEqual(NOTHING_LEFT);
  });

  it("keeps a cluster that another service uses, and removes everything else of the run", async () => {
    const run = await fleetWithState(await configuredApp("spot-fleet", 1, "Shared"), 1);
    const cluster = `${run.app}Cluster`;
    await ecs.send(
      new CreateServiceCommand({
        cluster,
        serviceName: "SomeoneElsesService",
        taskDefinition: `${run.app}Task`,
        desiredCount: 0,
      }),
    );
    const result = await runDcp(["--config", run.configPath, "teardown"], { cwd: run.dir });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(
      new RegExp(`delete cluster ${cluster} if unused: kept: it runs other services \\(SomeoneElsesService\\)`),
    );
    expect(await leftovers(run)).toEqual({ ...NOTHING_LEFT, cluster: [cluster] });
    await ecs.send(new DeleteServiceCommand({ cluster, service: "SomeoneElsesService", force: true }));
    await ecs.send(new DeleteClusterCommand({ cluster }));
  });

  it("--dry-run prints the plan and changes nothing; a missing bucket is reported and the teardown still finishes; a second teardown has nothing to do", async () => {
    const run = await fleetWithState(await configuredApp("spot-fleet", 1, "Abort"), 1);
    await updateRunState(run.statePath, (s) => ({ ...s, MONITOR_BUCKET_NAME: `${run.bucket}-missing` }));

    const dry = await runDcp(["--config", run.configPath, "teardown", "--dry-run", "--json"], { cwd: run.dir });
    expect(dry.code, dry.stderr).toBe(0);
    const plan = JSON.parse(dry.stdout);
    expect(plan.steps.map((s: { id: string }) => s.id)).toEqual([
      "scale-service",
      "delete-alarms",
      "cancel-fleet",
      "delete-queue",
      "delete-service",
      "deregister-task-definitions",
      "export-logs",
      "export-instance-logs",
      "deregister-container-instances",
      "delete-cluster",
      "finish",
    ]);
    expect((await fleetState(run)).state).toBe("active");
    expect(stateOf(run.statePath).dcp.status).toBe("running");

    const result = await runDcp(["--config", run.configPath, "teardown", "--json"], { cwd: run.dir });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toMatch(
      new RegExp(`logs of ${run.app} not exported: bucket ${run.bucket}-missing does not exist`),
    );
    const summary = JSON.parse(result.stdout);
    expect(summary.steps.find((s: { id: string }) => s.id === "export-logs").outcome).toMatch(/^not exported: bucket/);
    expect(summary).toMatchObject({ appName: run.app, status: "finished" });
    expect(await leftovers(run)).toEqual(NOTHING_LEFT);
    expect(stateOf(run.statePath).dcp.teardown.completed).toContain("export-instance-logs");

    const second = await runDcp(["--config", run.configPath, "teardown"], { cwd: run.dir });
    expect(second.code).toBe(0);
    expect(second.stdout).toMatch(/already torn down/);
  });
});
