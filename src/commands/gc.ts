import type { Command } from "commander";
import { durationFlag } from "./flags.js";
import { commandOutput, globalOptions, withExamples } from "./shared.js";

interface GcFlags {
  app: string[];
  olderThan?: number;
  heartbeatTimeout?: number;
  dryRun?: boolean;
  includeRunning?: boolean;
  includeDlq?: boolean;
  includeLogs?: boolean;
  yes?: boolean;
}

export function registerGc(program: Command): void {
  const command = program
    .command("gc")
    .summary("find and remove what runs left behind, across the region")
    .description(
      "Find every resource tagged dcp:app in the region (fleets and their instances, launch templates, idle " +
        "alarms, queues, ECS services, task definitions and clusters, log groups; dashboards by name), tell per app " +
        "whether its run is finished, unattended (resources alive, no monitor heartbeat for the timeout), running " +
        "(fresh heartbeat: never touched) or has no state (no state file here, no ledger in S3), and on confirmation " +
        "remove them: the run's teardown plan first (from its state file when this folder has it), then the rest. " +
        "Dead-letter queues and log groups are kept unless --include-dlq / --include-logs. Already-gone counts as " +
        "done: interrupt it and run it again.",
    )
    .option(
      "--app <name>",
      "only this APP_NAME (repeat for several)",
      (name: string, names: string[]) => [...names, name],
      [] as string[],
    )
    .option(
      "--older-than <duration>",
      "only apps whose last sign of life (heartbeat, start, creation) is older than this, e.g. 7d, 12h",
      durationFlag({ command: "gc", flag: "--older-than" }),
    )
    .option(
      "--heartbeat-timeout <duration>",
      "a run is unattended when its monitor heartbeat is older than 3 polls or this, the longer (default: the config's MONITOR_HEARTBEAT_TIMEOUT_MINUTES, else 10m)",
      durationFlag({ command: "gc", flag: "--heartbeat-timeout" }, "15m"),
    )
    .option("--dry-run", "print what would be deleted and why; change nothing")
    .option("--include-running", "also remove unattended runs whose fleet is still running (after confirmation)")
    .option("--include-dlq", "also delete the dead-letter queues (dcp failures reads them)")
    .option("--include-logs", "also delete the log groups (exported to S3 first when the run was not torn down)")
    .option("-y, --yes", "do not ask; needed when there is no terminal")
    .option("--json", "print the findings and what was removed as JSON on stdout")
    .action(async (opts: GcFlags, cmd: Command) => {
      const { runGc } = await import("../flows/gc.js");
      process.exitCode = await runGc(
        {
          ...globalOptions(cmd),
          apps: opts.app,
          olderThanMs: opts.olderThan,
          heartbeatTimeoutMs: opts.heartbeatTimeout,
          dryRun: Boolean(opts.dryRun),
          includeRunning: Boolean(opts.includeRunning),
          includeDlq: Boolean(opts.includeDlq),
          includeLogs: Boolean(opts.includeLogs),
          yes: Boolean(opts.yes),
        },
        commandOutput(cmd),
      );
    });
  withExamples(command, [
    "dcp gc --dry-run",
    "dcp gc --older-than 7d          # asks before deleting",
    "dcp gc --app MyProject_Analysis --include-running --yes",
    "dcp gc --include-dlq --include-logs --older-than 30d --json",
  ]);
}
