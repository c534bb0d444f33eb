import type { Command } from "commander";
import { secondsFlag, usdFlag } from "./flags.js";
import { commandOutput, globalOptions, withExamples } from "./shared.js";

export function registerMonitor(program: Command): void {
  const command = program
    .command("monitor")
    .summary("watch a run, shrink the fleet, tear down when done")
    .description(
      "Watch a run until its queue drains, then tear it down. Every interval: queue waiting / in flight, " +
        "dead-lettered, fleet target / fulfilled and running instances; idle alarms for new instances, alarms of " +
        "gone instances deleted; once nothing waits, the fleet target drops to the jobs in flight (no instance is " +
        "terminated). Two empty readings in a row start the teardown (see `dcp teardown --help`). Ctrl-C stops " +
        "watching without tearing down (exit 130); run it again to resume.",
    )
    .argument("[state-file]", "the run's state file (default: files/<APP_NAME>SpotFleetRequestId.json from the config)")
    .option(
      "--cheapest",
      "lower the fleet target to 1 machine 15 minutes after the monitor starts (DCP's cheapest mode)",
    )
    .option(
      "--interval <seconds>",
      "seconds between readings (1-3600)",
      secondsFlag(
        { command: "monitor", flag: "--interval" },
        { min: 1, max: 3600, fix: "pass a number of seconds, e.g. --interval 60" },
      ),
      60,
    )
    .option(
      "--budget <usd>",
      "spend limit of the run in USD (overrides BUDGET_USD): warn when the projection exceeds it, stop the fleet before spend reaches it",
      usdFlag({ command: "monitor", flag: "--budget" }),
    )
    .option("--once", "take one reading (and tear down if it is the second empty one in a row), then exit; for cron")
    .option("--json", "print the final summary as JSON on stdout (progress goes to stderr)")
    .action(
      async (
        stateFile: string | undefined,
        opts: { cheapest?: boolean; interval: number; once?: boolean; budget?: number },
        cmd: Command,
      ) => {
        const { runMonitor } = await import("../flows/monitor.js");
        const intervalS = opts.interval;
        process.exitCode = await runMonitor(
          {
            ...globalOptions(cmd),
            stateFile,
            cheapest: Boolean(opts.cheapest),
            once: Boolean(opts.once),
            intervalS,
            ...(opts.budget !== undefined ? { budgetUsd: opts.budget } : {}),
          },
          commandOutput(cmd),
        );
      },
    );
  withExamples(command, [
    "dcp monitor",
    "dcp monitor files/MyProject_AnalysisSpotFleetRequestId.json",
    "dcp monitor --cheapest",
    "dcp monitor --budget 250                 # stop spending before $250 of spot compute",
    "dcp monitor 2>&1 | tee monitor.log   # timestamped lines, one per change",
    "dcp monitor --once                       # from cron, every few minutes",
  ]);
}
