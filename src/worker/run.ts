/**
 * `dcp worker`: DOCKER_CORES job loops started SECONDS_TO_START apart, each an sqs-consumer
 * Consumer taking one message at a time. A loop stops after WORKER_IDLE_POLLS empty polls in a row
 * during which the queue had nothing visible, in flight or delayed (DCP stopped at the first empty
 * poll, reference 7.1.24), or when the worker stops: on SIGTERM/SIGINT or a spot interruption
 * notice it takes nothing new, stops CellProfiler, hands in-flight tasks back without spending an
 * attempt, flushes logs and exits 0 well inside the two minutes a spot notice gives.
 */
import type { Message } from "@aws-sdk/client-sqs";
import { setMaxListeners } from "node:events";
import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { Consumer } from "sqs-consumer";
import { awsContext } from "../aws/context.js";
import { logsClient } from "../aws/logs.js";
import { s3Client } from "../aws/s3.js";
import { findQueueUrl, queueActivity, queueUrlOfArn, sqsClient, workerQueueSettings } from "../aws/sqs.js";
import { effectiveBuckets } from "../config/schema.js";
import { EXIT_INTERRUPTED, OperationalError } from "../errors.js";
import { interruptOnSignals } from "../signals.js";
import { isNotFound } from "../aws/errors.js";
import { WorkerLog, describeError, type LineSink } from "./log.js";
import type { WorkerSettings } from "./settings.js";
import { findExecutable } from "./cellprofiler.js";
import { runContainerSetup } from "./container.js";
import { SpotWatcher } from "./spot.js";
import { processMessage, type TaskOutcome, type WorkerContext } from "./task.js";
import { WorkerLedger, workerId } from "./ledger.js";
import { parseUploadFlags } from "./upload-flags.js";
import { sleep } from "../sleep.js";

/**
 * After a stop, a running upload may finish for this long; then everything still in flight is handed
 * back. The task definition gives the container 120 s between SIGTERM and SIGKILL (stopTimeout), the
 * length of a spot notice; EXIT_DEADLINE_MS stays well inside it.
 */
export const UPLOAD_GRACE_MS = 60_000;
/** The worker is gone by then whatever happens (a spot notice gives 120 s). */
export const EXIT_DEADLINE_MS = 90_000;
/** Back-off after a failed receive (network, throttling), instead of sqs-consumer's immediate retry. */
const RECEIVE_ERROR_BACKOFF_MS = 5_000;

export interface WorkerOptions {
  /** Overrides DOCKER_CORES. */
  loops?: number | undefined;
  /** Writes each log line (stdout by default). */
  sink?: LineSink;
  /** Called with every task's outcome (benchmarks, tests). */
  onOutcome?: (outcome: TaskOutcome) => void;
  /** Install SIGTERM/SIGINT handlers (the CLI does; in-process benchmarks do not). */
  handleSignals?: boolean;
  /** Inside the worker image: mount SOURCE_BUCKET and prepare CellProfiler-plugins first (container.ts). */
  containerSetup?: boolean;
}

export interface WorkerSummary {
  reason: string;
  outcomes: Record<TaskOutcome["kind"], number>;
  /** S3 requests the run ledger sent (pointer reads and records; 0 when it was off). */
  ledgerRequests: number;
}

async function buildContext(settings: WorkerSettings, log: WorkerLog): Promise<WorkerContext> {
  const { config } = settings;
  const uploadParams = parseUploadFlags(config.UPLOAD_FLAGS, settings.source);
  const ctx = awsContext(config);
  const sqs = sqsClient(ctx);
  const queueUrl = settings.queueUrl ?? (await findQueueUrl(sqs, config.SQS_QUEUE_NAME));
  if (!queueUrl)
    throw new OperationalError(
      `queue ${config.SQS_QUEUE_NAME} does not exist in ${config.AWS_REGION}; run dcp setup first (or set SQS_QUEUE_URL)`,
    );
  const queue = await workerQueueSettings(sqs, queueUrl);
  const deadLetterUrl = queue.deadLetterArn ? await queueUrlOfArn(sqs, queue.deadLetterArn) : undefined;
  if (queue.maxReceiveCount === undefined)
    log.line(
      "warning: the queue has no dead-letter queue; a task that always fails is retried forever. Run dcp setup.",
    );
  await mkdir(config.WORK_DIR, { recursive: true });
  const s3 = s3Client(ctx);
  return {
    config,
    queueUrl,
    queue: { ...queue, deadLetterUrl },
    leaseSeconds: Math.max(queue.visibilitySeconds, 5),
    sqs,
    s3,
    ledger: WorkerLedger.forWorker(s3, config.AWS_BUCKET, config.APP_NAME, imdsBase(config.SPOT_NOTICE_URL), (t) =>
      log.line(t),
    ),
    logs: logsClient(ctx),
    buckets: effectiveBuckets(config),
    uploadParams,
  };
}

/** The instance metadata service's base URL (SPOT_NOTICE_URL), or undefined when switched off. */
function imdsBase(url: string | null | undefined): string | undefined {
  return url ? url.replace(/\/+$/, "") : undefined;
}

export async function runWorker(settings: WorkerSettings, options: WorkerOptions = {}): Promise<WorkerSummary> {
  const root = new WorkerLog("worker", options.sink);
  const ctx = await buildContext(settings, root);
  const { config } = ctx;
  if (options.containerSetup) await runContainerSetup(config, (line) => root.line(line));
  // Problems every task would hit are stopped here, before they send the whole queue to the DLQ.
  if (!findExecutable(config.CELLPROFILER_COMMAND)) {
    throw new OperationalError(
      `CELLPROFILER_COMMAND ${config.CELLPROFILER_COMMAND} is not an executable${config.CELLPROFILER_COMMAND.includes("/") ? "" : " on PATH"}; install CellProfiler or set CELLPROFILER_COMMAND`,
    );
  }
  if (!config.DOWNLOAD_FILES && !existsSync(config.MOUNT_ROOT)) {
    throw new OperationalError(
      `MOUNT_ROOT ${config.MOUNT_ROOT} does not exist: mount SOURCE_BUCKET there (the worker image does), point MOUNT_ROOT at a local copy, or set DOWNLOAD_FILES to true`,
    );
  }
  const loops = options.loops ?? config.DOCKER_CORES;
  root.line(
    `dcp worker: settings from ${settings.source}; queue ${ctx.queueUrl}; ${loops} job loop(s) ${config.SECONDS_TO_START} s apart; ` +
      `images ${config.DOWNLOAD_FILES ? `downloaded from s3://${ctx.buckets.source}` : `read under ${config.MOUNT_ROOT}`}; outputs to s3://${ctx.buckets.destination}; ` +
      `CellProfiler: ${config.CELLPROFILER_COMMAND}; lease ${ctx.leaseSeconds} s, extended every ${(ctx.leaseSeconds / 3).toFixed(1)} s` +
      (ctx.queue.maxReceiveCount ? `; JOB_RETRIES ${ctx.queue.maxReceiveCount}` : ""),
  );

  const stopController = new AbortController();
  const deadlineController = new AbortController();
  const signals = { stop: stopController.signal, deadline: deadlineController.signal };
  // Every S3 call of every loop listens to these two signals while it runs (16 uploads x loops).
  setMaxListeners(1000, signals.stop, signals.deadline);
  const outcomes: WorkerSummary["outcomes"] = {
    done: 0,
    skipped: 0,
    failed: 0,
    malformed: 0,
    "handed-back": 0,
    "dead-lettered": 0,
  };
  const consumers: Consumer[] = [];
  let stopReason = "";
  const timers: NodeJS.Timeout[] = [];

  const stop = (reason: string) => {
    if (stopController.signal.aborted) return;
    stopReason = reason;
    root.line(`stopping: ${reason}; taking no new task, handing running tasks back`);
    stopController.abort();
    for (const consumer of consumers) consumer.stop({ abort: true });
    timers.push(setTimeout(() => deadlineController.abort(), UPLOAD_GRACE_MS));
    const hard = setTimeout(() => {
      root.line(`still busy ${EXIT_DEADLINE_MS / 1000} s after the stop; exiting now`);
      process.exit(0);
    }, EXIT_DEADLINE_MS);
    hard.unref();
    timers.push(hard);
  };

  // The first SIGINT/SIGTERM stops the loops; a second one exits at once with 130 (src/signals.ts):
  // tasks not yet handed back return when their visibility times out.
  const exitNow = (sig: NodeJS.Signals) => root.line(`${sig} received again: exiting without waiting`);
  const signalScope = options.handleSignals
    ? interruptOnSignals({
        onFirst: (sig) => {
          if (!stopController.signal.aborted) return stop(`${sig} received`);
          // Already stopping (a spot notice): this signal is the second request to stop.
          exitNow(sig);
          process.exit(EXIT_INTERRUPTED);
        },
        onSecond: exitNow,
      })
    : undefined;
  await ctx.ledger?.start();
  const spotBase = imdsBase(config.SPOT_NOTICE_URL);
  const spot = spotBase
    ? new SpotWatcher(
        spotBase,
        config.SPOT_POLL_SECONDS * 1000,
        (n) => stop(`spot interruption notice (${n.action} at ${n.time})`),
        (t) => root.line(t),
      )
    : undefined;
  spot?.start();

  const runLoop = (index: number): Promise<void> =>
    new Promise((resolve) => {
      const log = root.child(`loop ${index + 1}`);
      const id = workerId(index + 1);
      let idlePolls = 0;
      let active = 0;
      let stopped = false;
      const settle = () => {
        if (stopped && active === 0) resolve();
      };
      const consumer = Consumer.create({
        queueUrl: ctx.queueUrl,
        sqs: ctx.sqs,
        batchSize: 1,
        waitTimeSeconds: config.WORKER_POLL_SECONDS,
        messageSystemAttributeNames: ["ApproximateReceiveCount"],
        messageAttributeNames: ["All"],
        // "stopped" waits for the poll in progress (and the handler of what it received), so a loop
        // never ends with a received message left unattended.
        pollingCompleteWaitTimeMs: (config.WORKER_POLL_SECONDS + 10) * 1000,
        // The handler deletes, releases or re-sends the message itself (task.ts) and returns
        // undefined, so sqs-consumer never acknowledges on its own. A message received while the
        // worker stops is handed back unrun by the same code.
        handleMessage: async (message: Message) => {
          idlePolls = 0;
          active += 1;
          try {
            const outcome = await processMessage(ctx, message, log, signals, id).catch((err: unknown): TaskOutcome => {
              log.line(`task error: ${describeError(err)}`);
              return { kind: "failed", cause: describeError(err) };
            });
            outcomes[outcome.kind] += 1;
            options.onOutcome?.(outcome);
          } finally {
            active -= 1;
            settle();
          }
          return undefined;
        },
      });
      consumer.on("empty", () => {
        if (!consumer.status.isRunning) return;
        consumer.updateOption("pollingWaitTimeMs", 0);
        void queueActivity(ctx.sqs, ctx.queueUrl)
          .then(({ visible, inFlight: hidden, delayed }) => {
            if (visible + hidden + delayed > 0) {
              idlePolls = 0;
              return;
            }
            idlePolls += 1;
            if (idlePolls >= config.WORKER_IDLE_POLLS && consumer.status.isRunning) {
              log.line(`queue empty (nothing visible, in flight or delayed) for ${idlePolls} polls: loop done`);
              // No abort: a message arriving during the last poll is still received and run.
              consumer.stop();
            }
          })
          .catch((err: unknown) => log.line(`warning: cannot read the queue's counts (${describeError(err)})`));
      });
      consumer.on("response_processed", () => consumer.updateOption("pollingWaitTimeMs", 0));
      consumer.on("error", (err) => {
        if (signals.stop.aborted || consumer.status.isRunning === false) return;
        // sqs-consumer's SQSError carries the AWS name in `code`; older endpoints name it only in the message.
        if (isNotFound(err) || /NonExistentQueue|QueueDoesNotExist/.test(err.message)) {
          log.line("the queue was deleted (dcp teardown?): loop done");
          consumer.stop({ abort: true });
          return;
        }
        log.line(`warning: ${err.message}; retrying in ${RECEIVE_ERROR_BACKOFF_MS / 1000} s`);
        consumer.updateOption("pollingWaitTimeMs", RECEIVE_ERROR_BACKOFF_MS);
      });
      consumer.on("processing_error", (err) => log.line(`task error: ${err.message}`));
      consumer.on("stopped", () => {
        stopped = true;
        settle();
      });
      consumers.push(consumer);
      log.line("started");
      consumer.start();
    });

  const running: Promise<void>[] = [];
  for (let i = 0; i < loops && !signals.stop.aborted; i++) {
    if (i > 0) await sleep(config.SECONDS_TO_START * 1000, signals.stop);
    if (signals.stop.aborted) break;
    running.push(runLoop(i));
  }
  await Promise.all(running);
  spot?.stop();
  await ctx.ledger?.flush();
  for (const timer of timers) clearTimeout(timer);
  signalScope?.dispose();
  const reason = stopReason || "the queue stayed empty";
  const counts = Object.entries(outcomes)
    .filter(([, n]) => n > 0)
    .map(([k, n]) => `${n} ${k}`)
    .join(", ");
  root.line(`worker finished (${reason}): ${counts || "no tasks"}`);
  return { reason, outcomes, ledgerRequests: ctx.ledger?.requests ?? 0 };
}
