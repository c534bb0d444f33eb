/**
 * What the worker container does before its job loops (`dcp worker --container`, the image's
 * entrypoint), replacing DCP's run-worker.sh (reference 5.1):
 *  - mount mode (DOWNLOAD_FILES false): SOURCE_BUCKET mounted read-only at MOUNT_ROOT with
 *    Mountpoint for Amazon S3 (`mount-s3`), which takes the task role's credentials from the SDK
 *    chain, so no key is ever written to a file (DCP wrote /credentials.txt for s3fs);
 *  - CellProfiler-plugins (USE_PLUGINS): fetch, check out PLUGINS_COMMIT, install requirements,
 *    each step an argv array run in the plugins folder (`git -C`, spawn cwd), so no `cd` leaks into
 *    the next step, and any failure stops the container with the step named (reference 7.1.16).
 * The plan is pure and unit-tested; runContainerSetup executes it.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { createInterface } from "node:readline";
import type { Config } from "../config/schema.js";
import { effectiveBuckets } from "../config/schema.js";
import { OperationalError } from "../errors.js";

export interface SetupStep {
  label: string;
  command: string;
  args: string[];
  cwd?: string;
  /** A folder to create before the command runs. */
  mkdir?: string;
  /** Variables removed from the command's environment. */
  unsetEnv?: string[];
}

export interface ContainerFacts {
  /** The plugins checkout has the 1.0 layout (an active_plugins/ folder). */
  pluginsHaveActiveFolder: boolean;
  /** The Python that runs CellProfiler (for pip). */
  python: string;
}

export function containerSetupPlan(config: Config, facts: ContainerFacts): SetupStep[] {
  const steps: SetupStep[] = [];
  if (!config.DOWNLOAD_FILES) {
    const { source } = effectiveBuckets(config);
    steps.push({
      label: `mount s3://${source} read-only at ${config.MOUNT_ROOT}`,
      command: "mount-s3",
      // No --region, and no AWS_REGION in its environment: either one turns off Mountpoint's own
      // detection of the bucket's region, and the bucket may live in another region than the fleet.
      args: ["--read-only", source, config.MOUNT_ROOT],
      mkdir: config.MOUNT_ROOT,
      unsetEnv: ["AWS_REGION", "AWS_DEFAULT_REGION"],
    });
  }
  if (config.USE_PLUGINS) {
    const dir = config.PLUGINS_DIR;
    const git = (label: string, ...args: string[]) => steps.push({ label, command: "git", args: ["-C", dir, ...args] });
    if (config.UPDATE_PLUGINS) git("fetch CellProfiler-plugins updates", "fetch", "--all", "--tags", "--prune");
    if (config.PLUGINS_COMMIT)
      git(
        `check out CellProfiler-plugins ${config.PLUGINS_COMMIT} (no such commit, tag or branch? check PLUGINS_COMMIT)`,
        "checkout",
        config.PLUGINS_COMMIT,
      );
    else if (config.UPDATE_PLUGINS) git("update CellProfiler-plugins", "pull", "--ff-only");
    if (config.INSTALL_REQUIREMENTS) {
      const extra = config.REQUIREMENTS.split(/\s+/).filter(Boolean);
      if (facts.pluginsHaveActiveFolder) {
        steps.push({
          label: "install CellProfiler-plugins requirements",
          command: facts.python,
          args: ["-m", "pip", "install", "-e", ".", ...extra],
          cwd: dir,
        });
      } else if (extra.length) {
        steps.push({
          label: `install requirements from ${config.REQUIREMENTS}`,
          command: facts.python,
          args: ["-m", "pip", "install", "-r", config.REQUIREMENTS],
          cwd: dir,
        });
      } else {
        throw new OperationalError(
          "INSTALL_REQUIREMENTS is set but REQUIREMENTS names no requirements file (this CellProfiler-plugins checkout has the old layout, without active_plugins/)",
        );
      }
    }
  }
  return steps;
}

function runStep(step: SetupStep, log: (line: string) => void): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env };
    for (const name of step.unsetEnv ?? []) delete env[name];
    const child = spawn(step.command, step.args, { cwd: step.cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    for (const stream of [child.stdout, child.stderr])
      createInterface({ input: stream }).on("line", (l) => log(`  ${l}`));
    child.on("error", (err) =>
      reject(
        new OperationalError(
          `container setup: ${step.label}: cannot run ${step.command} (${(err as NodeJS.ErrnoException).code ?? err.message})`,
        ),
      ),
    );
    child.on("close", (code) => resolve(code));
  });
}

export async function runContainerSetup(config: Config, log: (line: string) => void): Promise<void> {
  const facts: ContainerFacts = {
    pluginsHaveActiveFolder: existsSync(join(config.PLUGINS_DIR, "active_plugins")),
    python: process.env.CELLPROFILER_PYTHON ?? "python3",
  };
  for (const step of containerSetupPlan(config, facts)) {
    if (step.mkdir) await mkdir(step.mkdir, { recursive: true });
    log(`container setup: ${step.label}`);
    const code = await runStep(step, log);
    if (code !== 0)
      throw new OperationalError(
        `container setup: ${step.label}: ${step.command} exited with code ${code}; the container stops here`,
      );
  }
}
