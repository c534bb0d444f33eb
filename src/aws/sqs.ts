import type { SQSClient, MessageAttributeValue, Message } from "@aws-sdk/client-sqs";
import { sdk } from "./sdk.js";
import { hash } from "node:crypto";
import { clientOptions, endpointOverridden, instrument, type AwsContext } from "./context.js";
import { awsErrorName, doneUnlessGone, isNotFound, unlessNotFound } from "./errors.js";
import { diffQueueAttributes, type QueueAttributes } from "../plan/queue-attributes.js";
import { existingStatus, missingTags, type ResourceChange } from "../plan/reconcile.js";
import { OperationalError } from "../errors.js";
import { sleep } from "../sleep.js";
import { mapLimit } from "../concurrency.js";
import type { FoundResource } from "../plan/gc.js";

const {
  SQSClient: SQSClientClass,
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  SendMessageCommand,
  CreateQueueCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ListQueueTagsCommand,
  SetQueueAttributesCommand,
  TagQueueCommand,
  DeleteQueueCommand,
  SendMessageBatchCommand,
  paginateListQueues,
  ReceiveMessageCommand,
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
} = sdk("@aws-sdk/client-sqs");

export function sqsClient(ctx: AwsContext): SQSClient {
  return makeSqsClient(ctx, {});
}

/**
 * The client `dcp submit` sends with: only `sendMessageBatch` to one queue, plus lookups of that
 * queue. Two settings make each batch cheaper, and are safe only for that use:
 * - md5 false: `sendMessageBatch` checks each entry's MD5 itself (see there); such a client must
 *   not receive messages, whose MD5 the SDK would no longer check.
 * - cacheMiddleware: the SDK otherwise rebuilds and sorts the middleware stack on every call. A
 *   cached stack shares one context object between concurrent calls of a command, so calls that
 *   resolve different endpoints (S3 buckets, queues on other hosts) can go to each other's; every
 *   call of this client goes to the same queue.
 */
export function sqsSendClient(ctx: AwsContext): SQSClient {
  return makeSqsClient(ctx, { md5: false, cacheMiddleware: true });
}

function makeSqsClient(ctx: AwsContext, settings: { md5?: false; cacheMiddleware?: true }): SQSClient {
  // With an endpoint override (an emulator or a VPC endpoint) the queue URL's own host may not
  // resolve; send every call to the configured endpoint instead.
  const useQueueUrlAsEndpoint = !endpointOverridden("sqs");
  return instrument(new SQSClientClass({ ...clientOptions(ctx), useQueueUrlAsEndpoint, ...settings }), "sqs");
}

/** The URL of the queue named exactly `name`, or undefined when it does not exist. */
export async function findQueueUrl(client: SQSClient, name: string): Promise<string | undefined> {
  try {
    return (await client.send(new GetQueueUrlCommand({ QueueName: name }))).QueueUrl;
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

export async function queueArn(client: SQSClient, url: string): Promise<string> {
  const { Attributes } = await client.send(
    new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ["QueueArn"] }),
  );
  if (!Attributes?.QueueArn) throw new Error(`SQS returned no QueueArn for ${url}`);
  return Attributes.QueueArn;
}

/**
 * "Wait at least one second after the queue is created to be able to use the queue" (CreateQueue,
 * SQS API reference): a queue just made (or a dead-letter queue a new redrive policy names) may
 * answer QueueDoesNotExist for a moment. Retries `call` with backoff for up to about 15 s.
 */
async function whileQueueIsNew<T>(call: () => Promise<T>): Promise<T> {
  let delayMs = 250;
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (err) {
      const fresh = isNotFound(err) || /does not exist/i.test((err as Error).message ?? "");
      if (!fresh || attempt >= 7) throw err;
      await sleep(delayMs);
      delayMs *= 2;
    }
  }
}

export interface EnsuredQueue {
  url: string;
  arn: string;
  change: ResourceChange;
}

/**
 * Creates the queue with `attributes` and `tags`, or brings an existing one to them: differing
 * attributes are set with SetQueueAttributes (DCP never updated an existing queue, reference
 * 7.1.26) and missing tags are added. Idempotent.
 */
export async function ensureQueue(
  client: SQSClient,
  name: string,
  attributes: QueueAttributes,
  tags: Record<string, string>,
  kind = "queue",
): Promise<EnsuredQueue> {
  const existingUrl = await findQueueUrl(client, name);
  if (!existingUrl) {
    const { QueueUrl } = await whileQueueIsNew(() =>
      client.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes, tags })),
    ).catch((err: unknown) => {
      if (awsErrorName(err) === "QueueDeletedRecently") {
        throw new OperationalError(
          `queue ${name} was deleted less than 60 seconds ago and SQS does not allow its name yet; wait a minute and run dcp setup again`,
        );
      }
      throw err;
    });
    if (!QueueUrl) throw new Error(`SQS returned no URL for the new queue ${name}`);
    return {
      url: QueueUrl,
      arn: await whileQueueIsNew(() => queueArn(client, QueueUrl)),
      change: { kind, name, status: "created", changes: [] },
    };
  }
  const { Attributes: current = {} } = await client.send(
    new GetQueueAttributesCommand({ QueueUrl: existingUrl, AttributeNames: ["All"] }),
  );
  const diff = diffQueueAttributes(current, attributes);
  if (Object.keys(diff.update).length)
    await client.send(new SetQueueAttributesCommand({ QueueUrl: existingUrl, Attributes: diff.update }));
  const { Tags: currentTags = {} } = await client.send(new ListQueueTagsCommand({ QueueUrl: existingUrl }));
  const addTags = missingTags(currentTags, tags);
  const changes = [...diff.changes];
  if (Object.keys(addTags).length) {
    await client.send(new TagQueueCommand({ QueueUrl: existingUrl, Tags: addTags }));
    changes.push(`tags ${Object.keys(addTags).join(", ")}`);
  }
  const arn = current.QueueArn ?? (await queueArn(client, existingUrl));
  return { url: existingUrl, arn, change: existingStatus(kind, name, changes) };
}

/** What the worker needs to know about its queue: its lease length and its redrive limit. */
export interface WorkerQueueSettings {
  visibilitySeconds: number;
  /** maxReceiveCount of the redrive policy; undefined without a dead-letter queue. */
  maxReceiveCount: number | undefined;
  deadLetterArn: string | undefined;
}

export async function workerQueueSettings(client: SQSClient, url: string): Promise<WorkerQueueSettings> {
  const { Attributes = {} } = await client.send(
    new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ["VisibilityTimeout", "RedrivePolicy"] }),
  );
  let maxReceiveCount: number | undefined;
  let deadLetterArn: string | undefined;
  if (Attributes.RedrivePolicy) {
    const policy = JSON.parse(Attributes.RedrivePolicy) as {
      maxReceiveCount?: number | string;
      deadLetterTargetArn?: string;
    };
    maxReceiveCount = policy.maxReceiveCount === undefined ? undefined : Number(policy.maxReceiveCount);
    deadLetterArn = policy.deadLetterTargetArn;
  }
  return { visibilitySeconds: Number(Attributes.VisibilityTimeout ?? 30), maxReceiveCount, deadLetterArn };
}

/** Messages visible, in flight and delayed (SQS's approximate counts). */
export async function queueActivity(
  client: SQSClient,
  url: string,
): Promise<{ visible: number; inFlight: number; delayed: number }> {
  const { Attributes = {} } = await client.send(
    new GetQueueAttributesCommand({
      QueueUrl: url,
      AttributeNames: [
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesNotVisible",
        "ApproximateNumberOfMessagesDelayed",
      ],
    }),
  );
  return {
    visible: Number(Attributes.ApproximateNumberOfMessages ?? 0),
    inFlight: Number(Attributes.ApproximateNumberOfMessagesNotVisible ?? 0),
    delayed: Number(Attributes.ApproximateNumberOfMessagesDelayed ?? 0),
  };
}

/** The queue's counts, or undefined when the queue no longer exists ("already gone"). */
export async function queueActivityIfExists(
  client: SQSClient,
  url: string,
): Promise<{ visible: number; inFlight: number; delayed: number } | undefined> {
  return unlessNotFound(queueActivity(client, url));
}

/** Sets a received message's visibility: 0 hands it back at once, N keeps the lease N more seconds. */
export async function setMessageVisibility(
  client: SQSClient,
  url: string,
  receiptHandle: string,
  seconds: number,
): Promise<void> {
  await client.send(
    new ChangeMessageVisibilityCommand({ QueueUrl: url, ReceiptHandle: receiptHandle, VisibilityTimeout: seconds }),
  );
}

export async function deleteMessage(client: SQSClient, url: string, receiptHandle: string): Promise<void> {
  await client.send(new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: receiptHandle }));
}

export async function sendMessage(
  client: SQSClient,
  url: string,
  body: string,
  attributes: Record<string, MessageAttributeValue> = {},
): Promise<void> {
  await client.send(
    new SendMessageCommand({
      QueueUrl: url,
      MessageBody: body,
      ...(Object.keys(attributes).length ? { MessageAttributes: attributes } : {}),
    }),
  );
}

/** The queue URL of an ARN (arn:aws:sqs:region:account:name). */
export async function queueUrlOfArn(client: SQSClient, arn: string): Promise<string | undefined> {
  const parts = arn.split(":");
  return findQueueUrl(client, parts[5] ?? "");
}

// --- monitor/teardown ---------------------------------------------------------------------------

/** Deletes the queue named exactly `name`; false when it was already gone. */
export async function deleteQueueIfExists(client: SQSClient, name: string): Promise<boolean> {
  const url = await findQueueUrl(client, name);
  if (!url) return false;
  return doneUnlessGone(client.send(new DeleteQueueCommand({ QueueUrl: url })));
}

/** All messages a queue holds (visible, in flight and delayed); undefined when the queue does not exist. */
export async function queueDepth(client: SQSClient, name: string): Promise<number | undefined> {
  const url = await findQueueUrl(client, name);
  if (!url) return undefined;
  try {
    const a = await queueActivity(client, url);
    return a.visible + a.inFlight + a.delayed;
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

// --- submit -------------------------------------------------------------------------------------

export interface BatchEntry {
  Id: string;
  MessageBody: string;
  MessageAttributes?: Record<string, MessageAttributeValue>;
}

export interface BatchEntryFailure {
  id: string;
  code: string;
  message: string;
  /** true: the entry itself is wrong and resending it cannot help. */
  senderFault: boolean;
  /** true: SQS queued the entry (so resending would duplicate it), but not as it was sent. */
  queued?: boolean;
}

export interface BatchOutcome {
  successful: string[];
  failed: BatchEntryFailure[];
}

/**
 * One SendMessageBatch call (at most 10 entries, 256 KiB in all): the entries SQS took and those it
 * refused. Each accepted entry's MD5OfMessageBody is checked here, per entry, instead of by the
 * SDK's middleware (which `sqsSendClient` turns off): the SDK throws for the
 * whole call after SQS has queued every entry, which a caller would take as a failed call and resend,
 * duplicating the batch. Here only the entries that differ are reported, as queued.
 */
export async function sendMessageBatch(
  client: SQSClient,
  url: string,
  entries: readonly BatchEntry[],
): Promise<BatchOutcome> {
  const out = await client.send(new SendMessageBatchCommand({ QueueUrl: url, Entries: [...entries] }));
  const bodies = new Map(entries.map((e) => [e.Id, e.MessageBody]));
  const outcome: BatchOutcome = { successful: [], failed: [] };
  for (const s of out.Successful ?? []) {
    const id = s.Id ?? "";
    const body = bodies.get(id);
    if (body === undefined || s.MD5OfMessageBody === undefined || s.MD5OfMessageBody === md5Hex(body)) {
      outcome.successful.push(id);
    } else {
      outcome.failed.push({
        id,
        code: "MD5Mismatch",
        message: `SQS queued message ${s.MessageId ?? "?"} with a body whose MD5 differs from the one sent; it may be corrupt, so check the queue before sending it again`,
        senderFault: false,
        queued: true,
      });
    }
  }
  for (const f of out.Failed ?? [])
    outcome.failed.push({
      id: f.Id ?? "",
      code: f.Code ?? "unknown",
      message: f.Message ?? "",
      senderFault: Boolean(f.SenderFault),
    });
  return outcome;
}

function md5Hex(text: string): string {
  // One-shot hash (Node 20.12+): a third of createHash's cost on bodies this small.
  return hash("md5", text, "hex");
}

// --- failures and retry: reading a queue without consuming it, moving messages ------------------

/** SQS's limit on ReceiveMessage's MaxNumberOfMessages and on the entries of every *Batch call. */
export const SQS_BATCH_LIMIT = 10;
/** The longest VisibilityTimeout SQS accepts (12 hours, ReceiveMessage / ChangeMessageVisibility reference). */
export const MAX_VISIBILITY_SECONDS = 43_200;

/**
 * One ReceiveMessage call: up to 10 messages (SQS's maximum) hidden for `visibilitySeconds`, with
 * their system attributes (ApproximateReceiveCount...) and every message attribute. `waitSeconds`
 * > 0 is a long poll, which asks every SQS server: an empty answer then means nothing is visible,
 * where a short poll only samples a subset of them (ReceiveMessage reference).
 */
export async function receiveMessages(
  client: SQSClient,
  url: string,
  options: { visibilitySeconds: number; waitSeconds: number; max?: number },
  signal?: AbortSignal,
): Promise<Message[]> {
  const out = await client.send(
    new ReceiveMessageCommand({
      QueueUrl: url,
      MaxNumberOfMessages: Math.min(SQS_BATCH_LIMIT, options.max ?? SQS_BATCH_LIMIT),
      VisibilityTimeout: options.visibilitySeconds,
      WaitTimeSeconds: options.waitSeconds,
      MessageSystemAttributeNames: ["All"],
      MessageAttributeNames: ["All"],
    }),
    { abortSignal: signal },
  );
  return out.Messages ?? [];
}

/** Per-entry results of a *Batch call: the ids that succeeded and those that failed, with why. */
export interface BatchResult {
  successful: string[];
  failed: Array<{ id: string; code: string; message: string }>;
}

function batchResult(out: {
  Successful?: Array<{ Id?: string }>;
  Failed?: Array<{ Id?: string; Code?: string; Message?: string }>;
}): BatchResult {
  return {
    successful: (out.Successful ?? []).map((s) => s.Id ?? ""),
    failed: (out.Failed ?? []).map((f) => ({ id: f.Id ?? "", code: f.Code ?? "unknown", message: f.Message ?? "" })),
  };
}

/**
 * One ChangeMessageVisibilityBatch call (at most 10 entries): `seconds` 0 makes the messages visible
 * at once. "Check for batch errors even when the call returns an HTTP status code of 200"
 * (ChangeMessageVisibilityBatch reference): the result is per entry.
 */
export async function changeVisibilityBatch(
  client: SQSClient,
  url: string,
  entries: ReadonlyArray<{ id: string; receiptHandle: string }>,
  seconds: number,
): Promise<BatchResult> {
  const out = await client.send(
    new ChangeMessageVisibilityBatchCommand({
      QueueUrl: url,
      Entries: entries.map((e) => ({ Id: e.id, ReceiptHandle: e.receiptHandle, VisibilityTimeout: seconds })),
    }),
  );
  return batchResult(out);
}

/** One DeleteMessageBatch call (at most 10 entries); the result is per entry, as for every batch call. */
export async function deleteMessageBatch(
  client: SQSClient,
  url: string,
  entries: ReadonlyArray<{ id: string; receiptHandle: string }>,
): Promise<BatchResult> {
  const out = await client.send(
    new DeleteMessageBatchCommand({
      QueueUrl: url,
      Entries: entries.map((e) => ({ Id: e.id, ReceiptHandle: e.receiptHandle })),
    }),
  );
  return batchResult(out);
}

// --- gc ----------------------------------------------------------------------------------------

/** The name of a queue from its URL or ARN (the last path or colon segment). */
const queueNameOf = (urlOrArn: string) => urlOrArn.split(/[/:]/).pop() ?? urlOrArn;

/**
 * Every queue tagged `tagKey`, with the dead-letter queue its redrive policy names: ListQueues
 * (1,000 per page), then ListQueueTags per queue and GetQueueAttributes per tagged one, 8 at a time.
 * A queue deleted meanwhile is left out.
 */
export async function listTaggedQueues(client: SQSClient, tagKey: string): Promise<FoundResource[]> {
  const urls: string[] = [];
  for await (const page of paginateListQueues({ client }, { MaxResults: 1000 })) urls.push(...(page.QueueUrls ?? []));
  const found = await mapLimit(urls, 8, async (url): Promise<FoundResource | undefined> => {
    const tags = await unlessNotFound(client.send(new ListQueueTagsCommand({ QueueUrl: url })));
    const app = tags?.Tags?.[tagKey];
    if (!app) return undefined;
    const attributes = await unlessNotFound(
      client.send(
        new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ["RedrivePolicy", "CreatedTimestamp"] }),
      ),
    );
    if (!attributes) return undefined;
    const { RedrivePolicy, CreatedTimestamp } = attributes.Attributes ?? {};
    let deadLetterQueue: string | undefined;
    try {
      const target = RedrivePolicy ? (JSON.parse(RedrivePolicy) as { deadLetterTargetArn?: string }) : undefined;
      if (target?.deadLetterTargetArn) deadLetterQueue = queueNameOf(target.deadLetterTargetArn);
    } catch {
      // a redrive policy SQS would not accept: no dead-letter queue to name
    }
    return {
      kind: "queue",
      id: queueNameOf(url),
      app,
      ...(CreatedTimestamp ? { createdMs: Number(CreatedTimestamp) * 1000 } : {}),
      ...(deadLetterQueue ? { deadLetterQueue } : {}),
    };
  });
  return found.filter((r) => r !== undefined);
}
