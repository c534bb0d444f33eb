/**
 * `dcp workflow run` (issue 15) on the emulators, through the built CLI, with the TEST DOUBLE as
 * CellProfiler and one ECS agent stand-in per step (demo/workflow-flow.ts, shared with `make demo`).
 *
 * One scenario covers the acceptance points in sequence, to keep the suite short: a two-plate
 * illum → analysis → collect workflow whose illum step has a poison plate (the gate stops the
 * workflow naming it; after the fix, a re-run resubmits only that plate), then SIGKILL of
 * `dcp workflow run` during analysis and a re-run (illum not resubmitted, analysis resumed, nothing
 * left running, each group run once, duplicates counted), then the collated Parquet tables checked
 * against the per-group CSVs. Bad workflow files: exit 2, one line, nothing created.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DescribeServicesCommand } from "@aws-sdk/client-ecs";
import { ListQueuesCommand } from "@aws-sdk/client-sqs";
import { GetObjectCommand } from "@aws-sdk/client-s3";
import { describe, expect, it } from "vitest";
import { ecsClient } from "../src/aws/ecs.js";
import { listObjects, s3Client } from "../src/aws/s3.js";
import { sqsClient } from "../src/aws/sqs.js";
import { TEST_DOUBLE } from "../demo/flow.js";
import { parquetCounts, prepareWorkflowDemo } from "../demo/workflow-flow.js";
import { emulatorEnv, runDcp, tempDir, uniqueAppName } from "./harness/dcp.js";

const OBJECTS = ["Image", "Cells", "Nuclei", "Cytoplasm"] as const;
const ctx = { region: "us-east-1", profile: undefined };

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function until(what: string, check: () => boolean, timeoutMs = 90_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Rows of every `<Object>.csv` of the analysis groups in S3 (header excluded). */
async function csvRows(bucket: string, prefix: string): Promise<Record<string, number>> {
  const s3 = s3Client(ctx);
  const rows: Record<string, number> = {};
  for (const { key } of await listObjects(s3, bucket, prefix)) {
    const object = /\/([A-Za-z]+)\.csv$/.exec(key)?.[1];
    if (!object || !(OBJECTS as readonly string[]).includes(object)) continue;
    const body = await (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body!.transformToString();
    rows[object] = (rows[object] ?? 0) + body.trim().split("\n").length - 1;
  }
  return rows;
}

// The two tests share nothing (own folders and names): they run side by side.
describe.concurrent("dcp workflow run", () => {
  it("illum (poison plate: gate, fix, only it resubmitted) → analysis (SIGKILL, resumed) → collect: tables match the CSVs", async () => {
    const app = uniqueAppName("Wf");
    const lines: string[] = [];
    const log = (line: string) => lines.push(line);
    const demo = await prepareWorkflowDemo({
      workDir: tempDir("dcp-workflow-"),
      awsEnv: emulatorEnv(),
      appName: app,
      plates: 2,
      wells: 1,
      sites: 2,
      cellprofiler: TEST_DOUBLE,
      jobRetries: 1,
      log,
    });
    const output = () => lines.join("\n");
    // A workflow that never ends fails here, with its last lines, rather than at the test's timeout with none.
    const ended = async (run: ReturnType<typeof demo.run>, what: string) => {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<"late">((r) => (timer = setTimeout(() => r("late"), 150_000)));
      const code = await Promise.race([run.exited, late]).finally(() => clearTimeout(timer));
      if (code !== "late") return code;
      run.kill("SIGKILL");
      throw new Error(
        `${what}: dcp workflow run still running after 150 s; its last lines:\n${lines.slice(-80).join("\n")}`,
      );
    };
    try {
      // 1. Plate2 is poison in illum: the gate stops the workflow and names it.
      await demo.agent("illum", { FAKE_CP_POISON: "Metadata_Plate=Plate2" });
      await demo.agent("analysis", { FAKE_CP_SLEEP_MS: "1000" });
      expect(await ended(demo.run(), "first run"), output()).toBe(1);
      expect(output()).toMatch(/step illum: gate failed: 1 of 2 group\(s\) dead-lettered/);
      expect(output()).toMatch(/\n.*Metadata_Plate=Plate2/);
      expect(output()).toMatch(/dcp failures/);
      expect(output()).toMatch(/resubmits only these 1 group\(s\)/);
      expect(demo.state()!.steps.map((s) => s.phase)).toEqual(["gate-failed", "pending", "pending"]);
      expect(demo.runs().illum.sort()).toEqual(["Metadata_Plate=Plate1", "Metadata_Plate=Plate2"]);
      const status = await runDcp(["workflow", "status", "workflow.json"], { cwd: demo.workDir });
      expect(status.stdout).toMatch(/illum: gate-failed[\s\S]*failed: Metadata_Plate=Plate2/);

      // 2. Fixed: run again; only Plate2 is resubmitted, illum passes, analysis starts: SIGKILL it there.
      await demo.agent("illum");
      const second = demo.run();
      await until("the analysis step running its first groups", () => {
        const analysis = demo.state()?.steps.find((s) => s.name === "analysis");
        return analysis?.phase === "monitoring" && demo.runs().analysis.length >= 1;
      });
      const orphan = (JSON.parse(readFileSync(demo.statePath, "utf8")) as { child?: { pid: number } }).child;
      second.kill("SIGKILL");
      await second.exited;
      const illumRunsAtKill = demo.runs().illum.length;
      expect(demo.runs().illum.sort()).toEqual([
        "Metadata_Plate=Plate1",
        "Metadata_Plate=Plate2",
        "Metadata_Plate=Plate2",
      ]);
      expect(output()).toMatch(/step illum: attempt 2 with 1 group\(s\): resubmitting the groups that failed the gate/);

      // 3. Run again: illum is not redone, analysis resumes (its own run state file), collect runs.
      expect(await ended(demo.run(), "resumed run"), output()).toBe(0);
      expect(demo.runs().illum).toHaveLength(illumRunsAtKill);
      expect(output()).toMatch(/step illum: passed earlier; its outputs are all there \(CHECK_IF_DONE\)/);
      expect(output()).toMatch(/step analysis: continuing from monitoring/);
      expect(demo.state()!.steps.map((s) => s.phase)).toEqual(["passed", "passed", "passed"]);

      // Every analysis group ran; a group run twice could only be one the kill interrupted: count them.
      const analysisRuns = demo.runs().analysis;
      const twice = demo.groups.analysis.filter((id) => {
        const [plate, well, site] = id.split("-");
        const g = `Metadata_Plate=${plate},Metadata_Well=${well},Metadata_Site=${site}`;
        const n = analysisRuns.filter((r) => r === g).length;
        expect(n, `${g} ran ${n} times`).toBeGreaterThanOrEqual(1);
        return n > 1;
      });
      console.log(
        `workflow test: analysis groups run twice after the SIGKILL: ${twice.length} (${twice.join(", ") || "none"})`,
      );
      expect(twice.length).toBeLessThanOrEqual(1);

      // Nothing left running: the killed run's monitor stopped, both runs finished and torn down.
      if (orphan) expect(alive(orphan.pid)).toBe(false);
      for (const step of ["illum", "analysis"]) {
        const run = JSON.parse(
          readFileSync(join(demo.workDir, "files", `${app}-${step}SpotFleetRequestId.json`), "utf8"),
        );
        expect(run.dcp.status, step).toBe("finished");
        const { services = [] } = await ecsClient(ctx)
          .send(new DescribeServicesCommand({ cluster: `${app}Cluster`, services: [`${app}-${step}Service`] }))
          .catch(() => ({ services: [] }));
        expect(
          services.filter((s) => s.status === "ACTIVE"),
          step,
        ).toEqual([]);
      }
      const queues = await sqsClient(ctx).send(new ListQueuesCommand({ QueueNamePrefix: `${app}-` }));
      expect(queues.QueueUrls ?? []).toEqual([]);

      // Parquet rows = the per-group CSV rows; Metadata_Plate/Well/Site on every row.
      const expected = await csvRows(demo.bucket, "wf/analysis/");
      const counts = await parquetCounts(join(demo.workDir, "collated"), OBJECTS);
      for (const object of OBJECTS) {
        expect(counts[object]!.rows, object).toBe(expected[object]);
        expect(counts[object]!.withMetadata, object).toBe(counts[object]!.rows);
      }
      expect(counts.Image!.rows).toBe(4);
    } finally {
      await demo.stop();
      if (process.env.WORKFLOW_OUTPUT) writeFileSync(process.env.WORKFLOW_OUTPUT, output());
    }
  }, 300_000);

  it("bad workflow files exit 2 with one line naming the file and field, and create nothing", async () => {
    const dir = tempDir("dcp-workflow-bad-");
    const app = uniqueAppName("WfBad");
    mkdirSync(join(dir, "config"));
    writeFileSync(join(dir, "config", "config.json"), JSON.stringify({ APP_NAME: app, AWS_BUCKET: "wf-bad-bucket" }));
    writeFileSync(join(dir, "fleet.json"), readFileSync(new URL("../demo/demoFleet.json", import.meta.url)));
    writeFileSync(join(dir, "jobs.json"), readFileSync(new URL("fixtures/workflow/jobs.json", import.meta.url)));
    const step = (name: string, extra: object = {}) => ({ name, jobs: { file: "jobs.json" }, ...extra });
    const cases: Array<[string, object, RegExp]> = [
      [
        "unknown dependency",
        { fleet: "fleet.json", steps: [step("a", { dependsOn: ["ilum"] })] },
        /steps\[0\]\.dependsOn\[0\]: "ilum" is not a step of this workflow\. Fix: use one of: a/,
      ],
      [
        "cycle",
        { fleet: "fleet.json", steps: [step("a", { dependsOn: ["b"] }), step("b", { dependsOn: ["a"] })] },
        /the steps depend on each other in a cycle \(a -> b -> a\)/,
      ],
      [
        "missing job file",
        { fleet: "fleet.json", steps: [{ name: "a", jobs: { file: "nope.json" } }] },
        /steps\[0\]\.jobs\.file: the job file nope\.json does not exist/,
      ],
      [
        "override key not a config key",
        { fleet: "fleet.json", steps: [step("a", { config: { CHECK_IF_DONE_BOOL: true, MEMROY: 4000 } })] },
        /steps\[0\]\.config\.MEMROY: is not a config key\. Fix: did you mean "MEMORY"\?/,
      ],
      [
        "unknown make-jobs step",
        {
          fleet: "fleet.json",
          steps: [{ name: "a", jobs: { makeJobs: { step: "ilum", project: "P", batch: "B", plates: ["P1"] } } }],
        },
        /steps\[0\]\.jobs\.makeJobs: <step>: "ilum" is not a step/,
      ],
    ];
    for (const [label, body, message] of cases) {
      writeFileSync(join(dir, "wf.json"), JSON.stringify(body));
      const result = await runDcp(["workflow", "run", "wf.json"], { cwd: dir });
      expect(result.code, `${label}: ${result.stderr}`).toBe(2);
      expect(result.stderr.trim().split("\n"), label).toHaveLength(1);
      expect(result.stderr, label).toMatch(/^dcp: wf\.json: /);
      expect(result.stderr, label).toMatch(message);
    }
    expect(existsSync(join(dir, "files"))).toBe(false);
    const queues = await sqsClient(ctx).send(new ListQueuesCommand({ QueueNamePrefix: app }));
    expect(queues.QueueUrls ?? []).toEqual([]);

    // A good file: --dry-run lists the steps in dependency order and writes nothing.
    writeFileSync(
      join(dir, "wf.json"),
      JSON.stringify({
        fleet: "fleet.json",
        steps: [step("b", { dependsOn: ["a"] }), step("a", { config: { CHECK_IF_DONE_BOOL: false } })],
      }),
    );
    const dry = await runDcp(["workflow", "run", "wf.json", "--dry-run"], { cwd: dir });
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toMatch(
      new RegExp(`a: run ${app}-a [^\\n]*config CHECK_IF_DONE_BOOL[\\s\\S]*b: run ${app}-b[^\\n]*after a`),
    );
    expect(existsSync(join(dir, "files"))).toBe(false);
  });
});
