/**
 * What `dcp status` says about a run, decided without I/O: its phase (running, tearing down,
 * finished, or UNATTENDED: no monitor heartbeat for longer than heartbeatTimeoutMs, "and billing"
 * while its fleet or instances are alive) and the lines it prints under the monitor's own status
 * block (plan/monitor-view.ts). The same judgement serves anything else that must tell an
 * unattended run (dcp gc).
 */
import { BLOCK_WIDTH, formatDuration, fit } from "./monitor-view.js";
import { wrapWords } from "./wrap.js";
import { heartbeatTimeoutMs, type Heartbeat, type LedgerCounts } from "./ledger.js";

export const RUN_PHASES = ["running", "tearing-down", "finished", "unattended"] as const;
export type RunPhase = (typeof RUN_PHASES)[number];

export interface PhaseInput {
  heartbeat: Pick<Heartbeat, "at" | "phase" | "pollSeconds"> | undefined;
  /** summary.json exists: teardown finished */
  summaryWritten: boolean;
  /** epoch ms the run started (run.json), the age reference while no heartbeat exists yet */
  startedAt: number | undefined;
  now: number;
  /** the "ten minutes" of heartbeatTimeoutMs (MONITOR_HEARTBEAT_TIMEOUT_MINUTES) */
  minimumTimeoutMs: number;
  /** the fleet is live or instances of it still run: the run is billing */
  alive: boolean;
}

export interface PhaseVerdict {
  phase: RunPhase;
  /** resources that cost money are still alive */
  billing: boolean;
  /** how old the monitor's heartbeat is (undefined: none was ever written) */
  heartbeatAgeMs: number | undefined;
  timeoutMs: number;
}

export function runPhase(input: PhaseInput): PhaseVerdict {
  const { heartbeat, now } = input;
  const heartbeatAgeMs = heartbeat ? Math.max(0, now - Date.parse(heartbeat.at)) : undefined;
  const timeoutMs = heartbeatTimeoutMs(heartbeat?.pollSeconds ?? 0, input.minimumTimeoutMs);
  const verdict = (phase: RunPhase): PhaseVerdict => ({ phase, billing: input.alive, heartbeatAgeMs, timeoutMs });
  if (input.summaryWritten || heartbeat?.phase === "finished") return verdict("finished");
  const silentFor = heartbeatAgeMs ?? (input.startedAt === undefined ? undefined : now - input.startedAt);
  if (silentFor !== undefined && silentFor > timeoutMs) return verdict("unattended");
  return verdict(heartbeat?.phase === "tearing-down" ? "tearing-down" : "running");
}

/** An EC2 instance id; a worker off EC2 names its open keys with its worker id, which cannot be judged. */
const EC2_INSTANCE_ID = /^i-[0-9a-f]{8,17}$/;

/**
 * The open attempts that stand for a task running now. A worker killed mid-task (SIGKILL, a lost spot
 * instance) leaves its open key behind: it is stale when its attempt already has a record (it ended and
 * the DELETE was lost) or when it names an EC2 instance that is not among the run's live instances
 * (`liveInstanceIds`; undefined when they could not be read, and then only ended attempts are stale).
 */
export function openAttemptsRunning(
  open: ReadonlyArray<{ instanceId: string; attempt: string }>,
  endedAttempts: ReadonlySet<string>,
  liveInstanceIds: ReadonlySet<string> | undefined,
): { running: number; stale: number } {
  let stale = 0;
  for (const o of open) {
    const gone =
      liveInstanceIds !== undefined && EC2_INSTANCE_ID.test(o.instanceId) && !liveInstanceIds.has(o.instanceId);
    if (gone || endedAttempts.has(o.attempt)) stale += 1;
  }
  return { running: open.length - stale, stale };
}

export interface StatusFacts {
  verdict: PhaseVerdict;
  heartbeat: Pick<Heartbeat, "host" | "pid"> | undefined;
  counts: LedgerCounts;
  /** groups done per hour (monitor's samples), undefined before progress shows */
  ratePerHour: number | undefined;
  /** the cost lines, label and words (plan/run-cost.ts formatRunCost, or costSummaryWords once finished) */
  cost: { label: string; text: string }[];
  /** instance type -> running count */
  types: Record<string, number>;
  /** open keys left by workers that are gone (openAttemptsRunning), not counted as running */
  staleOpen?: number;
}

function phaseLine(facts: StatusFacts): string {
  const { verdict, heartbeat } = facts;
  const age = verdict.heartbeatAgeMs === undefined ? undefined : formatDuration(verdict.heartbeatAgeMs);
  const watcher = heartbeat ? `monitor on ${heartbeat.host} (pid ${heartbeat.pid})` : "no monitor heartbeat yet";
  switch (verdict.phase) {
    case "finished":
      return verdict.billing ? "phase: finished, but instances are still alive and billing" : "phase: finished";
    case "tearing-down":
      return `phase: tearing down · ${watcher}, heartbeat ${age ?? "--"} ago`;
    case "unattended":
      return (
        `phase: UNATTENDED${verdict.billing ? " and billing" : ""}: ` +
        `${age ? `no monitor heartbeat for ${age}` : "no monitor heartbeat ever"} (limit ${formatDuration(verdict.timeoutMs)})`
      );
    default:
      return `phase: running · ${heartbeat ? `${watcher}, heartbeat ${age} ago` : watcher}`;
  }
}

/** The lines `dcp status` prints under the monitor's status block (each at most 79 columns). */
export function statusLines(facts: StatusFacts): string[] {
  const { counts } = facts;
  const causes = Object.entries(counts.failedByCause)
    .sort((a, b) => b[1] - a[1])
    .map(([cause, n]) => `${cause} ${n}`);
  const types = Object.entries(facts.types)
    .sort()
    .map(([type, n]) => `${n} ${type}`)
    .join(", ");
  const lines = [
    phaseLine(facts),
    `ledger: ${counts.done} done${counts.skipped ? ` (${counts.skipped} skipped)` : ""} · ${counts.failed} failed · ` +
      `${counts.running} running${counts.handedBack ? ` · ${counts.handedBack} handed back` : ""}` +
      `${facts.staleOpen ? ` · ${facts.staleOpen} left open by gone workers` : ""}`,
  ];
  if (causes.length) lines.push(`failed by cause: ${causes.join(", ")}`);
  lines.push(
    `rate ${facts.ratePerHour === undefined ? "--" : `${facts.ratePerHour.toFixed(1)}/h`}` +
      `${types ? ` · instances ${types}` : ""}`,
  );
  // Wrapped, not cut: the projection comes last.
  const cost = facts.cost.flatMap(({ label, text }) => wrapWords(`${label}: ${text}`, 2, BLOCK_WIDTH));
  const unattended: string[] = [];
  if (facts.verdict.phase === "unattended" && facts.verdict.billing)
    unattended.push(
      `on ${facts.heartbeat?.host ?? "the machine that started it"}: dcp monitor or dcp teardown; anywhere: dcp gc`,
    );
  return [...lines.map(fit), ...cost, ...unattended.map(fit)];
}
