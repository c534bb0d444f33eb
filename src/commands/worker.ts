import type { Command } from "commander";
import { integerFlag } from "./flags.js";
import { globalOptions, withExamples } from "./shared.js";

export function registerWorker(program: Command): void {
  const command = program
    .command("worker")
    .summary("run CellProfiler tasks from the queue (in each container)")
    .description(
      "Take CellProfiler tasks from the queue and run them: what each container of the fleet runs, and what you can run " +
        "on a workstation. Settings come from the config file when it exists, otherwise from the environment variables " +
        "of the task definition (APP_NAME, SQS_QUEUE_URL, DOCKER_CORES, ...). Runs DOCKER_CORES job loops; stops when the " +
        "queue has stayed empty for WORKER_IDLE_POLLS polls, or on SIGTERM / a spot interruption notice (running tasks " +
        "are handed back without spending a retry; exit 0).",
    )
    .option(
      "--loops <n>",
      "number of job loops (default: DOCKER_CORES)",
      integerFlag({ command: "worker", flag: "--loops" }, { min: 1, example: "2" }),
    )
    .option(
      "--container",
      "inside the worker image: first mount SOURCE_BUCKET read-only at MOUNT_ROOT (mount mode) and set up CellProfiler-plugins (USE_PLUGINS)",
    )
    .option(
      "--self-test",
      "check this machine (with --container: this image) can run tasks, without AWS or settings: cellprofiler --version, " +
        "mount-s3 and /dev/fuse (--container), then one group of the bundled ExampleHuman example; exit 0 only if all pass",
    )
    .action(async (options: { loops?: number; container?: boolean; selfTest?: boolean }, cmd: Command) => {
      if (options.selfTest) {
        const { runSelfTest } = await import("../worker/self-test.js");
        const { passed } = await runSelfTest({ container: Boolean(options.container) });
        process.exitCode = passed ? 0 : 1;
        return;
      }
      const { config: configPath, region, profile } = globalOptions(cmd);
      const { loadWorkerSettings } = await import("../worker/settings.js");
      const settings = await loadWorkerSettings(configPath, { region, profile });
      const { runWorker } = await import("../worker/run.js");
      await runWorker(settings, {
        loops: options.loops,
        handleSignals: true,
        containerSetup: Boolean(options.container),
      });
    });
  withExamples(command, [
    "dcp worker              # config/config.json, or the task definition's env",
    "dcp worker --loops 2",
    "dcp worker --self-test  # can this machine run tasks? (no AWS)",
    "docker run --rm TAG --self-test   # the same inside the worker image",
    "APP_NAME=MyProject AWS_BUCKET=my-bucket MOUNT_ROOT=$HOME/bucket dcp worker",
  ]);
}
