/**
 * The ECS task definition of the workers (reference 5.9, without its plaintext access keys), and
 * the comparison with the latest ACTIVE revision so `dcp setup` registers a new revision only when
 * something the config controls changed. Pure: no AWS imports; the shapes match the ECS API.
 */
import { resourceNames, type Config } from "../config/schema.js";
import { APP_TAG_KEY } from "./names.js";
import { workerEnvironment, type EnvVar } from "./worker-env.js";

/**
 * Seconds ECS waits between SIGTERM and SIGKILL. Spot draining gives about two minutes; the worker
 * uses them to hand its in-flight messages back to the queue.
 */
export const STOP_TIMEOUT_SECONDS = 120;

export interface ContainerSpec {
  name: string;
  image: string;
  cpu: number;
  memory: number;
  essential: boolean;
  /** The worker mounts the source bucket with FUSE (Mountpoint for Amazon S3), which needs a privileged container. */
  privileged: boolean;
  stopTimeout: number;
  environment: EnvVar[];
  logConfiguration: { logDriver: "awslogs"; options: Record<string, string> };
}

export interface TaskDefinitionSpec {
  family: string;
  taskRoleArn?: string;
  containerDefinitions: ContainerSpec[];
  tags: { key: string; value: string }[];
}

export function taskDefinitionSpec(config: Config, queueUrl: string): TaskDefinitionSpec {
  const names = resourceNames(config);
  return {
    family: names.taskFamily,
    ...(config.TASK_ROLE_ARN ? { taskRoleArn: config.TASK_ROLE_ARN } : {}),
    containerDefinitions: [
      {
        name: names.containerName,
        image: config.DOCKERHUB_TAG,
        cpu: config.CPU_SHARES,
        memory: config.MEMORY,
        essential: true,
        privileged: true,
        stopTimeout: STOP_TIMEOUT_SECONDS,
        // ECS drops variables whose value is empty (NECESSARY_STRING's default ''), so they are left
        // out here: what is registered is what DescribeTaskDefinition returns, and an unchanged
        // config never looks changed. Both workers read a missing variable as empty.
        environment: workerEnvironment(config, queueUrl).filter((e) => e.value !== ""),
        logConfiguration: {
          logDriver: "awslogs",
          options: {
            "awslogs-group": names.perInstanceLogGroup,
            "awslogs-region": config.AWS_REGION,
            "awslogs-stream-prefix": config.APP_NAME,
          },
        },
      },
    ],
    tags: [{ key: APP_TAG_KEY, value: config.APP_NAME }],
  };
}

/** What DescribeTaskDefinition returns, loosely typed (the SDK's TaskDefinition fits it). */
export interface ExistingTaskDefinition {
  revision?: number;
  taskRoleArn?: string;
  containerDefinitions?: Array<{
    name?: string;
    image?: string;
    cpu?: number;
    memory?: number;
    essential?: boolean;
    privileged?: boolean;
    stopTimeout?: number;
    environment?: Array<{ name?: string; value?: string }>;
    logConfiguration?: { logDriver?: string; options?: Record<string, string> };
  }>;
}

type ExistingContainer = NonNullable<ExistingTaskDefinition["containerDefinitions"]>[number];

function stable(value: unknown): string {
  if (value && typeof value === "object" && !Array.isArray(value)) {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stable(v)}`).join(",")}}`;
  }
  return JSON.stringify(value) ?? "undefined";
}

/** Environment differences by NAME only: values are never printed, old revisions may hold secrets. */
function environmentChanges(current: ExistingContainer, desired: EnvVar[]): string[] {
  const nonEmpty = (vars: Array<{ name?: string; value?: string }>) =>
    new Map(vars.filter((e) => e.value).map((e) => [e.name ?? "", e.value ?? ""]));
  const before = nonEmpty(current.environment ?? []);
  const after = nonEmpty(desired);
  const added = [...after.keys()].filter((k) => !before.has(k));
  const removed = [...before.keys()].filter((k) => !after.has(k));
  const changed = [...after.keys()].filter((k) => before.has(k) && before.get(k) !== after.get(k));
  const parts = [
    ...(changed.length ? [`changed ${changed.join(", ")}`] : []),
    ...(added.length ? [`added ${added.join(", ")}`] : []),
    ...(removed.length ? [`removed ${removed.join(", ")}`] : []),
  ];
  return parts.length ? [`environment: ${parts.join("; ")}`] : [];
}

/**
 * What differs between the desired definition and the latest ACTIVE revision, one line per field;
 * empty means the revision can be used as it is. Fields ECS fills in by default are not compared.
 */
export function diffTaskDefinition(
  desired: TaskDefinitionSpec,
  existing: ExistingTaskDefinition | undefined,
): string[] {
  if (!existing) return ["no active revision"];
  const changes: string[] = [];
  if ((existing.taskRoleArn ?? "") !== (desired.taskRoleArn ?? "")) {
    changes.push(`taskRoleArn ${existing.taskRoleArn ?? "none"} -> ${desired.taskRoleArn ?? "none"}`);
  }
  const containers = existing.containerDefinitions ?? [];
  if (containers.length !== desired.containerDefinitions.length) {
    changes.push(`containers ${containers.length} -> ${desired.containerDefinitions.length}`);
  }
  for (const want of desired.containerDefinitions) {
    const have = containers.find((c) => c.name === want.name);
    if (!have) {
      changes.push(`container ${want.name} added`);
      continue;
    }
    for (const field of ["image", "cpu", "memory", "essential", "privileged", "stopTimeout"] as const) {
      if (have[field] !== want[field])
        changes.push(`${field} ${String(have[field] ?? "unset")} -> ${String(want[field])}`);
    }
    const haveLog = { logDriver: have.logConfiguration?.logDriver, options: have.logConfiguration?.options ?? {} };
    if (stable(haveLog) !== stable(want.logConfiguration)) changes.push("logConfiguration");
    changes.push(...environmentChanges(have, want.environment));
  }
  return changes;
}
