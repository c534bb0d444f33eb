/**
 * Plays the ECS agent and service scheduler on the emulator, where nothing runs a task when a service
 * scales: every `pollMs` it reads the service's desiredCount (moto) and the fleet's running instances,
 * and starts or stops local `dcp worker` processes (the built CLI, argv arrays) to match, each with
 * the environment of the service's task definition, as a container gets it (no config file).
 *
 *   const agent = startEcsAgent({ cluster, service, awsEnv: proxy.env, workDir, fleet: () => fleetIdOf(state) });
 *   ... dcp monitor scales the service to 0 ...; await agent.stop();
 *   agent.events  // started/stopped/exited, with instance ids and exit codes
 *
 * Each worker gets DCP_INSTANCE_ID, the instance it is placed on, which the worker prefers to the
 * instance metadata service for the run ledger's records.
 * Placement: at most `tasksPerInstance` workers per running instance (all on one pseudo-instance when no
 * fleet is given), and never more than desiredCount. Stops are ECS's: SIGTERM, then SIGKILL after the
 * container's stopTimeout (scale-in, and draining when an instance leaves the fleet). A worker that exits
 * by itself is replaced at the next poll while the service still wants it, as the service scheduler does.
 */
import { DescribeServicesCommand, DescribeTaskDefinitionCommand, ECSClient } from "@aws-sdk/client-ecs";
import {
  DescribeFleetInstancesCommand,
  DescribeInstancesCommand,
  DescribeSpotFleetInstancesCommand,
  EC2Client,
} from "@aws-sdk/client-ec2";
import { readFileSync } from "node:fs";
import { startDcp, type DcpProcess } from "./process.js";

export interface EcsAgentOptions {
  cluster: string;
  service: string;
  /** The workers' AWS environment (endpoints, credentials, region): the emulators' or `proxy.env`. */
  awsEnv: Record<string, string>;
  /** The agent's own describes (default `awsEnv`); pass the emulators' env to keep them out of a proxy's faults. */
  controlEnv?: Record<string, string>;
  /** Folder the workers run in. */
  workDir: string;
  /** The fleet (sfr-… or fleet-…), or a function that finds it (e.g. from the run's state file); none: no instance limit. */
  fleet?: string | (() => string | undefined | Promise<string | undefined>);
  tasksPerInstance?: number;
  pollMs?: number;
  /** Extra worker variables (e.g. FAKE_CP_ARGV_FILE for the test double). */
  extraEnv?: Record<string, string>;
  /** SIGTERM-to-SIGKILL grace, overriding the container's stopTimeout (ECS default 30 s). */
  stopTimeoutSeconds?: number;
  /** Replace workers that exit while the service still wants them (default true). */
  restart?: boolean;
  log?: (line: string) => void;
}

export interface AgentEvent {
  kind: "started" | "stopping" | "exited";
  task: number;
  instanceId: string;
  code?: number | null;
  signal?: NodeJS.Signals | null;
}

export interface EcsAgent {
  /** Workers running now (not being stopped). */
  running(): Array<{ task: number; instanceId: string; pid: number | undefined }>;
  events: AgentEvent[];
  /** One reconcile pass now (the poll loop runs them too). */
  reconcile(): Promise<void>;
  /** Stops polling and stops every worker as ECS would (SIGTERM, SIGKILL after stopTimeout). */
  stop(): Promise<void>;
}

interface Task {
  task: number;
  instanceId: string;
  process: DcpProcess;
  stopping: boolean;
  done: Promise<void>;
}

/** A task definition's first container: its environment as a map, and its stopTimeout. */
export async function containerEnvironment(
  ecs: ECSClient,
  taskDefinition: string,
): Promise<{ environment: Record<string, string>; stopTimeout?: number }> {
  const { taskDefinition: def } = await ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition }));
  const container = def?.containerDefinitions?.[0];
  return {
    environment: Object.fromEntries((container?.environment ?? []).map((e) => [e.name!, e.value ?? ""])),
    ...(container?.stopTimeout !== undefined ? { stopTimeout: container.stopTimeout } : {}),
  };
}

/**
 * A `fleet` finder for startEcsAgent: the fleet id in a run's state file (files/<APP_NAME>SpotFleetRequestId.json,
 * DCP's MONITOR_FLEET_ID key), or undefined while start-cluster has not written it.
 */
export function fleetFromStateFile(path: string): () => string | undefined {
  return () => {
    try {
      return (JSON.parse(readFileSync(path, "utf8")) as { MONITOR_FLEET_ID?: string }).MONITOR_FLEET_ID;
    } catch {
      return undefined;
    }
  };
}

function clientOptions(env: Record<string, string>) {
  return {
    region: env.AWS_REGION ?? "us-east-1",
    endpoint: env.AWS_ENDPOINT_URL,
    credentials: {
      accessKeyId: env.AWS_ACCESS_KEY_ID ?? "testing",
      secretAccessKey: env.AWS_SECRET_ACCESS_KEY ?? "testing",
    },
  };
}

/** Ids of the fleet's instances that are running now. */
async function runningInstances(ec2: EC2Client, fleetId: string): Promise<string[]> {
  const ids: string[] = [];
  let NextToken: string | undefined;
  do {
    const page = fleetId.startsWith("sfr-")
      ? await ec2.send(new DescribeSpotFleetInstancesCommand({ SpotFleetRequestId: fleetId, NextToken }))
      : await ec2.send(new DescribeFleetInstancesCommand({ FleetId: fleetId, NextToken }));
    ids.push(...(page.ActiveInstances ?? []).map((i) => i.InstanceId!));
    NextToken = page.NextToken;
  } while (NextToken);
  if (!ids.length) return [];
  const { Reservations = [] } = await ec2.send(
    new DescribeInstancesCommand({ Filters: [{ Name: "instance-id", Values: ids }] }),
  );
  return Reservations.flatMap((r) => r.Instances ?? [])
    .filter((i) => i.State?.Name === "running")
    .map((i) => i.InstanceId!)
    .sort();
}

export function startEcsAgent(options: EcsAgentOptions): EcsAgent {
  const control = clientOptions(options.controlEnv ?? options.awsEnv);
  const ecs = new ECSClient(control);
  const ec2 = new EC2Client(control);
  const log = options.log ?? (() => undefined);
  const perInstance = options.tasksPerInstance ?? 1;
  const tasks: Task[] = [];
  const events: AgentEvent[] = [];
  const definitions = new Map<string, Awaited<ReturnType<typeof containerEnvironment>>>();
  let counter = 0;
  let stopped = false;
  let grace = options.stopTimeoutSeconds ?? 30;
  let selfExited = 0;
  let pass: Promise<void> = Promise.resolve();

  const live = () => tasks.filter((t) => !t.stopping);

  function stopTask(t: Task, graceSeconds: number): void {
    if (t.stopping) return;
    t.stopping = true;
    events.push({ kind: "stopping", task: t.task, instanceId: t.instanceId });
    t.process.kill("SIGTERM");
    const timer = setTimeout(() => t.process.kill("SIGKILL"), graceSeconds * 1000);
    void t.done.then(() => clearTimeout(timer));
  }

  function startTask(instanceId: string, env: Record<string, string>): void {
    counter += 1;
    const task = counter;
    const workerEnv = {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? "",
      ...options.awsEnv,
      ...env,
      // The instance the worker runs on, as the instance metadata service would tell it (worker/ledger.ts).
      ...(options.fleet !== undefined ? { DCP_INSTANCE_ID: instanceId } : {}),
      ...options.extraEnv,
    };
    const child = startDcp(["worker"], options.workDir, workerEnv, `task ${task} on ${instanceId}`, log);
    const entry: Task = { task, instanceId, process: child, stopping: false, done: Promise.resolve() };
    entry.done = child.closed.then(({ code, signal }) => {
      if (!entry.stopping) selfExited += 1;
      events.push({ kind: "exited", task, instanceId, code, signal });
      tasks.splice(tasks.indexOf(entry), 1);
    });
    tasks.push(entry);
    events.push({ kind: "started", task, instanceId });
  }

  async function reconcileOnce(): Promise<void> {
    // A deleted cluster has no services (and so no tasks).
    const { services = [] } = await ecs
      .send(new DescribeServicesCommand({ cluster: options.cluster, services: [options.service] }))
      .catch((err: Error) => {
        if (err.name === "ClusterNotFoundException") return { services: [] };
        throw err;
      });
    const service = services.find((s) => s.status === "ACTIVE");
    const desired = stopped ? 0 : (service?.desiredCount ?? 0);
    const fleetId = typeof options.fleet === "function" ? await options.fleet() : options.fleet;
    const instances = options.fleet === undefined ? ["local"] : fleetId ? await runningInstances(ec2, fleetId) : [];
    const definition = service?.taskDefinition;
    if (definition && !definitions.has(definition))
      definitions.set(definition, await containerEnvironment(ecs, definition));
    const { environment = {}, stopTimeout } = (definition && definitions.get(definition)) || {};
    grace = options.stopTimeoutSeconds ?? stopTimeout ?? 30;

    // Draining: an instance that left the fleet stops its tasks.
    for (const t of live()) if (!instances.includes(t.instanceId)) stopTask(t, grace);
    // Scale-in: stop the newest tasks above the desired count.
    const target = Math.min(desired, instances.length * perInstance);
    for (const t of live().slice(target)) stopTask(t, grace);
    // Scale-out: place new tasks on the least-loaded instances (without restart, exited tasks stay down).
    const wanted = options.restart === false ? target - selfExited : target;
    while (live().length < wanted) {
      const load = (id: string) => live().filter((t) => t.instanceId === id).length;
      const instance = [...instances].sort((a, b) => load(a) - load(b))[0]!;
      if (load(instance) >= perInstance) break;
      startTask(instance, environment);
    }
  }

  const reconcile = () => {
    pass = pass.then(reconcileOnce).catch((err: Error) => log(`[ecs-agent] ${err.name}: ${err.message}`));
    return pass;
  };
  let polling = false; // a slow pass (a loaded machine) does not queue more behind it
  const timer = setInterval(() => {
    if (polling) return;
    polling = true;
    void reconcile().finally(() => (polling = false));
  }, options.pollMs ?? 1000);
  void reconcile();

  return {
    running: () => live().map((t) => ({ task: t.task, instanceId: t.instanceId, pid: t.process.pid })),
    events,
    reconcile,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await pass;
      for (const t of tasks) stopTask(t, grace);
      await Promise.all(tasks.map((t) => t.done));
    },
  };
}
