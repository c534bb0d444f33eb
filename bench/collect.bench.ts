/**
 * collect at scale: 2,000 groups × 4 objects (Image 1 row; Cells, Nuclei, Cytoplasm 50 rows each),
 * 200 numeric columns: about 300,000 rows and 0.5 GB of CSV, written to a temp folder laid out as
 * the analysis step's output_structure. `dcp collect` (the built CLI, local folder → Parquet) runs
 * in a child process that reports its peak RSS (goal: under 1 GB); the baseline, in another child
 * of this run, reads every CSV into memory, parses it and concatenates the rows per object (with
 * the group's metadata), as a pandas read_csv + concat script would, and writes nothing.
 * The last line holds the figures and the ratio. Run with `make bench` (needs a build).
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ANALYSIS_STRUCTURE, OBJECTS, writeCollectTree } from "./collect-data.js";
import { runDcpWithMaxRss, runNodeWithMaxRss } from "./make-jobs-rss.js";

const dir = mkdtempSync(join(tmpdir(), "dcp-bench-collect-"));
try {
  const started = performance.now();
  const tree = writeCollectTree(join(dir, "analysis"), {
    plates: 2,
    wells: 100,
    sites: 10,
    columns: 200,
    objectRows: 50,
  });
  const totalRows = Object.values(tree.rows).reduce((a, b) => a + b, 0);
  console.log(
    `data: ${tree.groups.length} groups, ${totalRows} rows, ${(tree.bytes / 1e9).toFixed(2)} GB of CSV (written in ${((performance.now() - started) / 1000).toFixed(1)} s)`,
  );

  const dcp = await runDcpWithMaxRss(
    ["collect", "analysis", "-o", "collated", "--metadata-from-path", ANALYSIS_STRUCTURE, "--json"],
    dir,
  );
  const report = JSON.parse(dcp.stdout) as { objects: Record<string, { rows: number }> };
  for (const object of OBJECTS)
    if (report.objects[object]?.rows !== tree.rows[object])
      throw new Error(`${object}: collect wrote ${report.objects[object]?.rows} rows, expected ${tree.rows[object]}`);
  const parquetBytes = OBJECTS.reduce((sum, o) => sum + readFileSync(join(dir, "collated", `${o}.parquet`)).length, 0);

  const baselineBody = `
    import { readdirSync, readFileSync } from "node:fs";
    import { join } from "node:path";
    const root = process.argv[1];
    const objects = ${JSON.stringify(OBJECTS)};
    const tables = Object.fromEntries(objects.map((o) => [o, []]));
    for (const plate of readdirSync(root).sort())
      for (const group of readdirSync(join(root, plate, "analysis")).sort()) {
        const [p, well, site] = group.split("-");
        for (const object of objects) {
          const lines = readFileSync(join(root, plate, "analysis", group, object + ".csv"), "utf8").split("\\n");
          for (const line of lines.slice(1)) if (line) tables[object].push([p, well, site, ...line.split(",").map(Number)]);
        }
      }
    console.log(objects.reduce((sum, o) => sum + tables[o].length, 0));`;
  const baseline = await runNodeWithMaxRss(baselineBody, [join(dir, "analysis")], dir);
  if (Number(baseline.stdout.trim()) !== totalRows) throw new Error(`baseline read ${baseline.stdout} rows`);

  console.log(
    `dcp collect (folder -> Parquet): ${dcp.seconds.toFixed(1)} s, peak RSS ${dcp.maxRssMb.toFixed(0)} MB, ${(parquetBytes / 1e6).toFixed(0)} MB of Parquet`,
  );
  console.log(
    `baseline (every CSV in memory, concatenated, nothing written): ${baseline.seconds.toFixed(1)} s, peak RSS ${baseline.maxRssMb.toFixed(0)} MB`,
  );
  const goal = dcp.maxRssMb < 1024 ? "goal met" : "GOAL MISSED";
  console.log(
    `collect ${tree.groups.length} groups, ${totalRows} rows: ${dcp.seconds.toFixed(1)} s, ${dcp.maxRssMb.toFixed(0)} MB peak RSS (goal < 1 GB: ${goal}); ` +
      `vs baseline ${baseline.seconds.toFixed(1)} s, ${baseline.maxRssMb.toFixed(0)} MB: time ${(baseline.seconds / dcp.seconds).toFixed(2)}x, RSS ${(baseline.maxRssMb / dcp.maxRssMb).toFixed(1)}x lower`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
