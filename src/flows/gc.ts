/**
 * `dcp gc`: find every resource tagged `dcp:app` across the region (and the dashboards, by name), tell
 * per app whether its run is finished, unattended, running or has no state (src/plan/gc.ts), print
 * what would be deleted and why, and on confirmation remove it: the run's teardown plan first (from
 * its state file when this folder has it, else built from what was found), then whatever is left.
 * Every deletion treats "already gone" as done, so gc can be interrupted and run again.
 */
import { existsSync } from "node:fs";
import {
  cloudwatchClient,
  deleteAlarms,
  deleteDashboard,
  listDashboardNames,
  listTaggedAlarms,
} from "../aws/cloudwatch.js";
import { awsContext, type AwsContext } from "../aws/context.js";
import {
  deleteLaunchTemplateIfExists,
  describeLiveInstances,
  ec2Client,
  listTaggedFleets,
  listTaggedInstances,
  listTaggedLaunchTemplates,
  terminateInstances,
} from "../aws/ec2.js";
import {
  deleteClusterUnlessInUse,
  deleteServiceIfExists,
  deregisterActiveTaskDefinitions,
  ecsClient,
  listTaggedEcs,
  setServiceDesiredCountIfExists,
} from "../aws/ecs.js";
import { describeAwsFailure } from "../aws/errors.js";
import { deleteLogGroupIfExists, listTaggedLogGroups, logsClient } from "../aws/logs.js";
import { s3Client, textIfExists } from "../aws/s3.js";
import { deleteQueueIfExists, listTaggedQueues, sqsClient } from "../aws/sqs.js";
import { EXIT_INTERRUPTED, Interrupted, UserInputError } from "../errors.js";
import { fleetProvider } from "../fleet/registry.js";
import {
  decideAll,
  exportedTo,
  formatAge,
  gcTable,
  groupByApp,
  hasRunResources,
  markDeadLetterQueues,
  teardownInputFromDiscovery,
  type AppDecision,
  type AppEvidence,
  type FoundResource,
  type LedgerEvidence,
  type ResourceDecision,
  type StateEvidence,
} from "../plan/gc.js";
import { heartbeatSchema, heartbeatTimeoutMs, runLedgerKeys } from "../plan/ledger.js";
import { APP_TAG_KEY, appNames } from "../plan/names.js";
import { planTeardown } from "../plan/teardown-plan.js";
import { clientsWith, type RunClients } from "../run/clients.js";
import { readCurrentPointer, readLedgerJson, type LedgerLocation } from "../run/ledger.js";
import { memoryJournal, runTeardownSteps, tearDown } from "../run/teardown.js";
import { interruptOnSignals } from "../signals.js";
import { readRunState } from "../state/run-state.js";
import { askOnTerminal } from "../ui/ask.js";
import type { Output } from "../ui/output.js";

export interface GcOptions {
  config: string;
  region?: string | undefined;
  profile?: string | undefined;
  /** only these APP_NAMEs (none: every app) */
  apps: string[];
  olderThanMs?: number | undefined;
  /** the ten minutes of heartbeatTimeoutMs (3 polls or 10 min, the longer): a heartbeat older is "unattended" */
  heartbeatTimeoutMs?: number | undefined;
  dryRun: boolean;
  includeRunning: boolean;
  includeDlq: boolean;
  includeLogs: boolean;
  yes: boolean;
}

interface GcContext {
  ctx: AwsContext;
  /** the config's app and bucket, when a config file is here (the ledger bucket of that app) */
  configApp?: { app: string; bucket: string } | undefined;
  /** the config's MONITOR_HEARTBEAT_TIMEOUT_MINUTES, when a config file is here */
  minimumTimeoutMs?: number | undefined;
}

async function gcContext(options: GcOptions): Promise<GcContext> {
  if (existsSync(options.config)) {
    const { loadConfig } = await import("../config/load.js");
    const config = await loadConfig(options.config, { region: options.region, profile: options.profile });
    return {
      ctx: awsContext(config),
      configApp: { app: config.APP_NAME, bucket: config.AWS_BUCKET },
      minimumTimeoutMs: config.MONITOR_HEARTBEAT_TIMEOUT_MINUTES * 60_000,
    };
  }
  const region = options.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION;
  if (!region)
    throw new UserInputError(
      "dcp gc",
      "--region",
      `no region: ${options.config} does not exist and AWS_REGION is not set`,
      "pass --region us-east-1 (gc looks at one region), or run it where config/config.json is",
    );
  return { ctx: { region, profile: options.profile } };
}

/** Every resource of every app in the region (one listing per service, all at once). */
async function discover(ctx: AwsContext): Promise<FoundResource[]> {
  const ec2 = ec2Client(ctx);
  const cw = cloudwatchClient(ctx);
  const lists = await Promise.all([
    listTaggedFleets(ec2, APP_TAG_KEY),
    listTaggedInstances(ec2, APP_TAG_KEY),
    listTaggedLaunchTemplates(ec2, APP_TAG_KEY),
    listTaggedAlarms(cw, APP_TAG_KEY),
    listTaggedEcs(ecsClient(ctx), APP_TAG_KEY),
    listTaggedQueues(sqsClient(ctx), APP_TAG_KEY),
    listTaggedLogGroups(logsClient(ctx), APP_TAG_KEY),
  ]);
  const found = lists.flat();
  // Dashboards take no tags: dcp names them exactly APP_NAME (start-cluster, CREATE_DASHBOARD).
  const apps = new Set(found.map((r) => r.app));
  for (const name of await listDashboardNames(cw))
    if (apps.has(name)) found.push({ kind: "dashboard", id: name, app: name });
  return found;
}

/** The app's state file in this folder (files/<APP_NAME>SpotFleetRequestId.json), if valid. */
async function stateEvidence(app: string, output: Output): Promise<StateEvidence | undefined> {
  const path = appNames(app).stateFile;
  if (!existsSync(path)) return undefined;
  try {
    const s = await readRunState(path);
    return {
      path,
      status: s.dcp.status,
      fleetId: s.dcp.fleetId,
      startedMs: Number(s.MONITOR_START_TIME),
      finishedMs: s.dcp.finishedAt ? Date.parse(s.dcp.finishedAt) : undefined,
      deadLetterQueueName: s.dcp.deadLetterQueueName,
      bucket: s.MONITOR_BUCKET_NAME,
    };
  } catch (err) {
    output.warn(`${path} is not a state file dcp can read (${(err as Error).message}); gc ignores it`);
    return undefined;
  }
}

/** What the run ledger says: the current run (or the live fleets' runs), its heartbeat, start and summary. */
async function ledgerEvidence(
  at: LedgerLocation,
  fleetIds: string[],
  output: Output,
): Promise<LedgerEvidence | undefined> {
  try {
    const pointer = await readCurrentPointer(at);
    const runIds = [...new Set([...(pointer ? [pointer.runId] : []), ...fleetIds])];
    let best: LedgerEvidence = { bucket: at.bucket };
    for (const runId of runIds) {
      const keys = runLedgerKeys(at.appName, runId);
      const beat = await readLedgerJson(at, keys.heartbeat, heartbeatSchema);
      const run = await textIfExists(at.s3, at.bucket, keys.run);
      const summary = await textIfExists(at.s3, at.bucket, keys.summary);
      const evidence: LedgerEvidence = {
        bucket: at.bucket,
        runId,
        started: run !== undefined,
        ...(pointer?.runId === runId ? { startedMs: Date.parse(pointer.startedAt) } : {}),
        finished: summary !== undefined,
        ...(beat ? { heartbeat: { atMs: Date.parse(beat.at), pollSeconds: beat.pollSeconds, phase: beat.phase } } : {}),
      };
      const newer = (evidence.heartbeat?.atMs ?? 0) >= (best.heartbeat?.atMs ?? -1);
      if (!best.runId || newer) best = evidence;
    }
    return best;
  } catch (err) {
    output.warn(`cannot read the run ledger of ${at.appName} in s3://${at.bucket}: ${describeOrMessage(err)}`);
    return { bucket: at.bucket, unreadable: true };
  }
}

function describeOrMessage(err: unknown): string {
  return describeAwsFailure(err) ?? (err as Error).message;
}

async function evidenceOf(
  gc: GcContext,
  app: string,
  resources: FoundResource[],
  output: Output,
): Promise<AppEvidence> {
  const state = await stateEvidence(app, output);
  const marked = markDeadLetterQueues(resources, state?.deadLetterQueueName);
  const bucket =
    state?.bucket ??
    (gc.configApp?.app === app ? gc.configApp.bucket : undefined) ??
    marked.find((r) => r.bucket)?.bucket;
  const fleetIds = marked.filter((r) => r.kind === "fleet").map((r) => r.id);
  const ledger = bucket
    ? await ledgerEvidence({ s3: s3Client(gc.ctx), bucket, appName: app }, fleetIds, output)
    : undefined;
  return { app, resources: marked, state, ledger };
}

export interface Removed {
  kind: string;
  id: string;
  outcome: string;
}

/** Deletes what the teardown left (other fleets, stray instances, and the DLQ and logs when asked). */
async function sweep(ctx: AwsContext, d: AppDecision, output: Output, signal: AbortSignal): Promise<Removed[]> {
  const clients = clientsWith(ctx, await fleetProvider("spot-fleet", ctx));
  const order = [
    "fleet",
    "instance",
    "launch-template",
    "alarm",
    "dashboard",
    "service",
    "queue",
    "dead-letter-queue",
    "task-definition",
    "cluster",
    "log-group",
  ];
  const doomed = d.resources
    .filter((r) => r.action === "delete")
    .sort((a, b) => order.indexOf(a.kind) - order.indexOf(b.kind));
  const removed: Removed[] = [];
  const instances = doomed.filter((r) => r.kind === "instance").map((r) => r.id);
  for (const r of doomed) {
    if (signal.aborted) throw new Interrupted();
    if (r.kind === "instance" && r.id !== instances[0]) continue;
    const label = r.kind === "instance" ? `terminate ${instances.length} instance(s)` : `delete ${r.kind} ${r.id}`;
    const outcome = await output.step(
      `${d.app}: ${label}`,
      () => deleteOne(ctx, clients, r, instances),
      (o) => o,
    );
    removed.push({ kind: r.kind, id: r.kind === "instance" ? instances.join(",") : r.id, outcome });
  }
  return removed;
}

const gone = (done: boolean) => (done ? "deleted" : "already gone");

async function deleteOne(
  ctx: AwsContext,
  clients: RunClients,
  r: ResourceDecision,
  instances: string[],
): Promise<string> {
  switch (r.kind) {
    case "fleet": {
      const fleet = await fleetProvider(r.api ?? "spot-fleet", ctx);
      const existed = (await fleet.describe(r.id)) !== undefined;
      await fleet.cancel(r.id);
      return existed ? "cancelled" : "already gone";
    }
    case "instance": {
      // The fleet's cancellation usually terminated them already.
      const live = (await describeLiveInstances(clients.ec2, instances)).map((i) => i.id);
      if (live.length) await terminateInstances(clients.ec2, live);
      return live.length ? `${live.length} terminating` : "already gone";
    }
    case "launch-template":
      return gone(await deleteLaunchTemplateIfExists(clients.ec2, r.id));
    case "alarm":
      await deleteAlarms(clients.cw, [r.id]);
      return "deleted";
    case "dashboard":
      await deleteDashboard(clients.cw, r.id);
      return "deleted";
    case "service": {
      const cluster = r.cluster ?? "default";
      await setServiceDesiredCountIfExists(clients.ecs, cluster, r.id, 0);
      return gone(await deleteServiceIfExists(clients.ecs, cluster, r.id));
    }
    case "queue":
    case "dead-letter-queue":
      return gone(await deleteQueueIfExists(clients.sqs, r.id));
    case "task-definition": {
      const n = await deregisterActiveTaskDefinitions(clients.ecs, r.id);
      return n ? `${n} deregistered` : "none active";
    }
    case "cluster": {
      const outcome = await deleteClusterUnlessInUse(clients.ecs, r.id);
      return outcome === "in use" ? "kept: still in use (run dcp gc again in a few minutes)" : outcome;
    }
    case "log-group":
      return gone(await deleteLogGroupIfExists(clients.logs, r.id));
  }
}

/** Removes one app: its run's teardown plan, then the rest. */
async function removeApp(
  gc: GcContext,
  d: AppDecision,
  output: Output,
  signal: AbortSignal,
): Promise<{ app: string; teardown: string; removed: Removed[] }> {
  let teardown = "nothing to tear down";
  if (d.state && d.state.status !== "finished") {
    // This folder holds the run's state file: its own teardown, recorded there (dcp teardown resumes it).
    output.line(`${d.app}: tearing the run down from ${d.state.path}`);
    const state = await readRunState(d.state.path);
    const fleet = await fleetProvider(state.dcp.fleetApi, gc.ctx);
    await tearDown({ path: d.state.path, state, ctx: gc.ctx }, clientsWith(gc.ctx, fleet), output, signal);
    teardown = `state file ${d.state.path}`;
  } else if (hasRunResources(d)) {
    const input = teardownInputFromDiscovery(d, Date.now());
    output.line(`${d.app}: teardown plan built from what gc found (no state file here)`);
    for (const to of exportedTo(input)) output.line(`${d.app}: logs exported to ${to}`);
    const fleet = await fleetProvider(input.fleetApi, gc.ctx);
    await runTeardownSteps(
      planTeardown(input),
      memoryJournal(`dcp gc --app ${d.app}`),
      clientsWith(gc.ctx, fleet),
      output,
      signal,
    );
    teardown = "built from discovery";
  }
  return { app: d.app, teardown, removed: await sweep(gc.ctx, d, output, signal) };
}

function jsonDecision(d: AppDecision) {
  return {
    app: d.app,
    verdict: d.verdict,
    reason: d.reason,
    remove: d.remove,
    ...(d.held ? { held: d.held } : {}),
    ...(d.lastActivityMs === undefined ? {} : { lastActivity: new Date(d.lastActivityMs).toISOString() }),
    ...(d.state ? { stateFile: d.state.path } : {}),
    ...(d.ledger?.runId ? { runId: d.ledger.runId } : {}),
    resources: d.resources.map((r) => ({
      kind: r.kind,
      id: r.id,
      ...(r.cluster ? { cluster: r.cluster } : {}),
      action: r.action,
      ...(r.why ? { why: r.why } : {}),
    })),
  };
}

export async function runGc(options: GcOptions, output: Output): Promise<number> {
  const gc = await gcContext(options);
  const nowMs = Date.now();
  const found = await output.step(
    `finding resources tagged ${APP_TAG_KEY} in ${gc.ctx.region}`,
    () => discover(gc.ctx),
    (r) => `${r.length} found`,
  );
  const byApp = groupByApp(found);
  // Apps left out by --app keep their dead-letter queues, even one shared with an app gc removes.
  const othersDlqs = new Set<string>();
  if (options.apps.length)
    for (const [app, resources] of [...byApp]) {
      if (options.apps.includes(app)) continue;
      for (const r of resources) if (r.deadLetterQueue) othersDlqs.add(r.deadLetterQueue);
      byApp.delete(app);
    }
  const evidence: AppEvidence[] = [];
  for (const [app, resources] of byApp) evidence.push(await evidenceOf(gc, app, resources, output));
  const decisions = decideAll(evidence, {
    nowMs,
    olderThanMs: options.olderThanMs,
    // --heartbeat-timeout (else the config's MONITOR_HEARTBEAT_TIMEOUT_MINUTES) replaces the ten minutes;
    // three polls of the monitor still count when longer.
    heartbeatTimeoutMs: (poll) => heartbeatTimeoutMs(poll, options.heartbeatTimeoutMs ?? gc.minimumTimeoutMs),
    includeRunning: options.includeRunning,
    includeDlq: options.includeDlq,
    includeLogs: options.includeLogs,
    sharedDeadLetterQueues: othersDlqs,
  });
  for (const line of gcTable(decisions, { nowMs })) output.line(line);
  const doomed = decisions.filter((d) => d.remove);
  const count = doomed.reduce((n, d) => n + d.resources.filter((r) => r.action === "delete").length, 0);
  const summary = {
    region: gc.ctx.region,
    dryRun: options.dryRun,
    toDelete: count,
    apps: decisions.map(jsonDecision),
  };
  if (!count) {
    output.line(decisions.length ? "nothing to delete" : `no dcp resources in ${gc.ctx.region}`);
    output.result({ ...summary, removed: [] });
    return 0;
  }
  const what = `${count} resource(s) of ${doomed.length} app(s) (${doomed.map((d) => d.app).join(", ")})`;
  if (options.dryRun) {
    output.line(`dry run: would delete ${what}; nothing was changed`);
    output.result({ ...summary, removed: [] });
    return 0;
  }
  if (!options.yes) {
    if (!process.stdin.isTTY) {
      output.line(`nothing deleted: pass --yes to delete ${what} without a terminal to confirm on`);
      output.result({ ...summary, removed: [], declined: true });
      return 1;
    }
    if (!(await askOnTerminal(`Delete ${what}?`))) {
      output.line("nothing deleted");
      output.result({ ...summary, removed: [], declined: true });
      return 1;
    }
  }
  const signals = interruptOnSignals();
  const removed: Awaited<ReturnType<typeof removeApp>>[] = [];
  try {
    for (const d of doomed) removed.push(await removeApp(gc, d, output, signals.signal));
  } catch (err) {
    if (!(err instanceof Interrupted)) throw err;
    output.line("gc interrupted; what is deleted stays deleted. Run dcp gc again to finish.");
    output.result({ ...summary, removed, interrupted: true });
    return EXIT_INTERRUPTED;
  } finally {
    signals.dispose();
  }
  output.line(`removed ${what} in ${formatAge(Date.now() - nowMs)}; run dcp gc again to check`);
  output.result({ ...summary, removed });
  return 0;
}
