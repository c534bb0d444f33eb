import type { Command } from "commander";
import { commandConfig, commandOutput, globalOptions, withExamples } from "./shared.js";

export function registerDoctor(program: Command): void {
  const command = program
    .command("doctor")
    .summary("find what would fail, before anything is created")
    .description(
      "Read-only checks, run concurrently: credentials and account, region, your permissions, the fleet, " +
        "instance and task roles and the service-linked roles, the fleet file (subnets, security groups, AMI, " +
        "instance types, Spot vCPU quota), the buckets, the job file (pipeline, data file, LoadData rows, images) " +
        "and the config's consistency. Each line is ✔ (fine), ✖ (would fail; the fix follows) or ! (could not " +
        "check, or a warning). Exit 0 when nothing would fail, 1 when something would, 2 on bad input.",
    )
    .argument("[files...]", "a job file and/or a fleet file (recognised by their content)")
    .option("--json", "print the checks as JSON on stdout")
    .action(async (files: string[], _options: unknown, cmd: Command) => {
      const config = await commandConfig(cmd);
      const { runDoctor } = await import("../flows/doctor.js");
      const report = await runDoctor(config, globalOptions(cmd).config, files, commandOutput(cmd));
      process.exitCode = report.failed ? 1 : 0;
    });
  withExamples(command, [
    "dcp doctor",
    "dcp doctor files/job.json files/fleet.json",
    "dcp doctor files/fleet.json --json | jq '.checks[] | select(.status == \"fail\")'",
  ]);
}
