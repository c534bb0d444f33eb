/**
 * `dcp gc` as data: what discovery found across the region (every resource tagged `dcp:app`, and
 * the dashboards, which cannot be tagged, by name), what the state files and the run ledger say of
 * each app, and the decision per app and per resource: delete or keep, and why. Pure.
 *
 * An app's run is
 * - finished: its state file or ledger says so, or no fleet of it is live (cancelled, deleted, gone);
 * - running: a live fleet and a monitor heartbeat younger than the timeout: gc never touches it;
 * - unattended: a live fleet and no heartbeat for longer than the timeout (the monitor was killed,
 *   the laptop closed): removed only with --include-running;
 * - no state: no state file and no ledger: nothing can watch or tear it down but gc.
 */
import { fleetIsLive, fleetLeftInstancesRunning } from "./fleet-status.js";
import { exportPrefix, type TeardownInput } from "./teardown-plan.js";
import { appNames } from "./names.js";

export const GC_KINDS = [
  "fleet",
  "instance",
  "launch-template",
  "alarm",
  "dashboard",
  "queue",
  "dead-letter-queue",
  "service",
  "task-definition",
  "cluster",
  "log-group",
] as const;
export type GcKind = (typeof GC_KINDS)[number];

/** One resource as discovery found it (adapters fill it from the services' own list and describe calls). */
export interface FoundResource {
  kind: GcKind;
  /** what deletes it: fleet id, instance id, template id, alarm or dashboard name, queue name, cluster/service... */
  id: string;
  app: string;
  /** fleets: "spot-fleet" or "ec2-fleet" */
  api?: "spot-fleet" | "ec2-fleet";
  /** services: the cluster it runs in */
  cluster?: string;
  /** epoch ms when AWS made it, when AWS says */
  createdMs?: number;
  /** task definitions: the worker's AWS_BUCKET (where the ledger is) */
  bucket?: string;
  /** queues: the dead-letter queue its redrive policy names */
  deadLetterQueue?: string;
}

/**
 * A fleet gc must remove: live (it may launch), or cancelled without terminating its instances (they
 * bill). Cancelled, deleted and failed fleets are gone already.
 */
export function fleetBills(state: string | undefined): boolean {
  const status = { state: state ?? "" };
  return fleetIsLive(status) || fleetLeftInstancesRunning(status);
}

/** What the app's state file (in this folder) says, if there is one. */
export interface StateEvidence {
  path: string;
  status: "starting" | "running" | "tearing-down" | "finished";
  fleetId: string;
  startedMs: number;
  finishedMs?: number | undefined;
  deadLetterQueueName: string;
  bucket: string;
}

/** What the run ledger in S3 says of the app's latest run. */
export interface LedgerEvidence {
  bucket: string;
  runId?: string | undefined;
  /** run.json exists (start-cluster wrote it) */
  started?: boolean | undefined;
  startedMs?: number | undefined;
  /** summary.json exists (the teardown finished) */
  finished?: boolean | undefined;
  heartbeat?: { atMs: number; pollSeconds: number; phase: string } | undefined;
  /** reading it failed (access denied, no bucket): a live run may be watched from elsewhere */
  unreadable?: boolean | undefined;
}

export interface AppEvidence {
  app: string;
  resources: FoundResource[];
  state?: StateEvidence | undefined;
  ledger?: LedgerEvidence | undefined;
}

export type RunVerdict = "finished" | "unattended" | "running" | "no-state";

export interface GcOptions {
  nowMs: number;
  /** only apps whose last sign of life is older than this */
  olderThanMs?: number | undefined;
  /** a heartbeat older than this means nobody watches; default heartbeatTimeoutMs(poll) of the ledger */
  heartbeatTimeoutMs: (pollSeconds: number) => number;
  includeRunning: boolean;
  includeDlq: boolean;
  includeLogs: boolean;
  /** dead-letter queues other (kept) apps' job queues still send to: never deleted */
  sharedDeadLetterQueues?: ReadonlySet<string>;
}

export interface ResourceDecision extends FoundResource {
  action: "delete" | "keep";
  why: string;
}

export interface AppDecision {
  app: string;
  verdict: RunVerdict;
  /** why the verdict, in words */
  reason: string;
  /** epoch ms of the app's last sign of life (heartbeat, start, finish, creation), when known */
  lastActivityMs?: number;
  /** true when gc removes this app's resources (those with action "delete") */
  remove: boolean;
  /** why not, when remove is false */
  held?: string;
  resources: ResourceDecision[];
  state?: StateEvidence | undefined;
  ledger?: LedgerEvidence | undefined;
}

/** The newest sign of life: heartbeat, state and ledger times, resource creation times. */
export function lastActivity(e: AppEvidence): number | undefined {
  const times = [
    e.ledger?.heartbeat?.atMs,
    e.ledger?.startedMs,
    e.state?.startedMs,
    e.state?.finishedMs,
    ...e.resources.map((r) => r.createdMs),
  ].filter((t): t is number => typeof t === "number" && Number.isFinite(t));
  return times.length ? Math.max(...times) : undefined;
}

function verdictOf(e: AppEvidence, o: GcOptions): { verdict: RunVerdict; reason: string } {
  const liveFleets = e.resources.filter((r) => r.kind === "fleet");
  const liveInstances = e.resources.filter((r) => r.kind === "instance");
  const beat = e.ledger?.heartbeat;
  // Without a heartbeat there is no poll interval: the timeout's floor alone applies.
  const timeout = o.heartbeatTimeoutMs(beat?.pollSeconds ?? 0);
  const alive = liveFleets.length > 0 || liveInstances.length > 0;
  const what = liveFleets.length
    ? `fleet ${liveFleets.map((f) => f.id).join(", ")} live`
    : `${liveInstances.length} instance(s) running`;
  if (beat && beat.phase !== "finished") {
    const age = o.nowMs - beat.atMs;
    if (age <= timeout) return { verdict: "running", reason: `monitor heartbeat ${formatAge(age)} ago` };
    if (alive)
      return {
        verdict: "unattended",
        reason: `${what}, no monitor heartbeat for ${formatAge(age)} (timeout ${formatAge(timeout)})`,
      };
  }
  if (alive) {
    const tracked = Boolean(e.state && e.state.status !== "finished") || Boolean(e.ledger?.started);
    if (!tracked) return { verdict: "no-state", reason: `${what}; no state file and no ledger` };
    const since = e.ledger?.startedMs ?? e.state?.startedMs;
    if (since !== undefined && o.nowMs - since <= timeout)
      return { verdict: "running", reason: `${what}, started ${formatAge(o.nowMs - since)} ago (no heartbeat yet)` };
    return { verdict: "unattended", reason: `${what}, no monitor heartbeat` };
  }
  if (e.state?.status === "finished") return { verdict: "finished", reason: "state file says finished" };
  if (e.ledger?.finished) return { verdict: "finished", reason: "ledger summary written at teardown" };
  if (e.state || e.ledger?.started) return { verdict: "finished", reason: "no fleet of it is live" };
  return { verdict: "no-state", reason: "no live fleet, no state file and no ledger" };
}

function resourceDecision(r: FoundResource, o: GcOptions): ResourceDecision {
  if (r.kind === "dead-letter-queue") {
    if (o.sharedDeadLetterQueues?.has(r.id)) return { ...r, action: "keep", why: "another app uses it" };
    return o.includeDlq
      ? { ...r, action: "delete", why: "--include-dlq" }
      : { ...r, action: "keep", why: "failed jobs; --include-dlq" };
  }
  if (r.kind === "log-group")
    return o.includeLogs
      ? { ...r, action: "delete", why: "--include-logs (exported first)" }
      : { ...r, action: "keep", why: "--include-logs" };
  return { ...r, action: "delete", why: "" };
}

export function decideApp(e: AppEvidence, o: GcOptions): AppDecision {
  const { verdict, reason } = verdictOf(e, o);
  const last = lastActivity(e);
  const resources = e.resources.map((r) => resourceDecision(r, o));
  let held: string | undefined;
  const alive = e.resources.some((r) => r.kind === "fleet" || r.kind === "instance");
  if (verdict === "running") held = "running (use dcp teardown to stop it)";
  else if (alive && e.ledger?.unreadable && !o.includeRunning)
    held = `its ledger in s3://${e.ledger.bucket} is unreadable: pass --include-running to remove it`;
  else if (verdict === "unattended" && !o.includeRunning) held = "unattended: pass --include-running to remove it";
  else if (o.olderThanMs !== undefined) {
    if (last === undefined) held = "age unknown (--older-than)";
    else if (o.nowMs - last < o.olderThanMs) held = `last active ${formatAge(o.nowMs - last)} ago (--older-than)`;
  }
  const remove = held === undefined && resources.some((r) => r.action === "delete");
  return {
    app: e.app,
    verdict,
    reason,
    ...(last === undefined ? {} : { lastActivityMs: last }),
    remove,
    ...(held ? { held } : {}),
    resources: remove ? resources : resources.map((r) => ({ ...r, action: "keep" as const, why: r.why || "held" })),
    state: e.state,
    ledger: e.ledger,
  };
}

/**
 * Decides every app, in name order. A dead-letter queue another app's job queue sends to is never
 * deleted while that app stays (DCP's default name, user_DeadMessages, is often shared).
 */
export function decideAll(apps: readonly AppEvidence[], o: GcOptions): AppDecision[] {
  const first = apps.map((a) => decideApp(a, o));
  return apps
    .map((a) => {
      const shared = new Set<string>(o.sharedDeadLetterQueues ?? []);
      for (const d of first)
        for (const r of d.resources)
          if (d.app !== a.app && !d.remove && r.kind === "queue" && r.deadLetterQueue) shared.add(r.deadLetterQueue);
      return decideApp(a, { ...o, sharedDeadLetterQueues: shared });
    })
    .sort((a, b) => a.app.localeCompare(b.app));
}

/** Groups discovered resources by app (each app's state and ledger are looked up afterwards). */
export function groupByApp(found: readonly FoundResource[]): Map<string, FoundResource[]> {
  const apps = new Map<string, FoundResource[]>();
  for (const r of found) {
    const list = apps.get(r.app) ?? [];
    if (!apps.has(r.app)) apps.set(r.app, list);
    list.push(r);
  }
  return apps;
}

/**
 * The app's queues sorted into job queues and dead-letter queues. dcp's job queue always has a redrive
 * policy (setup sets it); a tagged queue without one, one another queue redrives to, or the one the
 * state file names is a dead-letter queue, even after its job queue is gone.
 */
export function markDeadLetterQueues(resources: FoundResource[], stateDlq?: string): FoundResource[] {
  const targets = new Set(
    resources.filter((r) => r.kind === "queue" && r.deadLetterQueue).map((r) => r.deadLetterQueue),
  );
  if (stateDlq) targets.add(stateDlq);
  return resources.map((r) =>
    r.kind === "queue" && (targets.has(r.id) || !r.deadLetterQueue) ? { ...r, kind: "dead-letter-queue" } : r,
  );
}

// ---------------------------------------------------------------------------------------------
// Ages.

export function formatAge(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7_200) return `${Math.round(s / 60)}m`;
  if (s < 172_800) return `${Math.round(s / 3_600)}h`;
  return `${Math.round(s / 86_400)}d`;
}

// ---------------------------------------------------------------------------------------------
// The table (80 columns), grouped by app.

const WIDTH = 80;

function fit(text: string, width: number): string {
  return text.length <= width ? text.padEnd(width) : `${text.slice(0, width - 1)}…`;
}

/** The lines gc prints: per app a header (verdict, reason, what happens), then one line per resource. */
export function gcTable(decisions: readonly AppDecision[], o: Pick<GcOptions, "nowMs">): string[] {
  const lines: string[] = [];
  for (const d of decisions) {
    const age = d.lastActivityMs === undefined ? "age ?" : `active ${formatAge(o.nowMs - d.lastActivityMs)} ago`;
    const fate = d.remove ? "REMOVE" : `keep: ${d.held ?? "nothing to delete"}`;
    lines.push(fit(`${d.app}  [${d.verdict}]  ${age}`, WIDTH).trimEnd());
    lines.push(fit(`  ${d.reason}`, WIDTH).trimEnd());
    lines.push(fit(`  → ${fate}`, WIDTH).trimEnd());
    for (const r of d.resources) {
      const mark = r.action === "delete" ? "delete" : "keep  ";
      const left = `    ${mark} ${fit(r.kind, 17)} `;
      const id = r.kind === "service" && r.cluster ? `${r.cluster}/${r.id}` : r.id;
      const why = r.action === "keep" && r.why !== "held" ? `  (${r.why})` : "";
      lines.push(fit(`${left}${id}${why}`, WIDTH).trimEnd());
    }
  }
  return lines;
}

/** The names dcp gives an app's dashboards (dashboards cannot be tagged): exactly APP_NAME. */
export function dashboardApp(dashboardName: string, apps: ReadonlySet<string>): string | undefined {
  return apps.has(dashboardName) ? dashboardName : undefined;
}

/** Alarm names dcp gives (`<APP_NAME>_<instance id>`): only these are asked for their tags. */
export function isIdleAlarmName(name: string): boolean {
  return /_i-[0-9a-f]{8,17}$/.test(name);
}

/** The default names of an app's resources, for a teardown built from discovery when one was not found. */
export function defaultNames(app: string) {
  const names = appNames(app);
  return { serviceName: names.serviceName, taskFamily: names.taskFamily, queueName: `${app}Queue` };
}

// ---------------------------------------------------------------------------------------------
// The teardown plan of a run gc removes without its state file.

/** True when the app still has what a run owns (a teardown plan has something to do). */
export function hasRunResources(d: AppDecision): boolean {
  return d.resources.some((r) => r.action === "delete" && r.kind !== "log-group" && r.kind !== "dead-letter-queue");
}

/**
 * The teardown input of an app, built from what discovery found (names dcp gives where nothing was
 * found: every step treats "already gone" as done). Logs are exported only when the run was not
 * torn down before (its teardown exported them) and a bucket is known.
 */
export function teardownInputFromDiscovery(d: AppDecision, nowMs: number): TeardownInput {
  const first = (kind: GcKind) => d.resources.find((r) => r.kind === kind);
  const names = defaultNames(d.app);
  const fleet = first("fleet");
  const service = first("service");
  const logGroups = d.resources.filter((r) => r.kind === "log-group").map((r) => r.id);
  const perInstance = logGroups.find((g) => g.endsWith("_perInstance")) ?? `${d.app}_perInstance`;
  const logGroup = logGroups.find((g) => g !== perInstance) ?? perInstance.replace(/_perInstance$/, "");
  const bucket = d.ledger?.bucket ?? d.state?.bucket ?? d.resources.find((r) => r.bucket !== undefined)?.bucket ?? "";
  const starts = d.resources
    .filter((r) => r.kind === "fleet" || r.kind === "instance")
    .map((r) => r.createdMs)
    .filter((t): t is number => t !== undefined);
  const startTimeMs =
    d.state?.startedMs ?? d.ledger?.startedMs ?? (starts.length ? Math.min(...starts) : nowMs - 86_400_000);
  const exported = d.verdict === "finished" || !bucket;
  return {
    appName: d.app,
    cluster: service?.cluster ?? first("cluster")?.id ?? "default",
    serviceName: service?.id ?? names.serviceName,
    taskFamily: first("task-definition")?.id ?? names.taskFamily,
    queueName: first("queue")?.id ?? names.queueName,
    deadLetterQueueName: first("dead-letter-queue")?.id ?? d.state?.deadLetterQueueName ?? "user_DeadMessages",
    fleetApi: fleet?.api ?? "spot-fleet",
    fleetId: fleet?.id ?? "",
    launchTemplateId: fleet?.api === "ec2-fleet" ? first("launch-template")?.id : undefined,
    dashboardName: first("dashboard")?.id ?? null,
    cleanDashboard: true,
    bucket,
    logGroup,
    perInstanceLogGroup: perInstance,
    startTimeMs,
    completed: exported ? ["export-logs", "export-instance-logs"] : [],
  };
}

/** Where the teardown of `input` exports the logs (for the report). */
export function exportedTo(input: TeardownInput): string[] {
  if (!input.bucket || input.completed.includes("export-logs")) return [];
  return [input.logGroup, input.perInstanceLogGroup].map((g) => `s3://${input.bucket}/${exportPrefix(g)}/`);
}
