/**
 * Submit benchmark: dcp's submit path (streaming check + SendMessageBatch, 16 calls in flight)
 * against DCP's algorithm (json.load, then one SendMessage per group, sequentially), both in this
 * process, against fauxqs on a loopback port (served from a worker thread of this process): once
 * directly, once through a local proxy that adds 20 ms to every request (about one round trip to
 * real SQS, which is where batching and concurrency pay). The baseline through the proxy would take 400+ s for 20,000 groups, so it is
 * measured on a sample and its rate extrapolated; the output says so.
 *
 * Run: make bench (or npx vite-node --options.deps.external=/dist/ bench/submit.bench.ts after
 * make build). Last line: both ratios.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { Worker } from "node:worker_threads";
import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient, SendMessageCommand } from "@aws-sdk/client-sqs";
import type { DcpMessage } from "../src/plan/message.js";
import { withEnv } from "../test/harness/env.js";
import { loadDist } from "./dist.js";
import { startProxy } from "./latency-proxy.js";

const { DEFAULT_CONCURRENCY, sendMessages } =
  await loadDist<typeof import("../src/submit/engine.js")>("submit/engine.js");
const { checkJobFile, jobFileMessages } =
  await loadDist<typeof import("../src/submit/job-reader.js")>("submit/job-reader.js");
const { messageBody } = await loadDist<typeof import("../src/plan/message.js")>("plan/message.js");
const { sqsSendClient } = await loadDist<typeof import("../src/aws/sqs.js")>("aws/sqs.js");

const GROUPS = Number(process.env.SUBMIT_BENCH_GROUPS ?? 20_000);
const BASELINE_LATENCY_SAMPLE = Number(process.env.SUBMIT_BENCH_BASELINE_SAMPLE ?? 500);
const LATENCY_MS = 20;

process.env.AWS_ACCESS_KEY_ID ??= "bench";
process.env.AWS_SECRET_ACCESS_KEY ??= "bench";
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

function writeJobFile(dir: string): string {
  const file = join(dir, "job.json");
  const groups: string[] = [];
  for (let i = 0; i < GROUPS; i++) {
    const meta = `Metadata_Plate=Plate${Math.floor(i / 3456) + 1},Metadata_Well=${String.fromCharCode(65 + (Math.floor(i / 9) % 16))}${String((Math.floor(i / 144) % 24) + 1).padStart(2, "0")},Metadata_Site=${(i % 9) + 1}`;
    groups.push(`    {"Metadata": "${meta}"}`);
  }
  writeFileSync(
    file,
    `{\n  "_comment1": "submit benchmark",\n  "pipeline": "projects/analysis.cppipe",\n  "data_file": "projects/load_data.csv",\n  "input": "projects/input/",\n` +
      `  "output": "projects/output/",\n  "output_structure": "Metadata_Plate/Metadata_Well-Metadata_Site",\n  "groups": [\n${groups.join(",\n")}\n  ]\n}\n`,
  );
  return file;
}

/**
 * The clients of a run, sending to `endpoint`:
 * - "dcp": the client `dcp submit` sends with (`sqsSendClient`: settings in src/aws/sqs.ts); given to
 *   the baseline too, it shows what batching and concurrency give alone;
 * - "stock": the SDK's defaults, as a straight port of DCP's submitJob would make it.
 * dcp's clients read AWS_ENDPOINT_URL_SQS at their first call, so it is set around that call.
 */
type ClientKind = "dcp" | "stock";
async function clientWithQueue(endpoint: string, kind: ClientKind): Promise<{ sqs: SQSClient; url: string }> {
  if (kind === "stock") {
    const sqs = new SQSClient({ region: "us-east-1", endpoint, useQueueUrlAsEndpoint: false });
    return { sqs, url: await newQueue(sqs) };
  }
  return withEnv({ AWS_ENDPOINT_URL_SQS: endpoint }, async () => {
    const sqs = sqsSendClient({ region: "us-east-1", profile: undefined });
    return { sqs, url: await newQueue(sqs) };
  });
}

let queues = 0;
async function newQueue(sqs: SQSClient): Promise<string> {
  queues += 1;
  return (await sqs.send(new CreateQueueCommand({ QueueName: `bench${process.pid}x${queues}` }))).QueueUrl!;
}

async function depth(sqs: SQSClient, url: string): Promise<number> {
  const { Attributes = {} } = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ["ApproximateNumberOfMessages"] }),
  );
  return Number(Attributes.ApproximateNumberOfMessages);
}

interface Run {
  messages: number;
  seconds: number;
  rate: number;
  calls: number;
  /** CPU time of the whole process (client, emulator thread, proxy) during the run. */
  cpuSeconds: number;
  note?: string;
}

function cpuSince(start: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1e6;
}

/** dcp: pass 1 validates the file, pass 2 streams it into batched, concurrent sends. */
async function dcpSubmit(endpoint: string, file: string, limit = Infinity): Promise<Run> {
  const { sqs, url } = await clientWithQueue(endpoint, "dcp");
  const started = performance.now();
  const cpu = process.cpuUsage();
  const job = await checkJobFile(file);
  const checkSeconds = (performance.now() - started) / 1000;
  async function* limited(): AsyncGenerator<DcpMessage> {
    let n = 0;
    for await (const m of jobFileMessages(job)) {
      if (n++ >= limit) return;
      yield m;
    }
  }
  const result = await sendMessages(sqs, url, limited());
  const seconds = (performance.now() - started) / 1000;
  const cpuSeconds = cpuSince(cpu);
  if (result.unsent.length || (await depth(sqs, url)) !== result.sent)
    throw new Error(`dcp run lost messages: ${JSON.stringify(result.unsent.slice(0, 3))}`);
  sqs.destroy();
  return {
    messages: result.sent,
    seconds,
    rate: result.sent / seconds,
    calls: result.calls,
    cpuSeconds,
    note: `, check pass ${checkSeconds.toFixed(2)} s`,
  };
}

/** DCP's submitJob: json.load the whole file, then one SendMessage per group, in order. */
async function baselineSubmit(endpoint: string, file: string, limit: number, kind: ClientKind = "stock"): Promise<Run> {
  const { sqs, url } = await clientWithQueue(endpoint, kind);
  const started = performance.now();
  const cpu = process.cpuUsage();
  const job = JSON.parse(readFileSync(file, "utf8")) as Record<string, string> & {
    groups: Array<Record<string, unknown>>;
  };
  const template = {
    pipeline: job.pipeline,
    output: job.output,
    input: job.input,
    data_file: job.data_file,
    output_structure: job.output_structure ?? "",
  };
  let sent = 0;
  for (const group of job.groups.slice(0, limit)) {
    const Metadata = (group.Metadata ?? group) as DcpMessage["Metadata"];
    await sqs.send(
      new SendMessageCommand({ QueueUrl: url, MessageBody: messageBody({ ...template, Metadata } as DcpMessage) }),
    );
    sent += 1;
  }
  const seconds = (performance.now() - started) / 1000;
  const cpuSeconds = cpuSince(cpu);
  if ((await depth(sqs, url)) !== sent) throw new Error("baseline run lost messages");
  sqs.destroy();
  return { messages: sent, seconds, rate: sent / seconds, calls: sent, cpuSeconds };
}

async function medianRun(run: () => Promise<Run>): Promise<Run> {
  const runs: Run[] = [];
  for (let i = 0; i < 3; i++) runs.push(await run());
  return runs.sort((a, b) => a.rate - b.rate)[1]!;
}

function describe(label: string, run: Run, note = ""): void {
  console.log(
    `${label.padEnd(40)} ${String(run.messages).padStart(6)} msgs in ${run.seconds.toFixed(2).padStart(7)} s = ${run.rate.toFixed(0).padStart(6)} msgs/s (${run.calls} calls${run.note ?? ""})${note}`,
  );
}

/**
 * fauxqs in this process, on its own thread: real SQS does not run on the client's CPU, so the
 * emulator must not share the measured event loop (it would charge its per-message work to the client).
 */
async function startFauxqsThread(): Promise<{ url: string; stop: () => Promise<number> }> {
  // Worker eval code resolves bare names from the working directory, so name fauxqs's entry by its path.
  const entry = new URL("../node_modules/fauxqs/dist/app.js", import.meta.url).href;
  const code = `import(${JSON.stringify(entry)}).then(async ({ buildApp }) => {
    const app = buildApp({ logger: false });
    require("node:worker_threads").parentPort.postMessage(await app.listen({ port: 0, host: "127.0.0.1" }));
  });`;
  const worker = new Worker(code, { eval: true });
  const url = await new Promise<string>((resolve, reject) => {
    worker.once("message", resolve);
    worker.once("error", reject);
  });
  return { url, stop: () => worker.terminate() };
}

const dir = mkdtempSync(join(tmpdir(), "dcp-submit-bench-"));
const fauxqs = await startFauxqsThread();
try {
  const sqsUrl = fauxqs.url;
  const proxy = await startProxy({ target: sqsUrl, delayMs: LATENCY_MS });
  const file = writeJobFile(dir);
  console.log(
    `submit bench: ${GROUPS} groups; fauxqs on a thread of this process at ${sqsUrl}; proxy at ${proxy.url} adds ${LATENCY_MS} ms per request`,
  );
  console.log(
    `dcp: streaming check + SendMessageBatch (10/call), ${DEFAULT_CONCURRENCY} calls in flight, dcp's SQS client; baseline: DCP's json.load + one SendMessage per group, sequential, the SDK's stock client`,
  );

  // Warm up both paths off the clock (JIT of dcp, the SDK and fauxqs; sockets) until each runs at its
  // steady rate: measured here, dcp's first four 20,000-group runs go 12k, 21k, 24k, 27k msgs/s and
  // then hold; the baseline settles within its first few thousand calls.
  for (let i = 0; i < 4; i++) await dcpSubmit(sqsUrl, file);
  await baselineSubmit(sqsUrl, file, 5000);
  await baselineSubmit(sqsUrl, file, 5000, "dcp");

  // dcp's runs last 1-4 s, so one run is at the mercy of other processes: take the median of 3.
  // The baseline runs last 10+ s each and average that noise out by themselves.
  const dcpDirect = await medianRun(() => dcpSubmit(sqsUrl, file));
  describe("direct   dcp", dcpDirect, " [median of 3]");
  const baseDirect = await baselineSubmit(sqsUrl, file, GROUPS);
  describe("direct   baseline", baseDirect);
  // How much of the ratio is the client's settings rather than batching and concurrency (this
  // baseline's client checks no MD5 at all, where dcp's path checks every entry's).
  const baseDirectTuned = await baselineSubmit(sqsUrl, file, GROUPS, "dcp");
  describe(
    "direct   baseline, dcp's client settings",
    baseDirectTuned,
    ` [dcp ${(dcpDirect.rate / baseDirectTuned.rate).toFixed(1)}x this]`,
  );
  const dcpLatency = await medianRun(() => dcpSubmit(proxy.url, file));
  describe(`${LATENCY_MS}ms-latency dcp`, dcpLatency, " [median of 3]");
  const baseLatency = await baselineSubmit(proxy.url, file, Math.min(BASELINE_LATENCY_SAMPLE, GROUPS));
  describe(
    `${LATENCY_MS}ms-latency baseline`,
    baseLatency,
    baseLatency.messages < GROUPS
      ? ` [sample of ${baseLatency.messages}; all ${GROUPS} would take about ${(GROUPS / baseLatency.rate).toFixed(0)} s]`
      : "",
  );
  await proxy.close();

  // Context for the wall-clock ratios: CPU per message is what the machine's load cannot change.
  const cpuPerMessage = (run: Run) => (run.cpuSeconds / run.messages) * 1e6;
  console.log(
    `CPU per message (process, all threads), direct: dcp ${cpuPerMessage(dcpDirect).toFixed(0)} us, baseline ${cpuPerMessage(baseDirect).toFixed(0)} us ` +
      `(${(cpuPerMessage(baseDirect) / cpuPerMessage(dcpDirect)).toFixed(1)}x); load average ${loadavg()[0]!.toFixed(1)} on ${availableParallelism()} cores`,
  );
  const direct = dcpDirect.rate / baseDirect.rate;
  const latency = dcpLatency.rate / baseLatency.rate;
  console.log(
    `submit: direct ${direct.toFixed(1)}x, ${LATENCY_MS}ms-latency ${latency.toFixed(1)}x (targets >= 8x, >= 50x)`,
  );
} finally {
  await fauxqs.stop();
  rmSync(dir, { recursive: true, force: true });
}
