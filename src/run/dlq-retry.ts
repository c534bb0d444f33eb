/**
 * `dcp retry --from-dlq`: moving dead-letter messages back to the job queue, batch by batch: send
 * (SendMessageBatch, 10 at most), record the ids sent in a local journal, then delete them from the
 * dead-letter queue (DeleteMessageBatch). Nothing is lost: a message leaves the dead-letter queue
 * only after the job queue took it. No duplicate on a re-run: what was sent and deleted is gone
 * from the dead-letter queue, and what was sent but not deleted (a failed delete, Ctrl-C) is in the
 * journal, so the next run deletes it without sending it again. The one window left is a process
 * killed during a SendMessageBatch call, before the journal is written: that batch (10 messages at
 * most) may be sent twice. A retried message drops PRIOR_RECEIVES_ATTRIBUTE, so the worker counts
 * its attempts afresh.
 */
import { existsSync } from "node:fs";
import { readFile, rm, writeFile } from "node:fs/promises";
import type { MessageAttributeValue, SQSClient } from "@aws-sdk/client-sqs";
import { z } from "zod";
import { SQS_BATCH_LIMIT, deleteMessageBatch, sendMessageBatch } from "../aws/sqs.js";
import { writeAtomically } from "../io/atomic-write.js";
import { PRIOR_RECEIVES_ATTRIBUTE } from "../plan/message.js";
import type { HeldMessage } from "./queue-reading.js";

const journalSchema = z.object({
  version: z.literal(1),
  deadLetterQueue: z.string(),
  jobQueue: z.string(),
  /** message id in the dead-letter queue → its body, for messages sent to the job queue and not yet deleted */
  sent: z.record(z.string(), z.string()),
});
type Journal = z.output<typeof journalSchema>;

/** Where retry remembers what it sent but has not deleted yet (next to the run's state file). */
export function journalPath(stateFile: string): string {
  return stateFile.replace(/SpotFleetRequestId\.json$/, "").replace(/\.json$/, "") + "RetryJournal.json";
}

export async function readJournal(path: string, deadLetterQueue: string, jobQueue: string): Promise<Journal> {
  const empty: Journal = { version: 1, deadLetterQueue, jobQueue, sent: {} };
  if (!existsSync(path)) return empty;
  const parsed = journalSchema.safeParse(JSON.parse(await readFile(path, "utf8").catch(() => "null")));
  if (!parsed.success || parsed.data.deadLetterQueue !== deadLetterQueue) return empty;
  return parsed.data;
}

async function saveJournal(path: string, journal: Journal): Promise<void> {
  if (!Object.keys(journal.sent).length) {
    await rm(path, { force: true });
    return;
  }
  await writeAtomically(path, (temp) => writeFile(temp, `${JSON.stringify(journal, null, 2)}\n`));
}

/** The attributes a retried message keeps: all but PRIOR_RECEIVES_ATTRIBUTE, as SendMessage takes them. */
export function retriedAttributes(
  attributes: Record<string, MessageAttributeValue> | undefined,
): Record<string, MessageAttributeValue> | undefined {
  const kept = Object.entries(attributes ?? {})
    .filter(([name]) => name !== PRIOR_RECEIVES_ATTRIBUTE)
    .map(([name, v]): [string, MessageAttributeValue] => [
      name,
      {
        DataType: v.DataType,
        ...(v.StringValue !== undefined ? { StringValue: v.StringValue } : {}),
        ...(v.BinaryValue !== undefined ? { BinaryValue: v.BinaryValue } : {}),
      },
    ]);
  return kept.length ? Object.fromEntries(kept) : undefined;
}

export interface MoveReport {
  /** sent to the job queue and deleted from the dead-letter queue */
  moved: number;
  /** of those, sent by an earlier, interrupted run (only deleted now) */
  finishedFromJournal: number;
  /** refused by SendMessageBatch: still in the dead-letter queue */
  refused: Array<{ messageId: string; reason: string }>;
  /** sent but not deleted (recorded in the journal): the next run deletes them without sending them again */
  sentNotDeleted: number;
  /** stopped between batches (Ctrl-C) */
  interrupted: boolean;
  /** why it stopped early, when a call failed */
  failure?: string;
}

export interface MoveOptions {
  sqs: SQSClient;
  deadLetterUrl: string;
  jobUrl: string;
  journalFile: string;
  /** ids of every message of the dead-letter queue read now (journal entries of others are stale) */
  present: ReadonlySet<string>;
  signal?: AbortSignal | undefined;
  onBatch?: (done: number) => void;
}

/** Moves `messages` (held by withQueueHeld) batch by batch; adds each one deleted to `consumed`. */
export async function moveToJobQueue(
  messages: readonly HeldMessage[],
  consumed: Set<string>,
  options: MoveOptions,
): Promise<MoveReport> {
  const { sqs } = options;
  const journal = await readJournal(options.journalFile, options.deadLetterUrl, options.jobUrl);
  // Entries whose message left the dead-letter queue since (deleted after all) are done with.
  for (const id of Object.keys(journal.sent)) if (!options.present.has(id)) delete journal.sent[id];
  const report: MoveReport = { moved: 0, finishedFromJournal: 0, refused: [], sentNotDeleted: 0, interrupted: false };
  try {
    for (let i = 0; i < messages.length; i += SQS_BATCH_LIMIT) {
      if (options.signal?.aborted) {
        report.interrupted = true;
        break;
      }
      const batch = messages.slice(i, i + SQS_BATCH_LIMIT);
      const earlier = batch.filter((m) => journal.sent[m.messageId] !== undefined);
      const toSend = batch.filter((m) => journal.sent[m.messageId] === undefined);
      const sent: HeldMessage[] = [];
      if (toSend.length) {
        const outcome = await sendMessageBatch(
          sqs,
          options.jobUrl,
          toSend.map((m, j) => {
            const attributes = retriedAttributes(m.message.MessageAttributes);
            return { Id: String(j), MessageBody: m.body, ...(attributes ? { MessageAttributes: attributes } : {}) };
          }),
        );
        const failed = new Map(outcome.failed.map((f) => [f.id, f]));
        toSend.forEach((m, j) => {
          const f = failed.get(String(j));
          // queued: SQS took it though not as sent (MD5): it is in the job queue, so it leaves here.
          if (!f || f.queued) sent.push(m);
          else report.refused.push({ messageId: m.messageId, reason: `${f.code}: ${f.message}` });
        });
        for (const m of sent) journal.sent[m.messageId] = m.body;
        await saveJournal(options.journalFile, journal);
      }
      const toDelete = [...earlier, ...sent];
      if (!toDelete.length) continue;
      const deleted = await deleteMessageBatch(
        sqs,
        options.deadLetterUrl,
        toDelete.map((m, j) => ({ id: String(j), receiptHandle: m.receiptHandle })),
      );
      const notDeleted = new Set(deleted.failed.map((f) => f.id));
      toDelete.forEach((m, j) => {
        if (notDeleted.has(String(j))) return;
        consumed.add(m.messageId);
        delete journal.sent[m.messageId];
        report.moved += 1;
        if (earlier.includes(m)) report.finishedFromJournal += 1;
      });
      await saveJournal(options.journalFile, journal);
      options.onBatch?.(report.moved);
    }
  } catch (err) {
    report.failure = (err as Error).message ?? String(err);
  }
  report.sentNotDeleted = Object.keys(journal.sent).length;
  return report;
}
