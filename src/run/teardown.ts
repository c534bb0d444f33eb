/**
 * Teardown of a run: plan (src/plan/teardown-plan.ts) from the state file, then each step in
 * order, recorded in `dcp.teardown.completed` as soon as it is done. Every step treats "already
 * gone" as done, so a teardown killed at any point (or interrupted) finishes when run again.
 * Used by `dcp monitor` when the queue has drained and by `dcp teardown` to abort a run.
 */
import { deleteAlarms, deleteDashboard, listAlarmNames } from "../aws/cloudwatch.js";
import { deleteLaunchTemplateIfExists, describeLiveInstances } from "../aws/ec2.js";
import {
  clusterUse,
  deleteClusterUnlessInUse,
  deleteServiceIfExists,
  deregisterActiveTaskDefinitions,
  deregisterContainerInstancesOf,
  setServiceDesiredCountIfExists,
} from "../aws/ecs.js";
import { awsErrorName, describeAwsFailure } from "../aws/errors.js";
import { exportLogGroup } from "../aws/logs.js";
import { deleteQueueIfExists, queueDepth } from "../aws/sqs.js";
import { Declined, Interrupted, OperationalError } from "../errors.js";
import { alarmInstanceId, endInstances, observe, trackInstances } from "../plan/monitor-decisions.js";
import { formatCost } from "../plan/monitor-cost.js";
import { parseObservations, type Observations } from "../plan/monitor-observations.js";
import { formatDuration } from "../plan/monitor-view.js";
import {
  clusterDecision,
  describeStep,
  planTeardown,
  type TeardownInput,
  type TeardownPlan,
  type TeardownStep,
} from "../plan/teardown-plan.js";
import { sleep } from "../sleep.js";
import { readRunState, updateRunState, type RunState } from "../state/run-state.js";
import type { Output } from "../ui/output.js";
import type { RunClients } from "./clients.js";
import { ledgerCostBreakdown, priceEstimate } from "./cost.js";
import type { CostBreakdown } from "../plan/run-cost.js";
import { observationsOf, withObservations } from "./observations.js";
import { RunReader } from "./reader.js";
import { summaryLines, type RunSummary } from "./summary.js";
import type { RunTarget } from "./target.js";
import { RunLedgerWriter, ledgerLocation } from "./run-ledger.js";

function withoutGroups({ byGroup: _groups, ...rest }: CostBreakdown): Omit<CostBreakdown, "byGroup"> {
  return rest;
}

export function teardownInput(state: RunState): TeardownInput {
  return {
    appName: state.MONITOR_APP_NAME,
    cluster: state.MONITOR_ECS_CLUSTER,
    serviceName: state.dcp.serviceName,
    taskFamily: state.dcp.taskFamily,
    queueName: state.MONITOR_QUEUE_NAME,
    deadLetterQueueName: state.dcp.deadLetterQueueName,
    fleetApi: state.dcp.fleetApi,
    fleetId: state.dcp.fleetId,
    launchTemplateId: state.dcp.launchTemplateId,
    dashboardName: state.dcp.dashboardName,
    cleanDashboard: state.CLEAN_DASHBOARD === "True",
    bucket: state.MONITOR_BUCKET_NAME,
    logGroup: state.MONITOR_LOG_GROUP_NAME,
    perInstanceLogGroup: state.dcp.perInstanceLogGroup,
    startTimeMs: Number(state.MONITOR_START_TIME),
    completed: state.dcp.teardown?.completed ?? [],
    ...(state.dcp.stoppedBy ? { stopOnly: true } : {}),
  };
}

/** Test-only knob: pause this long after the step named in DCP_TEARDOWN_PAUSE_AFTER (crash tests kill dcp there). */
const PAUSE_MS = 10 * 60_000;
/** How long teardown waits for the run's own service to finish draining before deleting the cluster. */
const CLUSTER_WAIT_MS = 3 * 60_000;
const CLUSTER_POLL_MS = 5_000;
const EXPORT_TIMING = { pollMs: 5_000, retryMs: 15_000, deadlineMs: 30 * 60_000 };

/** The heartbeat's poll interval while tearing down (no polls: status allows its default ten minutes). */
const LEDGER_POLL_SECONDS = 60;

export interface StepResult {
  id: TeardownStep["id"];
  outcome: string;
}

/**
 * Where a teardown records its progress: the state file (monitor, teardown), or memory (gc, for a run
 * whose state file is elsewhere or gone: everything it deletes is found again by the next gc).
 */
export interface TeardownJournal {
  observations(): Promise<Observations | undefined>;
  record(id: string, observations?: Observations): Promise<void>;
  /** the command that carries on from a failed step */
  resume: string;
}

function stateFileJournal(path: string): TeardownJournal {
  return {
    observations: async () => observationsOf(await readRunState(path)),
    record: async (id, observations) => void (await recordStep(path, id, observations)),
    resume: `dcp teardown ${path}`,
  };
}

/** A journal in memory: the observations of the steps run so far. */
export function memoryJournal(resume: string): TeardownJournal {
  let kept: Observations | undefined;
  return {
    observations: () => Promise.resolve(kept),
    record: (_id, observations) => {
      if (observations) kept = observations;
      return Promise.resolve();
    },
    resume,
  };
}

/** Records a completed step (and, if given, new observations) in one atomic write. */
async function recordStep(path: string, id: string, observations?: Observations): Promise<RunState> {
  return updateRunState(path, (s) => {
    const completed = s.dcp.teardown?.completed ?? [];
    const next = {
      ...s,
      dcp: { ...s.dcp, teardown: { completed: completed.includes(id) ? completed : [...completed, id] } },
    };
    return observations ? withObservations(next, observations) : next;
  });
}

class TeardownRunner {
  private dlqHolds: number | undefined;
  private signal: AbortSignal | undefined;
  private readonly results: StepResult[] = [];

  constructor(
    private readonly journal: TeardownJournal,
    private readonly clients: RunClients,
    private readonly output: Output,
  ) {}

  /** Runs one step; returns what it did, in words. */
  private async execute(
    step: TeardownStep,
    stepOutput: (text: string) => void,
  ): Promise<{ outcome: string; observations?: Observations }> {
    const { ecs, cw, ec2, sqs, logs, fleet } = this.clients;
    switch (step.id) {
      case "scale-service":
        return {
          outcome: (await setServiceDesiredCountIfExists(ecs, step.cluster, step.service, 0))
            ? "0 tasks"
            : "already gone",
        };
      case "delete-alarms": {
        const names = (await listAlarmNames(cw, `${step.appName}_`)).filter(
          (n) => alarmInstanceId(step.appName, n) !== undefined,
        );
        await deleteAlarms(cw, names);
        return { outcome: names.length ? `${names.length} deleted` : "none left" };
      }
      case "cancel-fleet": {
        // Record the instances first: their hours count in the summary and their container instances are deregistered below.
        const at = Date.now();
        const ids = await fleet.activeInstances(step.fleetId);
        const live = ids.length ? await describeLiveInstances(ec2, ids) : [];
        const base =
          (await this.journal.observations()) ?? observe(undefined, { at, visible: 0, inFlight: 0, dlq: 0, live: [] });
        const existed = (await fleet.describe(step.fleetId)) !== undefined;
        await fleet.cancel(step.fleetId);
        const observations = { ...base, instances: endInstances(trackInstances(base.instances, live, at), Date.now()) };
        return {
          outcome: existed ? `cancelled; ${live.length} instance(s) terminating` : "already gone",
          observations,
        };
      }
      case "delete-launch-template":
        return {
          outcome: (await deleteLaunchTemplateIfExists(ec2, step.launchTemplateId)) ? "deleted" : "already gone",
        };
      case "delete-queue": {
        const deleted = await deleteQueueIfExists(sqs, step.queueName);
        this.dlqHolds = await queueDepth(sqs, step.deadLetterQueueName);
        const dlq =
          this.dlqHolds === undefined
            ? `DLQ ${step.deadLetterQueueName} not found`
            : this.dlqHolds > 0
              ? `DLQ ${step.deadLetterQueueName} kept, holds ${this.dlqHolds} message(s)`
              : `DLQ ${step.deadLetterQueueName} kept (empty)`;
        return { outcome: `${deleted ? "deleted" : "already gone"}; ${dlq}` };
      }
      case "delete-service":
        return { outcome: (await deleteServiceIfExists(ecs, step.cluster, step.service)) ? "deleted" : "already gone" };
      case "deregister-task-definitions": {
        const n = await deregisterActiveTaskDefinitions(ecs, step.family);
        return { outcome: n ? `${n} deregistered` : "none active" };
      }
      case "deregister-container-instances": {
        const ids = new Set(Object.keys((await this.journal.observations())?.instances ?? {}));
        const n = ids.size ? await deregisterContainerInstancesOf(ecs, step.cluster, ids) : 0;
        return { outcome: n ? `${n} deregistered` : "none" };
      }
      case "delete-cluster":
        return { outcome: await this.deleteCluster(step, stepOutput) };
      case "delete-dashboard":
        await deleteDashboard(cw, step.name);
        return { outcome: "deleted" };
      case "export-logs":
      case "export-instance-logs": {
        const result = await exportLogGroup(
          logs,
          { logGroup: step.logGroup, bucket: step.bucket, prefix: step.prefix, fromMs: step.fromMs, toMs: Date.now() },
          { ...EXPORT_TIMING, onWait: stepOutput, ...(this.signal ? { signal: this.signal } : {}) },
        );
        if (result.exported) return { outcome: result.status };
        this.output.warn(`logs of ${step.logGroup} not exported: ${result.reason}`);
        return { outcome: `not exported: ${result.reason}` };
      }
      case "finish":
        return { outcome: "finished" };
    }
  }

  private async deleteCluster(
    step: Extract<TeardownStep, { id: "delete-cluster" }>,
    stepOutput: (text: string) => void,
  ): Promise<string> {
    const deadline = Date.now() + CLUSTER_WAIT_MS;
    for (;;) {
      const decision = clusterDecision(
        step.cluster,
        step.service,
        await clusterUse(
          this.clients.ecs,
          step.cluster,
          step.family,
          new Set(Object.keys((await this.journal.observations())?.instances ?? {})),
        ),
      );
      if (decision.action === "gone") return "already gone";
      if (decision.action === "keep") return `kept: ${decision.reason}`;
      if (decision.action === "delete") {
        // "in use": something started using it between the check and the call: look again.
        const outcome = await deleteClusterUnlessInUse(this.clients.ecs, step.cluster);
        if (outcome !== "in use") return outcome;
      } else {
        stepOutput(decision.reason);
      }
      if (Date.now() > deadline) {
        throw new OperationalError(
          `ECS cluster ${step.cluster} is still in use by this run (${decision.action === "wait" ? decision.reason : "tasks still stopping"}); run \`${this.journal.resume}\` again in a few minutes`,
        );
      }
      await sleep(CLUSTER_POLL_MS, this.signal);
      if (this.signal?.aborted) throw new Interrupted();
    }
  }

  async run(plan: TeardownPlan, signal: AbortSignal): Promise<StepResult[]> {
    this.signal = signal;
    for (const step of plan.steps) {
      if (signal.aborted) throw new Interrupted();
      if (step.id === "finish") break;
      const { outcome, observations } = await this.output
        .step(
          describeStep(step),
          (handle) => this.execute(step, (text) => handle.update(text)),
          (r) => r.outcome,
        )
        .catch((err: unknown) => {
          if (err instanceof OperationalError || err instanceof Interrupted) throw err;
          const said = describeAwsFailure(err) ?? `${awsErrorName(err)}: ${(err as Error).message}`;
          throw new OperationalError(
            `teardown step ${step.id} failed: ${said}. The steps before it are done and recorded; run \`${this.journal.resume}\` to retry from here`,
          );
        });
      await this.journal.record(step.id, observations);
      this.results.push({ id: step.id, outcome });
      if (process.env.DCP_TEARDOWN_PAUSE_AFTER === step.id) {
        this.output.line(`paused after ${step.id} (DCP_TEARDOWN_PAUSE_AFTER is a test-only setting)`);
        await sleep(PAUSE_MS, signal);
      }
    }
    return this.results;
  }

  get deadLetterQueueHolds(): number | undefined {
    return this.dlqHolds;
  }
}

/**
 * Tears the run down (or finishes a teardown a killed dcp left half done) and returns the summary.
 * Throws Interrupted when `signal` aborts between steps.
 */
export async function tearDown(
  target: RunTarget,
  clients: RunClients,
  output: Output,
  signal: AbortSignal,
  confirmDrop?: ConfirmDrop,
): Promise<RunSummary> {
  let state = await readRunState(target.path);
  if (state.dcp.status === "starting") state = await adoptStartedFleet(target, clients, state, output);
  const ledger = new RunLedgerWriter(target.ctx, state, LEDGER_POLL_SECONDS, (t) => output.warn(t));
  if (state.dcp.status === "running" || state.dcp.status === "starting") {
    // A fresh teardown: one last reading, so the summary knows what was done and what was dropped.
    const reading = await new RunReader(clients, state).read();
    const observations = observe(observationsOf(state), reading);
    const dropped = reading.visible + reading.inFlight;
    const what = `${dropped} group(s) not done (${reading.visible} waiting, ${reading.inFlight} in flight)`;
    if (
      dropped > 0 &&
      confirmDrop &&
      !(await confirmDrop(`${what} will be deleted with the queue. Tear ${state.MONITOR_APP_NAME} down now?`))
    ) {
      throw new Declined();
    }
    if (state.dcp.stoppedBy) output.line(`stopping the spending: ${what} stay in the queue`);
    else if (dropped > 0) output.warn(`${what} go with the queue`);
    state = await updateRunState(target.path, (s) =>
      withObservations(
        { ...s, dcp: { ...s.dcp, status: "tearing-down", teardown: s.dcp.teardown ?? { completed: [] } } },
        observations,
      ),
    );
    await ledger.heartbeat("tearing-down", observations, state);
  } else if (state.dcp.status === "tearing-down") {
    output.line(
      `resuming the teardown of ${state.MONITOR_APP_NAME} (done before: ${(state.dcp.teardown?.completed ?? []).join(", ") || "nothing"})`,
    );
  }
  const plan = planTeardown(teardownInput(state));
  const runner = new TeardownRunner(stateFileJournal(target.path), clients, output);
  const steps = await runner.run(plan, signal);

  state = await readRunState(target.path);
  const observations = observationsOf(state);
  const finishedAt = Date.now();
  const startedAt = Date.parse(state.dcp.startedAt) || Number(state.MONITOR_START_TIME);
  const { estimate, problem } = await priceEstimate(clients, observations, new Date(startedAt), finishedAt);
  const breakdown =
    estimate.dollars === undefined || problem
      ? undefined
      : await ledgerCostBreakdown(
          ledgerLocation(target.ctx, state.MONITOR_BUCKET_NAME, state.MONITOR_APP_NAME),
          state.dcp.fleetId,
          {
            computeUsd: estimate.dollars,
            instanceHours: estimate.instanceHours,
            wallHours: (finishedAt - startedAt) / 3_600_000,
          },
        ).catch((err: unknown) => {
          output.warn(`cost per group not computed: ${(err as Error).message}`);
          return undefined;
        });
  const summary: RunSummary = {
    appName: state.MONITOR_APP_NAME,
    status: "finished",
    groupsDone: observations?.progress.done ?? 0,
    groupsTotal: observations?.progress.total ?? 0,
    deadLettered: observations?.progress.deadLettered ?? 0,
    ...(runner.deadLetterQueueHolds === undefined ? {} : { deadLetterQueueHolds: runner.deadLetterQueueHolds }),
    elapsedMs: finishedAt - startedAt,
    elapsed: formatDuration(finishedAt - startedAt),
    instanceHours: Number(estimate.instanceHours.toFixed(3)),
    ...(estimate.dollars === undefined || problem ? {} : { estimatedCostUsd: Number(estimate.dollars.toFixed(4)) }),
    cost: formatCost(estimate, problem),
    kept: plan.kept,
    steps: [...steps, { id: "finish", outcome: "finished" }],
    ...(state.dcp.stoppedBy ? { stoppedBy: state.dcp.stoppedBy } : {}),
    ...(breakdown ? { costs: withoutGroups(breakdown) } : {}),
  };
  await updateRunState(target.path, (s) => {
    const completed = s.dcp.teardown?.completed ?? [];
    const obs = parseObservations(s.dcp.observations);
    const next: RunState = {
      ...s,
      dcp: {
        ...s.dcp,
        status: "finished",
        finishedAt: new Date(finishedAt).toISOString(),
        teardown: { completed: completed.includes("finish") ? completed : [...completed, "finish"] },
      },
    };
    return obs ? withObservations(next, { ...obs, summary: { ...summary } }) : next;
  });
  await ledger.finish(summary, observationsOf(state), await readRunState(target.path), breakdown);
  for (const line of summaryLines(summary)) output.line(line);
  return summary;
}

/**
 * Runs a teardown plan's steps with `journal` (gc: a run whose state file is not here, its plan built
 * from what discovery found). Returns what each step did and what the dead-letter queue holds.
 */
export async function runTeardownSteps(
  plan: TeardownPlan,
  journal: TeardownJournal,
  clients: RunClients,
  output: Output,
  signal: AbortSignal,
): Promise<{ steps: StepResult[]; deadLetterQueueHolds: number | undefined }> {
  const runner = new TeardownRunner(journal, clients, output);
  const steps = await runner.run(plan, signal);
  return { steps, deadLetterQueueHolds: runner.deadLetterQueueHolds };
}

/**
 * A start-cluster that stopped before it learned its fleet id: find the fleet by the client token its
 * request carried (the nonce is in the state file) and record it, so the teardown cancels it.
 */
async function adoptStartedFleet(
  target: RunTarget,
  clients: RunClients,
  state: RunState,
  output: Output,
): Promise<RunState> {
  const nonce = state.dcp.startAttempt?.nonce;
  const found = nonce ? await clients.fleet.findStarted(state.MONITOR_APP_NAME, nonce) : undefined;
  output.line(
    found
      ? `start-cluster stopped before recording its fleet; found ${found.id} by its client token`
      : "start-cluster stopped before AWS made a fleet (none carries its client token)",
  );
  if (!found) return state;
  return updateRunState(target.path, (s) => ({
    ...s,
    MONITOR_FLEET_ID: found.id,
    dcp: {
      ...s.dcp,
      fleetId: found.id,
      ...(found.launchTemplateId ? { launchTemplateId: found.launchTemplateId } : {}),
    },
  }));
}

/** Asks the person at the terminal; true means go ahead. */
export type ConfirmDrop = (question: string) => Promise<boolean>;
