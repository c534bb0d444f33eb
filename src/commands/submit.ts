import type { Command } from "commander";
import { commandConfig, commandOutput, withExamples } from "./shared.js";

/** Checked in the action, so that `dcp --help` does not load zod (test/startup.test.ts). */
async function parseConcurrency(value: string): Promise<number> {
  const [{ z }, { UserInputError }] = await Promise.all([import("zod"), import("../errors.js")]);
  const result = z.coerce
    .number({ error: "expected a whole number" })
    .int({ error: "expected a whole number" })
    .min(1, { error: "must be at least 1" })
    .max(100, { error: "must be at most 100" })
    .safeParse(value);
  if (!result.success)
    throw new UserInputError(
      "command line",
      "--concurrency",
      result.error.issues[0]?.message ?? "invalid",
      "pass a number from 1 to 100, e.g. --concurrency 16",
    );
  return result.data;
}

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
    .option("--concurrency <n>", "SendMessageBatch calls in flight at once (1-100)", "16")
    .action(async (file: string, options: { dryRun?: boolean; json?: boolean; concurrency: string }, cmd: Command) => {
      const concurrency = await parseConcurrency(options.concurrency);
      const config = await commandConfig(cmd);
      const { runSubmit } = await import("../flows/submit.js");
      await runSubmit(file, { ...options, concurrency }, config, commandOutput(cmd));
    });
  withExamples(command, [
    "dcp submit files/exampleJob.json --dry-run",
    "dcp submit files/exampleJob.json",
    "dcp --config config/plate1.json submit jobs/plate1.json --json | jq .queueDepth",
    "dcp submit jobs/big.json --concurrency 32",
  ]);
}
