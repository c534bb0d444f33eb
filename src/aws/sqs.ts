import { SQSClient } from "@aws-sdk/client-sqs";
import { clientOptions, endpointOverridden, instrument, type AwsContext } from "./context.js";
import { CreateQueueCommand, GetQueueAttributesCommand, GetQueueUrlCommand, ListQueueTagsCommand, SetQueueAttributesCommand, TagQueueCommand } from "@aws-sdk/client-sqs";
import { diffQueueAttributes, type QueueAttributes } from "../plan/queue-attributes.js";
import { existingStatus, missingTags, type ResourceChange } from "../plan/reconcile.js";
import { OperationalError } from "../errors.js";

export function sqsClient(ctx: AwsContext): SQSClient {
  // With an endpoint override (an emulator or a VPC endpoint) the queue URL's own host may not
  // resolve; send every call to the configured endpoint instead.
  const useQueueUrlAsEndpoint = !endpointOverridden("sqs");
  return instrument(new SQSClient({ ...clientOptions(ctx), useQueueUrlAsEndpoint }), "sqs");
}

function isMissingQueue(err: unknown): boolean {
  const name = (err as { name?: string }).name;
  return name === "QueueDoesNotExist" || name === "AWS.SimpleQueueService.NonExistentQueue";
}

/** The URL of the queue named exactly `name`, or undefined when it does not exist. */
export async function findQueueUrl(client: SQSClient, name: string): Promise<string | undefined> {
  try {
    return (await client.send(new GetQueueUrlCommand({ QueueName: name }))).QueueUrl;
  } catch (err) {
    if (isMissingQueue(err)) return undefined;
    throw err;
  }
}

export async function queueArn(client: SQSClient, url: string): Promise<string> {
  const { Attributes } = await client.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ["QueueArn"] }));
  if (!Attributes?.QueueArn) throw new Error(`SQS returned no QueueArn for ${url}`);
  return Attributes.QueueArn;
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
export async function ensureQueue(client: SQSClient, name: string, attributes: QueueAttributes, tags: Record<string, string>, kind = "queue"): Promise<EnsuredQueue> {
  const existingUrl = await findQueueUrl(client, name);
  if (!existingUrl) {
    const { QueueUrl } = await client.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes, tags })).catch((err: unknown) => {
      if (/QueueDeletedRecently/.test((err as { name?: string }).name ?? "")) {
        throw new OperationalError(`queue ${name} was deleted less than 60 seconds ago and SQS does not allow its name yet; wait a minute and run dcp setup again`);
      }
      throw err;
    });
    if (!QueueUrl) throw new Error(`SQS returned no URL for the new queue ${name}`);
    return { url: QueueUrl, arn: await queueArn(client, QueueUrl), change: { kind, name, status: "created", changes: [] } };
  }
  const { Attributes: current = {} } = await client.send(new GetQueueAttributesCommand({ QueueUrl: existingUrl, AttributeNames: ["All"] }));
  const diff = diffQueueAttributes(current, attributes);
  if (Object.keys(diff.update).length) await client.send(new SetQueueAttributesCommand({ QueueUrl: existingUrl, Attributes: diff.update }));
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
