/**
 * One message, start to end: validate, derive names, CHECK_IF_DONE, fetch the pipeline and the
 * data file, provide the images (mount or download mode), run CellProfiler under a lease, upload
 * and verify the outputs, and only then delete the message. Every other ending hands the message
 * back: released at once after a failure (so SQS counts the attempt toward JOB_RETRIES), or
 * re-sent without spending an attempt when the worker is stopping (SIGTERM, spot notice).
 */
import type { S3Client } from "@aws-sdk/client-s3";
import type { CloudWatchLogsClient } from "@aws-sdk/client-cloudwatch-logs";
import type { Message, MessageAttributeValue, SQSClient } from "@aws-sdk/client-sqs";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from "node:fs/promises";
import { join, posix, relative, sep } from "node:path";
import { deleteMessage, sendMessage, setMessageVisibility, type WorkerQueueSettings } from "../aws/sqs.js";
import { downloadToFile, listObjects, uploadFile } from "../aws/s3.js";
import { isNotFound, isThrottling } from "../aws/errors.js";
import type { Config } from "../config/schema.js";
import { PRIOR_RECEIVES_ATTRIBUTE, messageSchema } from "../plan/message.js";
import { checkIfDone, doneRule } from "../plan/check-if-done.js";
import { attemptId } from "../plan/ledger.js";
import { formatPath } from "../errors.js";
import { cellprofilerArgs, describeExit, pluginsDirectory, readDoneFile, runCellProfiler } from "./cellprofiler.js";
import {
  dataFileKind,
  groupRows,
  parseCsv,
  planCsvDownloads,
  planFileListDownloads,
  stringifyCsv,
  type Download,
} from "./datafile.js";
import { Lease } from "./lease.js";
import { TaskLog, describeError, type WorkerLog } from "./log.js";
import { TaskInputError, assertContainedPath, deriveNames, type TaskNames } from "./naming.js";
import { mapLimit } from "../concurrency.js";
import type { UploadParams } from "./upload-flags.js";
import { LineTail, classifyAttempt, type AttemptFacts } from "./attempt.js";
import { workerId as loopWorkerId, type LedgerAttempt, type WorkerLedger } from "./ledger.js";

export interface WorkerContext {
  config: Config;
  queueUrl: string;
  queue: WorkerQueueSettings & { deadLetterUrl: string | undefined };
  /** Seconds each lease extension keeps a message invisible. */
  leaseSeconds: number;
  sqs: SQSClient;
  s3: S3Client;
  logs: CloudWatchLogsClient | undefined;
  buckets: { source: string; workspace: string; destination: string };
  uploadParams: UploadParams;
  /** The run ledger's writer (attempt records); undefined: no records. */
  ledger?: WorkerLedger | undefined;
}

export interface StopSignals {
  /** Aborted when the worker stops (SIGTERM, SIGINT, spot notice): take nothing new, stop CellProfiler. */
  stop: AbortSignal;
  /** Aborted shortly before the worker must be gone: even a running upload is abandoned. */
  deadline: AbortSignal;
}

export type TaskOutcome =
  | {
      kind: "done";
      metadataId: string;
      files: number;
      totalMs: number;
      cellprofilerMs: number;
      phases: Record<string, number>;
    }
  | { kind: "skipped"; metadataId: string; totalMs: number }
  | { kind: "failed"; metadataId?: string; cause: string }
  | { kind: "malformed"; cause: string }
  | { kind: "handed-back"; metadataId?: string }
  | { kind: "dead-lettered"; cause: string };

/** A failure with a plain-words cause, for the log, and what it tells the ledger's cause class. */
class TaskFailure extends Error {
  constructor(
    message: string,
    readonly facts: Pick<AttemptFacts, "missingObject" | "throttled" | "groupingMismatch" | "timedOut"> = {},
  ) {
    super(message);
  }
}

/** What a failed S3 transfer tells the ledger: a missing object, or throttling (SlowDown, 503). */
function transferFacts(err: unknown): Pick<AttemptFacts, "missingObject" | "throttled"> {
  const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  return { missingObject: isMissingObject(err), throttled: isThrottling(err) || status === 503 };
}

type StepResult = { kind: "done"; files: number; cellprofilerMs: number } | { kind: "skipped" };

/** Milliseconds spent in each phase of a task, for the log's "done" line and the benchmark. */
type Phases = Record<string, number>;

async function timed<T>(phases: Phases, name: string, fn: () => Promise<T>): Promise<T> {
  const start = performance.now();
  try {
    return await fn();
  } finally {
    phases[name] = (phases[name] ?? 0) + performance.now() - start;
  }
}

function describePhases(phases: Phases): string {
  return Object.entries(phases)
    .map(([name, ms]) => `${name} ${ms.toFixed(0)} ms`)
    .join(", ");
}

export type ParsedTask = ReturnType<typeof messageSchema.parse>;

export function parseTaskBody(body: string | undefined): ParsedTask {
  let json: unknown;
  try {
    json = JSON.parse(body ?? "");
  } catch {
    throw new TaskInputError("body", "is not JSON");
  }
  const result = messageSchema.safeParse(json);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw new TaskInputError(formatPath(issue.path), issue.message);
  }
  return result.data;
}

function receivesOf(message: Message): { prior: number; receives: number } {
  const prior = Number(message.MessageAttributes?.[PRIOR_RECEIVES_ATTRIBUTE]?.StringValue ?? 0);
  const receives = Number(message.Attributes?.ApproximateReceiveCount ?? 1);
  return { prior: Number.isFinite(prior) ? prior : 0, receives: Number.isFinite(receives) ? receives : 1 };
}

function priorAttribute(count: number): Record<string, MessageAttributeValue> {
  return { [PRIOR_RECEIVES_ATTRIBUTE]: { DataType: "Number", StringValue: String(count) } };
}

export async function processMessage(
  ctx: WorkerContext,
  message: Message,
  out: WorkerLog,
  signals: StopSignals,
  workerId = loopWorkerId(1),
): Promise<TaskOutcome> {
  const started = Date.now();
  const handle = message.ReceiptHandle!;
  const { prior, receives } = receivesOf(message);
  const limit = ctx.queue.maxReceiveCount;
  const attemptText = limit ? `attempt ${prior + receives} of ${limit}` : `attempt ${prior + receives}`;

  let task: ParsedTask;
  let names: ReturnType<typeof deriveNames>;
  try {
    task = parseTaskBody(message.Body);
    names = deriveNames(task);
    assertContainedPath(task.pipeline, "pipeline");
    assertContainedPath(task.data_file, "data_file");
    assertContainedPath(task.input.replace(/\/+$/, ""), "input", true);
  } catch (err) {
    if (!(err instanceof TaskInputError)) throw err;
    const cause = `bad message ${message.MessageId}: ${err.message}`;
    out.line(
      `${cause}; released so that SQS moves it to the dead-letter queue after ${limit ?? "JOB_RETRIES"} receives (${attemptText})`,
    );
    await release(ctx, handle, out);
    ctx.ledger
      ?.begin({
        metadataId: `bad-message-${message.MessageId ?? "unknown"}`,
        group: [],
        attempt: attemptId(started, workerId),
        attemptNumber: prior + receives,
        messageId: message.MessageId,
        workerId,
        startedAtMs: started,
      })
      .end(classifyAttempt("malformed", {}, cause), { tail: new LineTail() }, {});
    return { kind: "malformed", cause };
  }

  const phases: Phases = {};
  const facts: AttemptFacts = { tail: new LineTail() };
  const attempt: LedgerAttempt | undefined = ctx.ledger?.begin({
    metadataId: names.metadataId,
    group: names.group,
    attempt: attemptId(started, workerId),
    attemptNumber: prior + receives,
    messageId: message.MessageId,
    workerId,
    startedAtMs: started,
    logGroup: ctx.config.LOG_GROUP_NAME,
    logStream: names.logStream,
  });
  let outcome: TaskOutcome | undefined;
  let interruption = "";
  const ended = (o: TaskOutcome): TaskOutcome => (outcome = o);
  const log = new TaskLog(out.child(names.metadataId), ctx.logs, ctx.config.LOG_GROUP_NAME, names.logStream);
  log.open();
  let dir: string | undefined;
  try {
    // A message re-sent at a shutdown carries the receives it had already spent: enforce JOB_RETRIES here.
    if (limit !== undefined && prior > 0 && prior + receives > limit) {
      const cause = `${prior + receives} receives exceed JOB_RETRIES (${limit})`;
      await moveToDeadLetter(ctx, message, prior + receives - 1, cause, log);
      return ended({ kind: "dead-lettered", cause });
    }
    log.line(
      `task ${names.metadataId} (${attemptText}): -g ${names.groupArg} -> s3://${ctx.buckets.destination}/${names.outputPrefix}`,
    );
    for (const warning of names.warnings) log.line(`warning: ${warning}`);

    const lease = new Lease(ctx.sqs, ctx.queueUrl, handle, ctx.leaseSeconds, (t) => log.line(`warning: ${t}`)).start();
    let result: StepResult | undefined;
    let failure: string | undefined;
    try {
      dir = await mkdtemp(join(ctx.config.WORK_DIR, "task-"));
      result = await runSteps(ctx, task, names, dir, log, signals, phases, facts);
    } catch (err) {
      failure = err instanceof TaskFailure || err instanceof TaskInputError ? err.message : describeError(err);
      if (err instanceof TaskFailure) Object.assign(facts, err.facts);
    } finally {
      await lease.stop();
    }

    if (result) {
      await timed(phases, "delete", () =>
        deleteMessage(ctx.sqs, ctx.queueUrl, handle).catch((err: unknown) =>
          log.line(
            `warning: could not delete the message (${describeError(err)}); it will come back, and CHECK_IF_DONE can skip it`,
          ),
        ),
      );
      const totalMs = Date.now() - started;
      if (result.kind === "skipped") return ended({ kind: "skipped", metadataId: names.metadataId, totalMs });
      log.line(
        `task ${names.metadataId} done: ${result.files} files uploaded, message deleted (${(totalMs / 1000).toFixed(1)} s: ${describePhases(phases)})`,
      );
      return ended({
        kind: "done",
        metadataId: names.metadataId,
        files: result.files,
        totalMs,
        cellprofilerMs: result.cellprofilerMs,
        phases,
      });
    }
    if (signals.stop.aborted) {
      log.line(`task ${names.metadataId} interrupted: ${failure}`);
      interruption = failure ?? "the worker is stopping";
      await handBack(ctx, message, prior + receives - 1, log);
      return ended({ kind: "handed-back", metadataId: names.metadataId });
    }
    log.line(`task ${names.metadataId} FAILED: ${failure}`);
    log.line(
      `released the message at once (${attemptText}${limit ? `; after ${limit} receives SQS moves it to the dead-letter queue` : ""})`,
    );
    await release(ctx, handle, log);
    return ended({ kind: "failed", metadataId: names.metadataId, cause: failure ?? "unknown" });
  } finally {
    // The ledger record is written in the background (worker/ledger.ts): never awaited here.
    const kind = outcome?.kind ?? "failed";
    const reason =
      outcome && "cause" in outcome ? outcome.cause : outcome ? interruption : "the task failed unexpectedly";
    attempt?.end(classifyAttempt(kind, { ...facts, lastLines: facts.tail.get() }, reason), facts, phases);
    // Local files go in every outcome, after the message is dealt with (so it is acknowledged sooner).
    if (dir)
      await rm(dir, { recursive: true, force: true }).catch((err: unknown) =>
        log.line(`warning: could not remove ${dir}: ${describeError(err)}`),
      );
    await log.close();
  }
}

async function release(ctx: WorkerContext, handle: string, log: { line(t: string): void }): Promise<void> {
  await setMessageVisibility(ctx.sqs, ctx.queueUrl, handle, 0).catch((err: unknown) =>
    log.line(
      `warning: could not release the message (${describeError(err)}); it comes back when its visibility timeout ends`,
    ),
  );
}

/**
 * Hands a message back without spending an attempt. SQS counts receives, not failures, and a
 * receive cannot be undone, so the body is re-sent as a new message (its receive count starts at 0)
 * carrying the receives spent before this interrupted one; then the received copy is deleted.
 * If re-sending fails, the message is released instead (visible at once; the attempt counts).
 */
async function handBack(ctx: WorkerContext, message: Message, spentBefore: number, log: TaskLog): Promise<void> {
  try {
    await sendMessage(ctx.sqs, ctx.queueUrl, message.Body ?? "", priorAttribute(spentBefore));
  } catch (err) {
    log.line(
      `warning: could not re-send the interrupted task (${describeError(err)}); releasing it instead (this attempt counts)`,
    );
    await release(ctx, message.ReceiptHandle!, log);
    return;
  }
  await deleteMessage(ctx.sqs, ctx.queueUrl, message.ReceiptHandle!).catch((err: unknown) =>
    log.line(`warning: could not delete the interrupted copy (${describeError(err)}); the task may run twice`),
  );
  log.line(
    "worker stopping: task handed back to the queue (re-sent; this interrupted attempt does not count toward JOB_RETRIES)",
  );
}

async function moveToDeadLetter(
  ctx: WorkerContext,
  message: Message,
  spent: number,
  cause: string,
  log: TaskLog,
): Promise<void> {
  if (!ctx.queue.deadLetterUrl) {
    log.line(`${cause}, but the dead-letter queue was not found; releasing the message`);
    await release(ctx, message.ReceiptHandle!, log);
    return;
  }
  await sendMessage(ctx.sqs, ctx.queue.deadLetterUrl, message.Body ?? "", priorAttribute(spent));
  await deleteMessage(ctx.sqs, ctx.queueUrl, message.ReceiptHandle!);
  log.line(`${cause}: moved to the dead-letter queue`);
}

function throwIfStopped(signal: AbortSignal): void {
  if (signal.aborted) throw new TaskFailure("the worker is stopping");
}

async function runSteps(
  ctx: WorkerContext,
  task: ParsedTask,
  names: TaskNames,
  dir: string,
  log: TaskLog,
  signals: StopSignals,
  phases: Phases,
  facts: AttemptFacts,
): Promise<StepResult> {
  const { config, buckets } = ctx;
  if (
    config.CHECK_IF_DONE_BOOL &&
    (await timed(phases, "check if done", () => alreadyDone(ctx, names, log, signals.stop)))
  )
    return { kind: "skipped" };
  throwIfStopped(signals.stop);

  const kind = dataFileKind(task.data_file);
  const inputDir = join(dir, "input");
  const outputDir = join(dir, "output");
  const tempDir = join(dir, "tmp");
  await Promise.all([mkdir(inputDir, { recursive: true }), mkdir(tempDir, { recursive: true })]);
  const pipeline = join(inputDir, "pipeline", posix.basename(task.pipeline));
  const dataFile = join(inputDir, "data", posix.basename(task.data_file));
  await timed(phases, "inputs", () =>
    Promise.all([
      fetchObject(ctx, buckets.workspace, task.pipeline, pipeline, "pipeline", log, signals.stop),
      task.data_file !== task.pipeline || kind !== "h5"
        ? fetchObject(ctx, buckets.workspace, task.data_file, dataFile, "data file", log, signals.stop)
        : undefined,
    ]),
  );

  let imageInput: string;
  if (config.DOWNLOAD_FILES) {
    imageInput = await timed(phases, "images", () =>
      downloadImages(ctx, task, names, kind, dataFile, dir, log, signals.stop),
    );
  } else {
    imageInput = join(config.MOUNT_ROOT, task.input);
    if (!existsSync(imageInput))
      throw new TaskFailure(
        `input folder ${imageInput} does not exist (is SOURCE_BUCKET mounted at MOUNT_ROOT ${config.MOUNT_ROOT}?)`,
        { missingObject: true },
      );
    log.line(`using the bucket mount for images: -i ${imageInput}`);
  }
  throwIfStopped(signals.stop);

  let plugins: string | undefined;
  if (config.USE_PLUGINS) {
    const found = pluginsDirectory(config.PLUGINS_DIR);
    if (found.note) log.line(found.note);
    plugins = found.directory;
  }
  const doneFile = join(dir, "cp.is.done");
  const args = cellprofilerArgs({
    pipeline,
    input: imageInput,
    output: outputDir,
    doneFile,
    dataFile,
    dataKind: kind,
    group: names.groupArg,
    pluginsDirectory: plugins,
    alwaysContinue: config.ALWAYS_CONTINUE,
    tempDirectory: tempDir,
  });
  log.line(`running ${config.CELLPROFILER_COMMAND} ${args.map((a) => JSON.stringify(a)).join(" ")}`);
  const cpStarted = Date.now();
  const limit = timeLimit(config.TASK_TIMEOUT_MINUTES, signals.stop, log);
  const status = await timed(phases, "CellProfiler", () =>
    runCellProfiler(
      config.CELLPROFILER_COMMAND,
      args,
      (line) => {
        log.line(line);
        facts.tail.push(line);
      },
      limit.signal,
    ),
  ).finally(limit.dispose);
  const cellprofilerMs = Date.now() - cpStarted;
  if (status.stopped && limit.timedOut()) {
    facts.exit = { code: status.code, signal: status.signal };
    throw new TaskFailure(
      `CellProfiler ran longer than TASK_TIMEOUT_MINUTES (${config.TASK_TIMEOUT_MINUTES} min) and was stopped: it ${describeExit(status)}`,
      { timedOut: true },
    );
  }
  if (status.stopped) throw new TaskFailure("CellProfiler was stopped because the worker is stopping");
  const done = await readDoneFile(doneFile);
  facts.exit = { code: status.code, signal: status.signal };
  if (done !== undefined) facts.doneFile = done;
  if (status.code !== 0 || status.signal) {
    throw new TaskFailure(
      `CellProfiler ${describeExit(status)}${done ? ` and its done file reads "${done}"` : ", without a done file"}`,
    );
  }
  if (done === undefined) throw new TaskFailure("CellProfiler exited with code 0 but wrote no done file");
  if (done !== "Complete") throw new TaskFailure(`CellProfiler's done file reads "${done}", not "Complete"`);
  log.line(`CellProfiler finished (Complete) in ${(cellprofilerMs / 1000).toFixed(1)} s`);

  const outputs = await timed(phases, "upload", () => uploadOutputs(ctx, names, outputDir, log, signals.deadline));
  facts.outputs = outputs;
  return { kind: "done", files: outputs.length, cellprofilerMs };
}

/**
 * CellProfiler's stop signal: the worker's own stop, or TASK_TIMEOUT_MINUTES running out (null: no
 * limit). runCellProfiler then sends SIGTERM to its process group, and SIGKILL after KILL_GRACE_MS.
 */
function timeLimit(minutes: number | null, stop: AbortSignal, log: TaskLog) {
  const controller = new AbortController();
  const onStop = () => controller.abort();
  if (stop.aborted) controller.abort();
  else stop.addEventListener("abort", onStop, { once: true });
  let timedOut = false;
  const timer =
    minutes === null
      ? undefined
      : setTimeout(() => {
          timedOut = !controller.signal.aborted;
          if (timedOut) log.line(`TASK_TIMEOUT_MINUTES (${minutes} min) reached: stopping CellProfiler`);
          controller.abort();
        }, minutes * 60_000);
  return {
    signal: controller.signal,
    timedOut: () => timedOut,
    dispose: () => {
      clearTimeout(timer);
      stop.removeEventListener("abort", onStop);
    },
  };
}

async function alreadyDone(ctx: WorkerContext, names: TaskNames, log: TaskLog, signal: AbortSignal): Promise<boolean> {
  const { MIN_FILE_SIZE_BYTES, NECESSARY_STRING } = ctx.config;
  const objects = await listObjects(ctx.s3, ctx.buckets.destination, names.outputPrefix, signal);
  const { counted, needed, done } = checkIfDone(objects, doneRule(ctx.config));
  if (done) {
    log.line(
      `CHECK_IF_DONE: ${counted} files of at least ${MIN_FILE_SIZE_BYTES} bytes${NECESSARY_STRING ? ` containing "${NECESSARY_STRING}"` : ""} already under s3://${ctx.buckets.destination}/${names.outputPrefix} (expected ${needed}): skipped, message deleted`,
    );
    return true;
  }
  log.line(`CHECK_IF_DONE: ${counted} of ${needed} expected files present; running`);
  return false;
}

/** NoSuchKey / NotFound / NoSuchBucket, or any 404 (an S3-compatible store may name it otherwise). */
function isMissingObject(err: unknown): boolean {
  return isNotFound(err) || (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404;
}

async function fetchObject(
  ctx: WorkerContext,
  bucket: string,
  key: string,
  file: string,
  what: string,
  log: TaskLog,
  signal: AbortSignal,
): Promise<void> {
  try {
    await downloadToFile(ctx.s3, bucket, key, file, signal);
  } catch (err) {
    if (isMissingObject(err))
      throw new TaskFailure(
        `the ${what} s3://${bucket}/${key} does not exist (WORKSPACE_BUCKET holds pipelines and data files)`,
        transferFacts(err),
      );
    throw new TaskFailure(
      `cannot download the ${what} s3://${bucket}/${key}: ${describeError(err)}`,
      transferFacts(err),
    );
  }
  log.line(`downloaded the ${what} s3://${bucket}/${key}`);
}

/** Download mode: this group's images, and the data file rewritten to point at them. Returns `-i`. */
async function downloadImages(
  ctx: WorkerContext,
  task: ParsedTask,
  names: TaskNames,
  kind: string,
  dataFile: string,
  dir: string,
  log: TaskLog,
  signal: AbortSignal,
): Promise<string> {
  const localRoot = join(dir, "bucket");
  const layout = { mountRoot: ctx.config.MOUNT_ROOT, localRoot, input: task.input.replace(/\/+$/, "") };
  const text = await readFile(dataFile, "utf8");
  let downloads: Download[];
  if (kind === "csv") {
    const table = parseCsv(text, task.data_file);
    let rows: ReturnType<typeof groupRows>;
    try {
      rows = groupRows(table, names.group, task.data_file);
    } catch (err) {
      if (err instanceof TaskInputError) throw new TaskFailure(err.message, { groupingMismatch: true });
      throw err;
    }
    const plan = planCsvDownloads(rows, layout, task.data_file);
    await writeFile(dataFile, stringifyCsv(plan.table));
    downloads = plan.downloads;
    log.line(`DOWNLOAD_FILES: ${rows.rows.length} rows of ${task.data_file} belong to this group`);
  } else if (kind === "txt") {
    const plan = planFileListDownloads(text, layout, task.data_file);
    await writeFile(dataFile, plan.text);
    downloads = plan.downloads;
  } else {
    throw new TaskInputError(
      "data_file",
      "DOWNLOAD_FILES cannot be used with a .h5 batch file; set DOWNLOAD_FILES to false (mount mode)",
    );
  }
  await mapLimit(downloads, ctx.config.DOWNLOAD_CONCURRENCY, async (d) => {
    try {
      await downloadToFile(ctx.s3, ctx.buckets.source, d.key, d.file, signal);
    } catch (err) {
      if (isMissingObject(err))
        throw new TaskFailure(`missing input: s3://${ctx.buckets.source}/${d.key} does not exist`, transferFacts(err));
      throw new TaskFailure(
        `cannot download s3://${ctx.buckets.source}/${d.key}: ${describeError(err)}`,
        transferFacts(err),
      );
    }
  });
  log.line(`DOWNLOAD_FILES: downloaded ${downloads.length} files from s3://${ctx.buckets.source}`);
  const input = join(localRoot, layout.input);
  await mkdir(input, { recursive: true });
  return input;
}

async function listFiles(root: string): Promise<string[]> {
  if (!existsSync(root)) return [];
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath ?? (e as unknown as { path: string }).path, e.name));
}

/** Uploads the output folder in parallel, then checks every object landed with its size. */
async function uploadOutputs(
  ctx: WorkerContext,
  names: TaskNames,
  outputDir: string,
  log: TaskLog,
  signal: AbortSignal,
): Promise<Array<{ key: string; size: number }>> {
  const files = await listFiles(outputDir);
  if (!files.length) log.line("warning: CellProfiler wrote no output files");
  const bucket = ctx.buckets.destination;
  const expected = new Map<string, number>();
  await mapLimit(files, ctx.config.UPLOAD_CONCURRENCY, async (file) => {
    const key = names.outputPrefix + relative(outputDir, file).split(sep).join("/");
    const size = (await stat(file)).size;
    expected.set(key, size);
    try {
      await uploadFile(ctx.s3, { Bucket: bucket, Key: key, ...ctx.uploadParams }, file, size, signal);
    } catch (err) {
      throw new TaskFailure(`upload of ${key} to s3://${bucket} failed: ${describeError(err)}`, {
        throttled: transferFacts(err).throttled,
      });
    }
  });
  const landed = new Map((await listObjects(ctx.s3, bucket, names.outputPrefix)).map((o) => [o.key, o.size]));
  for (const [key, size] of expected) {
    if (landed.get(key) !== size)
      throw new TaskFailure(
        `upload check failed: s3://${bucket}/${key} is ${landed.has(key) ? `${landed.get(key)} bytes, not ${size}` : "missing"}`,
      );
  }
  log.line(`uploaded ${files.length} files to s3://${bucket}/${names.outputPrefix} and checked their sizes`);
  return [...expected].map(([key, size]) => ({ key, size }));
}
