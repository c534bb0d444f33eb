/**
 * The ECS agent stand-in (test/harness/ecs-agent.ts): real `dcp worker` processes (the built CLI, `make
 * build` first) follow the service's desired count and the fleet's running instances on moto.
 */
import {
  CreateClusterCommand,
  CreateServiceCommand,
  DeleteServiceCommand,
  RegisterTaskDefinitionCommand,
  UpdateServiceCommand,
} from "@aws-sdk/client-ecs";
import { RequestSpotFleetCommand, TerminateInstancesCommand } from "@aws-sdk/client-ec2";
import { afterAll, expect, it } from "vitest";
import { ec2Client } from "../src/aws/ec2.js";
import { ecsClient } from "../src/aws/ecs.js";
import { emulatorEnv } from "./harness/dcp.js";
import { startEcsAgent, type EcsAgent } from "./harness/ecs-agent.js";
import { scenario } from "./worker-helpers.js";

const ctx = { region: "us-east-1", profile: undefined };
let agent: EcsAgent | undefined;
afterAll(() => agent?.stop());

async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

it("starts and stops dcp workers to match the service's desired count and the fleet's instances", async () => {
  const s = await scenario({ env: { WORKER_IDLE_POLLS: "100000" } });
  const ecs = ecsClient(ctx);
  const cluster = `${s.app}Cluster`;
  await ecs.send(new CreateClusterCommand({ clusterName: cluster }));
  const environment = Object.entries(s.env).map(([name, value]) => ({ name, value }));
  await ecs.send(
    new RegisterTaskDefinitionCommand({
      family: `${s.app}Task`,
      containerDefinitions: [{ name: s.app, image: "dcp-worker", memory: 512, environment, stopTimeout: 5 }],
    }),
  );
  await ecs.send(
    new CreateServiceCommand({
      cluster,
      serviceName: `${s.app}Service`,
      taskDefinition: `${s.app}Task`,
      desiredCount: 4,
      launchType: "EC2",
    }),
  );
  const ec2 = ec2Client(ctx);
  const { SpotFleetRequestId } = await ec2.send(
    new RequestSpotFleetCommand({
      SpotFleetRequestConfig: {
        IamFleetRole: "arn:aws:iam::123456789012:role/aws-ec2-spot-fleet-tagging-role",
        TargetCapacity: 2,
        AllocationStrategy: "lowestPrice",
        LaunchSpecifications: [{ ImageId: "ami-12c6146b", InstanceType: "m5.xlarge" }],
      },
    }),
  );

  const lines: string[] = [];
  agent = startEcsAgent({
    cluster,
    service: `${s.app}Service`,
    awsEnv: emulatorEnv(),
    workDir: s.dir,
    fleet: SpotFleetRequestId,
    tasksPerInstance: 1,
    pollMs: 300,
    log: (line) => lines.push(line),
  });
  // Desired 4, but 2 instances of 1 task each: 2 workers, one per instance, with the task's environment.
  const ready = () => lines.filter((l) => l.includes("[loop 1] started")).length;
  await until(() => agent!.running().length === 2 && ready() === 2, "two workers");
  const instances = agent.running().map((t) => t.instanceId);
  expect(new Set(instances).size).toBe(2);

  await ecs.send(new UpdateServiceCommand({ cluster, service: `${s.app}Service`, desiredCount: 1 }));
  await until(() => agent!.events.filter((e) => e.kind === "exited").length === 1, "a scale-in");
  expect(agent.events.find((e) => e.kind === "exited")!.code).toBe(0); // SIGTERM: the worker stopped cleanly
  expect(agent.running()).toHaveLength(1);

  // The remaining worker's instance leaves the fleet (interrupted): ECS drains it, then places the task on
  // the other instance, which the fleet still runs.
  const [remaining] = agent.running();
  await ec2.send(new TerminateInstancesCommand({ InstanceIds: [remaining!.instanceId] }));
  await until(() => agent!.events.filter((e) => e.kind === "exited").length === 2, "the drained worker to stop");
  await until(() => agent!.running().length === 1 && ready() === 3, "a replacement");
  expect(agent.running()[0]!.instanceId).not.toBe(remaining!.instanceId);

  // Teardown deletes the service: its last task stops.
  await ecs.send(new DeleteServiceCommand({ cluster, service: `${s.app}Service`, force: true }));
  await until(() => agent!.events.filter((e) => e.kind === "exited").length === 3, "the service's deletion");
  expect(agent.running()).toEqual([]);
  await agent.stop();
  expect(agent.events.filter((e) => e.kind === "started")).toHaveLength(3);
  expect(agent.events.filter((e) => e.kind === "exited").every((e) => e.code === 0)).toBe(true);
});
