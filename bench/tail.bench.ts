/**
 * Tail benchmark (issue 14): paid instance-hours / busy instance-hours of a 10,000-group run on 50
 * machines x 4 job loops, task times lognormal (median 10 min, sigma 0.6), 5 % of the machines
 * interrupted, for DCP's policy (downscale to the tasks in flight, 15-minute idle alarms) and for dcp's
 * (the same plus the tail: machines with no task in flight terminated within two readings), both run by
 * the monitor's real decision code on a simulated clock (bench/tail-sim.ts states the model). Then
 * `dcp estimate`'s model given the true mean seconds per group against the simulated actual cost.
 *
 * Run: make bench, or npx vite-node bench/tail.bench.ts (no build, no AWS). TAIL_BENCH_SEED changes the seed.
 * Last line: both ratios, the waste ratio and the estimate error.
 */
import { estimateRun } from "../src/plan/estimate.js";
import { BOOT_SECONDS } from "../src/plan/pricing.js";
import { lognormalMean, simulate, type SimOptions } from "./tail-sim.js";

const PRICE = 0.1;
const base: Omit<SimOptions, "policy"> = {
  groups: 10_000,
  machines: 50,
  loops: 4,
  medianSeconds: 600,
  sigma: 0.6,
  interruptedShare: 0.05,
  seed: Number(process.env.TAIL_BENCH_SEED ?? 14),
  bootSeconds: BOOT_SECONDS,
  pollSeconds: 60,
};

const started = performance.now();
const original = simulate({ ...base, policy: "original" });
const dcp = simulate({ ...base, policy: "dcp" });
const ratio = (r: typeof dcp) => r.paidHours / r.busyHours;
for (const r of [original, dcp])
  console.log(
    `${r.policy.padEnd(8)} paid ${r.paidHours.toFixed(1)} h, busy ${r.busyHours.toFixed(1)} h, paid/busy ${ratio(r).toFixed(4)}, ` +
      `wall ${(r.wallSeconds / 3600).toFixed(2)} h, ${r.machinesLaunched} machines launched (${r.interrupted} interrupted), ` +
      `ended by tail ${r.byTail}, by idle alarm ${r.byAlarm}, tail terminations with a task in flight ${r.tailKilledBusy}`,
  );
const waste = (r: typeof dcp) => r.paidHours - r.busyHours;
const mean = lognormalMean(base.medianSeconds, base.sigma);
const estimate = estimateRun({
  groups: base.groups,
  secondsPerGroup: mean,
  secondsSource: "the simulation's true mean",
  machines: base.machines,
  tasksPerMachine: 1,
  dockerCores: base.loops,
  types: ["sim.type"],
  zones: undefined,
  quotes: [{ type: "sim.type", zone: "sim-1a", price: PRICE }],
  region: "us-east-1",
  ebsGbPerInstance: 0,
  assignIp: false,
  dashboard: false,
  outputFilesPerGroup: 0,
  pricedAt: 0,
});
const estimated = estimate.lines[0]!.usd!;
const actual = dcp.paidHours * PRICE;
const error = estimated / actual - 1;
console.log(
  `estimate (true mean ${mean.toFixed(0)} s per group): ${estimate.shape.instanceHours.toFixed(1)} instance-h, $${estimated.toFixed(2)} compute; ` +
    `simulated dcp run: ${dcp.paidHours.toFixed(1)} instance-h, $${actual.toFixed(2)}; error ${(error * 100).toFixed(1)} % (goal within +-20 %)`,
);
console.log(`(simulated in ${((performance.now() - started) / 1000).toFixed(1)} s, seed ${base.seed})`);
console.log(
  `paid/busy: original ${ratio(original).toFixed(4)}, dcp ${ratio(dcp).toFixed(4)} (goal <= 1.02); ` +
    `waste dcp/original ${(waste(dcp) / waste(original)).toFixed(2)} (goal <= 0.5); estimate error ${(error * 100).toFixed(1)} %; ` +
    `ratio original/dcp ${(ratio(original) / ratio(dcp)).toFixed(4)}`,
);
