/**
 * The workflow state file (files/workflow-<name>.json): one record per step, its phase and what a
 * re-run needs to continue (the attempt's job file, its failing groups). Written atomically by the
 * flow after every phase change, so `dcp workflow run` killed at any moment continues where it was.
 * Pure: the schema, the phases and the gate's verdict.
 */
import { z } from "zod";

/**
 * A run step's phases, in order. An attempt is one run (setup → submit → start-cluster → monitor,
 * which tears down); a failed gate ends the attempt, and the next `workflow run` starts another
 * attempt with only the failing groups.
 */
export const RUN_PHASES = [
  "pending",
  "jobs-written",
  "set-up",
  "submitting",
  "submitted",
  "starting-cluster",
  "monitoring",
  "finished",
  "passed",
  "gate-failed",
] as const;
export type RunPhase = (typeof RUN_PHASES)[number];
export const COLLECT_PHASES = ["pending", "collecting", "passed"] as const;

const attemptSchema = z.object({
  /** 1 for the step's first run, then one more per resubmission of failing groups. */
  number: z.number().int().min(1),
  /** The job file this attempt submits (the step's own, or a file of the failing groups). */
  jobFile: z.string(),
  groups: z.number().int().min(0),
  /** The run's fleet id once start-cluster recorded it. */
  fleetId: z.string().optional(),
  startedAt: z.string(),
  finishedAt: z.string().optional(),
  /** Message bodies found in the dead-letter queue after the run (the failing groups). */
  deadLettered: z.array(z.string()).optional(),
  /** Their message ids: a later attempt's gate counts only messages that are not earlier attempts'. */
  deadLetteredIds: z.array(z.string()).optional(),
});
export type Attempt = z.output<typeof attemptSchema>;

const stepStateSchema = z.object({
  name: z.string(),
  kind: z.enum(["run", "collect"]),
  phase: z.string(),
  /** The step's own job file (all groups), written once. */
  jobFile: z.string().optional(),
  groups: z.number().int().optional(),
  attempts: z.array(attemptSchema).default([]),
  /** The step's per-run config file. */
  configFile: z.string().optional(),
  appName: z.string().optional(),
  /** Why the gate failed, for `status` and the next run. */
  gate: z
    .object({ failed: z.number(), groups: z.number(), maxFailedShare: z.number(), passed: z.boolean() })
    .optional(),
  /** Collect step: rows per object. */
  rows: z.record(z.string(), z.number()).optional(),
  updatedAt: z.string().optional(),
});
export type StepState = z.output<typeof stepStateSchema>;

export const workflowStateSchema = z.object({
  version: z.literal(1),
  workflow: z.string(),
  file: z.string(),
  /** The `dcp workflow run` process working on it now, and the dcp command it is waiting for. */
  runner: z.object({ pid: z.number().int(), host: z.string(), startedAt: z.string() }).optional(),
  child: z.object({ pid: z.number().int(), step: z.string(), command: z.string() }).optional(),
  steps: z.array(stepStateSchema),
});
export type WorkflowState = z.output<typeof workflowStateSchema>;

export function newStepState(name: string, kind: "run" | "collect"): StepState {
  return { name, kind, phase: "pending", attempts: [] };
}

export function phaseIndex(phase: string): number {
  return (RUN_PHASES as readonly string[]).indexOf(phase);
}

/** The gate's verdict on one attempt: dead-lettered groups against the step's total. */
export function gateVerdict(
  failed: number,
  groups: number,
  maxFailedShare: number,
): { failed: number; groups: number; maxFailedShare: number; passed: boolean } {
  const passed = maxFailedShare === 0 ? failed === 0 : groups > 0 && failed / groups <= maxFailedShare;
  return { failed, groups, maxFailedShare, passed };
}

/** The Metadata of a message body, as `k=v,k=v` (the form `dcp submit` and the worker use). */
export function bodyMetadata(body: string): string {
  try {
    const metadata = (JSON.parse(body) as { Metadata?: unknown }).Metadata;
    if (typeof metadata === "string") return metadata;
    if (metadata && typeof metadata === "object")
      return Object.entries(metadata as Record<string, string>)
        .map(([k, v]) => `${k}=${v}`)
        .join(",");
  } catch {
    // not JSON: shown as it is
  }
  return body.slice(0, 200);
}

/** Distinct bodies by their Metadata (a group dead-lettered twice is one failing group). */
export function distinctGroups(bodies: string[]): string[] {
  const seen = new Map<string, string>();
  for (const body of bodies) if (!seen.has(bodyMetadata(body))) seen.set(bodyMetadata(body), body);
  return [...seen.values()];
}

/**
 * A DCP job file holding exactly these message bodies: each group carries its shared keys (the job-file
 * extension `dcp submit` reads) and its Metadata as a `k=v,...` string, the form that extension takes.
 */
export function jobFileOfBodies(bodies: string[], comment: string): string {
  const groups = bodies.map((body) =>
    JSON.stringify({ ...(JSON.parse(body) as object), Metadata: bodyMetadata(body) }),
  );
  return `{\n  "_comment": ${JSON.stringify(comment)},\n  "groups": [\n    ${groups.join(",\n    ")}\n  ]\n}\n`;
}

/** The lines `workflow status` prints for one step. */
export function stepStatusLine(step: StepState): string {
  const attempt = step.attempts.at(-1);
  const parts = [`${step.name}: ${step.phase}`];
  if (step.groups !== undefined) parts.push(`${step.groups} groups`);
  if (attempt && step.attempts.length > 1) parts.push(`attempt ${attempt.number} (${attempt.groups} groups)`);
  if (step.gate && !step.gate.passed) parts.push(`${step.gate.failed} dead-lettered`);
  if (step.rows)
    parts.push(
      Object.entries(step.rows)
        .map(([o, n]) => `${o} ${n} rows`)
        .join(", "),
    );
  return parts.join(" · ");
}
