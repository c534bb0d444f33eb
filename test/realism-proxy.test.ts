/**
 * The realism layer itself (test/harness/realism-proxy.ts): real SDK v3 clients through the proxy
 * against moto and fauxqs; each fault fires as configured and is reproducible from its seed.
 * The proxy's clock is the test's (`now`), so nothing here waits for invisibility to pass.
 */
import { CloudWatchClient, DescribeAlarmsCommand, PutMetricAlarmCommand } from "@aws-sdk/client-cloudwatch";
import {
  CreateFleetCommand,
  CreateLaunchTemplateCommand,
  DescribeFleetInstancesCommand,
  DescribeFleetsCommand,
  DescribeInstancesCommand,
  DescribeRegionsCommand,
  DescribeSpotFleetInstancesCommand,
  DescribeSpotFleetRequestHistoryCommand,
  DescribeSpotFleetRequestsCommand,
  DescribeSpotPriceHistoryCommand,
  EC2Client,
  RequestSpotFleetCommand,
  type SpotFleetRequestConfigData,
} from "@aws-sdk/client-ec2";
import {
  CreateClusterCommand,
  CreateServiceCommand,
  ECSClient,
  RegisterTaskDefinitionCommand,
} from "@aws-sdk/client-ecs";
import { CreateQueueCommand, GetQueueUrlCommand, ListQueuesCommand, SQSClient } from "@aws-sdk/client-sqs";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startRealismProxy, type RealismProxy } from "./harness/realism-proxy.js";
import { runDcp, tempDir, uniqueAppName } from "./harness/dcp.js";

const AMI = "ami-12c6146b"; // one of moto's built-in images
const FLEET_ROLE = "arn:aws:iam::123456789012:role/aws-ec2-spot-fleet-tagging-role";

let proxy: RealismProxy;
let clock = Date.parse("2026-12-01T12:00:00Z");

function clients(maxAttempts = 3) {
  const options = {
    region: "us-east-1",
    endpoint: proxy.url,
    maxAttempts,
    credentials: { accessKeyId: "testing", secretAccessKey: "testing" },
  };
  return {
    ec2: new EC2Client(options),
    cw: new CloudWatchClient(options),
    ecs: new ECSClient(options),
    sqs: new SQSClient({ ...options, endpoint: proxy.sqsUrl }),
  };
}

function spotFleet(target: number, extra: Partial<SpotFleetRequestConfigData> = {}): SpotFleetRequestConfigData {
  return {
    IamFleetRole: FLEET_ROLE,
    TargetCapacity: target,
    AllocationStrategy: "lowestPrice",
    LaunchSpecifications: [{ ImageId: AMI, InstanceType: "m5.xlarge" }],
    ...extra,
  };
}

async function failure(promise: Promise<unknown>): Promise<{ name: string; message: string; status?: number }> {
  try {
    await promise;
  } catch (err) {
    const e = err as { name: string; message: string; $metadata?: { httpStatusCode?: number } };
    return { name: e.name, message: e.message, status: e.$metadata?.httpStatusCode };
  }
  throw new Error("expected the call to fail");
}

beforeAll(async () => {
  proxy = await startRealismProxy({ now: () => clock });
});
afterAll(() => proxy.stop());

describe("realism proxy", () => {
  it("passes requests through and logs action, parameters and raw body", async () => {
    const { ec2, sqs } = clients();
    proxy.configure({ validate: true, invisibleSeconds: 0 });
    await ec2.send(new DescribeRegionsCommand({ RegionNames: ["us-east-1"] }));
    const name = uniqueAppName("Q");
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: name }));
    expect(QueueUrl).toContain(name);
    const [regions] = proxy.requests("DescribeRegions").slice(-1);
    expect(regions).toMatchObject({ service: "ec2", params: { "RegionName.1": "us-east-1" }, status: 200 });
    expect(regions!.body).toContain("Action=DescribeRegions");
    expect(proxy.requests("CreateQueue").at(-1)).toMatchObject({ service: "sqs", params: { QueueName: name } });
    const served = (await (await fetch(`${proxy.url}/__realism/log`)).json()) as Array<{ action: string }>;
    expect(served.map((r) => r.action)).toContain("CreateQueue");
    // The same configuration over HTTP, for a process that only knows the proxy's URL.
    await fetch(`${proxy.url}/__realism/configure`, { method: "POST", body: JSON.stringify({ spotVcpuQuota: 5 }) });
    expect(proxy.config.spotVcpuQuota).toBe(5);
    proxy.configure({ spotVcpuQuota: undefined });
  });

  it("hides fleets, instances, alarms and queues created less than N seconds ago", async () => {
    const { ec2, cw, sqs } = clients();
    proxy.configure({ invisibleSeconds: 3, queueSeconds: 1 });
    const { SpotFleetRequestId: id } = await ec2.send(
      new RequestSpotFleetCommand({ SpotFleetRequestConfig: spotFleet(2) }),
    );
    const notFound = await failure(ec2.send(new DescribeSpotFleetRequestsCommand({ SpotFleetRequestIds: [id!] })));
    expect(notFound).toMatchObject({ name: "InvalidSpotFleetRequestId.NotFound", status: 400 });
    const all = await ec2.send(new DescribeSpotFleetRequestsCommand({}));
    expect(all.SpotFleetRequestConfigs?.map((c) => c.SpotFleetRequestId)).not.toContain(id);
    const alarm = uniqueAppName("alarm");
    await cw.send(
      new PutMetricAlarmCommand({
        AlarmName: alarm,
        MetricName: "CPUUtilization",
        Namespace: "AWS/EC2",
        Statistic: "Average",
        Period: 60,
        EvaluationPeriods: 1,
        Threshold: 1,
        ComparisonOperator: "LessThanThreshold",
      }),
    );
    expect((await cw.send(new DescribeAlarmsCommand({ AlarmNames: [alarm] }))).MetricAlarms).toEqual([]);
    const queue = uniqueAppName("Q");
    await sqs.send(new CreateQueueCommand({ QueueName: queue }));
    const missingQueue = await failure(sqs.send(new GetQueueUrlCommand({ QueueName: queue })));
    expect(missingQueue.name).toBe("QueueDoesNotExist");

    const template = await ec2.send(
      new CreateLaunchTemplateCommand({
        LaunchTemplateName: uniqueAppName("lt"),
        LaunchTemplateData: { ImageId: AMI, InstanceType: "m5.xlarge" },
      }),
    );
    const { FleetId } = await ec2.send(
      new CreateFleetCommand({
        Type: "maintain",
        TargetCapacitySpecification: { TotalTargetCapacity: 1, DefaultTargetCapacityType: "spot" },
        LaunchTemplateConfigs: [
          {
            LaunchTemplateSpecification: {
              LaunchTemplateId: template.LaunchTemplate!.LaunchTemplateId,
              Version: "$Latest",
            },
          },
        ],
      }),
    );
    expect((await ec2.send(new DescribeFleetsCommand({ FleetIds: [FleetId!] }))).Fleets).toEqual([]);
    const fleetNotFound = await failure(ec2.send(new DescribeFleetInstancesCommand({ FleetId })));
    expect(fleetNotFound.name).toBe("InvalidFleetId.NotFound");

    clock += 1000; // the queue exists after one second; the fleet is still invisible
    expect((await sqs.send(new GetQueueUrlCommand({ QueueName: queue }))).QueueUrl).toContain(queue);
    await failure(ec2.send(new DescribeSpotFleetInstancesCommand({ SpotFleetRequestId: id })));

    clock += 2000; // 3 s: the fleet is visible; its instances are new from now (first seen in this answer)
    const instances = await ec2.send(new DescribeSpotFleetInstancesCommand({ SpotFleetRequestId: id }));
    const instanceIds = instances.ActiveInstances!.map((i) => i.InstanceId!);
    expect(instanceIds).toHaveLength(2);
    const byId = await failure(ec2.send(new DescribeInstancesCommand({ InstanceIds: instanceIds })));
    expect(byId).toMatchObject({ name: "InvalidInstanceID.NotFound", status: 400 });
    expect(byId.message).toContain(instanceIds[0]);
    const byFilter = await ec2.send(
      new DescribeInstancesCommand({ Filters: [{ Name: "instance-id", Values: instanceIds }] }),
    );
    expect(byFilter.Reservations ?? []).toEqual([]);
    expect((await cw.send(new DescribeAlarmsCommand({ AlarmNames: [alarm] }))).MetricAlarms).toHaveLength(1);
    expect((await ec2.send(new DescribeFleetsCommand({ FleetIds: [FleetId!] }))).Fleets).toHaveLength(1);

    clock += 3000;
    const visible = await ec2.send(new DescribeInstancesCommand({ InstanceIds: instanceIds }));
    expect(visible.Reservations!.flatMap((r) => r.Instances!.map((i) => i.InstanceId))).toHaveLength(2);
    proxy.configure({ invisibleSeconds: 0, queueSeconds: 0 });
  });

  it("throttles an action above its rate with AWS's error, which the SDK retries as throttling", async () => {
    const { ec2, cw } = clients(2);
    proxy.configure({ throttle: { PutMetricAlarm: 3, DescribeInstances: 2 } });
    const put = (n: number) =>
      cw.send(
        new PutMetricAlarmCommand({
          AlarmName: uniqueAppName(`t${n}`),
          MetricName: "CPUUtilization",
          Namespace: "AWS/EC2",
          Statistic: "Average",
          Period: 60,
          EvaluationPeriods: 1,
          Threshold: 1,
          ComparisonOperator: "LessThanThreshold",
        }),
      );
    const before = proxy.requests("PutMetricAlarm").length;
    const results = await Promise.allSettled([1, 2, 3, 4].map(put));
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(3);
    const rejected = results.find((r) => r.status === "rejected") as PromiseRejectedResult;
    expect(rejected.reason).toMatchObject({ name: "Throttling" }); // a name the SDK classifies as throttling
    expect(rejected.reason.$metadata.attempts).toBe(2); // the SDK retried it
    expect(proxy.requests("PutMetricAlarm").length - before).toBe(5);

    await ec2.send(new DescribeInstancesCommand({}));
    await ec2.send(new DescribeInstancesCommand({}));
    const ec2Throttled = await failure(ec2.send(new DescribeInstancesCommand({})));
    expect(ec2Throttled).toMatchObject({ name: "RequestLimitExceeded", status: 503 });
    clock += 1000; // the bucket refills at the rate
    await ec2.send(new DescribeInstancesCommand({}));
    proxy.configure({ throttle: {} });
  });

  it("refuses fractional-second ValidUntil and tag specification types Spot Fleet does not accept", async () => {
    const { ec2 } = clients();
    const until = new Date(clock + 3_600_123);
    const refused = await failure(
      ec2.send(new RequestSpotFleetCommand({ SpotFleetRequestConfig: spotFleet(1, { ValidUntil: until }) })),
    );
    expect(refused).toMatchObject({
      name: "InvalidSpotFleetRequestConfig",
      message: "Parameter: SpotFleetRequestConfig.ValidUntil is invalid.",
      status: 400,
    });
    const whole = new Date(Math.floor(until.getTime() / 1000) * 1000);
    await ec2.send(new RequestSpotFleetCommand({ SpotFleetRequestConfig: spotFleet(1, { ValidUntil: whole }) }));
    expect(proxy.requests("RequestSpotFleet").at(-1)!.params["SpotFleetRequestConfig.ValidUntil"]).toMatch(/:\d\dZ$/);

    const volumeTags = spotFleet(1, {
      LaunchSpecifications: [
        {
          ImageId: AMI,
          InstanceType: "m5.xlarge",
          TagSpecifications: [{ ResourceType: "volume", Tags: [{ Key: "a", Value: "b" }] }],
        },
      ],
    });
    const badTags = await failure(ec2.send(new RequestSpotFleetCommand({ SpotFleetRequestConfig: volumeTags })));
    expect(badTags).toMatchObject({ name: "InvalidParameterValue", status: 400 });
    expect(badTags.message).toContain("'volume'");
    const topLevel = spotFleet(1, {
      TagSpecifications: [{ ResourceType: "instance", Tags: [{ Key: "a", Value: "b" }] }],
    });
    expect((await failure(ec2.send(new RequestSpotFleetCommand({ SpotFleetRequestConfig: topLevel })))).name).toBe(
      "InvalidParameterValue",
    );
    const fine = spotFleet(1, {
      TagSpecifications: [{ ResourceType: "spot-fleet-request", Tags: [{ Key: "a", Value: "b" }] }],
      LaunchSpecifications: [
        {
          ImageId: AMI,
          InstanceType: "m5.xlarge",
          TagSpecifications: [{ ResourceType: "instance", Tags: [{ Key: "a", Value: "b" }] }],
        },
      ],
    });
    await ec2.send(new RequestSpotFleetCommand({ SpotFleetRequestConfig: fine }));
  });

  it("reports partial capacity with activity status error, a history event and EC2 Fleet errors", async () => {
    const { ec2 } = clients();
    proxy.configure({ capacity: { available: 2 } });
    const { SpotFleetRequestId: id } = await ec2.send(
      new RequestSpotFleetCommand({ SpotFleetRequestConfig: spotFleet(5) }),
    );
    const [config] = (await ec2.send(new DescribeSpotFleetRequestsCommand({ SpotFleetRequestIds: [id!] })))
      .SpotFleetRequestConfigs!;
    expect(config).toMatchObject({ ActivityStatus: "error", SpotFleetRequestConfig: { TargetCapacity: 5 } });
    const active = await ec2.send(new DescribeSpotFleetInstancesCommand({ SpotFleetRequestId: id }));
    expect(active.ActiveInstances).toHaveLength(2);
    const history = await ec2.send(
      new DescribeSpotFleetRequestHistoryCommand({ SpotFleetRequestId: id, StartTime: new Date(clock - 60_000) }),
    );
    expect(history.HistoryRecords).toContainEqual(
      expect.objectContaining({
        EventType: "error",
        EventInformation: expect.objectContaining({
          EventDescription: "There is no Spot capacity available that matches your request.",
        }),
      }),
    );
    expect(proxy.requests("RequestSpotFleet").at(-1)!.params["SpotFleetRequestConfig.TargetCapacity"]).toBe("5");

    const template = await ec2.send(
      new CreateLaunchTemplateCommand({
        LaunchTemplateName: uniqueAppName("lt"),
        LaunchTemplateData: { ImageId: AMI, InstanceType: "m5.xlarge" },
      }),
    );
    const { FleetId } = await ec2.send(
      new CreateFleetCommand({
        Type: "maintain",
        TargetCapacitySpecification: { TotalTargetCapacity: 4, DefaultTargetCapacityType: "spot" },
        LaunchTemplateConfigs: [
          {
            LaunchTemplateSpecification: {
              LaunchTemplateId: template.LaunchTemplate!.LaunchTemplateId,
              Version: "$Latest",
            },
          },
        ],
      }),
    );
    const [fleet] = (await ec2.send(new DescribeFleetsCommand({ FleetIds: [FleetId!] }))).Fleets!;
    expect(fleet).toMatchObject({
      ActivityStatus: "error",
      TargetCapacitySpecification: { TotalTargetCapacity: 4 },
      Errors: [expect.objectContaining({ ErrorCode: "InsufficientInstanceCapacity" })],
    });
    proxy.configure({ capacity: undefined });
  });

  it("loses answers after the service acted, and honours client tokens as AWS does", async () => {
    const { ec2, ecs } = clients();
    proxy.configure({ lose: { share: 1, actions: ["RequestSpotFleet", "CreateService"], max: 2 } });
    const token = uniqueAppName("token");
    const first = await ec2.send(
      new RequestSpotFleetCommand({ SpotFleetRequestConfig: spotFleet(1, { ClientToken: token }) }),
    );
    const calls = proxy.requests("RequestSpotFleet").slice(-2);
    expect(calls.map((c) => c.fault)).toEqual(["lost", "replayed"]); // the SDK retried the 500
    expect(first.$metadata.attempts).toBe(2);
    const again = await ec2.send(
      new RequestSpotFleetCommand({ SpotFleetRequestConfig: spotFleet(1, { ClientToken: token }) }),
    );
    expect(again.SpotFleetRequestId).toBe(first.SpotFleetRequestId);
    const mismatch = await failure(
      ec2.send(new RequestSpotFleetCommand({ SpotFleetRequestConfig: spotFleet(2, { ClientToken: token }) })),
    );
    expect(mismatch).toMatchObject({ name: "IdempotentParameterMismatch", status: 400 });

    const cluster = uniqueAppName("c");
    await ecs.send(new CreateClusterCommand({ clusterName: cluster }));
    await ecs.send(
      new RegisterTaskDefinitionCommand({
        family: cluster,
        containerDefinitions: [{ name: "w", image: "x", memory: 128 }],
      }),
    );
    const service = { cluster, serviceName: "s", taskDefinition: cluster, desiredCount: 0, launchType: "EC2" as const };
    const created = await ecs.send(new CreateServiceCommand({ ...service, clientToken: token }));
    expect(created.service?.serviceName).toBe("s");
    expect(proxy.requests("CreateService").at(-1)).toMatchObject({ fault: "replayed", params: { launchType: "EC2" } });

    proxy.configure({ lose: undefined });
  });

  it("loses the same calls for the same seed, whatever else happens in between", async () => {
    const pattern = async (seed: number, noise: number) => {
      const own = await startRealismProxy({ seed, lose: { share: 0.5, actions: ["ListQueues"] } });
      const sqs = new SQSClient({ region: "us-east-1", endpoint: own.sqsUrl, maxAttempts: 1 });
      for (let n = 0; n < 16; n++) {
        for (let k = 0; k < noise; k++)
          await sqs.send(new GetQueueUrlCommand({ QueueName: "none" })).catch(() => undefined);
        await sqs.send(new ListQueuesCommand({ QueueNamePrefix: "none" })).catch(() => undefined);
      }
      await own.stop();
      return own.requests("ListQueues").map((r) => (r.fault === "lost" ? "x" : "."));
    };
    const a = await pattern(7, 0);
    expect(await pattern(7, 2)).toEqual(a); // other calls in between change nothing
    expect(a).toContain("x");
    expect(a).toContain(".");
    expect(a).not.toEqual(await pattern(8, 0));
  });

  it("serves spot prices, the Spot vCPU quota, and chosen errors", async () => {
    const { ec2, ecs } = clients(1);
    proxy.configure({
      spotPrices: [
        { zone: "us-east-1a", instanceType: "m5.xlarge", price: 0.07 },
        { zone: "us-east-1b", instanceType: "m5.xlarge", price: 0.05 },
        { zone: "us-east-1a", instanceType: "c5.xlarge", price: 0.04 },
      ],
      spotVcpuQuota: 64,
      fail: [
        { action: "CreateCluster", error: "AccessDenied", times: 1 },
        { action: "DescribeRegions", error: "ExpiredToken", times: 1 },
      ],
    });
    const prices = await ec2.send(new DescribeSpotPriceHistoryCommand({ InstanceTypes: ["m5.xlarge"] }));
    expect(prices.SpotPriceHistory!.map((p) => [p.AvailabilityZone, p.SpotPrice])).toEqual([
      ["us-east-1a", "0.070000"],
      ["us-east-1b", "0.050000"],
    ]);
    const quota = await fetch(proxy.url, {
      method: "POST",
      headers: {
        "x-amz-target": "ServiceQuotasV20190624.GetServiceQuota",
        "content-type": "application/x-amz-json-1.1",
      },
      body: JSON.stringify({ ServiceCode: "ec2", QuotaCode: "L-34B43A08" }),
    });
    expect(((await quota.json()) as { Quota: { Value: number } }).Quota.Value).toBe(64);

    const denied = await failure(ecs.send(new CreateClusterCommand({ clusterName: uniqueAppName("c") })));
    expect(denied.name).toBe("AccessDeniedException");
    expect(denied.message).toMatch(/User: arn:aws:iam::\d+:user\/\S+ is not authorized to perform: ecs:CreateCluster/);
    await ecs.send(new CreateClusterCommand({ clusterName: uniqueAppName("c") })); // times: 1
    expect((await failure(ec2.send(new DescribeRegionsCommand({})))).name).toBe("ExpiredToken");
    proxy.configure({ spotPrices: undefined, spotVcpuQuota: undefined, fail: [] });
  });

  it("serves a CLI child process that only gets the proxy's environment (make build first)", async () => {
    const app = uniqueAppName("Rp");
    const dir = tempDir();
    mkdirSync(join(dir, "config"));
    const config = {
      APP_NAME: app,
      ECS_CLUSTER: `${app}Cluster`,
      SQS_DEAD_LETTER_QUEUE: `${app}_Dead`,
      AWS_BUCKET: app.toLowerCase(),
      CREATE_DASHBOARD: false,
    };
    writeFileSync(join(dir, "config", "config.json"), JSON.stringify(config));
    proxy.configure({ fail: [{ action: "CreateCluster", error: "AccessDenied" }] });
    const setup = await runDcp(["setup"], { cwd: dir, env: proxy.env });
    proxy.configure({ fail: [] });
    expect(setup.code).not.toBe(0);
    expect(proxy.requests("CreateCluster").at(-1)).toMatchObject({
      service: "ecs",
      params: { clusterName: `${app}Cluster` },
      fault: "failed",
    });
  });
});
