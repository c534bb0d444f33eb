import type { Command } from "commander";
import { commandConfig, commandOutput, globalOptions, withExamples } from "./shared.js";

export function registerSetup(program: Command): void {
  const command = program
    .command("setup")
    .summary("create or update queues, cluster, task definition, logs")
    .description(
      "Create or update what a run needs: the dead-letter and job queues, the ECS cluster, the task definition, " +
        "the ECS service (0 workers) and the log groups. Safe to re-run: unchanged resources are left alone, " +
        "changed settings (e.g. SQS_MESSAGE_VISIBILITY, JOB_RETRIES) update the existing resources.",
    )
    .option("--json", "print the summary (created / updated / unchanged) as JSON on stdout")
    .action(async (_options: unknown, cmd: Command) => {
      const config = await commandConfig(cmd);
      const { checkSetupConfig, runSetup } = await import("../flows/setup.js");
      checkSetupConfig(config, globalOptions(cmd).config);
      await runSetup(config, commandOutput(cmd));
    });
  withExamples(command, [
    "dcp setup",
    "dcp --config config/plate1.json setup",
    "dcp setup --json | jq '.updated'",
    "dcp --profile lab --region us-west-2 setup",
  ]);
}
