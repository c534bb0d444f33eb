/**
 * The run ledger end to end, through the built CLI (`make build` first) on the emulators, with the ECS
 * agent stand-in running workers (CellProfiler: the TEST DOUBLE test/fixtures/fake-cellprofiler):
 * setup → submit → start-cluster → one monitor reading that stops (a killed monitor) → `dcp status` from
 * a second folder calls the run UNATTENDED and billing → workers + monitor to the end. Then: one
 * attempt record per group (done, a poisoned group's pipeline-error, a missing data file's
 * missing-input) with the instance the agent placed it on, no open attempt left, run.json with the job
 * file submitted, summary.json, and `dcp status` from the second folder showing the monitor's figures.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { s3Client } from "../src/aws/s3.js";
import {
  attemptKey,
  attemptRecordSchema,
  heartbeatSchema,
  runLedgerKeys,
  runRecordSchema,
  summarySchema,
} from "../src/plan/ledger.js";
import { listAttempts, listOpenAttempts, readLedgerJson } from "../src/run/ledger.js";
import { runDcp, tempDir } from "./harness/dcp.js";
import type { EcsAgent } from "./harness/ecs-agent.js";
import { ctx } from "./monitor-helpers.js";
import { agentFor, folderOf, realApp, startRun, wells, writeJobFile } from "./real-aws-helpers.js";

let agent: EcsAgent | undefined;
afterAll(async () => {
  await agent?.stop();
});

it("workers, monitor and teardown leave a ledger that dcp status reads from a second folder", async () => {
  const [good, poison, missing] = wells(3);
  const app = await realApp({
    machines: 1,
    groups: [good!, poison!, missing!],
    extra: { JOB_RETRIES: 1, SQS_MESSAGE_VISIBILITY: 10 },
  });
  // The third group names a data file that is not in the bucket: missing input.
  writeJobFile(app.jobFile, [
    { Metadata: `Metadata_Plate=${good!.plate},Metadata_Well=${good!.well}` },
    { Metadata: `Metadata_Plate=${poison!.plate},Metadata_Well=${poison!.well}` },
    { Metadata: `Metadata_Plate=${missing!.plate},Metadata_Well=${missing!.well}`, data_file: "csv/absent.csv" },
  ]);
  const transcript: string[] = [];
  const dcp = async (args: string[], cwd = app.dir, timeoutMs = 120_000) => {
    const started = Date.now();
    const result = await runDcp(args, { cwd, timeoutMs });
    transcript.push(
      `$ dcp ${args.join(" ")} → ${result.code} (${Date.now() - started} ms)\n${result.stdout}${result.stderr}`,
    );
    return result;
  };
  const log = () => transcript.join("\n");

  const runId = await startRun(app, (args) => dcp(args));

  // A second folder with only APP_NAME, AWS_BUCKET and the region; the heartbeat limit in seconds, for the test.
  const elsewhere = tempDir("dcp-status-");
  mkdirSync(join(elsewhere, "config"));
  writeFileSync(
    join(elsewhere, "config", "config.json"),
    JSON.stringify({
      APP_NAME: app.app,
      AWS_BUCKET: app.bucket,
      AWS_REGION: "us-east-1",
      MONITOR_HEARTBEAT_TIMEOUT_MINUTES: 0.05,
    }),
  );
  const status = async () => {
    const result = await dcp(["status", "--json"], elsewhere);
    expect(result.code, log()).toBe(0);
    return JSON.parse(result.stdout) as Record<string, any>;
  };

  // One reading, then the monitor is gone: after the heartbeat limit (3 s here) the run is unattended and billing.
  expect((await dcp(["monitor", "--once", "--interval", "1"])).code, log()).toBe(0);
  await new Promise((resolve) => setTimeout(resolve, 3_500));
  const unattended = await status();
  expect([unattended.phase, unattended.billing], log()).toEqual(["unattended", true]);

  agent = agentFor(app, {
    pollMs: 1000,
    stopTimeoutSeconds: 5,
    extraEnv: { FAKE_CP_POISON: `Metadata_Well=${poison!.well}`, WORKER_IDLE_POLLS: "100000" },
  });
  const monitor = await dcp(["monitor", "--interval", "1"], app.dir, 180_000);
  await agent.stop();
  expect(monitor.code, log()).toBe(0);

  // One record per attempt, keyed by group, outcome and cause; nothing left open.
  const at = { s3: s3Client(ctx), bucket: app.bucket, appName: app.app };
  const attempts = await listAttempts(at, runId);
  expect(attempts.map((a) => `${a.metadataId} ${a.outcome} ${a.cause ?? ""}`.trim()).sort(), log()).toEqual(
    [
      `${folderOf(good!)} done`,
      `${folderOf(poison!)} failed pipeline-error`,
      `${folderOf(missing!)} failed missing-input`,
    ].sort(),
  );
  expect(await listOpenAttempts(at, runId)).toEqual([]);
  const poisoned = attempts.find((a) => a.cause === "pipeline-error")!;
  const record = await readLedgerJson(
    at,
    attemptKey(app.app, runId, poisoned.metadataId, poisoned.attempt, "failed", "pipeline-error"),
    attemptRecordSchema,
  );
  expect(record?.placement?.instanceId, log()).toMatch(/^i-/);
  expect(record?.lastLines.join("\n")).toMatch(/Error/);

  // run.json: the job file submitted (name, groups, hash), the config, the task definition; summary; finished.
  const keys = runLedgerKeys(app.app, runId);
  const run = await readLedgerJson(at, keys.run, runRecordSchema);
  expect(run?.jobs.map((j) => [j.name, j.groups, j.sha256])).toEqual([
    ["job.json", 3, createHash("sha256").update(readFileSync(app.jobFile)).digest("hex")],
  ]);
  expect(run?.config.APP_NAME).toBe(app.app);
  expect(run?.taskDefinition).toMatch(/:\d+$/);
  const summary = await readLedgerJson(at, keys.summary, summarySchema);
  expect(summary?.ledger).toMatchObject({
    done: 1,
    failed: 2,
    failedByCause: { "pipeline-error": 1, "missing-input": 1 },
  });
  // Cost per plate and per group (issue 14), split into compute, storage and the rest.
  expect(Object.keys(summary?.costs?.byPlate ?? {})).toEqual(["Plate 1"]);
  expect(Object.keys(summary?.costs?.byGroup ?? {}).sort()).toEqual(
    [good, poison, missing].map((g) => folderOf(g!)).sort(),
  );
  expect((await readLedgerJson(at, keys.heartbeat, heartbeatSchema))?.phase).toBe("finished");

  // dcp status from the second folder: the monitor's figures, the ledger's counts, finished.
  const finished = await status();
  const [, done, total] = /groups done: +(\d+) of (\d+)/.exec(monitor.stdout + monitor.stderr) ?? [];
  expect(finished.phase).toBe("finished");
  expect([finished.groups.done, finished.groups.total]).toEqual([Number(done), Number(total)]);
  expect([summary?.monitor.groupsDone, summary?.monitor.groupsTotal]).toEqual([Number(done), Number(total)]);
  expect(finished.ledger).toMatchObject({ done: 1, failed: 2, running: 0 });
  // ... and, once finished, the summary's cost: in all, split, per plate.
  expect(finished.cost.final, log()).toEqual({
    totalUsd: summary!.costs!.totalUsd,
    computeUsd: summary!.costs!.computeUsd,
    storageUsd: summary!.costs!.storageUsd,
    restUsd: summary!.costs!.restUsd,
    byPlate: { "Plate 1": summary!.costs!.byPlate["Plate 1"]!.totalUsd },
  });
  // The state file names the same run (status from the folder that started it).
  const byState = await dcp(["status", app.statePath, "--json"]);
  expect(byState.code, log()).toBe(0);
  expect(JSON.parse(byState.stdout)).toMatchObject({ runId, phase: "finished", ledger: { done: 1, failed: 2 } });
  const text = await dcp(["status"], elsewhere);
  if (process.env.LEDGER_E2E_OUTPUT) writeFileSync(process.env.LEDGER_E2E_OUTPUT, log());
  expect(text.stdout, log()).toMatch(/dcp status .* · spot-fleet sfr-/);
  expect(text.stdout).toMatch(/failed by cause: (missing-input 1, pipeline-error 1|pipeline-error 1, missing-input 1)/);
  expect(text.stdout).toMatch(/^cost: \$\d+\.\d\d = compute \$\d+\.\d\d \+ storage .* instance-hours\)$/m);
  expect(text.stdout).toMatch(/^per plate: Plate 1 \$\d+\.\d\d$/m);
});
