/**
 * Issue 10 acceptance: the main flow with the realism layer on (new ids invisible for 3 s, PutMetricAlarm
 * throttled at 3/s, 5 % of answers lost after the service acted (seeded), spot capacity short of the
 * target with a capacity error): setup → submit → start-cluster (6 machines) → workers (the ECS agent
 * stand-in) → monitor completes, every group lands in S3, reruns are counted and reported, and nothing
 * of the app is left. The built CLI (`make build` first) talks to the proxy; the checks talk to the
 * emulators directly. CellProfiler is the TEST DOUBLE test/fixtures/fake-cellprofiler.
 */
import { writeFileSync } from "node:fs";
import { afterAll, expect, it } from "vitest";
import { listObjects, s3Client } from "../src/aws/s3.js";
import { readRunState } from "../src/state/run-state.js";
import { emulatorEnv, runDcp } from "./harness/dcp.js";
import type { EcsAgent } from "./harness/ecs-agent.js";
import { startRealismProxy, type RealismProxy } from "./harness/realism-proxy.js";
import { ctx } from "./monitor-helpers.js";
import {
  NOTHING_OF_THE_APP,
  OUTPUT_PREFIX,
  agentFor,
  cellprofilerRuns,
  everythingLeft,
  folderOf,
  groupArg,
  realApp,
  startRun,
} from "./real-aws-helpers.js";

const GROUPS = 16;
const MACHINES = 6;
const AVAILABLE = 4; // spot capacity short of CLUSTER_MACHINES: activity status `error`, a capacity event

let proxy: RealismProxy | undefined;
let agent: EcsAgent | undefined;
afterAll(async () => {
  await agent?.stop();
  await proxy?.stop();
});

it("setup → submit → start-cluster (6) → workers → monitor completes through the realism layer; every group lands; nothing is left", async () => {
  proxy = await startRealismProxy({
    seed: 10,
    invisibleSeconds: 3,
    throttle: { PutMetricAlarm: 3 },
    lose: { share: 0.05 },
    capacity: { available: AVAILABLE },
  });
  // A lost ReceiveMessage answer hides its message for the visibility timeout: keep it short.
  const app = await realApp({ machines: MACHINES, groups: GROUPS, extra: { SQS_MESSAGE_VISIBILITY: 10 } });
  const env = proxy.env;
  const transcript: string[] = [];
  const steps: string[] = []; // durations, printed for the record (never asserted)
  const step = async (args: string[], timeoutMs = 120_000) => {
    const started = Date.now();
    const result = await runDcp(args, { cwd: app.dir, env, timeoutMs });
    steps.push(`${args[0]} ${((Date.now() - started) / 1000).toFixed(1)} s`);
    transcript.push(`$ dcp ${args.join(" ")} → ${result.code}\n${result.stdout}${result.stderr}`);
    return result;
  };

  const fleetId = await startRun(app, (args) => step(args));
  expect((await readRunState(app.statePath)).dcp.status).toBe("running");

  const agentLog: string[] = [];
  agent = agentFor(app, {
    awsEnv: env,
    controlEnv: emulatorEnv(),
    tasksPerInstance: 1,
    pollMs: 1000,
    stopTimeoutSeconds: 10,
    // Workers keep polling until ECS stops them (the service's deletion), as in a container.
    extraEnv: { FAKE_CP_ARGV_FILE: app.argvFile, WORKER_IDLE_POLLS: "100000" },
    log: (line) => agentLog.push(line),
  });
  const monitor = await step(["monitor", "--interval", "2"], 240_000);
  await agent.stop();
  const everything = `${transcript.join("\n")}\n--- agent ---\n${agentLog.slice(-80).join("\n")}`;
  if (process.env.REAL_AWS_OUTPUT)
    writeFileSync(process.env.REAL_AWS_OUTPUT, `${transcript.join("\n")}\n${agentLog.join("\n")}`);
  expect(monitor.code, everything).toBe(0);
  expect(
    agent.events.some((e) => e.kind === "started"),
    everything,
  ).toBe(true);

  // Every group's outputs are in S3.
  const keys = (await listObjects(s3Client(ctx), app.bucket, `${OUTPUT_PREFIX}/`)).map((o) => o.key);
  for (const group of app.groups)
    for (const file of ["Experiment.csv", "Image.csv", "Nuclei.csv"])
      expect(keys, everything).toContain(`${OUTPUT_PREFIX}/${folderOf(group)}/${file}`);

  // Reruns (a lost answer can make a group run twice): counted and reported, not forbidden.
  const runs = cellprofilerRuns(app).map(groupArg);
  const reruns = runs.length - new Set(runs).size;
  expect(new Set(runs)).toEqual(new Set(app.metadata));
  const faults: Record<string, number> = {};
  for (const r of proxy.requests()) if (r.fault) faults[r.fault] = (faults[r.fault] ?? 0) + 1;
  console.info(
    `[real-aws-flow] ${GROUPS} groups, ${runs.length} CellProfiler runs, ${reruns} rerun(s); proxy faults ${JSON.stringify(faults)}; ${steps.join(", ")}`,
  );
  // The monitor's summary counts each group once, reruns or not.
  expect(monitor.stdout + monitor.stderr).toMatch(new RegExp(`groups done: +${GROUPS} of ${GROUPS}\\b`));
  // The layer did act: answers were lost and new ids hidden.
  expect(faults.lost ?? 0).toBeGreaterThan(0);
  expect(faults.invisible ?? 0).toBeGreaterThan(0);

  // Nothing of the app is left: no job queue (the dead-letter queue is kept, as teardown documents).
  expect(await everythingLeft(app, fleetId), everything).toEqual(NOTHING_OF_THE_APP);
});
