import type { Command } from "commander";
import { integerFlag } from "./flags.js";
import { commandConfig, commandOutput, withExamples } from "./shared.js";

export function registerSubmit(program: Command): void {
  const command = program
    .command("submit")
    .summary("send one queue message per group of a job file")
    .description(
      "Send one message per group of a DCP job file to the job queue (SQS_QUEUE_NAME). The whole file is checked " +
        "first (nothing is sent if any group is wrong); then messages go 10 per SendMessageBatch call, several calls " +
        "at once, and only the entries SQS refuses are retried. Job files of any size are streamed.",
    )
    .argument("<job.json>", "a DCP job file: shared pipeline, data_file, input, output[, output_structure] and groups")
    .option("--dry-run", "check the file and show what would be sent, without calling AWS")
    .option("--json", "print a summary object as JSON on stdout")
    .option(
      "--concurrency <n>",
      "SendMessageBatch calls in flight at once (1-100)",
      integerFlag(
        { command: "submit", flag: "--concurrency" },
        { min: 1, max: 100, fix: "pass a number from 1 to 100, e.g. --concurrency 16" },
      ),
      16,
    )
    .action(async (file: string, options: { dryRun?: boolean; json?: boolean; concurrency: number }, cmd: Command) => {
      const config = await commandConfig(cmd);
      const { runSubmit } = await import("../flows/submit.js");
      await runSubmit(file, options, config, commandOutput(cmd));
    });
  withExamples(command, [
    "dcp submit files/exampleJob.json --dry-run",
    "dcp submit files/exampleJob.json",
    "dcp --config config/plate1.json submit jobs/plate1.json --json | jq .queueDepth",
    "dcp submit jobs/big.json --concurrency 32",
  ]);
}
