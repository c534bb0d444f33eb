/**
 * The submit engine that `dcp submit` and `dcp make-jobs --submit` both use.
 *
 *   submitMessages(config, messages, { output, total?, concurrency?, unsentFile?, throwOnUnsent? })
 *     : Promise<SubmitReport>
 *     messages: AsyncIterable<DcpMessage> | Iterable<DcpMessage>, read lazily (a generator is fine).
 *     Looks up SQS_QUEUE_NAME (OperationalError "run `dcp setup`" when missing), sends each message
 *     once with SendMessageBatch under bounded concurrency, shows progress, reads the queue depth.
 *     Messages SQS refused, and after a Ctrl-C (or options.signal) those never started, are written
 *     to `unsentFile` (a job file that resubmits exactly them) and, unless throwOnUnsent is false,
 *     an OperationalError follows. SubmitReport: { queue, queueUrl, sent, unsent: UnsentMessage[],
 *     notSent, interrupted, unsentFile?, queueDepth, calls, retried, seconds }.
 *   sendMessages(sqs, queueUrl, messages, options?): Promise<SendResult>: the engine without output.
 *   checkJobFile(file) and jobFileMessages(checked) in src/submit/job-reader.ts stream a job file:
 *     pass 1 validates and counts (Promise<CheckedJobFile>, throws one UserInputError), pass 2
 *     yields one DcpMessage per group. readJobFile(file) yields the raw entries (top-level keys,
 *     `groups` elements) in file order; src/plan/job-file.ts has the per-value validators.
 */
import { once } from "node:events";
import { createWriteStream } from "node:fs";
import type { SQSClient } from "@aws-sdk/client-sqs";
import { awsContext } from "../aws/context.js";
import {
  findQueueUrl,
  queueActivity,
  sendMessageBatch,
  sqsSendClient,
  type BatchEntry,
  type BatchOutcome,
} from "../aws/sqs.js";
import type { Config } from "../config/schema.js";
import { OperationalError, UserInputError } from "../errors.js";
import { MAX_BATCH_BYTES, packBatches, retryDelayMs } from "../plan/job-batch.js";
import type { SharedValues } from "../plan/job-file.js";
import { SHARED_KEYS, messageBody, type DcpMessage } from "../plan/message.js";
import { progressBar, type Output } from "../ui/output.js";
import { isThrottling } from "../aws/errors.js";
import { interruptOnSignals } from "../signals.js";
import { sleep } from "../sleep.js";

export const DEFAULT_CONCURRENCY = 16;
export const DEFAULT_MAX_ATTEMPTS = 5;
/** Without a TTY (tmux piped to a file, CI), progress lines come at most this often. */
export const PLAIN_PROGRESS_MS = 5000;

export type BatchSender = (entries: readonly BatchEntry[]) => Promise<BatchOutcome>;

export interface SendOptions {
  /** SendMessageBatch calls in flight at once (default 16). */
  concurrency?: number;
  /** Sends per entry before it is reported unsent (default 5). */
  maxAttempts?: number;
  /** First retry delay; doubles per attempt, with jitter (default 200 ms). */
  retryBaseMs?: number;
  onProgress?: (progress: { sent: number; unsent: number }) => void;
  /** Replaces the SendMessageBatch call (tests and benchmarks). */
  sendBatch?: BatchSender;
  /** Stops taking new batches (the calls in flight finish); the rest is returned as `notStarted`. */
  signal?: AbortSignal;
}

export interface UnsentMessage {
  /** Position of the message in the input (the group index for a job file). */
  seq: number;
  message: DcpMessage;
  code: string;
  reason: string;
  senderFault: boolean;
}

export interface SendResult {
  sent: number;
  unsent: UnsentMessage[];
  /** SendMessageBatch calls made, retries included. */
  calls: number;
  /** Entries sent again after SQS reported them failed. */
  retried: number;
  seconds: number;
  /** After an abort: the messages never handed to SQS, in input order (read them once). */
  notStarted: AsyncIterable<DcpMessage> | undefined;
}

interface Item {
  seq: number;
  message: DcpMessage;
  body: string;
  bytes: number;
}

/**
 * Sends every message exactly once: batches of up to 10 (and 256 KiB), `concurrency` calls in
 * flight, and only the entries a batch reports failed (not sender faults) are sent again, with
 * backoff, up to `maxAttempts`. A call that fails as a whole with a client fault (no queue, no
 * permission) stops everything; other call failures are retried like failed entries.
 */
export async function sendMessages(
  sqs: SQSClient | undefined,
  queueUrl: string,
  messages: AsyncIterable<DcpMessage> | Iterable<DcpMessage>,
  options: SendOptions = {},
): Promise<SendResult> {
  const concurrency = Math.max(1, options.concurrency ?? DEFAULT_CONCURRENCY);
  const maxAttempts = Math.max(1, options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS);
  const retryBaseMs = options.retryBaseMs ?? 200;
  const sendBatch: BatchSender =
    options.sendBatch ??
    ((entries) => {
      if (!sqs) throw new Error("sendMessages needs an SQS client or a sendBatch function");
      return sendMessageBatch(sqs, queueUrl, entries);
    });
  const started = performance.now();
  const result: SendResult = { sent: 0, unsent: [], calls: 0, retried: 0, seconds: 0, notStarted: undefined };
  const report = () => options.onProgress?.({ sent: result.sent, unsent: result.unsent.length });
  const giveUp = (item: Item, code: string, reason: string, senderFault: boolean) =>
    result.unsent.push({ seq: item.seq, message: item.message, code, reason, senderFault });

  async function* items(): AsyncGenerator<Item> {
    let seq = 0;
    for await (const message of messages) {
      const body = messageBody(message);
      const item = { seq: seq++, message, body, bytes: Buffer.byteLength(body) };
      if (item.bytes > MAX_BATCH_BYTES) {
        giveUp(item, "MessageTooLong", `the body is ${item.bytes} bytes, over SQS's limit of ${MAX_BATCH_BYTES}`, true);
        report();
        continue;
      }
      yield item;
    }
  }

  async function sendWithRetries(batch: Item[]): Promise<void> {
    let pending = batch;
    for (let attempt = 1; pending.length; attempt++) {
      const byId = new Map(pending.map((item) => [String(item.seq), item]));
      let outcome: BatchOutcome;
      try {
        result.calls += 1;
        outcome = await sendBatch(pending.map((item) => ({ Id: String(item.seq), MessageBody: item.body })));
      } catch (err) {
        if (isClientFault(err) || attempt >= maxAttempts) throw err;
        result.retried += pending.length;
        await sleep(retryDelayMs(attempt, retryBaseMs));
        continue;
      }
      const retry: Item[] = [];
      for (const id of outcome.successful) {
        if (byId.delete(id)) result.sent += 1;
      }
      for (const failure of outcome.failed) {
        const item = byId.get(failure.id);
        if (!item) continue;
        byId.delete(failure.id);
        if (failure.senderFault || failure.queued || attempt >= maxAttempts)
          giveUp(item, failure.code, failure.message || failure.code, failure.senderFault);
        else retry.push(item);
      }
      // An entry SQS neither accepted nor refused may or may not be queued: report it, never resend it.
      for (const item of byId.values())
        giveUp(item, "NoResult", "SQS's reply did not mention this entry; it may or may not be queued", false);
      report();
      pending = retry;
      if (retry.length) {
        result.retried += retry.length;
        await sleep(retryDelayMs(attempt, retryBaseMs));
      }
    }
  }

  const batches = packBatches(items());
  let failure: unknown;
  const worker = async () => {
    while (failure === undefined && !options.signal?.aborted) {
      // Async generators queue concurrent next() calls, so each batch goes to exactly one worker.
      const next = await batches.next();
      if (next.done) return;
      await sendWithRetries(next.value);
    }
  };
  await Promise.all(
    Array.from({ length: concurrency }, () =>
      worker().catch((err: unknown) => {
        failure ??= err;
      }),
    ),
  );
  result.seconds = (performance.now() - started) / 1000;
  if (failure !== undefined) {
    if (failure instanceof UserInputError) throw failure;
    const err = failure as { name?: string; message?: string };
    const what =
      failure instanceof OperationalError ? err.message : `${err.name ?? "Error"}: ${err.message ?? String(failure)}`;
    throw new OperationalError(
      `sending stopped: ${what}. ${result.sent} messages were sent before it` +
        " (calls in flight may have queued a few more; check the queue before sending the rest)",
    );
  }
  if (options.signal?.aborted) result.notStarted = rest(batches);
  return result;
}

/** What a batch generator has not handed out yet, message by message (a held-back item included). */
async function* rest(batches: AsyncGenerator<Item[]>): AsyncGenerator<DcpMessage> {
  for await (const batch of batches) for (const item of batch) yield item.message;
}

function isClientFault(err: unknown): boolean {
  const e = err as { $fault?: string; $metadata?: { httpStatusCode?: number }; name?: string };
  if (isThrottling(err)) return false;
  return e.$fault === "client";
}

export interface SubmitOptions extends Pick<SendOptions, "concurrency" | "maxAttempts" | "retryBaseMs"> {
  output: Output;
  /** Number of messages, for the progress bar. */
  total?: number;
  /** Where refused messages are written as a job file (default: dcp-unsent-<time>.json). */
  unsentFile?: string;
  /** Throw an OperationalError when some messages were not sent (default true). */
  throwOnUnsent?: boolean;
  /** Stops sending (default: the first Ctrl-C; a second one exits at once). */
  signal?: AbortSignal;
  /** Shared values for the unsent-messages file (a group then carries only what differs, as DCP expects). */
  shared?: SharedValues;
}

export interface SubmitReport {
  queue: string;
  queueUrl: string;
  sent: number;
  /** Messages SQS refused (at most the first 1000 are kept). */
  unsent: UnsentMessage[];
  /** Refused plus, after Ctrl-C, never sent: all of them are in unsentFile. */
  notSent: number;
  interrupted: boolean;
  unsentFile: string | undefined;
  /** ApproximateNumberOfMessages after sending. */
  queueDepth: number;
  calls: number;
  retried: number;
  seconds: number;
}

/** Looks up the job queue, sends the messages with progress, reports the queue depth. */
export async function submitMessages(
  config: Config,
  messages: AsyncIterable<DcpMessage> | Iterable<DcpMessage>,
  options: SubmitOptions,
): Promise<SubmitReport> {
  const { output } = options;
  const queue = config.SQS_QUEUE_NAME;
  const sqs = sqsSendClient(awsContext(config));
  const queueUrl = await findQueueUrl(sqs, queue);
  if (!queueUrl) {
    throw new OperationalError(
      `the job queue ${queue} does not exist in ${config.AWS_REGION}. Run \`dcp setup\` first (it creates the queue and its dead-letter queue), or check SQS_QUEUE_NAME and AWS_REGION in the config`,
    );
  }
  const before = await queueActivity(sqs, queueUrl);
  if (before.visible + before.inFlight > 0) {
    output.warn(
      `${queue} already holds about ${before.visible + before.inFlight} messages (an earlier submit?); these are added to them`,
    );
  }
  const total = options.total;
  output.line(`Sending ${total ?? "the"} messages to ${queue} (${config.AWS_REGION})`);
  // Ctrl-C once: stop taking new batches and save the rest; twice: exit at once.
  const stop = options.signal ? undefined : interruptOnSignals();
  const stopping =
    "interrupted: finishing the calls in flight, then saving the groups not sent (Ctrl-C again to quit at once)";
  let sent: SendResult;
  try {
    sent = await output.step(
      "Sending",
      (handle) => {
        const throttle = progressThrottle(output.interactive ? 100 : PLAIN_PROGRESS_MS);
        const started = performance.now();
        // A plain line would break the spinner's line on a terminal: say it in the step's text there.
        stop?.signal.addEventListener("abort", () =>
          output.interactive ? handle.update(stopping) : output.warn(stopping),
        );
        return sendMessages(sqs, queueUrl, messages, {
          ...options,
          signal: options.signal ?? stop?.signal,
          onProgress: ({ sent, unsent }) => {
            if (stop?.signal.aborted || !throttle()) return;
            const rate = Math.round(sent / Math.max(0.001, (performance.now() - started) / 1000));
            const done = total ? progressBar(sent + unsent, total, 20) : `${sent} sent`;
            handle.update(`${done}${unsent ? `, ${unsent} unsent` : ""}, ${rate} msgs/s`);
          },
        });
      },
      (r) =>
        `${r.notStarted ? "interrupted: " : ""}${r.sent} sent in ${r.seconds.toFixed(1)} s (${Math.round(r.sent / Math.max(r.seconds, 0.001))} msgs/s, ${r.calls} SendMessageBatch calls)`,
    );
  } finally {
    stop?.dispose();
  }
  const depth = (await queueActivity(sqs, queueUrl)).visible;
  output.line(`Queue ${queue} now holds about ${depth} messages waiting for workers.`);

  let unsentFile: string | undefined;
  let notSent = 0;
  if (sent.unsent.length || sent.notStarted) {
    unsentFile = options.unsentFile ?? `dcp-unsent-${new Date().toISOString().replace(/[:.]/g, "-")}.json`;
    notSent = await writeUnsentJobFile(unsentFile, sent.unsent, sent.notStarted, options.shared);
    for (const u of sent.unsent.slice(0, 10)) output.warn(`groups[${u.seq}] not sent: ${u.code}: ${u.reason}`);
    if (sent.unsent.length > 10) output.warn(`... and ${sent.unsent.length - 10} more`);
    output.warn(
      `${notSent} messages were not sent; they are in ${unsentFile} (a job file: fix and \`dcp submit\` it to send just those)`,
    );
  }
  const report: SubmitReport = {
    queue,
    queueUrl,
    sent: sent.sent,
    unsent: sent.unsent.slice(0, 1000),
    notSent,
    interrupted: Boolean(sent.notStarted),
    unsentFile,
    queueDepth: depth,
    calls: sent.calls,
    retried: sent.retried,
    seconds: sent.seconds,
  };
  if (unsentFile && options.throwOnUnsent !== false) throw unsentError(report);
  return report;
}

export function unsentError(report: SubmitReport): OperationalError {
  const what = `${report.notSent} of ${report.sent + report.notSent} messages were not sent (listed in ${report.unsentFile}); the ${report.sent} others were sent once`;
  return new OperationalError(report.interrupted ? `interrupted: ${what}` : what);
}

/** Returns true at most once per `intervalMs`, counted from its creation. */
export function progressThrottle(intervalMs: number): () => boolean {
  let last = performance.now();
  return () => {
    const now = performance.now();
    if (now - last < intervalMs) return false;
    last = now;
    return true;
  };
}

/**
 * A job file holding only the messages not sent (refused ones, then those never started), each
 * group carrying all its values (the dcp extension), written as a stream. Returns how many.
 */
async function writeUnsentJobFile(
  file: string,
  refused: readonly UnsentMessage[],
  notStarted: AsyncIterable<DcpMessage> | undefined,
  shared: SharedValues = {},
): Promise<number> {
  const out = createWriteStream(file);
  const closed = once(out, "close");
  const write = async (text: string) => {
    if (!out.write(text)) await once(out, "drain");
  };
  const comment = JSON.stringify(`Messages dcp submit did not send (${new Date().toISOString()})`);
  const head = Object.entries(shared).map(([key, value]) => `  ${JSON.stringify(key)}: ${JSON.stringify(value)},\n`);
  await write(`{\n  "_comment": ${comment},\n${head.join("")}  "groups": [\n`);
  let count = 0;
  const group = async (message: DcpMessage) =>
    write(`${count++ ? ",\n" : ""}    ${JSON.stringify(unsentGroup(message, shared))}`);
  for (const u of [...refused].sort((a, b) => a.seq - b.seq)) await group(u.message);
  if (notStarted) for await (const message of notStarted) await group(message);
  out.end("\n  ]\n}\n");
  await closed;
  return count;
}

/** A message as a group of a job file with `shared` values: Metadata plus only the values that differ. */
function unsentGroup(message: DcpMessage, shared: SharedValues): Record<string, unknown> {
  const group: Record<string, unknown> = { Metadata: message.Metadata };
  for (const key of SHARED_KEYS) if (shared[key] !== message[key]) group[key] = message[key];
  return group;
}

export function unsentFileFor(file: string): string {
  const stem = file.replace(/\.json$/i, "");
  return `${stem}.unsent-${new Date().toISOString().replace(/[:.]/g, "-")}.json`;
}
