/**
 * Reading a whole queue (the dead-letter queue) without consuming it: receive until a long poll
 * comes back empty, every message hidden for long enough to finish reading, then make every message
 * not consumed visible again (ChangeMessageVisibilityBatch to 0) in a `finally`, so an error or a
 * Ctrl-C (the flow's interruptOnSignals aborts `signal`; reading stops at the next call) leaves the
 * queue as it was. `dcp failures` only reads; `dcp retry --from-dlq` consumes some messages while
 * it holds them (send to the job queue, then delete from here) and the rest are released.
 *
 * SQS facts relied on (SQS API reference): ReceiveMessage returns at most 10 messages per call and
 * hides them for VisibilityTimeout seconds (at most 12 hours); a short poll samples only some
 * servers, a long poll (WaitTimeSeconds > 0) asks all of them; ChangeMessageVisibilityBatch and
 * DeleteMessageBatch take at most 10 entries and report each entry's result even with HTTP 200; a
 * standard queue holds at most 120,000 messages in flight.
 */
import type { Message, SQSClient } from "@aws-sdk/client-sqs";
import {
  MAX_VISIBILITY_SECONDS,
  SQS_BATCH_LIMIT,
  changeVisibilityBatch,
  queueActivity,
  receiveMessages,
} from "../aws/sqs.js";
import { mapLimit } from "../concurrency.js";

/** ChangeMessageVisibilityBatch calls in flight at once when releasing. */
const RELEASE_CONCURRENCY = 8;

/** A standard queue's limit on messages in flight (received, not deleted): reading stops there. */
export const MAX_IN_FLIGHT = 120_000;

export interface HeldMessage {
  messageId: string;
  receiptHandle: string;
  body: string;
  /** ApproximateReceiveCount when this read received it (this read included) */
  receiveCount: number;
  message: Message;
}

export interface QueueReading {
  messages: HeldMessage[];
  /** The queue's counts before reading: messages already in flight cannot be read (someone holds them). */
  before: { visible: number; inFlight: number; delayed: number };
  /** true when reading stopped early (Ctrl-C, or the in-flight limit): the list is partial */
  partial: boolean;
  /** Messages whose release failed: visible again when the hold ends (`holdSeconds`). */
  notReleased: number;
  holdSeconds: number;
}

export interface HoldOptions {
  signal?: AbortSignal | undefined;
  /** Long-poll wait of each receive (default 1 s: the first empty answer ends the reading). */
  waitSeconds?: number;
  /** Override the hold (default: sized from the queue's depth, at least 2 minutes). */
  holdSeconds?: number;
  onProgress?: (read: number) => void;
  /** Told when a release call fails (those messages come back when their hold ends). */
  warn?: (text: string) => void;
}

/**
 * How long each received message stays hidden: long enough to read the whole queue at a pessimistic
 * second per ReceiveMessage call of 10, plus two minutes for the work done while holding them.
 */
export function holdSecondsFor(depth: number): number {
  return Math.min(MAX_VISIBILITY_SECONDS, 120 + Math.ceil(depth / SQS_BATCH_LIMIT));
}

/**
 * Receives every message of the queue, runs `use` with them while they are hidden, then releases
 * every one `use` did not mark as consumed (by message id), whatever happened.
 */
export async function withQueueHeld<T>(
  sqs: SQSClient,
  url: string,
  options: HoldOptions,
  use: (reading: QueueReading, consumed: Set<string>) => Promise<T>,
): Promise<T> {
  const before = await queueActivity(sqs, url);
  const holdSeconds = options.holdSeconds ?? holdSecondsFor(before.visible + before.delayed);
  const byId = new Map<string, HeldMessage>();
  const consumed = new Set<string>();
  const reading: QueueReading = { messages: [], before, partial: false, notReleased: 0, holdSeconds };
  try {
    while (true) {
      if (options.signal?.aborted || byId.size >= MAX_IN_FLIGHT - SQS_BATCH_LIMIT) {
        reading.partial = true;
        break;
      }
      const batch = await receiveMessages(
        sqs,
        url,
        { visibilitySeconds: holdSeconds, waitSeconds: options.waitSeconds ?? 1 },
        options.signal,
      ).catch((err: unknown) => {
        if (options.signal?.aborted) return undefined;
        throw err;
      });
      if (batch === undefined) {
        reading.partial = true;
        break;
      }
      if (!batch.length) break;
      for (const m of batch) {
        if (!m.MessageId || !m.ReceiptHandle) continue;
        // Received again (its hold ran out): the newest receipt handle is the one that works.
        byId.set(m.MessageId, {
          messageId: m.MessageId,
          receiptHandle: m.ReceiptHandle,
          body: m.Body ?? "",
          receiveCount: Number(m.Attributes?.ApproximateReceiveCount ?? 1),
          message: m,
        });
      }
      options.onProgress?.(byId.size);
    }
    reading.messages = [...byId.values()];
    return await use(reading, consumed);
  } finally {
    reading.notReleased = await releaseAll(
      sqs,
      url,
      [...byId.values()].filter((m) => !consumed.has(m.messageId)),
      options.warn,
    );
  }
}

/**
 * Every message of a queue no worker reads (a dead-letter queue, or a job queue before its fleet starts),
 * read completely and left as it was: withQueueHeld with nothing consumed.
 */
export async function readWholeQueue(
  sqs: SQSClient,
  url: string,
  options: HoldOptions = {},
): Promise<Pick<QueueReading, "messages" | "before" | "partial">> {
  return withQueueHeld(sqs, url, options, async ({ messages, before, partial }) => ({ messages, before, partial }));
}

/** Makes the messages visible again, 10 per call; returns how many could not be released. */
async function releaseAll(
  sqs: SQSClient,
  url: string,
  messages: readonly HeldMessage[],
  warn: ((text: string) => void) | undefined,
): Promise<number> {
  const batches: Array<Array<{ id: string; receiptHandle: string }>> = [];
  for (let i = 0; i < messages.length; i += SQS_BATCH_LIMIT)
    batches.push(
      messages.slice(i, i + SQS_BATCH_LIMIT).map((m, j) => ({ id: String(j), receiptHandle: m.receiptHandle })),
    );
  let failed = 0;
  // Several calls at once: a queue of 100,000 messages is released in 10,000 calls.
  await mapLimit(batches, RELEASE_CONCURRENCY, async (entries) => {
    try {
      failed += (await changeVisibilityBatch(sqs, url, entries, 0)).failed.length;
    } catch (err) {
      failed += entries.length;
      warn?.(`could not make ${entries.length} messages visible again: ${(err as Error).message ?? String(err)}`);
    }
  });
  return failed;
}
