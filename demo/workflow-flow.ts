/**
 * A Cell Painting workflow on the local emulators: illum per plate → analysis per site → collect,
 * run by ONE command, `dcp workflow run workflow.json`. Shared by `make demo` (demo/demo.ts) and the
 * acceptance test (test/workflow.test.ts), so neither can rot.
 *
 * Nothing runs an ECS task on the emulator, so one ECS agent stand-in per step (test/harness/ecs-agent.ts)
 * starts `dcp worker` processes when that step's service scales up, with the step's task definition
 * environment, and stops them when it scales down. The CellProfiler is the TEST DOUBLE unless given.
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CreateBucketCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { s3Client } from "../src/aws/s3.js";
import { fleetFromStateFile, startEcsAgent, type EcsAgent } from "../test/harness/ecs-agent.js";
import type { FlowOptions } from "./flow.js";
import { EXAMPLE_CHANNELS, exampleLoadData, mountExampleImages } from "../test/harness/example-data.js";
import { REPO_ROOT, startDcp, type DcpProcess } from "../test/harness/process.js";

const PIPELINES = join(REPO_ROOT, "test/fixtures/workflow");
export const ANALYSIS_STRUCTURE = "Metadata_Plate/analysis/Metadata_Plate-Metadata_Well-Metadata_Site";
export const STEPS = ["illum", "analysis"] as const;
export type RunStepName = (typeof STEPS)[number];

export interface WorkflowDemoOptions extends Pick<
  FlowOptions,
  "workDir" | "awsEnv" | "appName" | "plates" | "wells" | "sites" | "cellprofiler"
> {
  jobRetries: number;
  log: (line: string) => void;
}

export interface WorkflowDemo {
  workDir: string;
  bucket: string;
  workflowFile: string;
  statePath: string;
  /** Group ids per step, e.g. Plate1 (illum) and Plate1-A01-1 (analysis). */
  groups: Record<RunStepName, string[]>;
  /** CellProfiler runs so far, as `-g` strings, from the test double's argv log, per step. */
  runs(): Record<RunStepName, string[]>;
  /** Starts (or replaces) a step's ECS agent with extra worker variables (FAKE_CP_POISON...). */
  agent(step: RunStepName, extraEnv?: Record<string, string>): Promise<void>;
  /** `dcp workflow run workflow.json` as a child process. */
  run(extraArgs?: string[]): DcpProcess;
  /** The workflow state file, parsed. */
  state(): { steps: Array<{ name: string; phase: string; rows?: Record<string, number> }> } | undefined;
  stop(): Promise<void>;
}

export async function prepareWorkflowDemo(options: WorkflowDemoOptions): Promise<WorkflowDemo> {
  const { workDir, awsEnv, appName, log } = options;
  const env: NodeJS.ProcessEnv = { ...process.env, ...awsEnv, CI: "true" };
  const ctx = { region: awsEnv.AWS_REGION ?? "us-east-1", profile: undefined };
  const bucket = `${appName.toLowerCase().replace(/[^a-z0-9-]/g, "-")}-wf`;
  const cluster = `${appName}Cluster`;
  const mountRoot = join(workDir, "bucket");
  mountExampleImages(mountRoot);
  for (const dir of ["config", "files", "container"]) mkdirSync(join(workDir, dir), { recursive: true });

  // One LoadData row per plate × well × site, all naming the example's three images.
  const rows: Array<Array<string | number>> = [];
  const analysisGroups: string[] = [];
  const plates: string[] = [];
  for (let p = 1; p <= options.plates; p++) {
    plates.push(`Plate${p}`);
    for (let w = 1; w <= options.wells; w++)
      for (let site = 1; site <= options.sites; site++) {
        const well = `A${String(w).padStart(2, "0")}`;
        rows.push([`Plate${p}`, well, site]);
        analysisGroups.push(`Plate${p}-${well}-${site}`);
      }
  }
  const csvPath = join(workDir, "load_data.csv");
  writeFileSync(csvPath, exampleLoadData(["Metadata_Plate", "Metadata_Well", "Metadata_Site"], rows));

  const config = {
    APP_NAME: appName,
    ECS_CLUSTER: cluster,
    SQS_DEAD_LETTER_QUEUE: `${appName}_DeadMessages`,
    AWS_REGION: ctx.region,
    AWS_BUCKET: bucket,
    CLUSTER_MACHINES: 1,
    TASKS_PER_MACHINE: 1,
    MACHINE_TYPE: ["m5.xlarge"],
    DOCKER_CORES: 1,
    SECONDS_TO_START: 0,
    SQS_MESSAGE_VISIBILITY: 30,
    JOB_RETRIES: options.jobRetries,
    CHECK_IF_DONE_BOOL: true,
    LOG_RETENTION_DAYS: 1,
    CELLPROFILER_COMMAND: options.cellprofiler,
    MOUNT_ROOT: mountRoot,
    WORK_DIR: join(workDir, "scratch"),
    WORKER_POLL_SECONDS: 1,
    WORKER_IDLE_POLLS: 2,
    SPOT_NOTICE_URL: null,
  };
  writeFileSync(join(workDir, "config", "config.json"), `${JSON.stringify(config, null, 2)}\n`);
  copyFileSync(join(REPO_ROOT, "demo/demoFleet.json"), join(workDir, "fleet.json"));

  const s3 = s3Client(ctx);
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  const put = (Key: string, Body: Buffer) => s3.send(new PutObjectCommand({ Bucket: bucket, Key, Body }));
  await put("wf/pipelines/illum.cppipe", readFileSync(join(PIPELINES, "illum.cppipe")));
  await put("wf/pipelines/analysis.cppipe", readFileSync(join(PIPELINES, "analysis.cppipe")));
  await put("wf/load_data_csv/load_data.csv", readFileSync(csvPath));
  log(`s3://${bucket}/wf/: the illum and analysis pipelines and a LoadData CSV of ${rows.length} image sets`);

  const workflow = {
    $schema: join(REPO_ROOT, "config/workflow.schema.json"),
    name: "cellpainting",
    fleet: "fleet.json",
    steps: [
      {
        name: "illum",
        jobs: {
          fromCsv: {
            csv: "load_data.csv",
            groupBy: ["Metadata_Plate"],
            pipeline: "wf/pipelines/illum.cppipe",
            dataFile: "wf/load_data_csv/load_data.csv",
            output: "wf/illum",
            outputStructure: "Metadata_Plate",
          },
        },
        // The illumination step writes one .npy per channel: that is what "done" means for it.
        config: { EXPECTED_NUMBER_FILES: EXAMPLE_CHANNELS.length, NECESSARY_STRING: ".npy" },
      },
      {
        name: "analysis",
        dependsOn: ["illum"],
        jobs: {
          fromCsv: {
            csv: "load_data.csv",
            groupBy: ["Metadata_Plate", "Metadata_Well", "Metadata_Site"],
            pipeline: "wf/pipelines/analysis.cppipe",
            dataFile: "wf/load_data_csv/load_data.csv",
            output: "wf/analysis",
            outputStructure: ANALYSIS_STRUCTURE,
          },
        },
        config: { EXPECTED_NUMBER_FILES: 5, NECESSARY_STRING: ".csv" },
      },
      { name: "collect", collect: { from: "analysis", out: "collated" } },
    ],
  };
  const workflowFile = join(workDir, "workflow.json");
  writeFileSync(workflowFile, `${JSON.stringify(workflow, null, 2)}\n`);

  const argvLog = join(workDir, "cellprofiler-runs.jsonl");
  const agents = new Map<RunStepName, EcsAgent>();
  const statePath = join(workDir, "files", "workflow-cellpainting.json");

  return {
    workDir,
    bucket,
    workflowFile,
    statePath,
    groups: { illum: plates, analysis: analysisGroups },
    runs() {
      const lines = existsSync(argvLog) ? readFileSync(argvLog, "utf8").split("\n").filter(Boolean) : [];
      const out: Record<RunStepName, string[]> = { illum: [], analysis: [] };
      for (const line of lines) {
        const argv = JSON.parse(line) as string[];
        const step = argv[argv.indexOf("-p") + 1]?.includes("illum") ? "illum" : "analysis";
        out[step].push(argv[argv.indexOf("-g") + 1] ?? "");
      }
      return out;
    },
    async agent(step, extraEnv = {}) {
      await agents.get(step)?.stop();
      const app = `${appName}-${step}`;
      agents.set(
        step,
        startEcsAgent({
          cluster,
          service: `${app}Service`,
          awsEnv,
          workDir: join(workDir, "container"),
          fleet: fleetFromStateFile(join(workDir, "files", `${app}SpotFleetRequestId.json`)),
          extraEnv: { FAKE_CP_ARGV_FILE: argvLog, ...extraEnv },
          stopTimeoutSeconds: 5,
          pollMs: 500,
          log,
        }),
      );
    },
    run(extraArgs = []) {
      const args = ["workflow", "run", "workflow.json", "--poll-interval", "1", "--wait-timeout", "60", ...extraArgs];
      log(`$ dcp ${args.join(" ")}`);
      return startDcp(args, workDir, env, "workflow", log);
    },
    state() {
      return existsSync(statePath) ? JSON.parse(readFileSync(statePath, "utf8")) : undefined;
    },
    async stop() {
      for (const agent of agents.values()) await agent.stop();
    },
  };
}

/** Rows of each collated Parquet table, read back with DuckDB (what pycytominer would load). */
export async function parquetCounts(
  folder: string,
  objects: readonly string[],
): Promise<Record<string, { rows: number; withMetadata: number }>> {
  const { DuckDBInstance } = await import("@duckdb/node-api");
  const db = await DuckDBInstance.create(":memory:", { autoinstall_known_extensions: "false" });
  const connection = await db.connect();
  const counts: Record<string, { rows: number; withMetadata: number }> = {};
  for (const object of objects) {
    const file = join(folder, `${object}.parquet`).replace(/'/g, "''");
    const reader = await connection.runAndReadAll(
      `SELECT count(*)::INTEGER, count(*) FILTER (WHERE Metadata_Plate IS NOT NULL AND Metadata_Well IS NOT NULL AND Metadata_Site IS NOT NULL)::INTEGER FROM read_parquet('${file}')`,
    );
    const [rows, withMetadata] = reader.getRows()[0] as [number, number];
    counts[object] = { rows, withMetadata };
  }
  connection.closeSync();
  return counts;
}
