/**
 * Worker benchmark: the time dcp's worker adds to each task, from receive to delete, excluding
 * CellProfiler's own run (the fake-cellprofiler TEST DOUBLE, doing no work and writing 20 output
 * files): reading the body, CHECK_IF_DONE off, pipeline + data file download, the lease, the upload of
 * the 20 files with its size check, the delete, and the log stream. Then tasks per second with 4 job
 * loops (CellProfiler's time included).
 *
 * Baseline, in this process against the same emulators: the same worker uploading one file at a
 * time (UPLOAD_CONCURRENCY=1), as DCP's `aws s3 mv --recursive` loop effectively did; DCP's fixed
 * 30 s sleep before every upload is left out of the baseline on purpose (it would make any ratio
 * meaningless).
 *
 * The run ledger is on (a run pointer in the bucket, as start-cluster writes it): each task also PUTs
 * its attempt record in the background, plus its open key (PUT, then DELETE) when it runs longer than
 * OPEN_RECORD_DELAY_MS (worker/ledger.ts), which the double's instant tasks do not; the requests it
 * sends per task are printed.
 *
 * Run: make bench (or npx vite-node --options.deps.external=/dist/ bench/worker.bench.ts after make build). Last line: the figures and the ratio.
 */
import { CreateLogGroupCommand } from "@aws-sdk/client-cloudwatch-logs";
import { CreateBucketCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { CreateQueueCommand, GetQueueAttributesCommand, SendMessageBatchCommand } from "@aws-sdk/client-sqs";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { startEmulators } from "../test/harness/emulators.js";
import { loadDist } from "./dist.js";
import { startProxy } from "./latency-proxy.js";

const ROOT = resolve(import.meta.dirname, "..");
const EXAMPLE = join(ROOT, "test/fixtures/ExampleHuman");
const TASKS = Number(process.env.WORKER_BENCH_TASKS ?? 40);
const LOOPS = 4;
const OUTPUT_FILES = 20;
/** About one round trip to real S3/SQS from EC2: where parallel uploads pay. */
const LATENCY_MS = 20;

const emulators = await startEmulators();
Object.assign(process.env, emulators.env, { FAKE_CP_OUTPUT_FILES: String(OUTPUT_FILES) });
delete process.env.FAKE_CP_SLEEP_MS;
// Imported after the endpoints are set: the SDK reads AWS_ENDPOINT_URL* when clients are created.
const { logsClient } = await loadDist<typeof import("../src/aws/logs.js")>("aws/logs.js");
const { s3Client } = await loadDist<typeof import("../src/aws/s3.js")>("aws/s3.js");
const { sqsClient } = await loadDist<typeof import("../src/aws/sqs.js")>("aws/sqs.js");
const { parseConfig } = await loadDist<typeof import("../src/config/load.js")>("config/load.js");
const { configInputFromEnv } = await loadDist<typeof import("../src/worker/settings.js")>("worker/settings.js");
const { runWorker } = await loadDist<typeof import("../src/worker/run.js")>("worker/run.js");
const { OPEN_RECORD_DELAY_MS } = await loadDist<typeof import("../src/worker/ledger.js")>("worker/ledger.js");
type TaskOutcome = import("../src/worker/task.js").TaskOutcome;

const ctx = { region: "us-east-1", profile: undefined };
const sqs = sqsClient(ctx);
const s3 = s3Client(ctx);
const work = mkdtempSync(join(tmpdir(), "dcp-worker-bench-"));
const bucket = `dcp-worker-bench-${process.pid}`;
await s3.send(new CreateBucketCommand({ Bucket: bucket }));
for (const name of ["ExampleHuman_LoadData.cppipe", "load_data.csv"]) {
  await s3.send(
    new PutObjectCommand({ Bucket: bucket, Key: `workspace/${name}`, Body: readFileSync(join(EXAMPLE, name)) }),
  );
}
await logsClient(ctx).send(new CreateLogGroupCommand({ logGroupName: bucket }));
// The run ledger on: the pointer start-cluster writes (worker/ledger.ts reads it at start).
await s3.send(
  new PutObjectCommand({
    Bucket: bucket,
    Key: "dcp-runs/WorkerBench/current.json",
    Body: JSON.stringify({ version: 1, runId: "bench-run", startedAt: new Date().toISOString() }),
  }),
);

let runs = 0;
async function fillQueue(label: string, tasks: number): Promise<string> {
  runs += 1;
  const dead = await sqs.send(new CreateQueueCommand({ QueueName: `${bucket}-${runs}-dead` }));
  const { Attributes } = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: dead.QueueUrl, AttributeNames: ["QueueArn"] }),
  );
  const { QueueUrl } = await sqs.send(
    new CreateQueueCommand({
      QueueName: `${bucket}-${runs}`,
      Attributes: {
        VisibilityTimeout: "60",
        RedrivePolicy: JSON.stringify({ deadLetterTargetArn: Attributes!.QueueArn, maxReceiveCount: 3 }),
      },
    }),
  );
  for (let i = 0; i < tasks; i += 10) {
    const entries = Array.from({ length: Math.min(10, tasks - i) }, (_, k) => ({
      Id: String(k),
      MessageBody: JSON.stringify({
        Metadata: `Metadata_Plate=AS_09125_050116030001,Metadata_Well=D03,Metadata_Site=${((i + k) % 2) + 1}`,
        pipeline: "workspace/ExampleHuman_LoadData.cppipe",
        output: `bench/${label}/${i + k}`,
        input: "ExampleHuman",
        data_file: "workspace/load_data.csv",
        output_structure: "Metadata_Plate-Metadata_Well-Metadata_Site",
      }),
    }));
    await sqs.send(new SendMessageBatchCommand({ QueueUrl, Entries: entries }));
  }
  return QueueUrl!;
}

interface Measured {
  overheadMs: number[];
  phases: Array<Record<string, number>>;
  tasks: number;
  seconds: number;
  ledgerRequests: number;
}

async function measure(
  label: string,
  tasks: number,
  loops: number,
  uploadConcurrency: number,
  appName = "WorkerBench",
): Promise<Measured> {
  const queueUrl = await fillQueue(label, tasks);
  const config = parseConfig(
    configInputFromEnv({
      APP_NAME: appName,
      AWS_BUCKET: bucket,
      LOG_GROUP_NAME: bucket,
      CELLPROFILER_COMMAND: join(ROOT, "test/fixtures/fake-cellprofiler"),
      MOUNT_ROOT: join(ROOT, "test/fixtures"),
      WORK_DIR: join(work, label),
      DOCKER_CORES: String(loops),
      SECONDS_TO_START: "0",
      WORKER_POLL_SECONDS: "1",
      WORKER_IDLE_POLLS: "1",
      SPOT_NOTICE_URL: "False",
      UPLOAD_CONCURRENCY: String(uploadConcurrency),
    }),
    "bench",
  );
  const overheadMs: number[] = [];
  const phases: Array<Record<string, number>> = [];
  let done = 0;
  let last = 0;
  const started = performance.now();
  const summary = await runWorker(
    { config, source: "bench", queueUrl },
    {
      sink: () => {},
      onOutcome: (o: TaskOutcome) => {
        if (o.kind !== "done") throw new Error(`bench task ended ${o.kind}: ${JSON.stringify(o)}`);
        if (o.files !== OUTPUT_FILES) throw new Error(`expected ${OUTPUT_FILES} files, got ${o.files}`);
        overheadMs.push(o.totalMs - o.cellprofilerMs);
        phases.push(o.phases);
        done += 1;
        last = performance.now();
      },
    },
  );
  if (done !== tasks) throw new Error(`${label}: ${done} of ${tasks} tasks done`);
  return { overheadMs, phases, tasks: done, seconds: (last - started) / 1000, ledgerRequests: summary.ledgerRequests };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const phaseMedians = (m: Measured) =>
  Object.keys(m.phases[0] ?? {})
    .map((name) => `${name} ${median(m.phases.map((p) => p[name] ?? 0)).toFixed(0)}`)
    .join(", ");
const p90 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * 0.9)]!;

try {
  // Warm-up (module loading, first connections), not reported.
  await measure("warmup", 4, 1, 16);
  // dcp and the baseline alternate in rounds, so load from other processes hits both alike.
  const ROUNDS = 4;
  const dcp: Measured = { overheadMs: [], phases: [], tasks: 0, seconds: 0, ledgerRequests: 0 };
  const baseline: Measured = { overheadMs: [], phases: [], tasks: 0, seconds: 0, ledgerRequests: 0 };
  // The same worker with the ledger off (an app with no run pointer), alternating with the others.
  const noLedger: Measured = { overheadMs: [], phases: [], tasks: 0, seconds: 0, ledgerRequests: 0 };
  for (let r = 0; r < ROUNDS; r++) {
    for (const [into, label, concurrency, appName] of [
      [dcp, "dcp", 16, "WorkerBench"],
      [noLedger, "noledger", 16, "WorkerBenchNoLedger"],
      [baseline, "baseline", 1, "WorkerBench"],
    ] as const) {
      const m = await measure(`${label}${r}`, Math.ceil(TASKS / ROUNDS), 1, concurrency, appName);
      into.overheadMs.push(...m.overheadMs);
      into.phases.push(...m.phases);
      into.tasks += m.tasks;
      into.ledgerRequests += m.ledgerRequests;
    }
  }
  console.log(
    `dcp worker, 1 loop:      ${dcp.tasks} tasks x ${OUTPUT_FILES} files, overhead per task median ${median(dcp.overheadMs).toFixed(0)} ms, p90 ${p90(dcp.overheadMs).toFixed(0)} ms (phase medians, ms: ${phaseMedians(dcp)})`,
  );
  console.log(
    `run ledger on: ${(dcp.ledgerRequests / dcp.tasks).toFixed(2)} S3 requests per task (record PUT; open PUT + DELETE for tasks over ${OPEN_RECORD_DELAY_MS} ms; pointer reads included), sent in the background`,
  );
  console.log(
    `same worker, ledger off:     overhead per task median ${median(noLedger.overheadMs).toFixed(0)} ms, p90 ${p90(noLedger.overheadMs).toFixed(0)} ms (${noLedger.ledgerRequests} ledger requests)`,
  );
  console.log(
    `baseline (1 file at a time): overhead per task median ${median(baseline.overheadMs).toFixed(0)} ms, p90 ${p90(baseline.overheadMs).toFixed(0)} ms (phase medians, ms: ${phaseMedians(baseline)})`,
  );
  const loops = await measure("loops", TASKS * 2, LOOPS, 16);
  const rate = loops.tasks / loops.seconds;
  console.log(
    `dcp worker, ${LOOPS} loops:     ${loops.tasks} tasks in ${loops.seconds.toFixed(1)} s = ${rate.toFixed(1)} tasks/s (CellProfiler double included), overhead median ${median(loops.overheadMs).toFixed(0)} ms`,
  );

  // The same comparison with LATENCY_MS added to every S3, SQS and Logs request by local proxies.
  const direct = { url: process.env.AWS_ENDPOINT_URL!, sqs: process.env.AWS_ENDPOINT_URL_SQS! };
  const proxies = [
    await startProxy({ target: direct.url, delayMs: LATENCY_MS }),
    await startProxy({ target: direct.sqs, delayMs: LATENCY_MS }),
  ];
  process.env.AWS_ENDPOINT_URL = proxies[0]!.url;
  process.env.AWS_ENDPOINT_URL_SQS = proxies[1]!.url;
  const slowDcp = await measure("slow-dcp", Math.ceil(TASKS / 2), 1, 16);
  const slowBaseline = await measure("slow-baseline", Math.ceil(TASKS / 2), 1, 1);
  process.env.AWS_ENDPOINT_URL = direct.url;
  process.env.AWS_ENDPOINT_URL_SQS = direct.sqs;
  for (const proxy of proxies) await proxy.close();
  console.log(
    `${LATENCY_MS} ms latency, dcp:      overhead median ${median(slowDcp.overheadMs).toFixed(0)} ms (phase medians, ms: ${phaseMedians(slowDcp)})`,
  );
  console.log(
    `${LATENCY_MS} ms latency, baseline: overhead median ${median(slowBaseline.overheadMs).toFixed(0)} ms (phase medians, ms: ${phaseMedians(slowBaseline)})`,
  );

  const ratio = median(baseline.overheadMs) / median(dcp.overheadMs);
  const slowRatio = median(slowBaseline.overheadMs) / median(slowDcp.overheadMs);
  console.log(
    `worker: overhead median ${median(dcp.overheadMs).toFixed(0)} ms/task (goal <= 100 ms), ${rate.toFixed(1)} tasks/s with ${LOOPS} loops; ` +
      `vs one-file-at-a-time upload (${median(baseline.overheadMs).toFixed(0)} ms): ${ratio.toFixed(2)}x direct, ${slowRatio.toFixed(1)}x with ${LATENCY_MS} ms latency`,
  );
} finally {
  await emulators.stop();
  rmSync(work, { recursive: true, force: true });
}
