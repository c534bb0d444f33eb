import type { Command } from "commander";
import { commandOutput, globalOptions, withExamples } from "./shared.js";
import { secondsFlag } from "./flags.js";

/** `dcp workflow run | status | schema`: chained steps (illum → analysis → collect) in one resumable command. */
export function registerWorkflow(program: Command): void {
  const workflow = program
    .command("workflow")
    .summary("run a batch's steps (illum → analysis → collect) in one resumable command")
    .description(
      "A workflow file lists steps; each names its jobs (a job file, make-jobs or from-csv), its config " +
        "overrides, the steps it depends on and its gate (default: no group dead-lettered). `workflow run` runs " +
        "each step as its own run (APP_NAME-<step>: its own queues, service, fleet, teardown), one after the " +
        "other, and records every phase in files/workflow-<name>.json: killed at any moment, run it again and it " +
        "continues. A failed gate stops the workflow naming the failing groups; after fixing the cause, run it " +
        "again and only those groups are resubmitted.",
    );
  withExamples(workflow, [
    "dcp workflow run workflow.json --dry-run",
    "dcp workflow run workflow.json",
    "dcp workflow status workflow.json",
    "dcp workflow schema -o config/workflow.schema.json",
  ]);

  const run = workflow
    .command("run")
    .description(
      "Run the workflow's steps in dependency order, or continue an interrupted run. Each run step: make-jobs " +
        "(if asked), setup, submit, start-cluster, monitor (which tears down), then its gate on the step's " +
        "dead-letter queue. A collect step runs `dcp collect` on a step's outputs.",
    )
    .argument("<workflow.json>", "the workflow file")
    .option("--dry-run", "check every file and print the steps in order; write and create nothing")
    .option(
      "--poll-interval <seconds>",
      "seconds between readings of start-cluster's wait and of monitor (default 15)",
      secondsFlag({ command: "workflow run", flag: "--poll-interval" }, { min: 1, example: "15" }),
    )
    .option(
      "--wait-timeout <seconds>",
      "start-cluster's wait for the machines (default 600)",
      secondsFlag({ command: "workflow run", flag: "--wait-timeout" }, { min: 0, example: "600" }),
    )
    .option("--json", "print the workflow state as JSON on stdout at the end")
    .action(
      async (
        file: string,
        options: { dryRun?: boolean; pollInterval?: number; waitTimeout?: number },
        cmd: Command,
      ) => {
        const { config, region, profile } = globalOptions(cmd);
        const { runWorkflow } = await import("../flows/workflow.js");
        await runWorkflow(file, options, { output: commandOutput(cmd), configPath: config, region, profile });
      },
    );
  withExamples(run, [
    "dcp workflow run workflow.json",
    "dcp --config config/batch1.json workflow run batch1.workflow.json --poll-interval 30",
  ]);

  const status = workflow
    .command("status")
    .description("Each step's phase from the workflow state file; failing groups of a failed gate. No AWS call.")
    .argument("<workflow.json>", "the workflow file")
    .option("--json", "print the state file's content as JSON")
    .action(async (file: string, _options: unknown, cmd: Command) => {
      const { config, region, profile } = globalOptions(cmd);
      const { workflowStatus } = await import("../flows/workflow.js");
      await workflowStatus(file, { output: commandOutput(cmd), configPath: config, region, profile });
    });
  withExamples(status, [
    "dcp workflow status workflow.json",
    "dcp workflow status workflow.json --json | jq '.steps[].phase'",
  ]);

  const schema = workflow
    .command("schema")
    .description("Print the workflow file's JSON Schema (for editors), or write it with -o.")
    .option("-o, --output <path>", "write the schema to this file")
    .action(async (options: { output?: string }) => {
      const { runWorkflowSchema } = await import("../flows/workflow.js");
      await runWorkflowSchema(options.output);
    });
  withExamples(schema, ["dcp workflow schema -o config/workflow.schema.json"]);
}
