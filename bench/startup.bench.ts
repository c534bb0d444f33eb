/**
 * Start-up time: `dcp --help` against a bare `node -e 0`, both spawned N times in this process;
 * the medians and their ratio are printed, the ratio on the last line (target: at most 3x).
 * Run with `make bench` (needs a build) or `npx vite-node bench/startup.bench.ts`.
 */
import { spawnSync } from "node:child_process";
import { join, resolve } from "node:path";

const ROOT = resolve(import.meta.dirname, "..");
const RUNS = Number(process.env.DCP_BENCH_STARTUP_RUNS ?? 21);

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function time(args: string[]): number {
  const start = process.hrtime.bigint();
  const result = spawnSync(process.execPath, args, { cwd: ROOT, stdio: ["ignore", "ignore", "pipe"] });
  const elapsed = Number(process.hrtime.bigint() - start) / 1e6;
  if (result.status !== 0)
    throw new Error(`node ${args.join(" ")} exited with ${result.status}: ${result.stderr.toString()}`);
  return elapsed;
}

const cases = {
  "node -e 0": ["-e", "0"],
  "dcp --help": [join(ROOT, "bin/dcp"), "--help"],
  "dcp config validate": [join(ROOT, "bin/dcp"), "config", "validate", join(ROOT, "config/config.example.json")],
};
const samples: Record<string, number[]> = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
time(cases["dcp --help"]); // warm the file cache once
// Interleave the runs so a busy machine slows every case alike.
for (let i = 0; i < RUNS; i++) for (const [name, args] of Object.entries(cases)) samples[name]!.push(time(args));

const medians = Object.fromEntries(Object.entries(samples).map(([name, values]) => [name, median(values)]));
for (const [name, value] of Object.entries(medians))
  console.log(`${name.padEnd(22)} median ${value.toFixed(1)} ms over ${RUNS} runs`);
const base = medians["node -e 0"]!;
console.log(`dcp config validate / node -e 0: ${(medians["dcp config validate"]! / base).toFixed(2)}x`);
console.log(`dcp --help / node -e 0: ${(medians["dcp --help"]! / base).toFixed(2)}x (target <= 3x)`);
