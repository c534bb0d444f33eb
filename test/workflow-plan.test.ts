/** The workflow's pure decisions: the file's checks, run order, per-step config, gate, state helpers. */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { UserInputError } from "../src/errors.js";
import { parseWorkflow, runOrder, stepConfigObject, type RunStep } from "../src/plan/workflow/file.js";
import { WORKFLOW_SCHEMA_FILE, workflowJsonSchemaText } from "../src/plan/workflow/json-schema.js";
import {
  bodyMetadata,
  distinctGroups,
  gateVerdict,
  jobFileOfBodies,
  stepStatusLine,
  workflowStateSchema,
} from "../src/plan/workflow/state.js";

const jobs = { file: "jobs.json" };
const wf = (steps: object[], extra: object = {}) => ({ fleet: "fleet.json", steps, ...extra });
const problem = (value: unknown): string => {
  try {
    parseWorkflow(value, "wf.json", "wf");
  } catch (err) {
    expect(err).toBeInstanceOf(UserInputError);
    return (err as Error).message;
  }
  throw new Error("no error");
};

describe("workflow file", () => {
  it("orders steps after their dependencies, file order among ready ones; a collect step depends on its source", () => {
    const parsed = parseWorkflow(
      wf([
        { name: "analysis", jobs, dependsOn: ["illum"] },
        { name: "collect", collect: { from: "analysis", out: "out" } },
        { name: "illum", jobs, config: { CHECK_IF_DONE_BOOL: "True", MACHINE_TYPE: "m5.large" } },
        { name: "qc", jobs, fleet: "qc-fleet.json", gate: { maxFailedShare: 0.1 } },
      ]),
      "wf.json",
      "wf",
    );
    expect(parsed.name).toBe("wf");
    expect(parsed.steps.map((s) => s.name)).toEqual(["illum", "analysis", "collect", "qc"]);
    expect(parsed.steps[2]!.dependsOn).toEqual(["analysis"]);
    const qc = parsed.steps[3] as RunStep;
    expect([qc.fleet, qc.maxFailedShare]).toEqual(["qc-fleet.json", 0.1]);
    expect((parsed.steps[0] as RunStep).maxFailedShare).toBe(0);
  });

  it("names the file, the field and the fix for each bad file", () => {
    expect(problem(wf([{ name: "a", jobs, dependsOn: ["ilum"] }]))).toBe(
      'wf.json: steps[0].dependsOn[0]: "ilum" is not a step of this workflow. Fix: use one of: a',
    );
    expect(
      problem(
        wf([
          { name: "a", jobs, dependsOn: ["c"] },
          { name: "b", jobs, dependsOn: ["a"] },
          { name: "c", jobs, dependsOn: ["b"] },
        ]),
      ),
    ).toMatch(/steps\[0\]\.dependsOn: the steps depend on each other in a cycle \(a -> c -> b -> a\)/);
    expect(problem(wf([{ name: "a", jobs, dependsOn: ["a"] }]))).toMatch(/cannot depend on itself/);
    expect(problem(wf([{ name: "a", jobs, config: { CHECK_IF_DONE: true } }]))).toBe(
      'wf.json: steps[0].config.CHECK_IF_DONE: is not a config key. Fix: did you mean "CHECK_IF_DONE_BOOL"? Rename or remove it',
    );
    expect(problem(wf([{ name: "a", jobs, config: { APP_NAME: "X" } }]))).toMatch(
      /steps\[0\]\.config\.APP_NAME: is set by the workflow/,
    );
    expect(problem(wf([{ name: "a", jobs, config: { MEMORY: "lots" } }]))).toMatch(/steps\[0\]\.config\.MEMORY: /);
    expect(problem(wf([{ name: "a", jobs: {} }]))).toMatch(
      /steps\[0\]\.jobs: needs exactly one of file, makeJobs, fromCsv/,
    );
    expect(problem(wf([{ name: "a" }]))).toMatch(/steps\[0\]\.jobs: is missing/);
    expect(problem({ steps: [{ name: "a", jobs }] })).toMatch(/steps\[0\]\.fleet: no fleet file/);
    expect(
      problem(
        wf([
          { name: "a", jobs },
          { name: "a", jobs },
        ]),
      ),
    ).toMatch(/steps\[1\]\.name: "a" is also the name of steps\[0\]/);
    expect(problem(wf([{ name: "a b", jobs }]))).toMatch(/steps\[0\]\.name: /);
    expect(problem(wf([{ name: "a", jobs, gate: { maxFailedShare: 2 } }]))).toMatch(
      /maxFailedShare: must be from 0 to 1/,
    );
    expect(problem(wf([{ name: "a", jobs, retries: 3 }]))).toMatch(/steps\[0\]\.retries: unknown key/);
    expect(
      problem(
        wf([
          {
            name: "a",
            jobs: { makeJobs: { step: "analysis", project: "P", batch: "B", plates: ["P1"], flags: { sites: "3-1" } } },
          },
        ]),
      ),
    ).toMatch(/steps\[0\]\.jobs\.makeJobs: --sites: /);
    expect(
      problem(
        wf([
          {
            name: "a",
            jobs: { fromCsv: { csv: "x.csv", groupBy: ["Plate", "Plate"], pipeline: "p", dataFile: "d", output: "o" } },
          },
        ]),
      ),
    ).toMatch(/steps\[0\]\.jobs\.fromCsv: --group-by: /);
    expect(problem(wf([{ name: "c", collect: { out: "o" } }]))).toMatch(
      /steps\[0\]\.collect: needs exactly one of from and source/,
    );
    expect(problem(wf([{ name: "c", collect: { from: "x", out: "o" } }]))).toMatch(
      /steps\[0\]\.collect\.from: "x" is not a step/,
    );
    expect(
      problem(wf([{ name: "c", collect: { source: "s3://b/p", out: "o", metadataFromPath: "Plate/Well" } }])),
    ).toMatch(/steps\[0\]\.collect\.metadataFromPath: /);
  });

  it("runOrder is stable and visits each step once", () => {
    const steps = [
      { name: "d", index: 0, dependsOn: ["b", "c"] },
      { name: "c", index: 1, dependsOn: ["a"] },
      { name: "b", index: 2, dependsOn: ["a"] },
      { name: "a", index: 3, dependsOn: [] },
    ];
    expect(runOrder(steps, "f").map((s) => s.name)).toEqual(["a", "b", "c", "d"]);
  });

  it("gives each step its own names; overrides win; the base's explicit queue name gets the suffix", () => {
    const step = parseWorkflow(wf([{ name: "illum", jobs, config: { MEMORY: 4000 } }]), "f", "f").steps[0] as RunStep;
    const names = { APP_NAME: "Lab", SQS_QUEUE_NAME: "LabQ", SQS_DEAD_LETTER_QUEUE: "Lab_Dead" };
    expect(stepConfigObject({ APP_NAME: "Lab", MEMORY: 15000 }, names, step)).toEqual({
      APP_NAME: "Lab-illum",
      MEMORY: 4000,
      SQS_DEAD_LETTER_QUEUE: "Lab_Dead-illum",
    });
    expect(stepConfigObject({ APP_NAME: "Lab", SQS_QUEUE_NAME: "LabQ" }, names, step).SQS_QUEUE_NAME).toBe(
      "LabQ-illum",
    );
  });

  it("config/workflow.schema.json is up to date (regenerate: node bin/dcp workflow schema -o config/workflow.schema.json)", () => {
    expect(readFileSync(WORKFLOW_SCHEMA_FILE, "utf8")).toBe(workflowJsonSchemaText());
  });
});

describe("gate and state", () => {
  it("default gate: no group dead-lettered; a share allows up to that share of the step's groups", () => {
    expect(gateVerdict(0, 10, 0).passed).toBe(true);
    expect(gateVerdict(1, 10, 0).passed).toBe(false);
    expect(gateVerdict(1, 10, 0.1).passed).toBe(true);
    expect(gateVerdict(2, 10, 0.1).passed).toBe(false);
  });

  it("failing groups: one per Metadata, in both Metadata forms; a job file of exactly those bodies", () => {
    const a = JSON.stringify({
      Metadata: "Metadata_Plate=P2",
      pipeline: "p",
      output: "o",
      input: "",
      data_file: "d",
      output_structure: "",
    });
    const b = JSON.stringify({
      Metadata: { Metadata_Plate: "P3" },
      pipeline: "p",
      output: "o",
      input: "",
      data_file: "d",
      output_structure: "Metadata_Plate",
    });
    expect(distinctGroups([a, b, a])).toEqual([a, b]);
    expect(bodyMetadata(b)).toBe("Metadata_Plate=P3");
    const file = jobFileOfBodies([a], "retry");
    expect(JSON.parse(file)).toEqual({ _comment: "retry", groups: [JSON.parse(a)] });
    // A dict Metadata becomes the k=v string the job-file extension (per-group shared keys) takes.
    expect(JSON.parse(jobFileOfBodies([b], "retry")).groups[0].Metadata).toBe("Metadata_Plate=P3");
  });

  it("status lines and the state schema", () => {
    const state = workflowStateSchema.parse({
      version: 1,
      workflow: "w",
      file: "w.json",
      steps: [
        {
          name: "illum",
          kind: "run",
          phase: "gate-failed",
          groups: 2,
          gate: { failed: 1, groups: 2, maxFailedShare: 0, passed: false },
        },
        { name: "collect", kind: "collect", phase: "passed", rows: { Image: 4 } },
      ],
    });
    expect(state.steps.map(stepStatusLine)).toEqual([
      "illum: gate-failed · 2 groups · 1 dead-lettered",
      "collect: passed · Image 4 rows",
    ]);
  });
});
