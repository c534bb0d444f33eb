import type { Command } from "commander";
import { commandOutput, globalOptions, withExamples } from "./shared.js";

export function registerTeardown(program: Command): void {
  const command = program
    .command("teardown")
    .summary("tear a run down now, or finish a half-done teardown")
    .description(
      "Tear a run down now (abort), or finish a teardown a killed monitor left half done. In order: ECS service " +
        "to 0; idle alarms deleted; fleet cancelled, terminating its instances (and the EC2 Fleet's launch " +
        "template deleted); job queue deleted (the dead-letter queue is kept); service deleted; task definitions " +
        "deregistered; the dashboard deleted; both log groups exported to s3://<AWS_BUCKET>/exportedlogs/<group>/; " +
        "last, the fleet's container instances deregistered and the cluster deleted unless it is `default` or used " +
        "by something else. Each step is recorded in the state file; already-gone counts as done.",
    )
    .argument("[state-file]", "the run's state file (default: files/<APP_NAME>SpotFleetRequestId.json from the config)")
    .option("--dry-run", "print the plan and change nothing")
    .option(
      "-y, --yes",
      "do not ask before deleting a queue that still holds unfinished groups (asked only on a terminal)",
    )
    .option("--json", "print the summary (or the plan, with --dry-run) as JSON on stdout")
    .action(async (stateFile: string | undefined, opts: { dryRun?: boolean; yes?: boolean }, cmd: Command) => {
      const { runTeardown } = await import("../flows/teardown.js");
      process.exitCode = await runTeardown(
        { ...globalOptions(cmd), stateFile, dryRun: Boolean(opts.dryRun), yes: Boolean(opts.yes) },
        commandOutput(cmd),
      );
    });
  withExamples(command, [
    "dcp teardown --dry-run",
    "dcp teardown          # asks first if unfinished groups would be deleted",
    "dcp teardown --yes           # abort without asking",
    "dcp teardown files/MyProject_AnalysisSpotFleetRequestId.json --json",
  ]);
}
