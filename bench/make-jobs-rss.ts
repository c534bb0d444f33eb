/**
 * Runs a Node script or the built dcp CLI in a child process that reports its own peak RSS
 * (process.resourceUsage().maxRSS) on exit: used by the make-jobs benchmark and its memory test.
 */
import { spawn } from "node:child_process";
import { join, resolve } from "node:path";

const ROOT = resolve(import.meta.dirname, "..");

export interface ChildRun {
  stdout: string;
  stderr: string;
  seconds: number;
  maxRssMb: number;
}

/** `body` is an ES module body; argv after the script are the child's process.argv.slice(1). */
export function runNodeWithMaxRss(body: string, args: readonly string[], cwd: string): Promise<ChildRun> {
  const script = `process.on("exit", () => process.stderr.write("\\nmaxrss=" + process.resourceUsage().maxRSS + "\\n"));\n${body}`;
  const started = performance.now();
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, ["--input-type=module", "-e", script, ...args], {
      cwd,
      env: { ...process.env, CI: "true" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    child.on("error", reject);
    child.on("close", (code) => {
      const rss = /maxrss=(\d+)/.exec(stderr);
      if (code !== 0 || !rss) return reject(new Error(`child exited ${code}: ${stderr}`));
      resolvePromise({
        stdout,
        stderr: stderr.replace(/\n?maxrss=\d+\n$/, ""),
        seconds: (performance.now() - started) / 1000,
        maxRssMb: Number(rss[1]) / 1024,
      });
    });
  });
}

/** The built CLI (dist/cli.js), as `dcp ...args`. */
export function runDcpWithMaxRss(args: readonly string[], cwd: string): Promise<ChildRun> {
  return runNodeWithMaxRss(
    `process.argv.splice(1, 0, "dcp");\nawait import(${JSON.stringify(join(ROOT, "dist/cli.js"))});`,
    args,
    cwd,
  );
}
