/**
 * make-jobs at scale: a 1,000,000-group job file (1,000 plates × 100 wells × 10 sites) written by
 * the built CLI, streamed; its wall time and peak RSS against a baseline run in the same process:
 * the same groups built as one array and written with JSON.stringify, as DCP-style generators do.
 * Goal: under 10 s and under 300 MB. The last line holds the figures and the ratios.
 * Run with `make bench` (needs a build) or `npx vite-node bench/make-jobs.bench.ts`.
 */
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { runDcpWithMaxRss, runNodeWithMaxRss } from "./make-jobs-rss.js";

const ROOT = resolve(import.meta.dirname, "..");
const PLATES = Array.from({ length: 1000 }, (_, i) => `Plate${String(i + 1).padStart(4, "0")}`).join(",");
const LAYOUT = ["analysis", "Proj", "Batch1", PLATES, "--rows", "A-J", "--columns", "1-10", "--sites", "1-10"];
const GROUPS = 1_000_000;

const dir = mkdtempSync(join(tmpdir(), "dcp-bench-mj-"));
try {
  const streamed = await runDcpWithMaxRss(["make-jobs", ...LAYOUT, "-o", "streamed.json"], dir);
  if (!streamed.stdout.includes(`wrote ${GROUPS} groups`)) throw new Error(`unexpected output: ${streamed.stdout}`);
  const streamedBytes = statSync(join(dir, "streamed.json")).size;

  // Baseline: the same plan and groups, but the whole job held in memory and stringified at once.
  const baselineBody = `
    import { writeFileSync } from "node:fs";
    const { parseLayoutOptions, planLayout, layoutGroups } = await import(${JSON.stringify(join(ROOT, "dist/plan/make-jobs/layout.js"))});
    const [step, identifier, batch, plates, , rows, , columns, , sites] = process.argv.slice(1);
    const plan = planLayout(parseLayoutOptions({ step, identifier, batch, plates, rows, columns, sites }));
    const job = { ...plan.shared, groups: [...layoutGroups(plan)] };
    writeFileSync("baseline.json", JSON.stringify(job, null, 2));
    console.log(job.groups.length);`;
  const baseline = await runNodeWithMaxRss(baselineBody, LAYOUT, dir);
  if (Number(baseline.stdout.trim()) !== GROUPS) throw new Error(`baseline made ${baseline.stdout} groups`);

  console.log(
    `streamed  (dcp make-jobs): ${streamed.seconds.toFixed(2)} s, peak RSS ${streamed.maxRssMb.toFixed(0)} MB, ${(streamedBytes / 1e6).toFixed(0)} MB file`,
  );
  console.log(
    `baseline (array + JSON.stringify): ${baseline.seconds.toFixed(2)} s, peak RSS ${baseline.maxRssMb.toFixed(0)} MB`,
  );
  const goal = streamed.seconds < 10 && streamed.maxRssMb < 300 ? "goal met" : "GOAL MISSED";
  console.log(
    `make-jobs ${GROUPS} groups: ${streamed.seconds.toFixed(2)} s, ${streamed.maxRssMb.toFixed(0)} MB peak RSS (goal < 10 s, < 300 MB: ${goal}); ` +
      `vs baseline ${baseline.seconds.toFixed(2)} s, ${baseline.maxRssMb.toFixed(0)} MB: time ${(baseline.seconds / streamed.seconds).toFixed(2)}x faster, RSS ${(baseline.maxRssMb / streamed.maxRssMb).toFixed(1)}x lower`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
