/**
 * The workflow file of `dcp workflow run` (issue 15): steps, each one run of its own (jobs, config
 * overrides, dependencies, gate), or a collect step. The zod schema here is the one source of the
 * JSON Schema (config/workflow.schema.json) and of every check; the first problem becomes one
 * UserInputError naming the file, the field and the fix. Pure: paths are checked by the flow.
 */
import { z } from "zod";
import { UserInputError, formatPath } from "../../errors.js";
import { CONFIG_KEYS, configShape } from "../../config/schema.js";
import { closestKey, issueToInputError } from "../../validation.js";
import { parseLayoutOptions } from "../make-jobs/layout.js";
import { parseFromCsvOptions } from "../make-jobs/from-csv.js";
import { DEFAULT_OBJECTS, FORMATS, parseObjects } from "../collect/options.js";
import { compileTemplate } from "../collect/path-metadata.js";

/** Keys the workflow sets itself for each step's run (its own names): a step may not override them. */
export const WORKFLOW_OWNED_KEYS = ["APP_NAME", "SQS_QUEUE_NAME", "SQS_DEAD_LETTER_QUEUE"] as const;

/** make-jobs layout flags a `makeJobs` spec may pass (the command's option names, camelCased). */
export const MAKE_JOBS_FLAGS = [
  "pathStyle",
  "source",
  "plateFormat",
  "rows",
  "columns",
  "wells",
  "sites",
  "wellDigitPad",
  "pipeline",
  "pipelinePath",
  "inputPath",
  "outputStructure",
  "outputPath",
  "datafileName",
  "datafilePath",
  "useBatch",
  "batchfileName",
  "batchfilePath",
] as const;

const stepName = z.string({ error: "expected a step name (a string)" }).regex(/^[A-Za-z0-9][A-Za-z0-9-]{0,19}$/, {
  error: "must be 1-20 letters, digits or '-' (it becomes part of the step's APP_NAME)",
});
const path = z.string({ error: "expected a file path (a string)" }).min(1, { error: "is empty" });

const makeJobsSpec = z
  .strictObject({
    step: z.string().describe("make-jobs step: zproj, illum, qc, qc_persite, assaydev, assaydev_persite, analysis"),
    project: z.string().describe("the project identifier (make-jobs' <identifier>)"),
    batch: z.string(),
    plates: z.array(z.string()).min(1, { error: "lists no plate" }),
    flags: z
      .partialRecord(z.enum(MAKE_JOBS_FLAGS), z.union([z.string(), z.boolean()]))
      .optional()
      .describe('make-jobs flags by name, e.g. {"rows": "A-D", "sites": "1-4", "pipeline": "illum.cppipe"}'),
  })
  .describe("a job file made by `dcp make-jobs <step> <project> <batch> <plates>`");

const fromCsvSpec = z
  .strictObject({
    csv: path.describe("the LoadData CSV to group (relative to the workflow file)"),
    groupBy: z.array(z.string()).min(1, { error: "names no column" }),
    pipeline: z.string().describe("the pipeline's key in the workspace bucket"),
    dataFile: z.string().describe("the LoadData CSV's key in the workspace bucket"),
    output: z.string().describe("the output prefix in the destination bucket"),
    input: z.string().optional(),
    outputStructure: z.string().optional(),
  })
  .describe("a job file made by `dcp make-jobs from-csv`");

const jobsSpec = z
  .strictObject({
    file: path.optional().describe("a DCP job file (relative to the workflow file)"),
    makeJobs: makeJobsSpec.optional(),
    fromCsv: fromCsvSpec.optional(),
  })
  .describe("where the step's groups come from: exactly one of file, makeJobs, fromCsv");

const gateSpec = z
  .strictObject({
    maxFailedShare: z
      .number({ error: "expected a number from 0 to 1" })
      .min(0, { error: "must be from 0 to 1" })
      .max(1, { error: "must be from 0 to 1" })
      .default(0)
      .describe("largest share of the step's groups that may end dead-lettered (default 0: none)"),
  })
  .describe("when the step counts as passed; by default no group may be dead-lettered");

const collectSpec = z
  .strictObject({
    from: stepName.optional().describe("a run step: its output prefix and output_structure are collected"),
    source: z.string().optional().describe("s3://bucket/prefix or a local folder (instead of from)"),
    out: path.describe("folder for the tables (relative to the workflow file)"),
    objects: z.array(z.string()).optional(),
    format: z.enum(FORMATS, { error: 'must be "parquet" or "csv"' }).optional(),
    metadataFromPath: z.string().optional().describe("output_structure (default: the from step's)"),
  })
  .describe("collate the CSVs a step wrote into one table per object (dcp collect)");

const stepSpec = z
  .strictObject({
    name: stepName,
    jobs: jobsSpec.optional(),
    collect: collectSpec.optional(),
    dependsOn: z.array(stepName).default([]).describe("steps whose gates must pass before this one starts"),
    config: z
      .record(z.string(), z.unknown())
      .default({})
      .describe("config keys for this step's run only, e.g. MACHINE_TYPE, MEMORY, CHECK_IF_DONE_BOOL"),
    fleet: path.optional().describe("fleet file for this step (default: the workflow's fleet)"),
    gate: gateSpec.optional(),
  })
  .describe("one step: a cluster run (jobs) or a collect");

export const workflowSchema = z
  .strictObject({
    $schema: z.string().optional(),
    name: stepName.optional().describe("names the workflow's state file (default: the workflow file's name)"),
    fleet: path.optional().describe("fleet file for every run step (relative to the workflow file)"),
    steps: z.array(stepSpec).min(1, { error: "lists no step" }),
  })
  .describe("A dcp workflow: steps run in dependency order, each as its own run, with a gate between them.");

export type WorkflowFile = z.output<typeof workflowSchema>;
export type StepSpec = z.output<typeof stepSpec>;
export type JobsSpec = z.output<typeof jobsSpec>;
export type CollectSpec = z.output<typeof collectSpec>;

export interface RunStep {
  kind: "run";
  name: string;
  index: number;
  dependsOn: string[];
  jobs: JobsSpec;
  overrides: Record<string, unknown>;
  fleet: string;
  maxFailedShare: number;
}

export interface CollectStep {
  kind: "collect";
  name: string;
  index: number;
  dependsOn: string[];
  collect: CollectSpec;
}

export type WorkflowStep = RunStep | CollectStep;

export interface Workflow {
  name: string;
  /** Steps in the order they run: every step after the steps it depends on. */
  steps: WorkflowStep[];
}

const HINTS: Record<string, string> = {
  name: "use 1-20 letters, digits or '-', e.g. \"illum\"",
  steps: 'list the steps, e.g. "steps": [{"name": "illum", "jobs": {"file": "files/illum.json"}}]',
  maxFailedShare: 'write a share such as 0.05, or leave the gate out for "no group dead-lettered"',
  format: 'use "parquet" or "csv"',
  plates: 'list the plates, e.g. ["Plate1", "Plate2"]',
  groupBy: 'list the grouping columns, e.g. ["Metadata_Plate"]',
};
const KNOWN_KEYS = ["$schema", "name", "fleet", "steps", "jobs", "collect", "dependsOn", "config", "gate", "file"];

/** Validates a parsed workflow file; `file` names it in errors. Returns the steps in run order. */
export function parseWorkflow(value: unknown, file: string, defaultName: string): Workflow {
  const result = workflowSchema.safeParse(value);
  if (!result.success) throw issueToInputError(file, result.error.issues[0]!, HINTS, KNOWN_KEYS);
  const spec = result.data;
  const bad = (path: PropertyKey[], problem: string, fix: string) =>
    new UserInputError(file, formatPath(path), problem, fix);

  const names = new Map<string, number>();
  spec.steps.forEach((step, i) => {
    if (names.has(step.name))
      throw bad(
        ["steps", i, "name"],
        `"${step.name}" is also the name of steps[${names.get(step.name)}]`,
        "give each step its own name",
      );
    names.set(step.name, i);
  });
  const steps = spec.steps.map((step, i) => checkStep(step, i, spec, names, bad));
  return { name: spec.name ?? defaultName, steps: runOrder(steps, file) };
}

type Bad = (path: PropertyKey[], problem: string, fix: string) => UserInputError;

function checkStep(step: StepSpec, i: number, spec: WorkflowFile, names: Map<string, number>, bad: Bad): WorkflowStep {
  const at = (...rest: PropertyKey[]) => ["steps", i, ...rest];
  const known = [...names.keys()].join(", ");
  step.dependsOn.forEach((dep, d) => {
    if (!names.has(dep))
      throw bad(at("dependsOn", d), `"${dep}" is not a step of this workflow`, `use one of: ${known}`);
    if (dep === step.name) throw bad(at("dependsOn", d), "a step cannot depend on itself", "remove it");
  });
  if (step.collect) {
    if (step.jobs || step.gate || step.fleet || Object.keys(step.config).length)
      throw bad(at(), "a collect step has no jobs, config, fleet or gate", "move them to a run step, or remove them");
    return collectStep(step, i, names, bad, known);
  }
  if (!step.jobs) throw bad(at("jobs"), "is missing", 'add "jobs": {"file": ...} (or makeJobs, fromCsv), or "collect"');
  checkJobs(step.jobs, at("jobs"), bad);
  checkOverrides(step.config, at("config"), bad);
  const fleet = step.fleet ?? spec.fleet;
  if (!fleet)
    throw bad(
      at("fleet"),
      "no fleet file for this run step",
      'add "fleet": "files/fleet.json" to the workflow or the step',
    );
  return {
    kind: "run",
    name: step.name,
    index: i,
    dependsOn: step.dependsOn,
    jobs: step.jobs,
    overrides: step.config,
    fleet,
    maxFailedShare: step.gate?.maxFailedShare ?? 0,
  };
}

function collectStep(step: StepSpec, i: number, names: Map<string, number>, bad: Bad, known: string): CollectStep {
  const collect = step.collect!;
  const at = (...rest: PropertyKey[]) => ["steps", i, "collect", ...rest];
  if (Boolean(collect.from) === Boolean(collect.source))
    throw bad(
      at(),
      "needs exactly one of from and source",
      'write "from": "<a run step>" (or "source": "s3://bucket/prefix")',
    );
  if (collect.from && !names.has(collect.from))
    throw bad(at("from"), `"${collect.from}" is not a step of this workflow`, `use one of: ${known}`);
  if (collect.objects) wrap(() => parseObjects(collect.objects!.join(",")), at("objects"), bad);
  if (collect.metadataFromPath !== undefined)
    wrap(() => compileTemplate(collect.metadataFromPath!), at("metadataFromPath"), bad);
  const dependsOn =
    collect.from && !step.dependsOn.includes(collect.from) ? [...step.dependsOn, collect.from] : step.dependsOn;
  return { kind: "collect", name: step.name, index: i, dependsOn, collect };
}

/** Runs a pure check of another command (make-jobs, collect) and names the workflow's field in its error. */
function wrap<T>(check: () => T, path: PropertyKey[], bad: Bad): T {
  try {
    return check();
  } catch (err) {
    if (!(err instanceof UserInputError)) throw err;
    const field = err.field && err.field !== "(top level)" ? ` ${err.field}` : "";
    throw bad(path, `${field.trim() ? `${field.trim()}: ` : ""}${err.problem}`, err.fix);
  }
}

function checkJobs(jobs: JobsSpec, path: PropertyKey[], bad: Bad): void {
  const given = (["file", "makeJobs", "fromCsv"] as const).filter((k) => jobs[k] !== undefined);
  if (given.length !== 1)
    throw bad(path, `needs exactly one of file, makeJobs, fromCsv (got ${given.join(", ") || "none"})`, "keep one");
  if (jobs.makeJobs) {
    const { step, project, batch, plates, flags = {} } = jobs.makeJobs;
    wrap(
      () => parseLayoutOptions({ ...flags, step, identifier: project, batch, plates: plates.join(",") }),
      [...path, "makeJobs"],
      bad,
    );
  }
  if (jobs.fromCsv) {
    const { groupBy, ...rest } = jobs.fromCsv;
    wrap(() => parseFromCsvOptions({ ...rest, groupBy: groupBy.join(",") }), [...path, "fromCsv"], bad);
  }
}

function checkOverrides(overrides: Record<string, unknown>, path: PropertyKey[], bad: Bad): void {
  const shape = configShape as Record<string, z.ZodType>;
  for (const [key, value] of Object.entries(overrides)) {
    if ((WORKFLOW_OWNED_KEYS as readonly string[]).includes(key))
      throw bad(
        [...path, key],
        "is set by the workflow for each step (APP_NAME + '-' + the step's name)",
        "remove it; set APP_NAME in the base config",
      );
    if (!CONFIG_KEYS.includes(key) || key === "$schema") {
      const near = closestKey(key, CONFIG_KEYS) ?? CONFIG_KEYS.find((k) => k.startsWith(`${key}_`));
      throw bad(
        [...path, key],
        "is not a config key",
        near ? `did you mean "${near}"? Rename or remove it` : "use a key of config/config.schema.json",
      );
    }
    const result = shape[key]!.safeParse(value);
    if (!result.success)
      throw bad([...path, key], result.error.issues[0]!.message.replace(/^Invalid input: /, ""), "correct the value");
  }
}

/**
 * Steps in run order (a stable topological sort: among steps that are ready, file order). A cycle is
 * a UserInputError naming it, e.g. `illum -> analysis -> illum`.
 */
export function runOrder<S extends { name: string; index: number; dependsOn: string[] }>(
  steps: S[],
  file: string,
): S[] {
  const byName = new Map(steps.map((s) => [s.name, s]));
  const state = new Map<string, "visiting" | "done">();
  const ordered: S[] = [];
  const visit = (step: S, trail: string[]) => {
    if (state.get(step.name) === "done") return;
    if (state.get(step.name) === "visiting") {
      const cycle = [...trail.slice(trail.indexOf(step.name)), step.name].join(" -> ");
      throw new UserInputError(
        file,
        `steps[${step.index}].dependsOn`,
        `the steps depend on each other in a cycle (${cycle})`,
        "remove one of these dependencies",
      );
    }
    state.set(step.name, "visiting");
    for (const dep of step.dependsOn) visit(byName.get(dep)!, [...trail, step.name]);
    state.set(step.name, "done");
    ordered.push(step);
  };
  for (const step of steps) visit(step, []);
  return ordered;
}

/** The APP_NAME of a step's run. */
export function stepAppName(baseAppName: string, step: string): string {
  return `${baseAppName}-${step}`;
}

/** The per-step config: base config + overrides, with the step's own names (its run is separate). */
export function stepConfigObject(
  base: Record<string, unknown>,
  resolved: { APP_NAME: string; SQS_QUEUE_NAME: string; SQS_DEAD_LETTER_QUEUE: string },
  step: RunStep,
): Record<string, unknown> {
  const app = stepAppName(resolved.APP_NAME, step.name);
  return {
    ...base,
    ...step.overrides,
    APP_NAME: app,
    // A queue name the base sets explicitly gets the suffix too; otherwise it derives from APP_NAME.
    ...(base.SQS_QUEUE_NAME ? { SQS_QUEUE_NAME: `${resolved.SQS_QUEUE_NAME}-${step.name}` } : {}),
    SQS_DEAD_LETTER_QUEUE: `${resolved.SQS_DEAD_LETTER_QUEUE}-${step.name}`,
  };
}

export { DEFAULT_OBJECTS };
