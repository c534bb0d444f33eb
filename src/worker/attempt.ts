/**
 * What the run ledger records about one attempt, decided without I/O: the bounded tail of
 * CellProfiler's output, the facts a task gathers as it runs, the cause class of a failure
 * (classifyAttempt: the ONE place that maps what happened to CAUSE_CLASSES) and the record itself
 * (plan/ledger.ts attemptRecordSchema).
 */
import {
  MAX_LISTED_OUTPUTS,
  STDERR_TAIL_BYTES,
  STDERR_TAIL_LINES,
  type AttemptRecord,
  type CauseClass,
  type OpenRecord,
  type Outcome,
} from "../plan/ledger.js";
import type { z } from "zod";
import type { placementSchema } from "../plan/ledger.js";

export type Placement = z.output<typeof placementSchema>;

/** The last lines of a stream, at most `maxLines` lines and `maxBytes` bytes (UTF-8) in all. */
export class LineTail {
  private lines: string[] = [];
  private bytes = 0;

  constructor(
    private readonly maxLines = STDERR_TAIL_LINES,
    private readonly maxBytes = STDERR_TAIL_BYTES,
  ) {}

  push(line: string): void {
    let kept = line;
    if (Buffer.byteLength(kept) > this.maxBytes) kept = Buffer.from(kept).subarray(0, this.maxBytes).toString();
    this.lines.push(kept);
    this.bytes += Buffer.byteLength(kept);
    while (this.lines.length > this.maxLines || this.bytes > this.maxBytes) {
      this.bytes -= Buffer.byteLength(this.lines.shift()!);
    }
  }

  get(): string[] {
    return [...this.lines];
  }
}

/** What a task learned while it ran, for the ledger (filled in step by step; all optional). */
export interface AttemptFacts {
  /** A download answered "no such key" (pipeline, data file or an image). */
  missingObject?: boolean;
  /** S3 answered SlowDown / 503 / another throttling error. */
  throttled?: boolean;
  /** The group matches no row of the data file, or names a column it lacks (seen before CellProfiler runs). */
  groupingMismatch?: boolean;
  /** The task ran out of the time the worker allows it. */
  timedOut?: boolean;
  /** CellProfiler's exit, when it ran to the end. */
  exit?: { code: number | null; signal: string | null };
  /** The done file's first line, when CellProfiler wrote one. */
  doneFile?: string;
  /** CellProfiler's last output lines. */
  tail: LineTail;
  /** The outputs uploaded (key and size). */
  outputs?: Array<{ key: string; size: number }>;
}

/** How the task ended, as task.ts reports it (TaskOutcome["kind"]). */
export type EndingKind = "done" | "skipped" | "failed" | "malformed" | "handed-back" | "dead-lettered";

/**
 * CellProfiler's answer when -g does not fit the data file: "The grouping keys specified on the
 * command line (...) must be the same as those defined by the modules in the pipeline" (an
 * uncaught ValueError, exit 1, no done file: cellprofiler-headless.md section 1), or no image set
 * matching the group (the test double says "no image set matches the group").
 */
const GROUPING_MISMATCH = [/grouping keys specified on the command line/i, /no image sets? match(es)? the group/i];

/**
 * The ledger's outcome and cause class of one attempt. `message` is the worker's own one-line reason.
 * Order matters: a stop wins (the task was interrupted, whatever else happened), then what the
 * downloads saw, then CellProfiler's exit.
 */
export function classifyAttempt(
  kind: EndingKind,
  facts: Omit<AttemptFacts, "tail"> & { lastLines?: readonly string[] },
  message = "",
): { outcome: Outcome; cause?: { class: CauseClass; message: string } } {
  const because = (cls: CauseClass) => ({ class: cls, message });
  switch (kind) {
    case "done":
      return { outcome: "done" };
    case "skipped":
      return { outcome: "skipped-done" };
    case "handed-back":
      return { outcome: "handed-back", cause: because("spot-interruption") };
    case "malformed":
      return { outcome: "failed", cause: because("bad-message") };
    case "dead-lettered":
      return { outcome: "dead-lettered", cause: because("other") };
  }
  return { outcome: "failed", cause: because(failureCause(facts)) };
}

function failureCause(facts: Omit<AttemptFacts, "tail"> & { lastLines?: readonly string[] }): CauseClass {
  if (facts.timedOut) return "timeout";
  if (facts.missingObject) return "missing-input";
  if (facts.throttled) return "s3-throttling";
  if (facts.groupingMismatch) return "grouping-mismatch";
  const exit = facts.exit;
  if (!exit) return "other";
  if (facts.doneFile === "Failure") return "pipeline-error";
  if (exit.code === 137 || exit.signal === "SIGKILL") return "out-of-memory";
  if (exit.signal) return "crash";
  const lines = facts.lastLines ?? [];
  if (exit.code !== 0 && lines.some((l) => GROUPING_MISMATCH.some((re) => re.test(l)))) return "grouping-mismatch";
  if (exit.code !== 0 && facts.doneFile === undefined) return "crash";
  return "other";
}

/** Who made an attempt and where. */
export interface AttemptIdentity {
  runId: string;
  metadataId: string;
  group: Array<[string, string]>;
  attempt: string;
  attemptNumber: number;
  messageId?: string | undefined;
  workerId: string;
  placement?: Placement | undefined;
  startedAtMs: number;
  logGroup?: string | undefined;
  logStream?: string | undefined;
}

export function openRecord(id: AttemptIdentity): OpenRecord {
  return {
    version: 1,
    metadataId: id.metadataId,
    attempt: id.attempt,
    workerId: id.workerId,
    ...(id.placement ? { placement: id.placement } : {}),
    startedAt: new Date(id.startedAtMs).toISOString(),
  };
}

export function attemptRecord(
  id: AttemptIdentity,
  ending: { outcome: Outcome; cause?: { class: CauseClass; message: string } },
  facts: AttemptFacts,
  phasesMs: Record<string, number>,
  endedAtMs: number,
): AttemptRecord {
  const outputs = facts.outputs ?? [];
  return {
    version: 1,
    runId: id.runId,
    metadataId: id.metadataId,
    group: id.group,
    attempt: id.attempt,
    attemptNumber: Math.max(1, id.attemptNumber),
    ...(id.messageId ? { messageId: id.messageId } : {}),
    workerId: id.workerId,
    ...(id.placement ? { placement: id.placement } : {}),
    startedAt: new Date(id.startedAtMs).toISOString(),
    endedAt: new Date(endedAtMs).toISOString(),
    outcome: ending.outcome,
    ...(ending.cause ? { cause: ending.cause } : {}),
    ...(facts.exit ? { exitCode: facts.exit.code, signal: facts.exit.signal } : {}),
    lastLines: facts.tail.get(),
    phasesMs: Object.fromEntries(Object.entries(phasesMs).map(([k, v]) => [k, Math.round(v)])),
    outputs: {
      count: outputs.length,
      bytes: outputs.reduce((n, o) => n + o.size, 0),
      files: outputs.slice(0, MAX_LISTED_OUTPUTS),
    },
    ...(id.logGroup ? { logGroup: id.logGroup } : {}),
    ...(id.logStream ? { logStream: id.logStream } : {}),
  };
}
