import type { Command } from "commander";
import { secondsFlag } from "./flags.js";
import { commandOutput, globalOptions, withExamples } from "./shared.js";

export function registerStatus(program: Command): void {
  const command = program
    .command("status")
    .summary("a run as anyone can see it: progress, failures, phase, cost")
    .description(
      "Show a run from any machine with the config's APP_NAME and AWS_BUCKET and credentials: the run found " +
        "through the run ledger (s3://AWS_BUCKET/dcp-runs/<APP_NAME>/current.json, written by start-cluster) or " +
        "a state file; queue waiting / in flight, dead-lettered, fleet target / fulfilled and instance types " +
        "(one fresh reading), the monitor's figures from its heartbeat, groups done / failed (by cause) / running " +
        "from the workers' attempt records, rate and ETA, cost so far and projected (once finished: the cost in " +
        "all and per plate), and the phase: running, tearing down, " +
        "finished, or UNATTENDED (no monitor heartbeat for MONITOR_HEARTBEAT_TIMEOUT_MINUTES, default 10, or " +
        "three polls) and billing while the fleet or its instances are alive. Changes nothing.",
    )
    .argument(
      "[app-or-state-file]",
      "an APP_NAME (default: the config's), or a run's state file (files/<APP_NAME>SpotFleetRequestId.json)",
    )
    .option("--json", "print one JSON object on stdout (with --watch: one per reading)")
    .option(
      "--watch [seconds]",
      "redraw every N seconds (default 30) until Ctrl-C",
      secondsFlag({ command: "status", flag: "--watch" }, { min: 1, max: 3600, fix: "pass seconds, e.g. --watch 30" }),
    )
    .action(async (target: string | undefined, opts: { watch?: number | true }, cmd: Command) => {
      const { runStatus } = await import("../flows/status.js");
      const watchSeconds = opts.watch === true ? 30 : opts.watch;
      process.exitCode = await runStatus({ ...globalOptions(cmd), target, watchSeconds }, commandOutput(cmd));
    });
  withExamples(command, [
    "dcp status",
    "dcp status MyProject_Analysis --json",
    "dcp status files/MyProject_AnalysisSpotFleetRequestId.json",
    "dcp status --watch 15",
  ]);
}
