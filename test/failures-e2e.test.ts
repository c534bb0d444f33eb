/**
 * Issue 13 acceptance for `dcp failures` and `dcp retry`, end to end on the emulators: workers (the
 * ECS agent stand-in running the built `dcp worker`, `make build` first) write the run ledger while
 * they work through 200 groups, of which 3 are poison of two causes (the TEST DOUBLE's poison file:
 * 2 × "Failure" in the done file → pipeline-error, 1 × crash), 1 names an image that is not in S3
 * (DOWNLOAD_FILES → missing-input) and 1 hangs until its worker is SIGKILLed (it then completes on
 * another worker). `dcp failures` lists exactly the 4 failed groups with their causes;
 * `dcp retry --from-dlq --cause pipeline-error`, after the poison list is fixed, re-queues exactly
 * those 2 (a first run cut by failing DeleteMessageBatch calls, a second run that only deletes what the
 * first sent) and they complete, once each; the rest is fixed and retried; then, on the finished run,
 * two output folders are deleted and `dcp retry --missing job.json` re-queues exactly those two.
 * The 200 groups (FAILURES_E2E_GROUPS sets another count; every case above fits in 8): measured
 * on 2026-12-01 at load average 1 on the 2 cores, 58 s for 200 groups (209 CellProfiler runs, through 2
 * workers x 4 job loops; the double's process start and moto's requests are most of it), against 19-30 s
 * for 8.
 */
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DeleteObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { UpdateServiceCommand } from "@aws-sdk/client-ecs";
import { afterAll, expect, it } from "vitest";
import { ecsClient } from "../src/aws/ecs.js";
import { listObjects, putText, s3Client } from "../src/aws/s3.js";
import { findQueueUrl, queueActivity, sqsClient } from "../src/aws/sqs.js";
import { currentPointerKey } from "../src/plan/ledger.js";
import { listAttempts } from "../src/run/ledger.js";
import { emulatorEnv, runDcp } from "./harness/dcp.js";
import { startEcsAgent, type EcsAgent } from "./harness/ecs-agent.js";
import { EXAMPLE_CHANNELS, EXAMPLE_DIR, EXAMPLE_IMAGES } from "./harness/example-data.js";
import { startRealismProxy, type RealismProxy } from "./harness/realism-proxy.js";
import { OUTPUT_PREFIX, folderOf, realApp, until, wells } from "./real-aws-helpers.js";

const ctx = { region: "us-east-1", profile: undefined };
const RUN = "e2e-failures-run";
const GROUPS = Number(process.env.FAILURES_E2E_GROUPS ?? 200);
const MISSING_IMAGE = "AS_09125_050116030001_NOT_UPLOADED.tif";
// Wells A01-A08 of "Plate 1": A02, A03 pipeline-error; A04 crash; A05 missing image; A06 hangs (killed).
const POISON = ["Metadata_Well=A02 failure", "Metadata_Well=A03 failure", "Metadata_Well=A04 crash"];
const HANG = "Metadata_Well=A06 hang";

let agent: EcsAgent | undefined;
let proxy: RealismProxy | undefined;
afterAll(async () => {
  await agent?.stop();
  await proxy?.stop();
});

/** The pid of the TEST DOUBLE process running `group`, and of its parent (the worker), from /proc. */
function cellprofilerOf(group: string): { pid: number; worker: number } | undefined {
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0");
      if (!argv.some((a) => a.endsWith("fake-cellprofiler")) || !argv.includes(group)) continue;
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      return { pid: Number(entry), worker: ppid };
    } catch {
      // the process ended while we read it
    }
  }
  return undefined;
}

it("failures lists the 4 failed groups by cause; retry re-queues exactly the chosen ones (DLQ, then missing outputs) and they complete", async () => {
  const app = await realApp({
    groups: wells(GROUPS),
    extra: { DOWNLOAD_FILES: true, JOB_RETRIES: 2, SQS_MESSAGE_VISIBILITY: 5, WORKER_IDLE_POLLS: 100000 },
  });
  const s3 = s3Client(ctx);
  const sqs = sqsClient(ctx);
  const transcript: string[] = [];
  const t0 = Date.now();
  const steps: string[] = []; // when each step ended, printed for the record (never asserted)
  const mark = (what: string) => steps.push(`${what} ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  const dcp = async (args: string[], env: Record<string, string> = {}) => {
    const result = await runDcp(args, { cwd: app.dir, env, timeoutMs: 60_000 });
    transcript.push(`$ dcp ${args.join(" ")} → ${result.code}\n${result.stdout}${result.stderr}`);
    mark(args.slice(0, 2).join(" "));
    return result;
  };
  // Images in S3 (DOWNLOAD_FILES), and a data file whose A05 row names one that is not there.
  for (const image of EXAMPLE_IMAGES)
    await s3.send(
      new PutObjectCommand({
        Bucket: app.bucket,
        Key: `images/${image}`,
        Body: readFileSync(join(EXAMPLE_DIR, "images", image)),
      }),
    );
  const header = [
    ...EXAMPLE_CHANNELS.flatMap((c) => [`FileName_${c}`, `PathName_${c}`]),
    "Metadata_Plate",
    "Metadata_Well",
  ];
  const rows = app.groups.map((g) =>
    [
      ...EXAMPLE_IMAGES.flatMap((image, i) => [g.well === "A05" && i === 0 ? MISSING_IMAGE : image, "images"]),
      g.plate,
      g.well,
    ].join(","),
  );
  await putText(s3, app.bucket, "csv/load_data.csv", `${[header.join(","), ...rows].join("\n")}\n`);
  const poisonFile = join(app.dir, "poison.txt");
  writeFileSync(poisonFile, [...POISON, HANG].join("\n"));

  expect((await dcp(["setup"])).code, transcript.join("\n")).toBe(0);
  expect((await dcp(["submit", app.jobFile])).code, transcript.join("\n")).toBe(0);
  // The run the workers write for (start-cluster's pointer; no fleet is needed here), and two workers.
  await putText(s3, app.bucket, currentPointerKey(app.app), JSON.stringify({ version: 1, runId: RUN, startedAt: "" }));
  await ecsClient(ctx).send(
    new UpdateServiceCommand({ cluster: `${app.app}Cluster`, service: `${app.app}Service`, desiredCount: 2 }),
  );
  const agentLog: string[] = [];
  agent = startEcsAgent({
    cluster: `${app.app}Cluster`,
    service: `${app.app}Service`,
    awsEnv: emulatorEnv(),
    workDir: app.dir,
    tasksPerInstance: 4,
    pollMs: 500,
    stopTimeoutSeconds: 5,
    extraEnv: { FAKE_CP_POISON_FILE: poisonFile, FAKE_CP_ARGV_FILE: app.argvFile, WORKER_IDLE_POLLS: "100000" },
    log: (line) => agentLog.push(line),
  });
  const everything = () => `${transcript.join("\n")}\n--- agent ---\n${agentLog.slice(-60).join("\n")}`;

  // One worker is killed mid-task (SIGKILL, as a lost instance); its group comes back after the lease.
  let hung: { pid: number; worker: number } | undefined;
  await until(() => (hung = cellprofilerOf("Metadata_Plate=Plate 1,Metadata_Well=A06")) !== undefined, "A06 to run");
  mark("A06 running");
  process.kill(hung!.worker, "SIGKILL");
  process.kill(hung!.pid, "SIGKILL");
  writeFileSync(poisonFile, POISON.join("\n"));

  const queueUrl = (await findQueueUrl(sqs, `${app.app}Queue`))!;
  const dlqUrl = (await findQueueUrl(sqs, `${app.app}_Dead`))!;
  const at = { s3, bucket: app.bucket, appName: app.app };
  const outcomes = async () => {
    const latest = new Map<string, string>();
    for (const a of (await listAttempts(at, RUN)).sort((x, y) => (x.attempt < y.attempt ? -1 : 1)))
      latest.set(a.metadataId, a.outcome);
    return latest;
  };
  const settled = async (done: number, dead: number) => {
    const [queue, dlq, latest] = [
      await queueActivity(sqs, queueUrl),
      await queueActivity(sqs, dlqUrl),
      await outcomes(),
    ];
    const finished = [...latest.values()].filter((o) => o === "done" || o === "skipped-done").length;
    const failed = [...latest.values()].filter((o) => o === "failed").length;
    return queue.visible + queue.inFlight === 0 && dlq.visible === dead && finished === done && failed === dead;
  };
  await until(
    () => settled(GROUPS - 4, 4),
    "the run to settle with 4 groups dead-lettered",
    60_000 + GROUPS * 1000,
  ).catch((err) => {
    throw new Error(`${(err as Error).message}\n${everything()}`);
  });

  mark("settled");
  const failures = await dcp(["failures", "--json", "--csv", "failed.csv"]);
  expect(failures.code, everything()).toBe(0);
  const listed = (
    JSON.parse(failures.stdout) as {
      groups: Array<{ metadataId: string; cause: string; lastLines: string[]; logStream: string }>;
    }
  ).groups;
  expect(
    listed.map((g) => [g.metadataId, g.cause]),
    everything(),
  ).toEqual([
    ["Plate 1-A05", "missing-input"],
    ["Plate 1-A02", "pipeline-error"],
    ["Plate 1-A03", "pipeline-error"],
    ["Plate 1-A04", "crash"],
  ]);
  expect(listed.find((g) => g.metadataId === "Plate 1-A04")!.lastLines.join("\n")).toMatch(/simulated poison crash/);
  expect(listed[0]!.logStream).toBe("Plate 1-A05");
  expect(readFileSync(join(app.dir, "failed.csv"), "utf8").trim().split("\n")).toHaveLength(5);

  const dry = await dcp(["retry", "--from-dlq", "--cause", "pipeline-error", "--dry-run", "--json"]);
  expect(JSON.parse(dry.stdout), everything()).toMatchObject({ selected: 2, moved: 0 });

  // Fix the pipeline-error poison; retry exactly those two, the first time with every DeleteMessageBatch
  // failing (the realism proxy): they are sent, not deleted, and recorded; the second run only deletes them.
  writeFileSync(poisonFile, "Metadata_Well=A04 crash\n");
  proxy = await startRealismProxy({ seed: 13, fail: [{ action: "DeleteMessageBatch", error: "AccessDenied" }] });
  const cut = await dcp(["retry", "--from-dlq", "--cause", "pipeline-error", "--yes", "--json"], proxy.env);
  expect(cut.code, everything()).toBe(1);
  expect(JSON.parse(cut.stdout)).toMatchObject({ selected: 2, moved: 0, sentNotDeleted: 2 });
  const retried = await dcp(["retry", "--from-dlq", "--cause", "pipeline-error", "--yes", "--json"]);
  expect(retried.code, everything()).toBe(0);
  expect(JSON.parse(retried.stdout)).toMatchObject({ selected: 2, moved: 2, finishedFromJournal: 2 });
  await until(() => settled(GROUPS - 2, 2), "A02 and A03 to complete", 60_000);
  // Each ran twice as poison and once after the retry: sent once, not twice.
  const runsOf = (well: string) =>
    readFileSync(app.argvFile, "utf8")
      .split("\n")
      .filter((l) => l.includes(`Metadata_Well=${well}"`)).length;
  expect([runsOf("A02"), runsOf("A03")], everything()).toEqual([3, 3]);

  // Fix the rest (the crash, the missing image) and retry everything left in the dead-letter queue.
  writeFileSync(poisonFile, "");
  await s3.send(
    new PutObjectCommand({
      Bucket: app.bucket,
      Key: `images/${MISSING_IMAGE}`,
      Body: readFileSync(join(EXAMPLE_DIR, "images", EXAMPLE_IMAGES[0])),
    }),
  );
  expect((await dcp(["retry", "--from-dlq", "--yes"])).code, everything()).toBe(0);
  await until(() => settled(GROUPS, 0), "every group to complete", 60_000);

  // The finished run, two output folders deleted: --missing re-queues exactly those two.
  const deleted = ["A01", "A08"];
  for (const well of deleted) {
    const prefix = `${OUTPUT_PREFIX}/${folderOf({ plate: "Plate 1", well })}/`;
    for (const o of await listObjects(s3, app.bucket, prefix))
      await s3.send(new DeleteObjectCommand({ Bucket: app.bucket, Key: o.key }));
  }
  const calls = join(app.dir, "retry-calls.tsv");
  const missing = await dcp(["retry", "--missing", app.jobFile, "--yes", "--json"], { DCP_RECORD_CALLS: calls });
  expect(missing.code, everything()).toBe(0);
  expect(JSON.parse(missing.stdout)).toMatchObject({
    groups: GROUPS,
    selected: 2,
    sent: 2,
    missing: deleted.map((w) => ({ metadataId: `Plate 1-${w}`, files: 0 })),
  });
  // CHECK_IF_DONE evaluated from one listing of the output folder, not one request per group.
  expect(
    readFileSync(calls, "utf8")
      .split("\n")
      .filter((l) => l.endsWith("\tListObjectsV2")),
  ).toHaveLength(1);
  await until(
    async () => (await listObjects(s3, app.bucket, `${OUTPUT_PREFIX}/`)).length === GROUPS * 3,
    "the two groups' outputs",
    60_000,
  );
  mark("done");
  console.info(
    `[failures-e2e] ${GROUPS} groups; CellProfiler runs: ${readFileSync(app.argvFile, "utf8").trim().split("\n").length}; ${steps.join(", ")}`,
  );
}, 300_000);
