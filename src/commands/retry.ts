import type { Command } from "commander";
import { commandConfig, commandOutput, withExamples } from "./shared.js";

export function registerRetry(program: Command): void {
  const command = program
    .command("retry")
    .summary("send failed groups back to the job queue")
    .description(
      "Send failed groups back to the job queue, after saying what will be sent (and asking, on a terminal). " +
        "--from-dlq: the dead-letter queue's messages, optionally only those of a cause class (see dcp failures) or " +
        "whose group matches a pattern; each batch of 10 is sent, then deleted from the dead-letter queue, so nothing " +
        "is lost if interrupted and a second run does not send again what was sent. A retried message starts its " +
        "attempt count afresh. --missing job.json: every group of the job file whose outputs are missing or " +
        "incomplete in S3 under the CHECK_IF_DONE rule (EXPECTED_NUMBER_FILES, MIN_FILE_SIZE_BYTES, NECESSARY_STRING), " +
        "found from one listing of the output folder.",
    )
    .option("--from-dlq", "retry the messages of the dead-letter queue")
    .option("--missing <job.json>", "retry the groups of this job file whose outputs are missing or incomplete")
    .option(
      "--cause <class>",
      "only groups whose failure has this cause class (repeatable, or comma-separated; with --from-dlq)",
      (value: string, previous: string[] | undefined) => [...(previous ?? []), value],
    )
    .option("--group <pattern>", "only groups whose output folder or Metadata matches this glob (* and ?)")
    .option("--run <run-id>", "read causes from this run's ledger instead of the current run's")
    .option("--dry-run", "show what would be sent; send and delete nothing")
    .option("-y, --yes", "do not ask for confirmation (asked only on a terminal)")
    .option("--json", "print a summary as JSON on stdout")
    .action(
      async (
        opts: {
          fromDlq?: boolean;
          missing?: string;
          cause?: string[];
          group?: string;
          run?: string;
          dryRun?: boolean;
          yes?: boolean;
        },
        cmd: Command,
      ) => {
        const config = await commandConfig(cmd);
        const { runRetry } = await import("../flows/retry.js");
        process.exitCode = await runRetry(config, opts, commandOutput(cmd));
      },
    );
  withExamples(command, [
    "dcp retry --from-dlq --dry-run",
    "dcp retry --from-dlq --cause pipeline-error",
    "dcp retry --from-dlq --group 'Plate1-A*' --yes",
    "dcp retry --missing files/job.json --dry-run",
    "dcp retry --missing files/job.json --yes",
  ]);
}
