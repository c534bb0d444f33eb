import type { Command } from "commander";
import { commandConfig, commandOutput, withExamples } from "./shared.js";

export function registerFailures(program: Command): void {
  const command = program
    .command("failures")
    .summary("list the groups that failed or sit in the dead-letter queue, and why")
    .description(
      "Every group of the run whose latest attempt failed (none done since) or that sits in the dead-letter queue, " +
        "grouped by cause class (pipeline-error, crash, out-of-memory, missing-input...) and by plate/well, with the " +
        "last lines CellProfiler printed and the CloudWatch log stream. Reads the run ledger " +
        "(s3://AWS_BUCKET/dcp-runs/APP_NAME/) and the whole dead-letter queue, which is left as it was: every message " +
        "read is made visible again, even after Ctrl-C. Needs only the config (APP_NAME, AWS_BUCKET, queue names).",
    )
    .option("--json", "print the groups as JSON on stdout")
    .option("--csv <file>", "also write one row per group to this CSV file")
    .option("--run <run-id>", "a run other than the current one (its fleet request id)")
    .action(async (opts: { json?: boolean; csv?: string; run?: string }, cmd: Command) => {
      const config = await commandConfig(cmd);
      const { runFailures } = await import("../flows/failures.js");
      await runFailures(config, { csv: opts.csv, run: opts.run }, commandOutput(cmd));
    });
  withExamples(command, [
    "dcp failures",
    "dcp failures --csv failed-groups.csv",
    "dcp failures --json | jq '.groups[] | select(.cause == \"pipeline-error\") | .metadataId'",
  ]);
}
