import type { Command } from "commander";
import { secondsFlag, secondsPerGroupFlag } from "./flags.js";
import { interruptOnSignals } from "../signals.js";
import { commandConfig, commandOutput, withExamples } from "./shared.js";

interface StartClusterFlags {
  waitTimeout: number;
  pollInterval: number;
  dryRun?: boolean;
  replace?: boolean;
  json?: boolean;
  secondsPerGroup?: number;
}

export function registerStartCluster(program: Command): void {
  const command = program
    .command("start-cluster")
    .summary("start the spot fleet and workers; write the state file")
    .argument(
      "<fleet-file>",
      "a DCP fleet file (Spot Fleet request configuration JSON), e.g. files/exampleFleet_us-east-1.json",
    )
    .description(
      "Request the spot fleet of a run (CLUSTER_MACHINES machines of the MACHINE_TYPE types, through the fleet " +
        "API the config names; `dcp config show` lists it), scale the ECS service to CLUSTER_MACHINES x TASKS_PER_MACHINE, write the state " +
        "file files/<APP_NAME>SpotFleetRequestId.json, create one idle alarm per instance and wait for capacity. " +
        "A failing fleet is cancelled; partial capacity at the timeout is only a warning.",
    )
    .option(
      "--wait-timeout <seconds>",
      "how long to wait for the machines (0: do not wait)",
      secondsFlag({ command: "start-cluster", flag: "--wait-timeout" }, { min: 0, example: "600" }),
      600,
    )
    .option(
      "--poll-interval <seconds>",
      "seconds between two readings of the fleet while waiting",
      secondsFlag({ command: "start-cluster", flag: "--poll-interval" }, { min: 0.1, example: "15" }),
      15,
    )
    .option(
      "--seconds-per-group <seconds>",
      "expected seconds of one group (as dcp estimate's): with BUDGET_USD and FLEET_API ec2-fleet, the fleet's hourly MaxTotalPrice is the budget over the estimated wall time",
      secondsPerGroupFlag("start-cluster"),
    )
    .option("--dry-run", "print the requests dcp would send and create nothing")
    .option("--replace", "cancel the fleet this app already runs (and its alarms) and start a new one")
    .option("--json", "print the result (fleet id, machines, state file) as JSON on stdout")
    .action(async (fleetFile: string, flags: StartClusterFlags, cmd: Command) => {
      const waitTimeoutSeconds = flags.waitTimeout;
      const pollSeconds = flags.pollInterval;
      const config = await commandConfig(cmd);
      const output = commandOutput(cmd);
      const { runStartCluster } = await import("../flows/start-cluster.js");
      // Ctrl-C: a fleet this start already requested is cancelled (with what was made for it);
      // a second Ctrl-C exits at once, and `dcp teardown` finds the fleet through the state file.
      const signals = interruptOnSignals({
        onFirst: () => output.warn("interrupted: stopping at the next safe point (Ctrl-C again to quit at once)"),
      });
      try {
        const result = await runStartCluster(
          config,
          {
            fleetFile,
            waitTimeoutSeconds,
            pollSeconds,
            dryRun: Boolean(flags.dryRun),
            replace: Boolean(flags.replace),
            secondsPerGroup: flags.secondsPerGroup,
          },
          output,
          signals.signal,
        );
        output.result(result);
      } finally {
        signals.dispose();
      }
    });
  withExamples(command, [
    "dcp start-cluster files/exampleFleet_us-east-1.json",
    "dcp start-cluster files/fleet.json --dry-run         # show, create nothing",
    "dcp start-cluster files/fleet.json --wait-timeout 1200   # wait 20 min",
    "dcp start-cluster files/fleet.json --replace   # cancel the running one",
    "dcp start-cluster files/fleet.json --seconds-per-group 600   # BUDGET_USD: ec2-fleet's cap per hour",
    "dcp start-cluster files/fleet.json --json | jq .fleetId",
  ]);
}
