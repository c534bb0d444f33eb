/**
 * `dcp status` benchmark: the built CLI, as a user runs it from a folder with only a config
 * (APP_NAME, AWS_BUCKET), on a run of GROUPS groups: a run ledger in moto with one attempt record
 * per group (a few failed, by cause), 10 open attempts, run.json, the pointer and a monitor
 * heartbeat; a 4-instance Spot Fleet; the queue and its dead-letter queue in fauxqs. Times the whole
 * command (process start included), a few runs, and prints the median; goal <= 2 s for 1,000 groups.
 *
 * Run: make bench (or npx vite-node --options.deps.external=/dist/ bench/status.bench.ts after make build).
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { CreateBucketCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { RequestSpotFleetCommand } from "@aws-sdk/client-ec2";
import { CreateQueueCommand } from "@aws-sdk/client-sqs";
import { startEmulators } from "../test/harness/emulators.js";
import { loadDist } from "./dist.js";

const GROUPS = Number(process.env.STATUS_BENCH_GROUPS ?? 1000);
const RUNS = 5;
const ROOT = resolve(import.meta.dirname, "..");

const emulators = await startEmulators();
Object.assign(process.env, emulators.env);
const { s3Client } = await loadDist<typeof import("../src/aws/s3.js")>("aws/s3.js");
const { ec2Client } = await loadDist<typeof import("../src/aws/ec2.js")>("aws/ec2.js");
const { sqsClient } = await loadDist<typeof import("../src/aws/sqs.js")>("aws/sqs.js");
const { mapLimit } = await loadDist<typeof import("../src/concurrency.js")>("concurrency.js");
const ledger = await loadDist<typeof import("../src/plan/ledger.js")>("plan/ledger.js");

const ctx = { region: "us-east-1", profile: undefined };
const app = `StatusBench${process.pid}`;
const bucket = app.toLowerCase();
const dir = mkdtempSync(join(tmpdir(), "dcp-status-bench-"));
const s3 = s3Client(ctx);
const put = (key: string, body: unknown) =>
  s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: JSON.stringify(body) }));

try {
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  await sqsClient(ctx).send(new CreateQueueCommand({ QueueName: `${app}Queue` }));
  await sqsClient(ctx).send(new CreateQueueCommand({ QueueName: `${app}_DeadMessages` }));
  const { SpotFleetRequestId: runId } = await ec2Client(ctx).send(
    new RequestSpotFleetCommand({
      SpotFleetRequestConfig: {
        IamFleetRole: "arn:aws:iam::123456789012:role/aws-ec2-spot-fleet-tagging-role",
        TargetCapacity: 4,
        AllocationStrategy: "lowestPrice",
        LaunchSpecifications: [{ ImageId: "ami-12c6146b", InstanceType: "m5.xlarge" }],
      },
    }),
  );
  const started = Date.now() - 3_600_000;
  const keys = ledger.runLedgerKeys(app, runId!);
  const causes = ["pipeline-error", "missing-input", "out-of-memory"] as const;
  const setup = performance.now();
  await mapLimit(
    Array.from({ length: GROUPS }, (_, i) => i),
    32,
    async (i) => {
      const id = ledger.attemptId(started + i * 1000, `host-1-${i % 4}`);
      const failed = i % 100 === 7;
      const key = ledger.attemptKey(
        app,
        runId!,
        `Plate1-W${i}`,
        id,
        failed ? "failed" : "done",
        failed ? causes[i % 3] : undefined,
      );
      await put(key, { version: 1 });
    },
  );
  for (let i = 0; i < 10; i++) await put(ledger.openKey(app, runId!, `i-${i}`, ledger.attemptId(Date.now(), "w")), {});
  await put(keys.run, {
    version: 1,
    runId,
    appName: app,
    region: "us-east-1",
    startedAt: new Date(started).toISOString(),
    fleetApi: "spot-fleet",
    fleetId: runId,
    config: { APP_NAME: app, SQS_QUEUE_NAME: `${app}Queue`, SQS_DEAD_LETTER_QUEUE: `${app}_DeadMessages` },
    fleetRequest: {},
    jobs: [],
  });
  await put(ledger.currentPointerKey(app), { version: 1, runId, startedAt: new Date(started).toISOString() });
  const samples = Array.from({ length: 60 }, (_, i) => [started + i * 60_000, Math.round((i * GROUPS) / 70)]);
  await put(keys.heartbeat, {
    version: 1,
    runId,
    at: new Date().toISOString(),
    pollSeconds: 60,
    phase: "running",
    host: "bench",
    pid: 1,
    fleetApi: "spot-fleet",
    fleetLabel: `spot-fleet ${runId}`,
    startedAt: started,
    observations: {
      version: 1,
      firstReadingAt: started,
      last: { at: Date.now(), visible: 100, inFlight: 10, dlq: 0, instances: 4, target: 4, fulfilled: 4 },
      progress: { total: GROUPS + 110, done: GROUPS, deadLettered: 0, dlqBaseline: 0 },
      consecutiveEmpty: 0,
      samples,
      instances: {},
      downscales: [],
    },
  });
  console.log(`ledger of ${GROUPS} attempt records written in ${((performance.now() - setup) / 1000).toFixed(1)} s`);

  mkdirSync(join(dir, "config"));
  writeFileSync(join(dir, "config", "config.json"), JSON.stringify({ APP_NAME: app, AWS_BUCKET: bucket }));
  const times: number[] = [];
  let last = "";
  for (let r = 0; r < RUNS; r++) {
    const t0 = performance.now();
    const out = spawnSync(process.execPath, [join(ROOT, "bin/dcp"), "status", "--json"], {
      cwd: dir,
      env: { ...process.env, CI: "true" },
      encoding: "utf8",
    });
    times.push(performance.now() - t0);
    if (out.status !== 0) throw new Error(`dcp status exited ${out.status}: ${out.stderr}`);
    last = out.stdout;
  }
  const report = JSON.parse(last) as { ledger: { done: number; failed: number; running: number } };
  if (report.ledger.done + report.ledger.failed !== GROUPS)
    throw new Error(`status counted ${JSON.stringify(report.ledger)}`);
  const sorted = [...times].sort((a, b) => a - b);
  console.log(
    `dcp status on ${GROUPS} groups (${report.ledger.done} done, ${report.ledger.failed} failed, ${report.ledger.running} running): ` +
      `median ${(sorted[Math.floor(RUNS / 2)]! / 1000).toFixed(2)} s, min ${(sorted[0]! / 1000).toFixed(2)} s over ${RUNS} runs (goal <= 2 s)`,
  );
} finally {
  await emulators.stop();
  rmSync(dir, { recursive: true, force: true });
}
