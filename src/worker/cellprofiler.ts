/**
 * Running CellProfiler headless for one group (cellprofiler-headless.md section 1): an argv array,
 * never a shell string, so task fields reach CellProfiler verbatim and are never executed. Its
 * output lines are streamed to the task log as they come; stopping it sends SIGTERM to its process
 * group, then SIGKILL.
 */
import { spawn } from "node:child_process";
import { accessSync, constants, existsSync, statSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { delimiter, join } from "node:path";
import { createInterface } from "node:readline";
import type { DataFileKind } from "./datafile.js";

export interface CellProfilerRun {
  pipeline: string;
  input: string;
  output: string;
  doneFile: string;
  dataFile: string;
  dataKind: DataFileKind;
  group: string;
  pluginsDirectory?: string | undefined;
  alwaysContinue: boolean;
  tempDirectory: string;
}

export function cellprofilerArgs(run: CellProfilerRun): string[] {
  const args = ["-c", "-r", "-p", run.pipeline, "-i", run.input, "-o", run.output, "-d", run.doneFile];
  if (run.dataKind === "csv") args.push(`--data-file=${run.dataFile}`);
  if (run.dataKind === "txt") args.push(`--file-list=${run.dataFile}`);
  args.push("-g", run.group);
  if (run.pluginsDirectory) args.push(`--plugins-directory=${run.pluginsDirectory}`);
  if (run.alwaysContinue) args.push("--always-continue");
  args.push("-t", run.tempDirectory);
  return args;
}

/** CellProfiler-plugins: its `active_plugins/` folder (plugins 1.0 layout), else the checkout itself. */
export function pluginsDirectory(pluginsRoot: string): { directory: string; note?: string } {
  const active = join(pluginsRoot, "active_plugins");
  if (existsSync(active)) return { directory: active };
  return {
    directory: pluginsRoot,
    note: `no active_plugins folder in ${pluginsRoot}; using the folder itself as the plugins directory`,
  };
}

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** True when it was stopped because the task was aborted (shutdown or spot notice). */
  stopped: boolean;
}

export const KILL_GRACE_MS = 10_000;

export function runCellProfiler(
  command: string,
  args: readonly string[],
  onLine: (line: string) => void,
  signal: AbortSignal,
  killGraceMs = KILL_GRACE_MS,
): Promise<ExitStatus> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      resolve({ code: null, signal: null, stopped: true });
      return;
    }
    // detached: its own process group, so stopping it also stops anything it started (Java).
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"], detached: true });
    let stopped = false;
    let killTimer: NodeJS.Timeout | undefined;
    const signalGroup = (sig: NodeJS.Signals) => {
      try {
        if (child.pid) process.kill(-child.pid, sig);
      } catch {
        child.kill(sig);
      }
    };
    const stop = () => {
      stopped = true;
      signalGroup("SIGTERM");
      killTimer = setTimeout(() => signalGroup("SIGKILL"), killGraceMs);
      killTimer.unref();
    };
    signal.addEventListener("abort", stop, { once: true });
    const streams = [child.stdout, child.stderr].map((s) => createInterface({ input: s, crlfDelay: Infinity }));
    for (const lines of streams) lines.on("line", onLine);
    child.on("error", (err) => {
      signal.removeEventListener("abort", stop);
      reject(
        Object.assign(
          new Error(`cannot start CellProfiler (${command}): ${(err as NodeJS.ErrnoException).code ?? err.message}`),
          { cause: err },
        ),
      );
    });
    child.on("close", (code, sig) => {
      signal.removeEventListener("abort", stop);
      if (killTimer) clearTimeout(killTimer);
      resolve({ code, signal: sig, stopped });
    });
  });
}

/** The done file's first line: "Complete", "Failure", or undefined when CellProfiler wrote none. */
export async function readDoneFile(file: string): Promise<string | undefined> {
  try {
    return (await readFile(file, "utf8")).split(/\r?\n/)[0]?.trim();
  } catch {
    return undefined;
  }
}

export function describeExit(status: ExitStatus): string {
  if (status.signal) return `was killed by ${status.signal}`;
  if (status.code === 137)
    return "exited with code 137 (killed, usually out of memory: raise MEMORY or lower DOCKER_CORES)";
  if (status.code === 255) return "exited with code 255 (the run failed)";
  return `exited with code ${status.code}`;
}

/**
 * The executable CELLPROFILER_COMMAND names (a path, or a name looked up on PATH), or undefined.
 * Checked once at start: a worker that cannot start CellProfiler would otherwise fail every task
 * and send the whole queue to the dead-letter queue.
 */
export function findExecutable(command: string, path = process.env.PATH ?? ""): string | undefined {
  const candidates = command.includes("/")
    ? [command]
    : path
        .split(delimiter)
        .filter(Boolean)
        .map((dir) => join(dir, command));
  for (const file of candidates) {
    try {
      if (!statSync(file).isFile()) continue;
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // not here, or not executable
    }
  }
  return undefined;
}
