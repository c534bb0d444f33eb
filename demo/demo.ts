/**
 * `make demo`: dcp's main flow on local AWS emulators (moto_server + fauxqs), with a real
 * `cellprofiler` when one is on PATH, otherwise the TEST DOUBLE (which analyses nothing).
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startEmulators } from "../test/harness/emulators.js";
import { TEST_DOUBLE, realCellProfiler, resultsByGroup, runFlow } from "./flow.js";
import { parquetCounts, prepareWorkflowDemo } from "./workflow-flow.js";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
const say = (line: string) => process.stdout.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);
const banner = (text: string) => say(`\n${"=".repeat(78)}\n${text}\n${"=".repeat(78)}`);

const real = realCellProfiler();
const cellprofiler = real ?? TEST_DOUBLE;
banner(
  real
    ? `USING THE REAL CELLPROFILER: ${real}`
    : `NO CELLPROFILER ON PATH: USING THE TEST DOUBLE test/fixtures/fake-cellprofiler.\nIt is NOT CellProfiler: it checks the flags and the LoadData rows of each group and writes\nreal-shaped but fake outputs. Install CellProfiler to run the real analysis.`,
);

say("starting the local AWS emulators (moto_server for S3/ECS/EC2/CloudWatch/Logs/SSM, fauxqs for SQS)");
const emulators = await startEmulators();
// The demo's own S3/SQS/ECS calls (uploading the example, listing results) go to the emulators too.
Object.assign(process.env, emulators.env);
const workDir = mkdtempSync(join(tmpdir(), "dcp-demo-"));
say(`working folder: ${workDir}`);
try {
  const result = await runFlow({
    workDir,
    awsEnv: emulators.env,
    appName: "DcpDemo",
    plates: 2,
    wells: 3,
    sites: 2,
    cellprofiler,
    ...(real ? {} : { poisonGroup: 5 }),
    doneGroup: 1,
    jobRetries: 2,
    monitorInterval: 2,
    log: say,
  });
  banner(`Results in s3://${result.bucket}/${result.resultsPrefix}`);
  for (const [group, files] of resultsByGroup(result)) say(`  ${group}/  ${files.join("  ")}`);
  const folders = resultsByGroup(result).size;
  const skipped = result.doneGroup ? 1 : 0;
  say(
    `${result.groups.length} groups: ${folders - skipped} analysed in this run, ${skipped} already done, ${result.deadLetters.length} dead-lettered; CellProfiler ran ${result.cellprofilerRuns.length} times (failed groups are retried up to JOB_RETRIES times).`,
  );
  if (result.doneGroup) say(`already done before the run, skipped by CHECK_IF_DONE: ${result.doneGroup}`);
  if (result.poisonGroup) say(`poison group (the test double always fails it): ${result.poisonGroup}`);
  say(
    `dead-letter queue: ${result.deadLetters.length} message(s)${result.deadLetters.length ? `: ${result.deadLetters.map((b) => JSON.parse(b).Metadata).join("; ")}` : ""}`,
  );
  say(`monitor exited ${result.monitorExitCode}; workers exited ${result.workerExitCodes.join(", ")}`);
  if (result.monitorExitCode !== 0) process.exitCode = 1;

  if (real) say("the workflow part uses pipelines made for the test double only: skipped with a real CellProfiler");
  else await workflowDemo();
} finally {
  await emulators.stop();
}

/**
 * A Cell Painting batch as ONE command: `dcp workflow run workflow.json` runs illum (per plate), then
 * analysis (per site), each as its own run with its own fleet and teardown, then collect.
 */
async function workflowDemo(): Promise<void> {
  banner("WORKFLOW: illum per plate -> analysis per site -> collect, one command: dcp workflow run workflow.json");
  const demo = await prepareWorkflowDemo({
    workDir: mkdtempSync(join(tmpdir(), "dcp-demo-workflow-")),
    awsEnv: emulators.env,
    appName: "DcpDemoWf",
    plates: 2,
    wells: 2,
    sites: 2,
    cellprofiler: TEST_DOUBLE,
    jobRetries: 2,
    log: say,
  });
  say(`workflow file: ${demo.workflowFile}`);
  try {
    // One ECS agent stand-in per step starts its workers when that step's service scales up.
    await demo.agent("illum");
    await demo.agent("analysis");
    const code = await demo.run().exited;
    if (code !== 0) process.exitCode = 1;
    const objects = ["Image", "Cells", "Nuclei", "Cytoplasm"] as const;
    const counts = await parquetCounts(join(demo.workDir, "collated"), objects);
    banner(`Collated tables in ${join(demo.workDir, "collated")} (dcp workflow run exited ${code})`);
    for (const object of objects)
      say(
        `  ${object}.parquet: ${counts[object]!.rows} rows, ${counts[object]!.withMetadata} with Metadata_Plate/Well/Site`,
      );
  } finally {
    await demo.stop();
  }
}
