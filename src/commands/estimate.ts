import type { Command } from "commander";
import { secondsPerGroupFlag } from "./flags.js";
import { commandConfig, commandOutput, globalOptions, withExamples } from "./shared.js";

export function registerEstimate(program: Command): void {
  const command = program
    .command("estimate")
    .summary("what a run will cost, before anything is created")
    .description(
      "Estimate wall time, instance-hours and cost of running a job file on a fleet: groups x seconds per group " +
        "over CLUSTER_MACHINES x TASKS_PER_MACHINE x DOCKER_CORES job loops, priced with the current spot price of " +
        "each MACHINE_TYPE in the fleet's zones (DescribeSpotPriceHistory: the cheapest, and the range), plus EBS, " +
        "public IPv4 (ASSIGN_IP), alarms, dashboard, log ingestion, SQS requests and S3 PUTs from dcp's dated price " +
        "table. Each line shows its unit price and source; a short table shows other machine counts and types. " +
        "Only reads (EC2 Describe calls, and the ledger with --from-run). Exit 2 on bad input.",
    )
    .argument("<job-file>", "the job file (its groups are counted)")
    .argument("<fleet-file>", "the fleet file (its subnets give the zones, its volumes the EBS size)")
    .option(
      "--seconds-per-group <seconds>",
      "how long one group takes on one job loop",
      secondsPerGroupFlag("estimate"),
    )
    .option("--from-run <run-id>", "take the median task time of a finished run of the same pipeline (its ledger)")
    .option("--json", "print the estimate as JSON on stdout")
    .action(
      async (
        jobFile: string,
        fleetFile: string,
        opts: { secondsPerGroup?: number; fromRun?: string },
        cmd: Command,
      ) => {
        const config = await commandConfig(cmd);
        const { runEstimate } = await import("../flows/estimate.js");
        await runEstimate(
          config,
          {
            jobFile,
            fleetFile,
            configPath: globalOptions(cmd).config,
            ...(opts.secondsPerGroup !== undefined ? { secondsPerGroup: opts.secondsPerGroup } : {}),
            ...(opts.fromRun !== undefined ? { fromRun: opts.fromRun } : {}),
          },
          commandOutput(cmd),
        );
      },
    );
  withExamples(command, [
    "dcp estimate files/job.json files/fleet.json --seconds-per-group 600",
    "dcp estimate files/job.json files/fleet.json --from-run sfr-0123abcd-4567-89ef-0123-456789abcdef",
    "dcp estimate files/job.json files/fleet.json --seconds-per-group 600 --json | jq .totalUsd",
  ]);
}
