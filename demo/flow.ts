/**
 * The main flow of dcp, run for real against local AWS emulators: used by `make demo` (demo/demo.ts)
 * and by the end-to-end test (test/e2e.test.ts), so the demo cannot silently rot.
 *
 *   make-jobs from-csv → setup → submit → start-cluster → two `dcp worker` processes standing in for
 *   the fleet's containers (started with the environment of the task definition `dcp setup`
 *   registered, and no config file, as in the container) → monitor until teardown → results in S3.
 *
 * Every step runs the built `dcp` CLI as a child process with an argv array.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { delimiter, join, resolve } from "node:path";
import { CreateBucketCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import { ecsClient } from "../src/aws/ecs.js";
import { listObjects, s3Client } from "../src/aws/s3.js";
import { findQueueUrl, sqsClient } from "../src/aws/sqs.js";
import { containerEnvironment } from "../test/harness/ecs-agent.js";
import {
  EXAMPLE_DIR,
  EXAMPLE_IMAGES,
  EXAMPLE_PIPELINE,
  exampleLoadData,
  mountExampleImages,
} from "../test/harness/example-data.js";
import { REPO_ROOT, startDcp } from "../test/harness/process.js";

export { REPO_ROOT };
export const TEST_DOUBLE = join(REPO_ROOT, "test/fixtures/fake-cellprofiler");

export interface FlowOptions {
  /** Empty folder the flow runs in (config/, files/, the mounted-bucket stand-in, worker scratch). */
  workDir: string;
  /** AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_SQS and emulator credentials. */
  awsEnv: Record<string, string>;
  appName: string;
  plates: number;
  wells: number;
  sites: number;
  /** The CellProfiler command; the test double when none is installed. */
  cellprofiler: string;
  /** 1-based index of a group that always fails (test double only), or none. */
  poisonGroup?: number;
  /** 1-based index of a group whose outputs are already in S3 (CHECK_IF_DONE skips it). */
  doneGroup?: number;
  jobRetries: number;
  monitorInterval: number;
  log: (line: string) => void;
}

export interface FlowResult {
  groups: string[];
  resultKeys: string[];
  deadLetters: string[];
  /** Group -g strings, one per CellProfiler run, in run order (from the test double's argv log). */
  cellprofilerRuns: string[];
  workerExitCodes: Array<number | null>;
  monitorExitCode: number | null;
  bucket: string;
  resultsPrefix: string;
  poisonGroup?: string;
  doneGroup?: string;
}

/** A `cellprofiler` on PATH, if there is one. */
export function realCellProfiler(): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    const candidate = join(dir, "cellprofiler");
    if (dir && existsSync(candidate)) return candidate;
  }
  return undefined;
}

interface Group {
  plate: string;
  well: string;
  site: number;
}

function groupsOf(options: FlowOptions): Group[] {
  const groups: Group[] = [];
  for (let p = 1; p <= options.plates; p++) {
    for (let w = 1; w <= options.wells; w++) {
      for (let site = 1; site <= options.sites; site++)
        groups.push({ plate: `Plate${p}`, well: `A${String(w).padStart(2, "0")}`, site });
    }
  }
  return groups;
}

const metadataOf = (g: Group) => `Metadata_Plate=${g.plate},Metadata_Well=${g.well},Metadata_Site=${g.site}`;
const idOf = (g: Group) => `${g.plate}-${g.well}-${g.site}`;

/** A LoadData CSV with one row per group, all naming the example's three images under `images/`. */
function loadDataCsv(groups: Group[]): string {
  return exampleLoadData(
    ["Metadata_Plate", "Metadata_Well", "Metadata_Site"],
    groups.map((g) => [g.plate, g.well, g.site]),
  );
}

async function runStep(
  args: string[],
  cwd: string,
  env: NodeJS.ProcessEnv,
  log: (line: string) => void,
): Promise<void> {
  log(`$ dcp ${args.join(" ")}`);
  const said: string[] = [];
  const code = await startDcp(args, cwd, env, args[0]!, (line) => {
    said.push(line);
    log(line);
  }).exited;
  if (code !== 0) throw new Error(`dcp ${args[0]} exited with code ${code}:\n${said.join("\n")}`);
}

async function drainDeadLetters(awsEnv: Record<string, string>, queueName: string): Promise<string[]> {
  const sqs = sqsClient({ region: awsEnv.AWS_REGION ?? "us-east-1", profile: undefined });
  const url = await findQueueUrl(sqs, queueName);
  if (!url) return [];
  const bodies: string[] = [];
  for (;;) {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, VisibilityTimeout: 60 }),
    );
    if (!Messages.length) return bodies;
    bodies.push(...Messages.map((m) => m.Body ?? ""));
  }
}

export async function runFlow(options: FlowOptions): Promise<FlowResult> {
  const { workDir, awsEnv, appName, log } = options;
  const env: NodeJS.ProcessEnv = { ...process.env, ...awsEnv, CI: "true" };
  const ctx = { region: awsEnv.AWS_REGION ?? "us-east-1", profile: undefined };
  const bucket = `${appName.toLowerCase().replace(/[^a-z0-9-]/g, "-")}-data`;
  const groups = groupsOf(options);
  const poison = options.poisonGroup ? groups[options.poisonGroup - 1] : undefined;
  const done = options.doneGroup ? groups[options.doneGroup - 1] : undefined;
  const resultsPrefix = "demo/analysis/";

  // The folder a real container would mount SOURCE_BUCKET on, and the worker's scratch space.
  const mountRoot = join(workDir, "bucket");
  mountExampleImages(mountRoot);
  mkdirSync(join(workDir, "config"), { recursive: true });
  mkdirSync(join(workDir, "files"), { recursive: true });
  const csvPath = join(workDir, "load_data.csv");
  writeFileSync(csvPath, loadDataCsv(groups));

  const config = {
    APP_NAME: appName,
    ECS_CLUSTER: `${appName}Cluster`,
    SQS_DEAD_LETTER_QUEUE: `${appName}_DeadMessages`,
    AWS_REGION: ctx.region,
    AWS_BUCKET: bucket,
    SOURCE_BUCKET: bucket,
    WORKSPACE_BUCKET: bucket,
    DESTINATION_BUCKET: bucket,
    CLUSTER_MACHINES: 2,
    TASKS_PER_MACHINE: 1,
    MACHINE_TYPE: ["m5.xlarge", "m5a.xlarge"],
    DOCKER_CORES: 1,
    SECONDS_TO_START: 0,
    SQS_MESSAGE_VISIBILITY: 30,
    JOB_RETRIES: options.jobRetries,
    CHECK_IF_DONE_BOOL: true,
    EXPECTED_NUMBER_FILES: 3,
    NECESSARY_STRING: ".csv",
    CREATE_DASHBOARD: true,
    CLEAN_DASHBOARD: true,
    LOG_RETENTION_DAYS: 14,
    CELLPROFILER_COMMAND: options.cellprofiler,
    MOUNT_ROOT: mountRoot,
    WORK_DIR: join(workDir, "scratch"),
    WORKER_POLL_SECONDS: 1,
    WORKER_IDLE_POLLS: 3,
    SPOT_NOTICE_URL: null,
  };
  writeFileSync(join(workDir, "config", "config.json"), `${JSON.stringify(config, null, 2)}\n`);
  log(`config written to ${join(workDir, "config", "config.json")} (APP_NAME ${appName}, bucket s3://${bucket})`);

  const s3 = s3Client(ctx);
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  const pipelineKey = "demo/pipelines/ExampleHuman_LoadData.cppipe";
  const csvKey = "demo/load_data_csv/load_data.csv";
  await s3.send(
    new PutObjectCommand({
      Bucket: bucket,
      Key: pipelineKey,
      Body: readFileSync(EXAMPLE_PIPELINE),
    }),
  );
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: csvKey, Body: readFileSync(csvPath) }));
  for (const image of EXAMPLE_IMAGES)
    await s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: `images/${image}`,
        Body: readFileSync(join(EXAMPLE_DIR, "images", image)),
      }),
    );
  log(
    `uploaded the pipeline, a LoadData CSV of ${groups.length} groups and ${EXAMPLE_IMAGES.length} images to s3://${bucket}/`,
  );
  if (done) {
    for (const name of ["Experiment.csv", "Image.csv", "Nuclei.csv"]) {
      await s3.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: `${resultsPrefix}${idOf(done)}/${name}`,
          Body: "already analysed\n",
        }),
      );
    }
    log(`group ${idOf(done)} already has its outputs in S3: CHECK_IF_DONE should skip it`);
  }

  const jobFile = "files/demo_analysis.json";
  await runStep(
    [
      "make-jobs",
      "from-csv",
      csvPath,
      "--group-by",
      "Metadata_Plate,Metadata_Well,Metadata_Site",
      "--pipeline",
      pipelineKey,
      "--data-file",
      csvKey,
      "--output",
      resultsPrefix.replace(/\/$/, ""),
      "-o",
      jobFile,
    ],
    workDir,
    env,
    log,
  );
  await runStep(["setup"], workDir, env, log);
  await runStep(["submit", jobFile], workDir, env, log);
  await runStep(["start-cluster", join(REPO_ROOT, "demo/demoFleet.json"), "--wait-timeout", "60"], workDir, env, log);

  // The containers get no config file: only the task definition's environment (plus the emulator).
  const containerEnv = (await containerEnvironment(ecsClient(ctx), `${appName}Task`)).environment;
  const argvLog = join(workDir, "cellprofiler-runs.jsonl");
  const workerDir = join(workDir, "container");
  mkdirSync(workerDir, { recursive: true });
  const workerEnv: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    ...awsEnv,
    ...containerEnv,
    FAKE_CP_ARGV_FILE: argvLog,
    ...(poison ? { FAKE_CP_POISON: metadataOf(poison) } : {}),
  };
  log(
    `starting 2 workers with the task definition's ${Object.keys(containerEnv).length} environment variables (no config file)`,
  );
  const workers = [1, 2].map((n) => startDcp(["worker"], workerDir, workerEnv, `worker ${n}`, log));

  log(`$ dcp monitor --interval ${options.monitorInterval}`);
  const monitorExitCode = await startDcp(
    ["monitor", "--interval", String(options.monitorInterval)],
    workDir,
    env,
    "monitor",
    log,
  ).exited;

  const deadline = setTimeout(() => workers.forEach((w) => w.kill("SIGTERM")), 60_000);
  const workerExitCodes = await Promise.all(workers.map((w) => w.exited));
  clearTimeout(deadline);

  const resultKeys = (await listObjects(s3, bucket, resultsPrefix)).map((o) => o.key).sort();
  const deadLetters = await drainDeadLetters(awsEnv, config.SQS_DEAD_LETTER_QUEUE);
  const cellprofilerRuns = existsSync(argvLog)
    ? readFileSync(argvLog, "utf8")
        .split("\n")
        .filter(Boolean)
        .map((line) => {
          const argv = JSON.parse(line) as string[];
          return argv[argv.indexOf("-g") + 1] ?? "";
        })
    : [];
  return {
    groups: groups.map(idOf),
    resultKeys,
    deadLetters,
    cellprofilerRuns,
    workerExitCodes,
    monitorExitCode,
    bucket,
    resultsPrefix,
    ...(poison ? { poisonGroup: metadataOf(poison) } : {}),
    ...(done ? { doneGroup: metadataOf(done) } : {}),
  };
}

/** Result folders in S3, as `<metadata id>` → file names. */
export function resultsByGroup(result: FlowResult): Map<string, string[]> {
  const byGroup = new Map<string, string[]>();
  for (const key of result.resultKeys) {
    const [id, ...rest] = key.slice(result.resultsPrefix.length).split("/");
    byGroup.set(id!, [...(byGroup.get(id!) ?? []), rest.join("/")]);
  }
  return byGroup;
}

export function isTestDouble(command: string): boolean {
  return resolve(command) === TEST_DOUBLE;
}
