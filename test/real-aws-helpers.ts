/**
 * Shared set-up of the issue-10 acceptance tests (test/real-aws-*.test.ts): an app folder a lab would
 * have (config, a DCP job file, a fleet file, the pipeline and LoadData CSV in S3, the images under the
 * bucket-mount stand-in), driven through the realism proxy (test/harness/realism-proxy.ts). What is
 * left of an app is listed from the emulators directly, never through the proxy.
 * CellProfiler is the TEST DOUBLE test/fixtures/fake-cellprofiler.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { expect } from "vitest";
import {
  DescribeLaunchTemplatesCommand,
  DescribeSpotFleetRequestsCommand,
  DescribeFleetsCommand,
} from "@aws-sdk/client-ec2";
import { CreateBucketCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { ec2Client } from "../src/aws/ec2.js";
import { s3Client } from "../src/aws/s3.js";
import { REPO_ROOT, emulatorEnv, runDcp, tempDir, uniqueAppName, type DcpResult } from "./harness/dcp.js";
import { fleetFromStateFile, startEcsAgent, type EcsAgent, type EcsAgentOptions } from "./harness/ecs-agent.js";
import { EXAMPLE_PIPELINE, exampleLoadData, mountExampleImages } from "./harness/example-data.js";
import type { LoggedRequest } from "./harness/realism-proxy.js";
import { ctx, leftovers, type FleetApi } from "./monitor-helpers.js";
import { readRunState } from "../src/state/run-state.js";

export const FAKE_CELLPROFILER = join(REPO_ROOT, "test/fixtures/fake-cellprofiler");
/** A DCP fleet file with a fixed AMI (no SSM lookup). */
export const FLEET_FILE = join(REPO_ROOT, "test/fixtures/fleets/dcp-original.json");
export const OUTPUT_PREFIX = "out";

export interface Group {
  plate: string;
  well: string;
}

export interface RealApp {
  app: string;
  dir: string;
  configPath: string;
  statePath: string;
  bucket: string;
  fleetApi: FleetApi;
  /** files/job.json: one group per entry of `groups`. */
  jobFile: string;
  groups: Group[];
  /** The -g string of each group, as the worker passes it to CellProfiler. */
  metadata: string[];
  /** Where the test double appends the argv of every run (FAKE_CP_ARGV_FILE). */
  argvFile: string;
}

export interface AppOptions {
  fleetApi?: FleetApi;
  machines?: number;
  /** Groups of the job file; default: plate "Plate 1" (a value with a space), wells A01... */
  groups?: Group[] | number;
  /** Config keys to add or override. */
  extra?: Record<string, unknown>;
}

const metadataOf = (g: Group) => `Metadata_Plate=${g.plate},Metadata_Well=${g.well}`;
/** The result folder of a group (output_structure Metadata_Plate-Metadata_Well). */
export const folderOf = (g: Group) => `${g.plate}-${g.well}`;

export function wells(count: number, plate = "Plate 1"): Group[] {
  return Array.from({ length: count }, (_, i) => ({ plate, well: `A${String(i + 1).padStart(2, "0")}` }));
}

/**
 * A fresh folder with config/config.json (no `dcp setup` run yet), files/job.json, the bucket with the
 * pipeline and LoadData CSV, and the images where MOUNT_ROOT/<input> points.
 */
export async function realApp(options: AppOptions = {}): Promise<RealApp> {
  const app = uniqueAppName("Real");
  const dir = tempDir("dcp-real-");
  const bucket = `${app.toLowerCase().replace(/[^a-z0-9-]/g, "-")}-data`;
  const groups = typeof options.groups === "number" ? wells(options.groups) : (options.groups ?? wells(2));
  const fleetApi = options.fleetApi ?? "spot-fleet";
  const mountRoot = join(dir, "bucket");
  mountExampleImages(mountRoot);
  mkdirSync(join(dir, "config"), { recursive: true });
  mkdirSync(join(dir, "files"), { recursive: true });

  const csv = exampleLoadData(
    ["Metadata_Plate", "Metadata_Well"],
    groups.map((g) => [g.plate, g.well]),
  );

  const s3 = s3Client(ctx);
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  await s3.send(
    new PutObjectCommand({
      Bucket: bucket,
      Key: "pipelines/ExampleHuman_LoadData.cppipe",
      Body: readFileSync(EXAMPLE_PIPELINE),
    }),
  );
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: "csv/load_data.csv", Body: csv }));

  const config = {
    APP_NAME: app,
    ECS_CLUSTER: `${app}Cluster`,
    SQS_DEAD_LETTER_QUEUE: `${app}_Dead`,
    AWS_REGION: "us-east-1",
    AWS_BUCKET: bucket,
    SOURCE_BUCKET: bucket,
    WORKSPACE_BUCKET: bucket,
    DESTINATION_BUCKET: bucket,
    CLUSTER_MACHINES: options.machines ?? 2,
    TASKS_PER_MACHINE: 1,
    MACHINE_TYPE: ["m5.xlarge"],
    FLEET_API: fleetApi,
    DOCKER_CORES: 1,
    SECONDS_TO_START: 0,
    SQS_MESSAGE_VISIBILITY: 20,
    JOB_RETRIES: 10,
    CHECK_IF_DONE_BOOL: true,
    EXPECTED_NUMBER_FILES: 3,
    NECESSARY_STRING: ".csv",
    CREATE_DASHBOARD: false,
    LOG_RETENTION_DAYS: 14,
    CELLPROFILER_COMMAND: FAKE_CELLPROFILER,
    MOUNT_ROOT: mountRoot,
    WORK_DIR: join(dir, "scratch"),
    WORKER_POLL_SECONDS: 1,
    WORKER_IDLE_POLLS: 2,
    SPOT_NOTICE_URL: null,
    ...options.extra,
  };
  const configPath = join(dir, "config", "config.json");
  writeFileSync(configPath, `${JSON.stringify(config, null, 2)}\n`);
  const jobFile = join(dir, "files", "job.json");
  writeJobFile(
    jobFile,
    groups.map((g) => ({ Metadata: metadataOf(g) })),
  );
  return {
    app,
    dir,
    configPath,
    statePath: join(dir, "files", `${app}SpotFleetRequestId.json`),
    bucket,
    fleetApi,
    jobFile,
    groups,
    metadata: groups.map(metadataOf),
    argvFile: join(dir, "cellprofiler-argv.jsonl"),
  };
}

/** A DCP job file with the app's shared keys and the given groups. */
export function writeJobFile(path: string, groups: unknown[]): void {
  const job = {
    pipeline: "pipelines/ExampleHuman_LoadData.cppipe",
    data_file: "csv/load_data.csv",
    input: "",
    output: OUTPUT_PREFIX,
    output_structure: "Metadata_Plate-Metadata_Well",
    groups,
  };
  writeFileSync(path, `${JSON.stringify(job, null, 2)}\n`);
}

/** The argv of every test-double run, in run order. */
export function cellprofilerRuns(app: RealApp): string[][] {
  if (!existsSync(app.argvFile)) return [];
  return readFileSync(app.argvFile, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as string[]);
}

/** The `-g` value of one run. */
export const groupArg = (argv: string[]) => argv[argv.indexOf("-g") + 1];

/** A fleet file derived from DCP's, changed by `edit`, written in the app's files/. */
export function fleetFile(
  app: RealApp,
  name: string,
  edit: (fleet: Record<string, unknown>) => void = () => {},
): string {
  const fleet = JSON.parse(readFileSync(FLEET_FILE, "utf8")) as Record<string, unknown>;
  edit(fleet);
  const path = join(app.dir, "files", name);
  writeFileSync(path, `${JSON.stringify(fleet, null, 2)}\n`);
  return path;
}

/** Every fleet of the app that may still launch or bill, from the emulator (never through the proxy). */
export async function liveFleetsOf(app: string): Promise<string[]> {
  const ec2 = ec2Client(ctx);
  const live = /^(submitted|active|modifying)$/;
  const spot = await ec2.send(new DescribeSpotFleetRequestsCommand({}));
  const fleets = await ec2.send(new DescribeFleetsCommand({}));
  return [
    ...(spot.SpotFleetRequestConfigs ?? [])
      .filter((c) => live.test(c.SpotFleetRequestState ?? "") && JSON.stringify(c).includes(app))
      .map((c) => c.SpotFleetRequestId!),
    ...(fleets.Fleets ?? [])
      .filter((f) => live.test(f.FleetState ?? "") && JSON.stringify(f).includes(app))
      .map((f) => f.FleetId!),
  ];
}

/** Launch templates named after the app. */
export async function launchTemplatesOf(app: string): Promise<string[]> {
  const out = await ec2Client(ctx).send(new DescribeLaunchTemplatesCommand({}));
  return (out.LaunchTemplates ?? []).map((t) => t.LaunchTemplateName!).filter((name) => name.startsWith(app));
}

/** What is left of the app (emulator view): monitor-helpers' list plus every live fleet and launch template. */
export async function everythingLeft(app: RealApp, fleetId: string) {
  const listed = await leftovers({
    app: app.app,
    dir: app.dir,
    configPath: app.configPath,
    statePath: app.statePath,
    queueUrl: "",
    fleetId,
    fleetApi: app.fleetApi,
    bucket: app.bucket,
  });
  return { ...listed, liveFleets: await liveFleetsOf(app.app), launchTemplates: await launchTemplatesOf(app.app) };
}

export const NOTHING_OF_THE_APP = {
  activeFleet: undefined,
  alarms: [],
  queue: undefined,
  service: [],
  taskDefinitions: [],
  cluster: [],
  liveFleets: [],
  launchTemplates: [],
};

/** A query-protocol request's parameter. */
export const param = (r: LoggedRequest | undefined, key: string) => r?.params[key] as string | undefined;

/** Polls until `check` holds (not a timing assertion). */
export async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * The start of every run these tests drive: `dcp setup`, `submit` of the app's job file and `start-cluster`
 * with its fleet file (5 s wait, 1 s polls), each expected to exit 0. `run` runs one command (default: in
 * the app's folder); the run's fleet id is returned.
 */
export async function startRun(
  app: RealApp,
  run: (args: string[]) => Promise<DcpResult> = (args) => runDcp(args, { cwd: app.dir }),
): Promise<string> {
  for (const args of [
    ["setup"],
    ["submit", app.jobFile],
    ["start-cluster", fleetFile(app, "fleet.json"), "--wait-timeout", "5", "--poll-interval", "1"],
  ]) {
    const result = await run(args);
    expect(result.code, `dcp ${args[0]}: ${result.stdout}${result.stderr}`).toBe(0);
  }
  return (await readRunState(app.statePath)).dcp.fleetId;
}

/** The ECS agent stand-in for the app's cluster and service, its workers on the emulators, in the app's folder. */
export function agentFor(
  app: RealApp,
  options: Omit<EcsAgentOptions, "cluster" | "service" | "awsEnv" | "workDir" | "fleet"> &
    Partial<Pick<EcsAgentOptions, "awsEnv">>,
): EcsAgent {
  return startEcsAgent({
    cluster: `${app.app}Cluster`,
    service: `${app.app}Service`,
    awsEnv: emulatorEnv(),
    workDir: app.dir,
    fleet: fleetFromStateFile(app.statePath),
    ...options,
  });
}
