/**
 * Monitor benchmark: AWS API calls per `dcp monitor` poll for a 200-instance Spot Fleet, counted
 * with the SDK middleware (observeAwsCalls), against moto + fauxqs started by this process.
 * Figures: calls of a steady poll (nothing changed), of a poll where k instances died, and of one
 * where k new instances appeared; goal: a constant number per poll plus only the alarm calls of
 * the instances that changed.
 * Baseline, in the same process against the same emulator: the per-alarm approach (one
 * DescribeAlarms per instance to find missing alarms, one DeleteAlarms per dead instance, as
 * DCP's killdeadAlarms deletes them), on top of the same queue and fleet readings.
 *
 * Run: make bench (or npx vite-node --options.deps.external=/dist/ bench/monitor-calls.bench.ts after make build). Last line: the ratio.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DeleteAlarmsCommand, DescribeAlarmsCommand, PutMetricAlarmCommand } from "@aws-sdk/client-cloudwatch";
import { ModifySpotFleetRequestCommand, RequestSpotFleetCommand, TerminateInstancesCommand } from "@aws-sdk/client-ec2";
import { CreateQueueCommand, SendMessageBatchCommand } from "@aws-sdk/client-sqs";
import { startEmulators } from "../test/harness/emulators.js";
import { loadDist } from "./dist.js";

const INSTANCES = Number(process.env.MONITOR_BENCH_INSTANCES ?? 200);
const CHANGED = 10;
const STEADY_POLLS = 5;

const emulators = await startEmulators();
Object.assign(process.env, emulators.env);

// Imported after the endpoints are set: the SDK reads them when clients are created.
const { observeAwsCalls } = await loadDist<typeof import("../src/aws/context.js")>("aws/context.js");
const { cloudwatchClient } = await loadDist<typeof import("../src/aws/cloudwatch.js")>("aws/cloudwatch.js");
const { idleAlarmName } = await loadDist<typeof import("../src/plan/names.js")>("plan/names.js");
const { ec2Client } = await loadDist<typeof import("../src/aws/ec2.js")>("aws/ec2.js");
const { sqsClient, queueActivity } = await loadDist<typeof import("../src/aws/sqs.js")>("aws/sqs.js");
const { fleetProvider } = await loadDist<typeof import("../src/fleet/registry.js")>("fleet/registry.js");
const { readRunState, writeRunState } =
  await loadDist<typeof import("../src/state/run-state.js")>("state/run-state.js");
const { runClients } = await loadDist<typeof import("../src/run/clients.js")>("run/clients.js");
const { Watcher } = await loadDist<typeof import("../src/flows/monitor.js")>("flows/monitor.js");
const { Output } = await loadDist<typeof import("../src/ui/output.js")>("ui/output.js");

const ctx = { region: "us-east-1", profile: undefined };
const app = `Bench${process.pid}`;
const dir = mkdtempSync(join(tmpdir(), "dcp-monitor-bench-"));

try {
  const sqs = sqsClient(ctx);
  const ec2 = ec2Client(ctx);
  const cw = cloudwatchClient(ctx);
  const { QueueUrl: queueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: `${app}Queue` }));
  await sqs.send(new CreateQueueCommand({ QueueName: `${app}_Dead` }));
  await sqs.send(
    new SendMessageBatchCommand({
      QueueUrl: queueUrl,
      Entries: Array.from({ length: 10 }, (_, i) => ({ Id: String(i), MessageBody: `job ${i}` })),
    }),
  );
  const { SpotFleetRequestId: fleetId } = await ec2.send(
    new RequestSpotFleetCommand({
      SpotFleetRequestConfig: {
        IamFleetRole: "arn:aws:iam::123456789012:role/fleet",
        TargetCapacity: INSTANCES,
        AllocationStrategy: "lowestPrice",
        LaunchSpecifications: [{ ImageId: "ami-12c6146b", InstanceType: "m5.xlarge" }],
      },
    }),
  );
  const statePath = join(dir, "files", `${app}SpotFleetRequestId.json`);
  await writeRunState(statePath, {
    MONITOR_FLEET_ID: fleetId!,
    MONITOR_APP_NAME: app,
    MONITOR_ECS_CLUSTER: `${app}Cluster`,
    MONITOR_QUEUE_NAME: `${app}Queue`,
    MONITOR_BUCKET_NAME: "bench-bucket",
    MONITOR_LOG_GROUP_NAME: app,
    MONITOR_START_TIME: String(Date.now()),
    CLEAN_DASHBOARD: "True",
    dcp: {
      version: 1,
      fleetApi: "spot-fleet",
      fleetId: fleetId!,
      region: ctx.region,
      startedAt: new Date().toISOString(),
      clusterMachines: INSTANCES,
      tasksPerMachine: 1,
      serviceName: `${app}Service`,
      taskFamily: `${app}Task`,
      deadLetterQueueName: `${app}_Dead`,
      perInstanceLogGroup: `${app}_perInstance`,
      dashboardName: null,
      status: "running",
    },
  });

  let calls: string[] = [];
  observeAwsCalls((command) => calls.push(command));
  const measure = async (fn: () => Promise<unknown>): Promise<string[]> => {
    calls = [];
    await fn();
    const made = calls;
    calls = [];
    return made;
  };
  const histogram = (list: string[]) =>
    Object.entries(list.reduce<Record<string, number>>((h, c) => ((h[c] = (h[c] ?? 0) + 1), h), {}))
      .map(([c, n]) => `${c} ${n}`)
      .join(", ");

  const run = { path: statePath, ctx, state: await readRunState(statePath) };
  const events = new Output({ plain: true, stream: process.stderr });
  const watcher = new Watcher(
    run,
    await runClients(run),
    { stateFile: statePath, config: "", cheapest: false, intervalS: 60, once: false },
    events,
  );

  const first = await measure(() => watcher.poll());
  const steady: number[] = [];
  let steadyCalls: string[] = [];
  for (let i = 0; i < STEADY_POLLS; i++) {
    steadyCalls = await measure(() => watcher.poll());
    steady.push(steadyCalls.length);
  }
  const instances = await (await fleetProvider("spot-fleet", ctx)).activeInstances(fleetId!);
  const dead = instances.slice(0, CHANGED);
  await ec2.send(new TerminateInstancesCommand({ InstanceIds: dead }));
  const afterDeaths = await measure(() => watcher.poll());
  await ec2.send(
    new ModifySpotFleetRequestCommand({ SpotFleetRequestId: fleetId!, TargetCapacity: INSTANCES + CHANGED }),
  );
  const afterLaunches = await measure(() => watcher.poll());

  // Baseline: the same readings, then alarms kept in sync one instance at a time.
  const fleet = await fleetProvider("spot-fleet", ctx);
  const perAlarmPoll = async (goneIds: readonly string[]) => {
    await queueActivity(sqs, queueUrl!);
    await queueActivity(sqs, queueUrl!.replace(/Queue$/, "_Dead"));
    await fleet.describe(fleetId!);
    const ids = await fleet.activeInstances(fleetId!);
    for (const id of ids) {
      const out = await cw.send(new DescribeAlarmsCommand({ AlarmNames: [idleAlarmName(app, id)] }));
      if (!out.MetricAlarms?.length)
        await cw.send(
          new PutMetricAlarmCommand({
            AlarmName: idleAlarmName(app, id),
            MetricName: "CPUUtilization",
            Namespace: "AWS/EC2",
            Statistic: "Maximum",
            Period: 60,
            EvaluationPeriods: 15,
            Threshold: 1,
            ComparisonOperator: "LessThanThreshold",
          }),
        );
    }
    for (const id of goneIds) await cw.send(new DeleteAlarmsCommand({ AlarmNames: [idleAlarmName(app, id)] }));
  };
  const baselineSteady = (await measure(() => perAlarmPoll([]))).length;
  const baselineDeaths = (await measure(() => perAlarmPoll(instances.slice(CHANGED, 2 * CHANGED)))).length;

  const steadyFigure = Math.max(...steady);
  console.log(`instances in the fleet: ${INSTANCES} (moto), changed per event: ${CHANGED}`);
  console.log(`first poll (full alarm sync, ${INSTANCES} alarms created): ${first.length} calls (${histogram(first)})`);
  console.log(`steady polls: ${steady.join(", ")} calls (${histogram(steadyCalls)})`);
  console.log(`poll after ${CHANGED} instances died: ${afterDeaths.length} calls (${histogram(afterDeaths)})`);
  console.log(`poll after ${CHANGED} instances appeared: ${afterLaunches.length} calls (${histogram(afterLaunches)})`);
  console.log(
    `full alarm re-listing every 60 polls: +${Math.ceil(INSTANCES / 100)} DescribeAlarms pages (${(Math.ceil(INSTANCES / 100) / 60).toFixed(2)} per poll amortized)`,
  );
  console.log(`per-alarm baseline: steady ${baselineSteady} calls, after ${CHANGED} deaths ${baselineDeaths} calls`);
  console.log(
    `monitor calls per poll, ${INSTANCES} instances: steady ${steadyFigure}, +${afterDeaths.length - steadyFigure} when ${CHANGED} died, +${afterLaunches.length - steadyFigure} when ${CHANGED} appeared; ` +
      `per-alarm baseline steady ${baselineSteady}: ${(baselineSteady / steadyFigure).toFixed(1)}x fewer calls`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
  await emulators.stop();
}
