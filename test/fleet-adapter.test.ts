import {
  CreateLaunchTemplateCommand,
  CreateFleetCommand,
  DeleteLaunchTemplateCommand,
  DescribeInstancesCommand,
  RequestSpotFleetCommand,
} from "@aws-sdk/client-ec2";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { DescribeAlarmsCommand, ListTagsForResourceCommand } from "@aws-sdk/client-cloudwatch";
import {
  cloudwatchClient,
  deleteAlarms,
  deleteDashboard,
  listAlarmNames,
  putDashboard,
  putIdleAlarm,
  terminateActionArn,
} from "../src/aws/cloudwatch.js";
import { ec2Client } from "../src/aws/ec2.js";
import { FleetOperationUnsupportedError } from "../src/fleet/provider.js";
import { fleetProvider } from "../src/fleet/registry.js";
import { fleetIsLive } from "../src/plan/fleet-status.js";
import { readRunState, updateRunState, writeRunState, type RunState } from "../src/state/run-state.js";
import { tempDir, uniqueAppName } from "./harness/dcp.js";

const ctx = { region: "us-east-1", profile: undefined };
const AMI = "ami-12c6146b"; // one of moto's built-in images

async function instanceStates(ids: string[]): Promise<string[]> {
  const out = await ec2Client(ctx).send(new DescribeInstancesCommand({ InstanceIds: ids }));
  return (out.Reservations ?? []).flatMap((r) => r.Instances ?? []).map((i) => i.State?.Name ?? "?");
}

describe("fleet adapter (moto)", () => {
  it("spot-fleet: describe, list instances, lower the target without terminating, cancel twice", async () => {
    const ec2 = ec2Client(ctx);
    const { SpotFleetRequestId: id } = await ec2.send(
      new RequestSpotFleetCommand({
        SpotFleetRequestConfig: {
          IamFleetRole: "arn:aws:iam::123456789012:role/fleet",
          TargetCapacity: 3,
          AllocationStrategy: "lowestPrice",
          LaunchSpecifications: [{ ImageId: AMI, InstanceType: "m5.xlarge" }],
        },
      }),
    );
    const fleet = await fleetProvider("spot-fleet", ctx);
    const status = await fleet.describe(id!);
    expect(status).toMatchObject({ id, state: "active", target: 3, fulfilled: 3, errors: [] });
    expect(fleetIsLive(status)).toBe(true);
    const instances = await fleet.activeInstances(id!);
    expect(instances).toHaveLength(3);
    await fleet.setTarget(id!, 1);
    expect((await fleet.describe(id!))?.target).toBe(1);
    expect(await instanceStates(instances)).toEqual(["running", "running", "running"]);
    await fleet.cancel(id!);
    expect(await fleet.describe(id!)).toBeUndefined();
    expect(await fleet.activeInstances(id!)).toEqual([]);
    expect(new Set(await instanceStates(instances))).toEqual(new Set(["terminated"]));
    await expect(fleet.cancel(id!)).resolves.toBeUndefined();
  });

  it("ec2-fleet: describe, list instances, ModifyFleet surfaces as unsupported on moto, delete twice", async () => {
    const ec2 = ec2Client(ctx);
    const name = uniqueAppName("LT");
    const lt = await ec2.send(
      new CreateLaunchTemplateCommand({
        LaunchTemplateName: name,
        LaunchTemplateData: { ImageId: AMI, InstanceType: "m5.xlarge" },
      }),
    );
    const ltId = lt.LaunchTemplate!.LaunchTemplateId!;
    try {
      const { FleetId: id } = await ec2.send(
        new CreateFleetCommand({
          Type: "maintain",
          TargetCapacitySpecification: { TotalTargetCapacity: 2, DefaultTargetCapacityType: "spot" },
          SpotOptions: { AllocationStrategy: "price-capacity-optimized" },
          LaunchTemplateConfigs: [{ LaunchTemplateSpecification: { LaunchTemplateId: ltId, Version: "$Latest" } }],
        }),
      );
      const fleet = await fleetProvider("ec2-fleet", ctx);
      expect(await fleet.describe(id!)).toMatchObject({ id, state: "active", target: 2, fulfilled: 2, errors: [] });
      const instances = await fleet.activeInstances(id!);
      expect(instances).toHaveLength(2);
      await expect(fleet.setTarget(id!, 1)).rejects.toBeInstanceOf(FleetOperationUnsupportedError);
      await fleet.cancel(id!);
      expect(await fleet.describe(id!)).toBeUndefined();
      expect(new Set(await instanceStates(instances))).toEqual(new Set(["terminated"]));
      await expect(fleet.cancel(id!)).resolves.toBeUndefined();
    } finally {
      await ec2.send(new DeleteLaunchTemplateCommand({ LaunchTemplateId: ltId }));
    }
  });

  it("idle alarms: put one per instance, list by prefix across pages, delete in chunks with unknown names", async () => {
    const app = uniqueAppName("A");
    const ids = Array.from({ length: 105 }, (_, i) => `i-${String(i).padStart(17, "0")}`);
    for (const id of ids) await putIdleAlarm(cloudwatchClient(ctx), app, id);
    const { MetricAlarms = [] } = await cloudwatchClient(ctx).send(
      new DescribeAlarmsCommand({ AlarmNames: [`${app}_${ids[0]}`] }),
    );
    expect(MetricAlarms[0]).toMatchObject({
      AlarmActions: ["arn:aws:automate:us-east-1:ec2:terminate"],
      Namespace: "AWS/EC2",
      MetricName: "CPUUtilization",
      Statistic: "Maximum",
      Dimensions: [{ Name: "InstanceId", Value: ids[0] }],
      Period: 60,
      EvaluationPeriods: 15,
      Threshold: 1,
      ComparisonOperator: "LessThanThreshold",
    });
    const { Tags = [] } = await cloudwatchClient(ctx).send(
      new ListTagsForResourceCommand({ ResourceARN: MetricAlarms[0]!.AlarmArn! }),
    );
    expect(Tags).toEqual(expect.arrayContaining([{ Key: "dcp:app", Value: app }]));
    expect(terminateActionArn("cn-north-1")).toBe("arn:aws-cn:automate:cn-north-1:ec2:terminate");
    const names = await listAlarmNames(cloudwatchClient(ctx), `${app}_`);
    expect(names.sort()).toEqual(ids.map((id) => `${app}_${id}`).sort());
    await deleteAlarms(cloudwatchClient(ctx), [...names, `${app}_i-gone`]);
    expect(await listAlarmNames(cloudwatchClient(ctx), `${app}_`)).toEqual([]);
  });

  it("dashboard: put then delete; deleting a missing one is fine", async () => {
    const app = uniqueAppName("D");
    await putDashboard(cloudwatchClient(ctx), app, JSON.stringify({ widgets: [] }));
    await deleteDashboard(cloudwatchClient(ctx), app);
    await expect(deleteDashboard(cloudwatchClient(ctx), app)).resolves.toBeUndefined();
  });
});

describe("run state file", () => {
  const state: RunState = {
    MONITOR_FLEET_ID: "sfr-1",
    MONITOR_APP_NAME: "App",
    MONITOR_ECS_CLUSTER: "default",
    MONITOR_QUEUE_NAME: "AppQueue",
    MONITOR_BUCKET_NAME: "bucket",
    MONITOR_LOG_GROUP_NAME: "App",
    MONITOR_START_TIME: "1700000000000",
    CLEAN_DASHBOARD: "True",
    dcp: {
      version: 1,
      fleetApi: "spot-fleet",
      fleetId: "sfr-1",
      region: "us-east-1",
      startedAt: "2026-01-01T00:00:00.000Z",
      clusterMachines: 2,
      tasksPerMachine: 1,
      serviceName: "AppService",
      taskFamily: "AppTask",
      deadLetterQueueName: "App_DeadMessages",
      perInstanceLogGroup: "App_perInstance",
      dashboardName: "App",
      status: "running",
    },
  };

  it("writes, reads and updates atomically, leaving no temp file", async () => {
    const dir = tempDir();
    const path = join(dir, "files", "AppSpotFleetRequestId.json");
    await writeRunState(path, state);
    expect(await readRunState(path)).toEqual(state);
    const next = await updateRunState(path, (s) => ({
      ...s,
      dcp: { ...s.dcp, status: "tearing-down", teardown: { completed: ["service"] } },
    }));
    expect(next.dcp.teardown?.completed).toEqual(["service"]);
    expect((await readRunState(path)).dcp.status).toBe("tearing-down");
    const { readdirSync } = await import("node:fs");
    expect(readdirSync(join(dir, "files"))).toEqual(["AppSpotFleetRequestId.json"]);
  });

  it("rejects a DCP monitor file without the dcp block, naming the file and the field", async () => {
    const path = join(tempDir(), "old.json");
    const { dcp: _dcp, ...dcpOnly } = state;
    await writeFile(path, JSON.stringify(dcpOnly));
    await expect(readRunState(path)).rejects.toMatchObject({
      exitCode: 2,
      message: expect.stringContaining(`${path}: dcp`),
    });
    await expect(readRunState(join(tempDir(), "none.json"))).rejects.toMatchObject({
      exitCode: 2,
      message: expect.stringContaining("state file not found"),
    });
  });
});
