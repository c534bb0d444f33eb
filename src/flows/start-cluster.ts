/**
 * `dcp start-cluster fleet.json`: buy the spot capacity for a run and make it join the cluster.
 *
 * Order matters for "nothing lost, nothing leaked": everything that can be refused (fleet file,
 * a live fleet of the same app, a missing service) is refused before anything is created; the state
 * file is written right after the fleet exists, so monitor/teardown can always find it; a fleet
 * that fails is cancelled and what start-cluster made for it (alarms, launch template, dashboard)
 * is removed again.
 */
import { readFile } from "node:fs/promises";
import { cloudwatchClient, deleteAlarms, deleteDashboard, putDashboard, putIdleAlarm } from "../aws/cloudwatch.js";
import { awsContext, type AwsContext } from "../aws/context.js";
import { ecsClient, serviceIsActive, setServiceDesiredCountIfExists } from "../aws/ecs.js";
import { ensureLogGroups } from "../aws/logs.js";
import { queueDepth, sqsClient } from "../aws/sqs.js";
import { resolvePublicAmi, ssmClient } from "../aws/ssm.js";
import { resourceNames, type Config } from "../config/schema.js";
import { Interrupted, OperationalError, UserInputError } from "../errors.js";
import { newNonce } from "../plan/client-token.js";
import type { FleetProvider, LaunchedFleet, PlannedFleet } from "../fleet/provider.js";
import { configuredFleetApi, fleetApiOfId, fleetProvider, type FleetApi } from "../fleet/registry.js";
import { dashboardBody } from "../plan/dashboard.js";
import { expectedRunHours } from "../plan/estimate.js";
import { loadFleetFile, type FleetFile } from "../plan/fleet-file.js";
import { ECS_AMI_PARAMETERS, needsAutoImage } from "../plan/fleet-request.js";
import { idleAlarmName } from "../plan/names.js";
import { fleetIsLive, fleetLeftInstancesRunning, judgeFleet, type WaitVerdict } from "../plan/fleet-status.js";
import { userDataScript } from "../plan/user-data.js";
import { readRunState, runStateExists, updateRunState, writeRunState, type RunState } from "../state/run-state.js";
import { recordRunStart } from "../run/run-ledger.js";
import type { Output } from "../ui/output.js";
import { sleep } from "../sleep.js";

export interface StartClusterOptions {
  fleetFile: string;
  /** Seconds to wait for the fleet's capacity (0: do not wait). */
  waitTimeoutSeconds: number;
  /** Seconds between two readings of the fleet while waiting. */
  pollSeconds: number;
  dryRun: boolean;
  replace: boolean;
  /** Expected seconds per group (as dcp estimate's): with BUDGET_USD, the run's expected hours for EC2 Fleet's MaxTotalPrice. */
  secondsPerGroup?: number | undefined;
}

export interface StartClusterResult {
  dryRun: boolean;
  fleetApi: FleetApi;
  fleetId?: string;
  launchTemplateId?: string;
  imageId: string;
  target: number;
  /** Instances in the fleet when start-cluster returned. */
  running?: number;
  /** Fulfilled capacity (machines, unless the fleet file weights them). */
  fulfilled?: number;
  instances?: string[];
  partial?: boolean;
  desiredCount: number;
  stateFile: string;
  dashboard: string | null;
  notes: string[];
  /** With --dry-run: the requests dcp would send. */
  requests?: Record<string, unknown>;
}

/** The fleet a previous start-cluster recorded, read leniently enough to also understand DCP's own monitor file. */
interface RecordedFleet {
  api: FleetApi;
  id: string;
  launchTemplateId?: string;
  status: RunState["dcp"]["status"] | "unknown";
  /** A start that did not finish: its nonce, so the resumed start sends the same client tokens. */
  startNonce?: string;
  /** Set by checkNoLiveFleet: the fleet may still launch or bill (only returned with --replace). */
  live?: boolean;
}

async function recordedFleet(statePath: string): Promise<RecordedFleet | undefined> {
  if (!runStateExists(statePath)) return undefined;
  const raw = JSON.parse(await readFile(statePath, "utf8").catch(() => "null")) as unknown;
  const dcpBlock = (raw as { dcp?: unknown } | null)?.dcp;
  if (dcpBlock !== undefined) {
    const state = await readRunState(statePath);
    return {
      api: state.dcp.fleetApi,
      id: state.dcp.fleetId,
      status: state.dcp.status,
      ...(state.dcp.status === "starting" && state.dcp.startAttempt
        ? { startNonce: state.dcp.startAttempt.nonce }
        : {}),
      ...(state.dcp.launchTemplateId ? { launchTemplateId: state.dcp.launchTemplateId } : {}),
    };
  }
  // A monitor file written by DCP itself: a Spot Fleet request id.
  const id = (raw as { MONITOR_FLEET_ID?: unknown } | null)?.MONITOR_FLEET_ID;
  if (typeof id === "string" && id) return { api: fleetApiOfId(id), id, status: "unknown" };
  return undefined;
}

/**
 * Refuses to start a second fleet for the app while the recorded one is live, unless --replace.
 * Returns the recorded fleet (if any), marked live or not, so its leftovers can be cleared.
 */
async function checkNoLiveFleet(
  ctx: AwsContext,
  statePath: string,
  replace: boolean,
  output: Output,
): Promise<RecordedFleet | undefined> {
  let recorded: RecordedFleet | undefined;
  try {
    recorded = await recordedFleet(statePath);
  } catch (err) {
    if (err instanceof UserInputError) throw err;
    throw new UserInputError(
      statePath,
      undefined,
      "is not valid JSON",
      "remove it if no fleet of this app is running (check the EC2 console > Spot Requests), then run start-cluster again",
    );
  }
  if (!recorded) return undefined;
  // A start that stopped before it learned its fleet id: resumed with the same client token.
  if (recorded.status === "starting") return { ...recorded, live: false };
  const status = await (await fleetProvider(recorded.api, ctx)).describe(recorded.id);
  const live = fleetIsLive(status) || fleetLeftInstancesRunning(status);
  const tearingDown = recorded.status === "tearing-down";
  if (!live && !tearingDown) return { ...recorded, live: false };
  if (replace) {
    output.line(`Replacing ${recorded.api} ${recorded.id} (${status?.state ?? "teardown in progress"})`);
    return { ...recorded, live };
  }
  const why = tearingDown
    ? `a teardown of this app's run is in progress (fleet ${recorded.id})`
    : `fleet ${recorded.id} of this app is still ${status?.state} (${status?.fulfilled ?? 0}/${status?.target ?? 0} machines)`;
  throw new UserInputError(
    statePath,
    undefined,
    why,
    "watch it with `dcp monitor`, end it with `dcp teardown`, or cancel it and start a new fleet with `dcp start-cluster --replace`",
  );
}

/** Cancels the fleet of an earlier start-cluster, deletes the idle alarms of its instances and its launch template. */
async function clearRecordedFleet(ctx: AwsContext, appName: string, recorded: RecordedFleet): Promise<void> {
  if (!recorded.id) return;
  const provider = await fleetProvider(recorded.api, ctx);
  const instances = recorded.live ? await provider.activeInstances(recorded.id) : [];
  await provider.destroy(recorded);
  await deleteAlarms(
    cloudwatchClient(ctx),
    instances.map((id) => idleAlarmName(appName, id)),
  );
}

async function resolveImage(ctx: AwsContext, fleet: FleetFile, output: Output): Promise<string> {
  if (!needsAutoImage(fleet)) return fleet.LaunchSpecifications[0]!.ImageId!;
  const { imageId, parameter } = await resolvePublicAmi(ssmClient(ctx), ECS_AMI_PARAMETERS);
  output.line(
    `ImageId auto: ${imageId} (ECS-optimized ${parameter.includes("amazon-linux-2023") ? "Amazon Linux 2023" : "Amazon Linux 2"}, from SSM)`,
  );
  return imageId;
}

/** What start-cluster created, removed again when the fleet fails (nothing leaked). */
export async function undoStart(
  ctx: AwsContext,
  config: Config,
  provider: FleetProvider,
  launched: LaunchedFleet,
  alarmed: Iterable<string>,
): Promise<void> {
  const names = resourceNames(config);
  await provider.destroy(launched);
  const cw = cloudwatchClient(ctx);
  await deleteAlarms(
    cw,
    [...alarmed].map((id) => idleAlarmName(config.APP_NAME, id)),
  );
  await setServiceDesiredCountIfExists(ecsClient(ctx), config.ECS_CLUSTER, names.serviceName, 0);
  if (config.CREATE_DASHBOARD) await deleteDashboard(cw, config.APP_NAME);
}

export async function runStartCluster(
  config: Config,
  options: StartClusterOptions,
  output: Output,
  signal: AbortSignal = new AbortController().signal,
): Promise<StartClusterResult> {
  const api = configuredFleetApi(config);
  const fleetFile = await loadFleetFile(options.fleetFile);
  const ctx = awsContext(config);
  const names = resourceNames(config);
  const statePath = names.stateFile;
  const desiredCount = config.CLUSTER_MACHINES * config.TASKS_PER_MACHINE;
  const dashboard = config.CREATE_DASHBOARD ? config.APP_NAME : null;

  let previous: RecordedFleet | undefined;
  try {
    previous = await checkNoLiveFleet(ctx, statePath, options.replace, output);
  } catch (err) {
    // A dry run still shows the request, and says it would be refused.
    if (!options.dryRun || !(err instanceof UserInputError)) throw err;
    output.warn(`without --dry-run this would be refused: ${err.message}`);
  }
  const imageId = await resolveImage(ctx, fleetFile, output);
  const now = new Date();
  const provider = await fleetProvider(api, ctx);
  const resumed = previous?.startNonce !== undefined && previous.api === api;
  const nonce = resumed ? previous!.startNonce! : newNonce();
  const plan = provider.plan({
    config,
    fleet: fleetFile,
    resolvedImageId: imageId,
    now,
    nonce,
    source: options.fleetFile,
    expectedHours: await expectedHours(ctx, config, options.secondsPerGroup),
  });
  for (const note of plan.notes) output.warn(note);

  const base: StartClusterResult = {
    dryRun: options.dryRun,
    fleetApi: api,
    imageId,
    target: config.CLUSTER_MACHINES,
    desiredCount,
    stateFile: statePath,
    dashboard,
    notes: plan.notes,
  };
  if (options.dryRun) {
    if (!output.json) {
      process.stdout.write(
        `${JSON.stringify(plan.requests, null, 2)}\n\nUser data (decoded):\n${userDataScript({ cluster: config.ECS_CLUSTER })}\n`,
      );
      output.line(
        `Dry run: nothing was created. Without --dry-run: ${api} with ${config.CLUSTER_MACHINES} machine(s) of ${config.MACHINE_TYPE.join(", ")}, service ${names.serviceName} scaled to ${desiredCount}.`,
      );
    }
    return { ...base, requests: plan.requests };
  }

  const ecs = ecsClient(ctx);
  if (!(await serviceIsActive(ecs, config.ECS_CLUSTER, names.serviceName))) {
    throw new OperationalError(
      `ECS service ${names.serviceName} not found in cluster ${config.ECS_CLUSTER}: run \`dcp setup\` first (nothing was created)`,
    );
  }
  if (resumed)
    output.line("resuming a start-cluster that did not finish: same request, same client token (no second fleet)");
  else if (previous?.live)
    await output.step(`Cancelling old fleet ${previous.id}`, () => clearRecordedFleet(ctx, config.APP_NAME, previous));
  else if (previous) await clearRecordedFleet(ctx, config.APP_NAME, previous);
  await output.step(
    "Log groups",
    () => ensureLogGroups(ctx, config),
    (groups) => groups.map((g) => `${g.name} ${g.status}`).join(", "),
  );

  if (signal.aborted) throw new Interrupted("start-cluster interrupted before requesting a fleet: nothing was started");
  // The nonce is on disk before the fleet is requested: whatever happens next, a resumed start or a
  // teardown can find the request by its client token.
  const starting = initialState(config, { api, id: "", createErrors: [] }, now, dashboard, nonce);
  await writeRunState(statePath, { ...starting, dcp: { ...starting.dcp, status: "starting" } });
  const launched = await launchOrExplain(
    plan,
    statePath,
    `Fleet (${api}, ${config.CLUSTER_MACHINES} machines)`,
    output,
  );
  const alarmed = new Set<string>();
  let outcome: WaitOutcome;
  try {
    await writeRunState(statePath, initialState(config, launched, now, dashboard, nonce));
    // The run ledger (run.json, then the pointer the workers follow), before the service starts them.
    const ledgerProblem = await recordRunStart(ctx, config, {
      fleetApi: api,
      fleetId: launched.id,
      launchTemplateId: launched.launchTemplateId,
      startedAt: now,
      fleetRequest: plan.requests,
      stateFile: statePath,
    });
    if (ledgerProblem) output.warn(ledgerProblem);
    if (signal.aborted) throw new Interrupted();
    await output.step(
      `Service ${names.serviceName}`,
      async () => {
        if (!(await setServiceDesiredCountIfExists(ecs, config.ECS_CLUSTER, names.serviceName, desiredCount))) {
          throw new OperationalError(`ECS service ${names.serviceName} disappeared from cluster ${config.ECS_CLUSTER}`);
        }
      },
      () => `desired count ${desiredCount}`,
    );
    if (dashboard) {
      await output.step(`Dashboard ${dashboard}`, async () => {
        const problems = await putDashboard(
          cloudwatchClient(ctx),
          dashboard,
          dashboardBody({
            region: ctx.region,
            cluster: config.ECS_CLUSTER,
            queueName: config.SQS_QUEUE_NAME,
            deadLetterQueueName: config.SQS_DEAD_LETTER_QUEUE,
            logGroup: config.LOG_GROUP_NAME,
            fleetCapacityMetrics: provider.capacityMetrics(launched.id),
          }),
        );
        for (const p of problems) output.warn(`dashboard: ${p}`);
      });
    }
    outcome = await waitForCapacity(ctx, config, provider, launched, alarmed, options, output, signal);
  } catch (err) {
    // Always send the cancel/delete, whatever describe says (a new fleet may not be visible yet).
    try {
      if (err instanceof Interrupted)
        output.line(`interrupted: cancelling fleet ${launched.id} and what was made for it`);
      await undoStart(ctx, config, provider, launched, alarmed);
      await markFailed(statePath, (err as Error).message);
    } catch (cleanupError) {
      // The state file still says "running": teardown finds and removes what is left.
      output.warn(
        `could not undo the start (${(cleanupError as Error).message}); run \`dcp teardown\` to remove fleet ${launched.id}`,
      );
    }
    if (err instanceof Interrupted)
      throw new Interrupted("start-cluster interrupted: the fleet was cancelled; nothing of this start keeps running");
    throw err;
  }
  const baseline = await queueBaseline(ctx, config);
  await updateRunState(statePath, (s) => ({
    ...s,
    dcp: {
      ...s.dcp,
      observations: {
        ...s.dcp.observations,
        ...baseline,
        fleetTarget: outcome.target,
        fleetFulfilled: outcome.fulfilled,
        fleetInstances: outcome.running.length,
        alarmedInstances: [...alarmed],
        observedAt: new Date().toISOString(),
      },
    },
  }));

  if (outcome.partial) {
    output.warn(
      `only ${outcome.fulfilled} of ${outcome.target} machines after ${options.waitTimeoutSeconds} s; the fleet keeps trying`,
    );
  } else {
    output.line(`${outcome.fulfilled}/${outcome.target} machines fulfilled. Jobs start as ECS places the containers.`);
  }
  output.line(`State file: ${statePath}`);
  output.line("Next: dcp monitor (leave it running, e.g. in tmux)");
  return {
    ...base,
    fleetId: launched.id,
    ...(launched.launchTemplateId ? { launchTemplateId: launched.launchTemplateId } : {}),
    running: outcome.running.length,
    fulfilled: outcome.fulfilled,
    instances: outcome.running,
    partial: outcome.partial,
  };
}

function initialState(
  config: Config,
  launched: LaunchedFleet,
  now: Date,
  dashboard: string | null,
  nonce: string,
): RunState {
  const names = resourceNames(config);
  return {
    MONITOR_FLEET_ID: launched.id,
    MONITOR_APP_NAME: config.APP_NAME,
    MONITOR_ECS_CLUSTER: config.ECS_CLUSTER,
    MONITOR_QUEUE_NAME: config.SQS_QUEUE_NAME,
    MONITOR_BUCKET_NAME: config.AWS_BUCKET,
    MONITOR_LOG_GROUP_NAME: config.LOG_GROUP_NAME,
    MONITOR_START_TIME: String(now.getTime()),
    CLEAN_DASHBOARD: config.CLEAN_DASHBOARD ? "True" : "False",
    dcp: {
      version: 1,
      fleetApi: launched.api,
      fleetId: launched.id,
      ...(launched.launchTemplateId ? { launchTemplateId: launched.launchTemplateId } : {}),
      region: config.AWS_REGION,
      startedAt: now.toISOString(),
      clusterMachines: config.CLUSTER_MACHINES,
      tasksPerMachine: config.TASKS_PER_MACHINE,
      serviceName: names.serviceName,
      taskFamily: names.taskFamily,
      deadLetterQueueName: config.SQS_DEAD_LETTER_QUEUE,
      perInstanceLogGroup: names.perInstanceLogGroup,
      dashboardName: dashboard,
      status: "running",
      startAttempt: { nonce, requestedAt: now.toISOString() },
    },
  };
}

/** The fleet failed and start-cluster removed what it made: the run is over, start-cluster may run again. */
function describeError(err: unknown): string {
  return `${(err as { name?: string }).name ?? "Error"}: ${(err as Error).message ?? String(err)}`;
}

/**
 * Sends the fleet request. An answer AWS gave (4xx: refused) means nothing was created: the start is
 * over. A lost answer (5xx, network, timeout after the SDK's retries) may hide a fleet that exists:
 * the state file stays "starting" with the client token's nonce, so `dcp start-cluster` resumes the
 * same request and `dcp teardown` finds it.
 */
async function launchOrExplain(
  plan: PlannedFleet,
  statePath: string,
  label: string,
  output: Output,
): Promise<LaunchedFleet> {
  try {
    return await output.step(
      label,
      () => plan.launch(),
      (l) => l.id,
    );
  } catch (err) {
    const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode ?? 0;
    const refused = (status >= 400 && status < 500) || err instanceof UserInputError;
    if (refused) {
      await markFailed(statePath, describeError(err));
      throw err;
    }
    throw new OperationalError(
      `the fleet request's answer was lost (${describeError(err)}); a fleet may or may not have been created. ` +
        "Run the same `dcp start-cluster` again: it resends the same request with the same client token, so AWS returns that fleet instead of making a second one",
    );
  }
}

export async function markFailed(statePath: string, reason: string): Promise<void> {
  if (!runStateExists(statePath)) return;
  await updateRunState(statePath, (s) => ({
    ...s,
    dcp: {
      ...s.dcp,
      status: "finished",
      finishedAt: new Date().toISOString(),
      observations: { ...s.dcp.observations, startClusterError: reason },
    },
  }));
}

export interface CapacityWait {
  fleetId: string;
  fleet: Pick<FleetProvider, "describe" | "activeInstances">;
  /** Launch errors CreateFleet returned with the fleet id. */
  createErrors: string[];
  /** Shown until the fleet reports its own target. */
  expectedTarget: number;
  timeoutSeconds: number;
  pollSeconds: number;
  /** Instance ids already handled (alarmed); new ones are added after `onNewInstances`. */
  seen: Set<string>;
  /** Best effort: must not throw (alarms and tags that fail are reconciled by monitor). */
  onNewInstances(ids: string[]): Promise<void>;
  progress(text: string): void;
  /** AWS's own words about trouble the fleet is riding out (capacity errors); each shown once. */
  warn?(text: string): void;
  /** Aborted by Ctrl-C: the wait stops at the next poll with Interrupted. */
  signal?: AbortSignal;
  /** How long a fleet that AWS does not show yet counts as new rather than gone (EC2 is eventually consistent). */
  visibilityGraceMs?: number;
  clock?: { now(): number; sleep(ms: number, signal?: AbortSignal): Promise<void> };
}

export interface WaitOutcome {
  running: string[];
  target: number;
  fulfilled: number;
  partial: boolean;
}

const realClock = { now: () => Date.now(), sleep: (ms: number, signal?: AbortSignal) => sleep(ms, signal) };

/**
 * "NotFound for a new id means wait", for at most this long: EC2's Describe* calls may not show a
 * fleet for seconds after it was created ("Eventual consistency in the Amazon EC2 API"). After that, a
 * fleet that is still not found was cancelled or deleted outside dcp.
 */
export const NEW_FLEET_GRACE_MS = 60_000;

/**
 * Polls the fleet until its capacity is fulfilled, it fails (OperationalError with AWS's reasons), or
 * the timeout passes (partial: not an error, DCP #107). New instances are handed to `onNewInstances`
 * as soon as they appear.
 */
export async function awaitCapacity(wait: CapacityWait): Promise<WaitOutcome> {
  const clock = wait.clock ?? realClock;
  const startedAt = clock.now();
  const deadline = startedAt + wait.timeoutSeconds * 1000;
  const shown = new Set<string>();
  for (;;) {
    if (wait.signal?.aborted) throw new Interrupted();
    const status = await wait.fleet.describe(wait.fleetId);
    const running = status ? await wait.fleet.activeInstances(wait.fleetId) : [];
    const fresh = running.filter((id) => !wait.seen.has(id));
    if (fresh.length) {
      await wait.onNewInstances(fresh);
      for (const id of fresh) wait.seen.add(id);
    }
    const target = status?.target ?? wait.expectedTarget;
    const fulfilled = status?.fulfilled ?? 0;
    const invisible = !status && clock.now() - startedAt < (wait.visibilityGraceMs ?? NEW_FLEET_GRACE_MS);
    const verdict = invisible
      ? ({ kind: "wait" } as WaitVerdict)
      : judgeFleet(status ? { ...status, errors: [...wait.createErrors, ...status.errors] } : undefined);
    wait.progress(invisible ? `waiting for AWS to show fleet ${wait.fleetId}` : `fulfilled ${fulfilled}/${target}`);
    for (const note of verdict.kind === "failed" ? [] : (verdict.notes ?? []))
      if (!shown.has(note)) {
        shown.add(note);
        wait.warn?.(`${fulfilled}/${target} machines; AWS reports: ${note} (the fleet keeps trying)`);
      }
    if (verdict.kind === "failed") {
      throw new OperationalError(
        `fleet ${wait.fleetId} failed and was cancelled:\n  ${verdict.reasons.join("\n  ")}\n` +
          "Check the fleet file (AMI, subnet, security group, roles) and the account's spot limits, then run start-cluster again.",
      );
    }
    if (verdict.kind === "fulfilled") return { running, target, fulfilled, partial: false };
    const left = deadline - clock.now();
    if (left <= 0) return { running, target, fulfilled, partial: true };
    await clock.sleep(Math.min(wait.pollSeconds * 1000, left), wait.signal);
  }
}

/** The wait of start-cluster: one idle alarm per new instance, and (Spot Fleet) tags on its volumes. */
function waitForCapacity(
  ctx: AwsContext,
  config: Config,
  provider: FleetProvider,
  launched: LaunchedFleet,
  alarmed: Set<string>,
  options: StartClusterOptions,
  output: Output,
  signal: AbortSignal,
): Promise<WaitOutcome> {
  const cw = cloudwatchClient(ctx);
  const warned = new Set<string>();
  const warnOnce = (key: string, text: string) => {
    if (warned.has(key)) return;
    warned.add(key);
    output.warn(text);
  };
  return output.step(
    "Waiting for capacity",
    (handle) =>
      awaitCapacity({
        fleetId: launched.id,
        fleet: provider,
        createErrors: launched.createErrors,
        expectedTarget: config.CLUSTER_MACHINES,
        timeoutSeconds: options.waitTimeoutSeconds,
        pollSeconds: options.pollSeconds,
        seen: alarmed,
        progress: (text) => handle.update(text),
        warn: (text) => output.warn(text),
        signal,
        // Best effort: a throttled alarm call or a new instance EC2 does not show yet must never undo a
        // healthy start. The monitor creates missing alarms at its first reading.
        async onNewInstances(ids) {
          for (const id of ids) {
            try {
              await putIdleAlarm(cw, config.APP_NAME, id);
              alarmed.add(id);
            } catch (err) {
              warnOnce("alarm", `idle alarm for ${id} not created yet (${describeError(err)}); dcp monitor creates it`);
            }
          }
          try {
            await provider.adoptInstances(ids, config.APP_NAME);
          } catch (err) {
            warnOnce("adopt", `could not tag the volumes of new instances yet (${describeError(err)})`);
          }
        },
      }),
    (o) =>
      `${o.fulfilled}/${o.target} fulfilled, ${o.running.length} instance(s)${o.partial ? " (timed out; the fleet keeps trying)" : ""}`,
  );
}

/** With BUDGET_USD and --seconds-per-group: dcp estimate's wall time for the groups queued now (MaxTotalPrice). */
async function expectedHours(
  ctx: AwsContext,
  config: Config,
  secondsPerGroup: number | undefined,
): Promise<number | undefined> {
  if (!config.BUDGET_USD || secondsPerGroup === undefined) return undefined;
  const queued = await queueDepth(sqsClient(ctx), config.SQS_QUEUE_NAME);
  return queued === undefined ? undefined : expectedRunHours(queued, secondsPerGroup, config);
}

/** The run's work as it stands at the start, so `dcp monitor` counts groups finished before it first looks. */
async function queueBaseline(
  ctx: AwsContext,
  config: Config,
): Promise<{ queuedAtStart: number; deadLetteredAtStart: number } | Record<string, never>> {
  const sqs = sqsClient(ctx);
  const [queued, deadLetter] = await Promise.all([
    queueDepth(sqs, config.SQS_QUEUE_NAME),
    queueDepth(sqs, config.SQS_DEAD_LETTER_QUEUE),
  ]);
  return queued === undefined ? {} : { queuedAtStart: queued, deadLetteredAtStart: deadLetter ?? 0 };
}
