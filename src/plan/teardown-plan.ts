/**
 * The teardown of a run as data: the ordered steps, computed from the state file, minus the steps
 * already recorded as completed. The flow executes them one by one and records each, and every
 * step treats "already gone" as done, so a teardown killed at any point and run again finishes.
 */
import { fleetKind, type FleetApi } from "../fleet/registry.js";

export const TEARDOWN_STEP_IDS = [
  "scale-service",
  "delete-alarms",
  "cancel-fleet",
  "delete-launch-template",
  "delete-queue",
  "delete-service",
  "deregister-task-definitions",
  "delete-dashboard",
  "export-logs",
  "export-instance-logs",
  "deregister-container-instances",
  "delete-cluster",
  "finish",
] as const;
export type TeardownStepId = (typeof TEARDOWN_STEP_IDS)[number];

/** What the plan needs from the state file (see teardownInputFromState in the flow). */
export interface TeardownInput {
  appName: string;
  cluster: string;
  serviceName: string;
  taskFamily: string;
  queueName: string;
  deadLetterQueueName: string;
  fleetApi: FleetApi;
  fleetId: string;
  launchTemplateId?: string | undefined;
  dashboardName: string | null;
  cleanDashboard: boolean;
  bucket: string;
  logGroup: string;
  perInstanceLogGroup: string;
  /** the budget stop (state dcp.stoppedBy): stop spending, keep the queue and what a new start needs */
  stopOnly?: boolean;
  /** epoch ms: logs are exported from here to the time of the export */
  startTimeMs: number;
  completed: readonly string[];
}

export type TeardownStep =
  | { id: "scale-service"; cluster: string; service: string }
  | { id: "delete-alarms"; appName: string }
  | { id: "cancel-fleet"; fleetApi: TeardownInput["fleetApi"]; fleetId: string }
  | { id: "delete-launch-template"; launchTemplateId: string }
  | { id: "delete-queue"; queueName: string; deadLetterQueueName: string }
  | { id: "delete-service"; cluster: string; service: string }
  | { id: "deregister-task-definitions"; family: string }
  | { id: "deregister-container-instances"; cluster: string }
  | { id: "delete-cluster"; cluster: string; service: string; family: string }
  | { id: "delete-dashboard"; name: string }
  | { id: "export-logs" | "export-instance-logs"; logGroup: string; bucket: string; prefix: string; fromMs: number }
  | { id: "finish" };

export interface TeardownPlan {
  /** steps still to run, in order */
  steps: TeardownStep[];
  /** steps a previous run already completed */
  completed: TeardownStepId[];
  /** what teardown deliberately leaves in place */
  kept: string[];
}

/** The S3 prefix a log group is exported to: exportedlogs/<group> (DCP's layout). */
export function exportPrefix(logGroup: string): string {
  return `exportedlogs/${logGroup.replace(/^\/+/, "")}`;
}

/** The steps that end what bills by the hour: service to 0, alarms, the fleet and its launch template. */
function spendingSteps(input: TeardownInput): TeardownStep[] {
  const all: TeardownStep[] = [
    { id: "scale-service", cluster: input.cluster, service: input.serviceName },
    { id: "delete-alarms", appName: input.appName },
  ];
  // A start-cluster that stopped before AWS named a fleet (and none was found by its client token).
  if (input.fleetId) all.push({ id: "cancel-fleet", fleetApi: input.fleetApi, fleetId: input.fleetId });
  // A launch template the fleet owns (EC2 Fleet's) goes right after the fleet that used it.
  if (input.launchTemplateId) {
    all.push({ id: "delete-launch-template", launchTemplateId: input.launchTemplateId });
  }
  return all;
}

function withCompleted(all: TeardownStep[], input: TeardownInput, kept: string[]): TeardownPlan {
  const done = new Set(input.completed);
  return {
    steps: all.filter((s) => !done.has(s.id)),
    completed: all.filter((s) => done.has(s.id)).map((s) => s.id),
    kept,
  };
}

/**
 * The budget stop: only what bills by the hour goes; the queue with the groups not done, the service,
 * task definition and cluster stay, so `dcp start-cluster` resumes the run without --replace.
 */
function planStop(input: TeardownInput): TeardownPlan {
  const dashboard: TeardownStep[] =
    input.dashboardName && input.cleanDashboard ? [{ id: "delete-dashboard", name: input.dashboardName }] : [];
  return withCompleted([...spendingSteps(input), ...dashboard, { id: "finish" }], input, [
    `job queue ${input.queueName} with the groups not done (dcp start-cluster resumes them)`,
    `dead-letter queue ${input.deadLetterQueueName}`,
    `service ${input.serviceName} (0 tasks), its task definition and cluster ${input.cluster}`,
    `log groups ${input.logGroup}, ${input.perInstanceLogGroup}`,
  ]);
}

export function planTeardown(input: TeardownInput): TeardownPlan {
  if (input.stopOnly) return planStop(input);
  const all = spendingSteps(input);
  all.push(
    { id: "delete-queue", queueName: input.queueName, deadLetterQueueName: input.deadLetterQueueName },
    { id: "delete-service", cluster: input.cluster, service: input.serviceName },
    { id: "deregister-task-definitions", family: input.taskFamily },
  );
  const kept = [
    `dead-letter queue ${input.deadLetterQueueName} (failed jobs)`,
    `log groups ${input.logGroup}, ${input.perInstanceLogGroup} (they expire)`,
  ];
  if (input.dashboardName) {
    if (input.cleanDashboard) all.push({ id: "delete-dashboard", name: input.dashboardName });
    else kept.push(`dashboard ${input.dashboardName} (CLEAN_DASHBOARD is off)`);
  }
  for (const [id, logGroup] of [
    ["export-logs", input.logGroup],
    ["export-instance-logs", input.perInstanceLogGroup],
  ] as const) {
    all.push({ id, logGroup, bucket: input.bucket, prefix: exportPrefix(logGroup), fromMs: input.startTimeMs });
  }
  // The cluster goes last: the deleted service needs a while to drain, and if it has not by then only the
  // cluster is left for the next `dcp teardown`.
  all.push({ id: "deregister-container-instances", cluster: input.cluster });
  if (input.cluster === "default") kept.push("ECS cluster default (never deleted)");
  else all.push({ id: "delete-cluster", cluster: input.cluster, service: input.serviceName, family: input.taskFamily });
  all.push({ id: "finish" });
  return withCompleted(all, input, kept);
}

/** One line per step, for --dry-run and progress output. */
export function describeStep(step: TeardownStep): string {
  switch (step.id) {
    case "scale-service":
      return `scale service ${step.service} to 0`;
    case "delete-alarms":
      return `delete idle alarms ${step.appName}_i-*`;
    case "cancel-fleet":
      return `${fleetKind(step.fleetApi).cancelPhrase} ${step.fleetId}`;
    case "delete-launch-template":
      return `delete launch template ${step.launchTemplateId}`;
    case "delete-queue":
      return `delete job queue ${step.queueName}`;
    case "delete-service":
      return `delete service ${step.service}`;
    case "deregister-task-definitions":
      return `deregister task definitions ${step.family}`;
    case "deregister-container-instances":
      return `deregister the fleet's container instances`;
    case "delete-cluster":
      return `delete cluster ${step.cluster} if unused`;
    case "delete-dashboard":
      return `delete dashboard ${step.name}`;
    case "export-logs":
    case "export-instance-logs":
      return `export logs ${step.logGroup} to s3://${step.bucket}/${step.prefix}/`;
    case "finish":
      return "mark the run finished";
  }
}

// ---------------------------------------------------------------------------------------------
// Whether the cluster can go.

export interface ClusterUse {
  /** false when DescribeClusters does not know it, or reports it INACTIVE */
  exists: boolean;
  /** services still listed in the cluster (ACTIVE or DRAINING) */
  services: string[];
  runningTasks: number;
  pendingTasks: number;
  /** tasks of this run's family still running or pending */
  ownTasks: number;
  /** container instances (ACTIVE or DRAINING) that do not run on this fleet's instances */
  containerInstances: number;
  /** this fleet's container instances still listed (deregistration takes a moment to show) */
  ownContainerInstances?: number;
}

export type ClusterDecision =
  { action: "delete" } | { action: "gone" } | { action: "keep"; reason: string } | { action: "wait"; reason: string };

export function clusterDecision(name: string, ownService: string, use: ClusterUse): ClusterDecision {
  if (name === "default") return { action: "keep", reason: "the default cluster is never deleted" };
  if (!use.exists) return { action: "gone" };
  const others = use.services.filter((s) => s !== ownService);
  if (others.length) return { action: "keep", reason: `it runs other services (${others.join(", ")})` };
  if (use.containerInstances > 0)
    return {
      action: "keep",
      reason: `${use.containerInstances} container instance(s) not from this fleet are registered`,
    };
  if ((use.ownContainerInstances ?? 0) > 0)
    return {
      action: "wait",
      reason: `${use.ownContainerInstances} container instance(s) of this fleet still deregistering`,
    };
  const otherTasks = use.runningTasks + use.pendingTasks - use.ownTasks;
  if (otherTasks > 0) return { action: "keep", reason: `${otherTasks} task(s) of other task families run in it` };
  if (use.services.length || use.ownTasks > 0)
    return { action: "wait", reason: `service ${ownService} is still draining` };
  return { action: "delete" };
}
