/**
 * Shared set-up for the monitor/teardown behaviour tests: a configured app (dcp setup), jobs on
 * its queue, a fleet and the run's state file, and a listing of what is left of the app.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DescribeAlarmsCommand } from "@aws-sdk/client-cloudwatch";
import { CreateLogStreamCommand, PutLogEventsCommand } from "@aws-sdk/client-cloudwatch-logs";
import {
  CreateFleetCommand,
  CreateLaunchTemplateCommand,
  DescribeFleetsCommand,
  DescribeSpotFleetRequestsCommand,
  RequestSpotFleetCommand,
  type SpotFleetRequestConfigData,
} from "@aws-sdk/client-ec2";
import {
  DescribeClustersCommand,
  DescribeServicesCommand,
  ListTaskDefinitionsCommand,
  UpdateServiceCommand,
} from "@aws-sdk/client-ecs";
import { CreateBucketCommand } from "@aws-sdk/client-s3";
import { SendMessageBatchCommand } from "@aws-sdk/client-sqs";
import { expect } from "vitest";
import { cloudwatchClient, putIdleAlarm } from "../src/aws/cloudwatch.js";
import { ec2Client } from "../src/aws/ec2.js";
import { ecsClient } from "../src/aws/ecs.js";
import { fleetProvider } from "../src/fleet/registry.js";
import { logsClient } from "../src/aws/logs.js";
import { s3Client } from "../src/aws/s3.js";
import { findQueueUrl, sqsClient } from "../src/aws/sqs.js";
import { messageBody } from "../src/plan/message.js";
import { writeRunState, type RunState } from "../src/state/run-state.js";
import { DCP_BIN, REPO_ROOT, emulatorEnv, runDcp, tempDir, uniqueAppName } from "./harness/dcp.js";

export const ctx = { region: "us-east-1", profile: undefined };
export const AMI = "ami-12c6146b"; // one of moto's built-in images
export const sqs = sqsClient(ctx);
export const ecs = ecsClient(ctx);
export const ec2 = ec2Client(ctx);
export const cw = cloudwatchClient(ctx);

export type FleetApi = "spot-fleet" | "ec2-fleet";

export interface TestRun {
  app: string;
  dir: string;
  configPath: string;
  statePath: string;
  queueUrl: string;
  fleetId: string;
  fleetApi: FleetApi;
  launchTemplateId?: string;
  bucket: string;
}

/** A config file for a fresh app in a fresh folder, with its own cluster, DLQ and an existing bucket. */
export async function configuredApp(
  fleetApi: FleetApi,
  machines: number,
  prefix = "Mon",
  extra: Record<string, unknown> = {},
): Promise<Omit<TestRun, "queueUrl" | "fleetId" | "launchTemplateId" | "statePath">> {
  const app = uniqueAppName(prefix);
  const dir = tempDir();
  const bucket = app.toLowerCase().replace(/[^a-z0-9-]/g, "-");
  await s3Client(ctx).send(new CreateBucketCommand({ Bucket: bucket }));
  mkdirSync(join(dir, "config"), { recursive: true });
  mkdirSync(join(dir, "files"), { recursive: true });
  const configPath = join(dir, "config", "config.json");
  const settings = {
    APP_NAME: app,
    ECS_CLUSTER: `${app}Cluster`,
    SQS_DEAD_LETTER_QUEUE: `${app}_Dead`,
    AWS_BUCKET: bucket,
    CLUSTER_MACHINES: machines,
    TASKS_PER_MACHINE: 2,
    MACHINE_TYPE: ["m5.xlarge"],
    FLEET_API: fleetApi,
    CREATE_DASHBOARD: false,
    LOG_RETENTION_DAYS: 14,
    ...extra,
  };
  writeFileSync(configPath, JSON.stringify(settings, null, 2));
  const setup = await runDcp(["--config", configPath, "setup"], { cwd: dir });
  expect(setup.stderr).not.toMatch(/dcp: /);
  expect(setup.code).toBe(0);
  return { app, dir, configPath, fleetApi, bucket };
}

/** A line in a log group, as a worker would write it (so an export has something to copy). */
export async function logLine(group: string, message: string): Promise<void> {
  const logs = logsClient(ctx);
  await logs.send(new CreateLogStreamCommand({ logGroupName: group, logStreamName: "worker-1" }));
  await logs.send(
    new PutLogEventsCommand({
      logGroupName: group,
      logStreamName: "worker-1",
      logEvents: [{ timestamp: Date.now(), message }],
    }),
  );
}

/** `count` DCP-format messages on the app's queue. */
export async function submitGroups(app: string, count: number): Promise<string> {
  const queueUrl = (await findQueueUrl(sqs, `${app}Queue`))!;
  for (let i = 0; i < count; i += 10) {
    const entries = Array.from({ length: Math.min(10, count - i) }, (_, j) => ({
      Id: String(i + j),
      MessageBody: messageBody({
        Metadata: `Metadata_Plate=P1,Metadata_Well=W${i + j}`,
        pipeline: "p.cppipe",
        output: "out",
        input: "in",
        data_file: "load.csv",
        output_structure: "",
      }),
    }));
    await sqs.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries }));
  }
  return queueUrl;
}

/**
 * A fleet and the state file start-cluster writes, made with the SDK, for tests that are about
 * the monitor and not about start-cluster: service scaled, one idle alarm per instance.
 */
export async function fleetWithState(
  base: Awaited<ReturnType<typeof configuredApp>>,
  machines: number,
  spotFleet: Partial<SpotFleetRequestConfigData> = {},
): Promise<TestRun> {
  const { app } = base;
  let fleetId: string;
  let launchTemplateId: string | undefined;
  if (base.fleetApi === "spot-fleet") {
    const out = await ec2.send(
      new RequestSpotFleetCommand({
        SpotFleetRequestConfig: {
          IamFleetRole: "arn:aws:iam::123456789012:role/fleet",
          TargetCapacity: machines,
          AllocationStrategy: "lowestPrice",
          LaunchSpecifications: [{ ImageId: AMI, InstanceType: "m5.xlarge" }],
          ...spotFleet,
        },
      }),
    );
    fleetId = out.SpotFleetRequestId!;
  } else {
    const lt = await ec2.send(
      new CreateLaunchTemplateCommand({
        LaunchTemplateName: `${app}LT`,
        LaunchTemplateData: { ImageId: AMI, InstanceType: "m5.xlarge" },
      }),
    );
    launchTemplateId = lt.LaunchTemplate!.LaunchTemplateId!;
    const out = await ec2.send(
      new CreateFleetCommand({
        Type: "maintain",
        TargetCapacitySpecification: { TotalTargetCapacity: machines, DefaultTargetCapacityType: "spot" },
        SpotOptions: { AllocationStrategy: "price-capacity-optimized" },
        LaunchTemplateConfigs: [
          { LaunchTemplateSpecification: { LaunchTemplateId: launchTemplateId, Version: "$Latest" } },
        ],
      }),
    );
    fleetId = out.FleetId!;
  }
  await ecs.send(
    new UpdateServiceCommand({ cluster: `${app}Cluster`, service: `${app}Service`, desiredCount: machines * 2 }),
  );
  for (const id of await (await fleetProvider(base.fleetApi, ctx)).activeInstances(fleetId))
    await putIdleAlarm(cloudwatchClient(ctx), app, id);
  const statePath = join(base.dir, "files", `${app}SpotFleetRequestId.json`);
  const state: RunState = {
    MONITOR_FLEET_ID: fleetId,
    MONITOR_APP_NAME: app,
    MONITOR_ECS_CLUSTER: `${app}Cluster`,
    MONITOR_QUEUE_NAME: `${app}Queue`,
    MONITOR_BUCKET_NAME: base.bucket,
    MONITOR_LOG_GROUP_NAME: app,
    MONITOR_START_TIME: String(Date.now() - 60_000),
    CLEAN_DASHBOARD: "True",
    dcp: {
      version: 1,
      fleetApi: base.fleetApi,
      fleetId,
      ...(launchTemplateId ? { launchTemplateId } : {}),
      region: "us-east-1",
      startedAt: new Date(Date.now() - 60_000).toISOString(),
      clusterMachines: machines,
      tasksPerMachine: 2,
      serviceName: `${app}Service`,
      taskFamily: `${app}Task`,
      deadLetterQueueName: `${app}_Dead`,
      perInstanceLogGroup: `${app}_perInstance`,
      dashboardName: null,
      status: "running",
    },
  };
  await writeRunState(statePath, state);
  return {
    ...base,
    statePath,
    queueUrl: (await findQueueUrl(sqs, `${app}Queue`))!,
    fleetId,
    ...(launchTemplateId ? { launchTemplateId } : {}),
  };
}

export async function alarmNamesOf(app: string): Promise<string[]> {
  const out = await cw.send(new DescribeAlarmsCommand({ AlarmNamePrefix: `${app}_`, MaxRecords: 100 }));
  return (out.MetricAlarms ?? []).map((a) => a.AlarmName!).sort();
}

export async function fleetState(
  run: Pick<TestRun, "fleetApi" | "fleetId">,
): Promise<{ state?: string; target?: number }> {
  if (run.fleetApi === "spot-fleet") {
    const out = await ec2.send(new DescribeSpotFleetRequestsCommand({ SpotFleetRequestIds: [run.fleetId] }));
    const c = out.SpotFleetRequestConfigs?.find((f) => f.SpotFleetRequestId === run.fleetId);
    return c ? { state: c.SpotFleetRequestState, target: c.SpotFleetRequestConfig?.TargetCapacity } : {};
  }
  const out = await ec2.send(new DescribeFleetsCommand({ FleetIds: [run.fleetId] }));
  const f = out.Fleets?.find((x) => x.FleetId === run.fleetId);
  return f ? { state: f.FleetState, target: f.TargetCapacitySpecification?.TotalTargetCapacity } : {};
}

/** Everything of the app that a teardown must remove, listed from the emulators. */
export async function leftovers(run: TestRun) {
  const { app } = run;
  const fleet = await fleetState(run);
  const services = await ecs
    .send(new DescribeServicesCommand({ cluster: `${app}Cluster`, services: [`${app}Service`] }))
    .catch(() => ({ services: [] }));
  const taskDefinitions = await ecs.send(
    new ListTaskDefinitionsCommand({ familyPrefix: `${app}Task`, status: "ACTIVE" }),
  );
  const clusters = await ecs.send(new DescribeClustersCommand({ clusters: [`${app}Cluster`] }));
  return {
    activeFleet: fleet.state && /^(submitted|active|modifying)$/.test(fleet.state) ? fleet.state : undefined,
    alarms: await alarmNamesOf(app),
    queue: await findQueueUrl(sqs, `${app}Queue`),
    service: (services.services ?? []).filter((s) => s.status !== "INACTIVE").map((s) => s.serviceName),
    taskDefinitions: taskDefinitions.taskDefinitionArns ?? [],
    cluster: (clusters.clusters ?? []).filter((c) => c.status !== "INACTIVE").map((c) => c.clusterName),
  };
}

export const NOTHING_LEFT = {
  activeFleet: undefined,
  alarms: [],
  queue: undefined,
  service: [],
  taskDefinitions: [],
  cluster: [],
};

/** A running `dcp` child whose output the test can wait on (for signals and kills mid-run). */
export function startDcp(args: string[], cwd: string, env: Record<string, string> = {}) {
  const child: ChildProcess = spawn(process.execPath, [DCP_BIN, ...args], {
    cwd: cwd ?? REPO_ROOT,
    env: { ...process.env, ...emulatorEnv(), CI: "true", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (c: Buffer) => (stdout += c.toString()));
  child.stderr!.on("data", (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on("close", (code, signal) => resolve({ code, signal })),
  );
  return {
    child,
    exited,
    output: () => stdout + stderr,
    async waitFor(pattern: RegExp, timeoutMs = 60_000): Promise<void> {
      const deadline = Date.now() + timeoutMs;
      while (!pattern.test(stdout + stderr)) {
        if (child.exitCode !== null || Date.now() > deadline)
          throw new Error(`never saw ${pattern} in:\n${stdout}${stderr}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
  };
}

/** Polls `check` until it returns true (or fails after `timeoutMs`). Not a timing assertion. */
export async function eventually(check: () => Promise<boolean>, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
