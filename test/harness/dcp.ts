/** Runs the built `dcp` CLI as a user would: a child process, argv array, real exit code. */
import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inject } from "vitest";
import { DCP_BIN, REPO_ROOT } from "./process.js";

export { DCP_BIN, REPO_ROOT };

export interface DcpResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface DcpOptions {
  cwd?: string;
  env?: Record<string, string | undefined>;
  input?: string;
  timeoutMs?: number;
}

export function emulatorEnv(): Record<string, string> {
  return inject("emulatorEnv");
}

export function runDcp(args: readonly string[], options: DcpOptions = {}): Promise<DcpResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [DCP_BIN, ...args], {
      cwd: options.cwd ?? REPO_ROOT,
      env: { ...process.env, ...emulatorEnv(), CI: "true", ...options.env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 120_000);
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ code, signal, stdout, stderr });
    });
    child.stdin.end(options.input ?? "");
  });
}

/** A fresh working folder (config/, files/) for one test. */
export function tempDir(prefix = "dcp-test-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

let counter = 0;
/** A unique APP_NAME per test, so tests can share one emulator and run in parallel. */
export function uniqueAppName(prefix = "T"): string {
  counter += 1;
  return `${prefix}${process.pid}x${counter}x${Math.random().toString(36).slice(2, 7)}`;
}
