import { MAX_MESSAGE_BYTES } from "./message.js";

/** SendMessageBatch takes at most 10 entries, whose bodies may total at most 256 KiB. */
export const MAX_BATCH_ENTRIES = 10;
export const MAX_BATCH_BYTES = MAX_MESSAGE_BYTES;

/**
 * Groups items into SendMessageBatch-sized batches in input order: at most `maxEntries` items and
 * at most `maxBytes` of bodies per batch. Reads its source lazily, so only the batch being filled
 * is held. An item larger than `maxBytes` on its own goes in a batch alone (SQS will refuse it;
 * callers filter those out first).
 */
export async function* packBatches<T extends { bytes: number }>(
  items: AsyncIterable<T> | Iterable<T>,
  maxEntries = MAX_BATCH_ENTRIES,
  maxBytes = MAX_BATCH_BYTES,
): AsyncGenerator<T[]> {
  let batch: T[] = [];
  let bytes = 0;
  for await (const item of items) {
    if (batch.length && (batch.length === maxEntries || bytes + item.bytes > maxBytes)) {
      yield batch;
      batch = [];
      bytes = 0;
    }
    batch.push(item);
    bytes += item.bytes;
  }
  if (batch.length) yield batch;
}

/** Delay before retry `attempt` (1-based): exponential from `baseMs`, capped, with full jitter. */
export function retryDelayMs(
  attempt: number,
  baseMs: number,
  capMs = 10_000,
  random: () => number = Math.random,
): number {
  return Math.round(random() * Math.min(capMs, baseMs * 2 ** (attempt - 1)));
}
