/**
 * The attributes of the dead-letter queue and the job queue, and how an existing queue differs
 * from them. DCP set these only when it created a queue and silently kept stale ones afterwards
 * (reference 7.1.26); dcp compares and updates. Pure: no AWS imports.
 */
import type { Config } from "../config/schema.js";

export type QueueAttributes = Record<string, string>;

const FOURTEEN_DAYS = "1209600";

/** The DLQ keeps failed jobs for the longest SQS allows (DCP left it at the 4-day default). */
export const DEAD_LETTER_QUEUE_ATTRIBUTES: QueueAttributes = { MessageRetentionPeriod: FOURTEEN_DAYS };

export function redrivePolicy(deadLetterArn: string, maxReceiveCount: number): string {
  return JSON.stringify({ deadLetterTargetArn: deadLetterArn, maxReceiveCount });
}

export function jobQueueAttributes(
  config: Pick<Config, "SQS_MESSAGE_VISIBILITY" | "JOB_RETRIES">,
  deadLetterArn: string,
): QueueAttributes {
  return {
    DelaySeconds: "0",
    MaximumMessageSize: "262144",
    MessageRetentionPeriod: FOURTEEN_DAYS,
    ReceiveMessageWaitTimeSeconds: "0",
    VisibilityTimeout: String(config.SQS_MESSAGE_VISIBILITY),
    RedrivePolicy: redrivePolicy(deadLetterArn, config.JOB_RETRIES),
  };
}

interface Redrive {
  deadLetterTargetArn?: string;
  maxReceiveCount?: number;
}

/** SQS returns maxReceiveCount as a number; DCP wrote it as a string. Both mean the same policy. */
function parseRedrive(text: string | undefined): Redrive | undefined {
  if (!text) return undefined;
  try {
    const raw = JSON.parse(text) as { deadLetterTargetArn?: unknown; maxReceiveCount?: unknown };
    return {
      ...(typeof raw.deadLetterTargetArn === "string" ? { deadLetterTargetArn: raw.deadLetterTargetArn } : {}),
      ...(raw.maxReceiveCount !== undefined ? { maxReceiveCount: Number(raw.maxReceiveCount) } : {}),
    };
  } catch {
    return undefined;
  }
}

function describeRedriveChange(current: Redrive | undefined, desired: Redrive): string[] {
  if (!current)
    return [`RedrivePolicy none -> maxReceiveCount ${desired.maxReceiveCount} to ${desired.deadLetterTargetArn}`];
  const out: string[] = [];
  if (current.maxReceiveCount !== desired.maxReceiveCount)
    out.push(`maxReceiveCount ${current.maxReceiveCount ?? "none"} -> ${desired.maxReceiveCount}`);
  if (current.deadLetterTargetArn !== desired.deadLetterTargetArn)
    out.push(`deadLetterTargetArn ${current.deadLetterTargetArn ?? "none"} -> ${desired.deadLetterTargetArn}`);
  return out;
}

export interface QueueAttributeDiff {
  /** The attributes to pass to SetQueueAttributes (empty when nothing differs). */
  update: QueueAttributes;
  /** One human-readable line per difference, e.g. "VisibilityTimeout 60 -> 120". */
  changes: string[];
}

export function diffQueueAttributes(
  current: Readonly<Record<string, string | undefined>>,
  desired: QueueAttributes,
): QueueAttributeDiff {
  const update: QueueAttributes = {};
  const changes: string[] = [];
  for (const [name, value] of Object.entries(desired)) {
    if (name === "RedrivePolicy") {
      const lines = describeRedriveChange(parseRedrive(current[name]), parseRedrive(value) ?? {});
      if (lines.length) {
        update[name] = value;
        changes.push(...lines);
      }
    } else if (current[name] !== value) {
      update[name] = value;
      changes.push(`${name} ${current[name] ?? "unset"} -> ${value}`);
    }
  }
  return { update, changes };
}
