/**
 * Starts the built `dcp` CLI (bin/dcp, `make build` first) as a long-running child process with an
 * argv array, forwarding each line it prints to `log` with a label. Free of vitest, so the demo
 * (demo/flow.ts) and the ECS agent stand-in (ecs-agent.ts) share it.
 */
import { spawn } from "node:child_process";
import { join, resolve } from "node:path";

export const REPO_ROOT = resolve(import.meta.dirname, "../..");
export const DCP_BIN = join(REPO_ROOT, "bin/dcp");

export interface DcpProcess {
  pid: number | undefined;
  /** Resolves with the exit code (null when a signal ended it). */
  exited: Promise<number | null>;
  /** Resolves with the exit code and the signal that ended it, if any. */
  closed: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill(signal?: NodeJS.Signals): void;
}

export function startDcp(
  args: string[],
  cwd: string,
  env: NodeJS.ProcessEnv,
  label: string,
  log: (line: string) => void,
): DcpProcess {
  const child = spawn(process.execPath, [DCP_BIN, ...args], { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
  const forward = (stream: NodeJS.ReadableStream) => {
    let buffered = "";
    stream.on("data", (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split("\n");
      buffered = lines.pop() ?? "";
      for (const line of lines) if (line.trim()) log(`[${label}] ${line}`);
    });
    stream.on("end", () => buffered.trim() && log(`[${label}] ${buffered}`));
  };
  forward(child.stdout);
  forward(child.stderr);
  const closed = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) =>
    child.on("close", (code, signal) => res({ code, signal })),
  );
  return {
    pid: child.pid,
    exited: closed.then(({ code }) => code),
    closed,
    kill: (signal = "SIGTERM") => child.kill(signal),
  };
}
