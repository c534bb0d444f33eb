/**
 * `dcp start-cluster` on the emulator, for both fleet APIs, run as a user would (the built CLI in a
 * fresh folder): setup, then a DCP-format fleet file.
 */
import {
  DescribeInstanceAttributeCommand,
  DescribeInstancesCommand,
  DescribeLaunchTemplatesCommand,
  DescribeLaunchTemplateVersionsCommand,
  DescribeSpotFleetRequestsCommand,
  DescribeVolumesCommand,
} from "@aws-sdk/client-ec2";
import { DescribeServicesCommand } from "@aws-sdk/client-ecs";
import { GetDashboardCommand } from "@aws-sdk/client-cloudwatch";
import { existsSync, mkdirSync, readFileSync, writeFileSync, copyFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { cloudwatchClient, deleteAlarms, deleteDashboard, listAlarmNames } from "../src/aws/cloudwatch.js";
import { deleteLaunchTemplateIfExists, ec2Client } from "../src/aws/ec2.js";
import { ecsClient } from "../src/aws/ecs.js";
import { fleetProvider, type FleetApi } from "../src/fleet/registry.js";
import { fleetIsLive } from "../src/plan/fleet-status.js";
import { loadConfig } from "../src/config/load.js";
import { markFailed, undoStart } from "../src/flows/start-cluster.js";
import { readRunState, type RunState } from "../src/state/run-state.js";
import { REPO_ROOT, runDcp, tempDir, uniqueAppName } from "./harness/dcp.js";

const ctx = { region: "us-east-1", profile: undefined };
const FIXTURES = join(REPO_ROOT, "test/fixtures/fleets");
const cleanups: Array<() => Promise<void>> = [];

afterAll(async () => {
  for (const cleanup of cleanups) await cleanup();
});

interface Run {
  dir: string;
  app: string;
  cluster: string;
  statePath: string;
}

/** A folder with a config for a unique app, `dcp setup` run in it, and the fleet fixtures copied to files/. */
async function preparedRun(extra: Record<string, unknown>): Promise<Run> {
  const dir = tempDir();
  const app = uniqueAppName("SC");
  const cluster = `${app}Cluster`;
  mkdirSync(join(dir, "config"));
  mkdirSync(join(dir, "files"));
  const config = {
    APP_NAME: app,
    ECS_CLUSTER: cluster,
    SQS_DEAD_LETTER_QUEUE: `${app}_Dead`,
    AWS_BUCKET: "dcp-test-bucket",
    CLUSTER_MACHINES: 2,
    TASKS_PER_MACHINE: 3,
    MACHINE_TYPE: ["m5.xlarge", "m5a.xlarge", "c5.2xlarge"],
    EBS_VOL_SIZE: 50,
    ...extra,
  };
  writeFileSync(join(dir, "config/config.json"), JSON.stringify(config));
  for (const f of ["dcp-original.json", "auto-image.json"]) copyFileSync(join(FIXTURES, f), join(dir, "files", f));
  const setup = await runDcp(["setup"], { cwd: dir });
  expect(setup.code, setup.stderr).toBe(0);
  return { dir, app, cluster, statePath: join(dir, `files/${app}SpotFleetRequestId.json`) };
}

function registerCleanup(api: FleetApi, state: RunState): void {
  cleanups.push(async () => {
    await (await fleetProvider(api, ctx)).cancel(state.dcp.fleetId);
    if (state.dcp.launchTemplateId) await deleteLaunchTemplateIfExists(ec2Client(ctx), state.dcp.launchTemplateId);
    await deleteAlarms(
      cloudwatchClient(ctx),
      await listAlarmNames(cloudwatchClient(ctx), `${state.MONITOR_APP_NAME}_`),
    );
    await deleteDashboard(cloudwatchClient(ctx), state.MONITOR_APP_NAME);
  });
}

async function instancesOf(ids: string[]) {
  const out = await ec2Client(ctx).send(new DescribeInstancesCommand({ InstanceIds: ids }));
  return (out.Reservations ?? []).flatMap((r) => r.Instances ?? []);
}

function tagsOf(resource: { Tags?: { Key?: string; Value?: string }[] }): Record<string, string> {
  return Object.fromEntries((resource.Tags ?? []).map((t) => [t.Key ?? "", t.Value ?? ""]));
}

async function userDataOf(instanceId: string): Promise<string> {
  const out = await ec2Client(ctx).send(
    new DescribeInstanceAttributeCommand({ InstanceId: instanceId, Attribute: "userData" }),
  );
  return Buffer.from(out.UserData?.Value ?? "", "base64").toString("utf8");
}

async function expectClusterStarted(run: Run, api: FleetApi, fleetFile: string): Promise<RunState> {
  const result = await runDcp(
    ["start-cluster", fleetFile, "--wait-timeout", "30", "--poll-interval", "0.2", "--json"],
    { cwd: run.dir },
  );
  expect(result.code, result.stderr).toBe(0);
  const summary = JSON.parse(result.stdout) as { fleetId: string; running: number; partial: boolean };
  expect(existsSync(run.statePath)).toBe(true);
  const state = await readRunState(run.statePath);
  registerCleanup(api, state);
  expect(state).toMatchObject({
    MONITOR_FLEET_ID: summary.fleetId,
    MONITOR_APP_NAME: run.app,
    MONITOR_ECS_CLUSTER: run.cluster,
    MONITOR_QUEUE_NAME: `${run.app}Queue`,
    MONITOR_BUCKET_NAME: "dcp-test-bucket",
    MONITOR_LOG_GROUP_NAME: run.app,
    CLEAN_DASHBOARD: "True",
    dcp: {
      fleetApi: api,
      fleetId: summary.fleetId,
      status: "running",
      clusterMachines: 2,
      tasksPerMachine: 3,
      serviceName: `${run.app}Service`,
      dashboardName: run.app,
    },
  });
  expect(Number(state.MONITOR_START_TIME)).toBeGreaterThan(0);
  expect(summary).toMatchObject({ running: 2, partial: false });

  // Fleet active with target CLUSTER_MACHINES.
  const fleet = await fleetProvider(api, ctx);
  const status = await fleet.describe(summary.fleetId);
  expect(fleetIsLive(status)).toBe(true);
  expect(status).toMatchObject({ target: 2, fulfilled: 2 });
  const instances = await fleet.activeInstances(summary.fleetId);
  expect(instances).toHaveLength(2);

  // Service desired = CLUSTER_MACHINES x TASKS_PER_MACHINE.
  const { services = [] } = await ecsClient(ctx).send(
    new DescribeServicesCommand({ cluster: run.cluster, services: [`${run.app}Service`] }),
  );
  expect(services[0]?.desiredCount).toBe(6);

  // One idle alarm per instance.
  const alarms = await listAlarmNames(cloudwatchClient(ctx), `${run.app}_`);
  expect(alarms.sort()).toEqual(instances.map((id) => `${run.app}_${id}`).sort());

  // Instances carry the app's tags and the user data that writes /etc/ecs/ecs.config.
  for (const instance of await instancesOf(instances)) {
    expect(tagsOf(instance)).toMatchObject({ "dcp:app": run.app, Name: `${run.app}Worker` });
    const script = await userDataOf(instance.InstanceId!);
    expect(script).toContain(`ECS_CLUSTER=${run.cluster}\n`);
    expect(script).toContain('ECS_AVAILABLE_LOGGING_DRIVERS=["json-file","awslogs"]');
    expect(script).toContain("ECS_ENABLE_SPOT_INSTANCE_DRAINING=true");
    expect(script).not.toMatch(/aws s3|s3:\/\//);
  }
  const byTag = await ec2Client(ctx).send(
    new DescribeInstancesCommand({
      Filters: [
        { Name: "tag:dcp:app", Values: [run.app] },
        { Name: "instance-state-name", Values: ["running"] },
      ],
    }),
  );
  expect(
    (byTag.Reservations ?? [])
      .flatMap((r) => r.Instances ?? [])
      .map((i) => i.InstanceId)
      .sort(),
  ).toEqual([...instances].sort());
  // ...and so do their volumes.
  const volumes = await ec2Client(ctx).send(
    new DescribeVolumesCommand({ Filters: [{ Name: "attachment.instance-id", Values: instances }] }),
  );
  expect(volumes.Volumes?.length).toBeGreaterThan(0);
  for (const volume of volumes.Volumes ?? []) expect(tagsOf(volume)).toMatchObject({ "dcp:app": run.app });

  // The dashboard, named exactly APP_NAME.
  const dashboard = await cloudwatchClient(ctx).send(new GetDashboardCommand({ DashboardName: run.app }));
  expect(dashboard.DashboardBody).toContain(`${run.app}Queue`);
  return state;
}

describe("dcp start-cluster (moto)", () => {
  it("spot-fleet: DCP's fleet file as is; refuses a second fleet; --replace cancels the first", async () => {
    const run = await preparedRun({ FLEET_API: "spot-fleet" });
    const state = await expectClusterStarted(run, "spot-fleet", "files/dcp-original.json");

    // One launch specification per MACHINE_TYPE entry, from DCP's single specification.
    const described = await ec2Client(ctx).send(
      new DescribeSpotFleetRequestsCommand({ SpotFleetRequestIds: [state.dcp.fleetId] }),
    );
    const specs = described.SpotFleetRequestConfigs?.[0]?.SpotFleetRequestConfig?.LaunchSpecifications ?? [];
    expect(specs.map((s) => s.InstanceType)).toEqual(["m5.xlarge", "m5a.xlarge", "c5.2xlarge"]);
    expect(new Set(specs.map((s) => s.ImageId))).toEqual(new Set(["ami-0ce03502c5bb5e188"]));

    const second = await runDcp(
      ["start-cluster", "files/dcp-original.json", "--wait-timeout", "5", "--poll-interval", "0.2"],
      { cwd: run.dir },
    );
    expect(second.code).toBe(2);
    expect(second.stderr).toContain(state.dcp.fleetId);
    expect(second.stderr).toContain("--replace");
    expect((await readRunState(run.statePath)).dcp.fleetId).toBe(state.dcp.fleetId);

    const replaced = await runDcp(
      [
        "start-cluster",
        "files/auto-image.json",
        "--replace",
        "--wait-timeout",
        "30",
        "--poll-interval",
        "0.2",
        "--json",
      ],
      { cwd: run.dir },
    );
    expect(replaced.code, replaced.stderr).toBe(0);
    const next = await readRunState(run.statePath);
    registerCleanup("spot-fleet", next);
    expect(next.dcp.fleetId).not.toBe(state.dcp.fleetId);
    expect(await (await fleetProvider("spot-fleet", ctx)).describe(state.dcp.fleetId)).toBeUndefined();
    const newInstances = await (await fleetProvider("spot-fleet", ctx)).activeInstances(next.dcp.fleetId);
    // The old instances' alarms are gone; the new ones have theirs.
    expect((await listAlarmNames(cloudwatchClient(ctx), `${run.app}_`)).sort()).toEqual(
      newInstances.map((id) => `${run.app}_${id}`).sort(),
    );
    // ImageId "auto": the ECS-optimized AMI from the public SSM parameter.
    expect(JSON.parse(replaced.stdout).imageId).toMatch(/^ami-[0-9a-f]+$/);
    expect(new Set((await instancesOf(newInstances)).map((i) => i.ImageId))).toEqual(
      new Set([JSON.parse(replaced.stdout).imageId]),
    );
  });

  it("ec2-fleet: a tagged launch template plus CreateFleet (maintain), recorded in the state file", async () => {
    const run = await preparedRun({ FLEET_API: "ec2-fleet", MACHINE_PRICE: 0.2 });
    const state = await expectClusterStarted(run, "ec2-fleet", "files/auto-image.json");
    expect(state.dcp.launchTemplateId).toMatch(/^lt-/);
    const versions = await ec2Client(ctx).send(
      new DescribeLaunchTemplateVersionsCommand({
        LaunchTemplateId: state.dcp.launchTemplateId,
        Versions: ["$Latest"],
      }),
    );
    const data = versions.LaunchTemplateVersions?.[0]?.LaunchTemplateData;
    expect(versions.LaunchTemplateVersions?.[0]?.LaunchTemplateName).toBe(`${run.app}_LaunchTemplate`);
    expect(Buffer.from(data?.UserData ?? "", "base64").toString()).toContain(`ECS_CLUSTER=${run.cluster}`);
    expect(data?.TagSpecifications?.map((t) => t.ResourceType)).toEqual(expect.arrayContaining(["instance", "volume"]));
    for (const spec of data?.TagSpecifications?.filter((t) => t.ResourceType !== "launch-template") ?? [])
      expect(tagsOf(spec)).toMatchObject({ "dcp:app": run.app, Name: `${run.app}Worker` });
    expect(data?.NetworkInterfaces?.[0]?.AssociatePublicIpAddress).toBe(true);
    expect(data?.BlockDeviceMappings?.find((m) => m.DeviceName === "/dev/xvda")?.Ebs?.VolumeSize).toBe(50);

    // Switching the same app to a Spot Fleet with --replace removes the EC2 Fleet and its launch template.
    const config = JSON.parse(readFileSync(join(run.dir, "config/config.json"), "utf8"));
    writeFileSync(join(run.dir, "config/spot.json"), JSON.stringify({ ...config, FLEET_API: "spot-fleet" }));
    const replaced = await runDcp(
      [
        "--config",
        "config/spot.json",
        "start-cluster",
        "files/auto-image.json",
        "--replace",
        "--wait-timeout",
        "30",
        "--poll-interval",
        "0.2",
      ],
      { cwd: run.dir },
    );
    expect(replaced.code, replaced.stderr).toBe(0);
    const next = await readRunState(run.statePath);
    registerCleanup("spot-fleet", next);
    expect(next.dcp).toMatchObject({ fleetApi: "spot-fleet" });
    expect(next.dcp.launchTemplateId).toBeUndefined();
    expect(await (await fleetProvider("ec2-fleet", ctx)).describe(state.dcp.fleetId)).toBeUndefined();
    // AWS answers NotFound for a deleted template; moto an empty list.
    const left = await ec2Client(ctx)
      .send(new DescribeLaunchTemplatesCommand({ LaunchTemplateIds: [state.dcp.launchTemplateId!] }))
      .then(
        (o) => o.LaunchTemplates ?? [],
        () => [],
      );
    expect(left).toEqual([]);
  });

  it("a fleet that fails after launch is undone: fleet, alarms, launch template, dashboard gone, service back to 0", async () => {
    const run = await preparedRun({ FLEET_API: "ec2-fleet" });
    const state = await expectClusterStarted(run, "ec2-fleet", "files/auto-image.json");
    const config = await loadConfig(join(run.dir, "config/config.json"));
    const adapter = await fleetProvider("ec2-fleet", ctx);
    const instances = await adapter.activeInstances(state.dcp.fleetId);
    await undoStart(
      ctx,
      config,
      adapter,
      { api: "ec2-fleet", id: state.dcp.fleetId, launchTemplateId: state.dcp.launchTemplateId!, createErrors: [] },
      instances,
    );
    await markFailed(run.statePath, "fleet activity status is error");

    expect(await adapter.describe(state.dcp.fleetId)).toBeUndefined();
    expect(await listAlarmNames(cloudwatchClient(ctx), `${run.app}_`)).toEqual([]);
    const templates = await ec2Client(ctx)
      .send(new DescribeLaunchTemplatesCommand({ LaunchTemplateIds: [state.dcp.launchTemplateId!] }))
      .then(
        (o) => o.LaunchTemplates ?? [],
        () => [],
      );
    expect(templates).toEqual([]);
    await expect(cloudwatchClient(ctx).send(new GetDashboardCommand({ DashboardName: run.app }))).rejects.toThrow();
    const { services = [] } = await ecsClient(ctx).send(
      new DescribeServicesCommand({ cluster: run.cluster, services: [`${run.app}Service`] }),
    );
    expect(services[0]?.desiredCount).toBe(0);
    const after = await readRunState(run.statePath);
    expect(after.dcp).toMatchObject({
      status: "finished",
      observations: { startClusterError: "fleet activity status is error" },
    });
    // A finished run does not block the next start-cluster.
    const again = await runDcp(
      ["start-cluster", "files/auto-image.json", "--wait-timeout", "30", "--poll-interval", "0.2"],
      { cwd: run.dir },
    );
    expect(again.code, again.stderr).toBe(0);
    registerCleanup("ec2-fleet", await readRunState(run.statePath));
  });

  it("--dry-run prints the request and creates nothing", async () => {
    const run = await preparedRun({ FLEET_API: "spot-fleet", MACHINE_PRICE: 0.15 });
    const result = await runDcp(["start-cluster", "files/dcp-original.json", "--dry-run", "--json"], { cwd: run.dir });
    expect(result.code, result.stderr).toBe(0);
    const { requests } = JSON.parse(result.stdout) as {
      requests: {
        RequestSpotFleet: {
          SpotFleetRequestConfig: Record<string, unknown> & { LaunchSpecifications: Array<Record<string, unknown>> };
        };
      };
    };
    const config = requests.RequestSpotFleet.SpotFleetRequestConfig;
    expect(config).toMatchObject({ TargetCapacity: 2, SpotPrice: "0.15", Type: "maintain" });
    expect(config.LaunchSpecifications.map((s) => s.InstanceType)).toEqual(["m5.xlarge", "m5a.xlarge", "c5.2xlarge"]);
    expect(result.stdout).not.toMatch(/AWS_SECRET|aws_secret_access_key|testing/i);
    expect(existsSync(run.statePath)).toBe(false);
    const { services = [] } = await ecsClient(ctx).send(
      new DescribeServicesCommand({ cluster: run.cluster, services: [`${run.app}Service`] }),
    );
    expect(services[0]?.desiredCount).toBe(0);
    expect(await listAlarmNames(cloudwatchClient(ctx), `${run.app}_`)).toEqual([]);
    const tagged = await ec2Client(ctx).send(
      new DescribeInstancesCommand({ Filters: [{ Name: "tag:dcp:app", Values: [run.app] }] }),
    );
    expect(tagged.Reservations ?? []).toEqual([]);
  });
});

describe.concurrent("dcp start-cluster refuses bad input (exit 2, nothing created)", () => {
  const valid = JSON.parse(readFileSync(join(FIXTURES, "dcp-original.json"), "utf8")) as Record<string, unknown>;
  const { IamFleetRole: _role, ...noRole } = valid;
  const { Type: _type, ...rest } = valid;
  const cases: Array<{ name: string; file: string; config?: Record<string, unknown>; expected: RegExp }> = [
    {
      name: "invalid JSON",
      file: '{"IamFleetRole": "arn:aws:iam::123456789012:role/r",}',
      expected: /fleet\.json: is not valid JSON at line 1/,
    },
    {
      name: "no IamFleetRole",
      file: JSON.stringify(noRole),
      expected: /fleet\.json: IamFleetRole: is missing\. Fix: set the ARN of your Spot Fleet role/,
    },
    {
      name: "empty LaunchSpecifications",
      file: JSON.stringify({ ...valid, LaunchSpecifications: [] }),
      expected: /fleet\.json: LaunchSpecifications: must list at least one launch specification/,
    },
    {
      name: "a misspelled key",
      file: JSON.stringify({ ...rest, Tpye: "maintain" }),
      expected: /fleet\.json: Tpye: unknown key\. Fix: did you mean "Type"\?/,
    },
    {
      name: "a misspelled nested key",
      file: JSON.stringify({
        ...valid,
        LaunchSpecifications: [{ ...(valid.LaunchSpecifications as object[])[0], KeyNmae: "k" }],
      }),
      expected: /LaunchSpecifications\[0\]\.KeyNmae: unknown key\. Fix: did you mean "KeyName"\?/,
    },
    {
      name: "a placeholder subnet",
      file: JSON.stringify({
        ...valid,
        LaunchSpecifications: [
          {
            ...(valid.LaunchSpecifications as object[])[0],
            NetworkInterfaces: [{ DeviceIndex: 0, SubnetId: "subnet-WWWWWWWW" }],
          },
        ],
      }),
      expected: /LaunchSpecifications\[0\]\.NetworkInterfaces\[0\]\.SubnetId: expected a subnet id/,
    },
    {
      name: "config MACHINE_TYPE empty",
      file: JSON.stringify(valid),
      config: { MACHINE_TYPE: [] },
      expected: /config\.json: MACHINE_TYPE: list at least one instance type/,
    },
  ];

  it.each(cases)("$name", async ({ file, config, expected }) => {
    const dir = tempDir();
    const app = uniqueAppName("BAD");
    mkdirSync(join(dir, "config"));
    writeFileSync(join(dir, "config/config.json"), JSON.stringify({ APP_NAME: app, ...config }));
    writeFileSync(join(dir, "fleet.json"), file);
    const result = await runDcp(["start-cluster", "fleet.json"], { cwd: dir });
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr).toMatch(expected);
    expect(result.stderr.trim().split("\n")).toHaveLength(1);
    expect(existsSync(join(dir, `files/${app}SpotFleetRequestId.json`))).toBe(false);
    // A fleet would have launched instances tagged with the app (moto fulfils at once).
    const tagged = await ec2Client(ctx).send(
      new DescribeInstancesCommand({ Filters: [{ Name: "tag:dcp:app", Values: [app] }] }),
    );
    expect(tagged.Reservations ?? []).toEqual([]);
    expect(await listAlarmNames(cloudwatchClient(ctx), `${app}_`)).toEqual([]);
  });
});
