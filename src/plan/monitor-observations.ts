import { z } from "zod";

/**
 * What `dcp monitor` (and `dcp teardown`) learn about a run, stored in the state file under
 * `dcp.observations` so a restarted monitor, `dcp teardown` and future status/cost commands can
 * read them. Pure data: no AWS here.
 */

const count = z.number().int().min(0);

export const instanceRecordSchema = z.object({
  type: z.string().optional(),
  az: z.string().optional(),
  /** epoch ms: the instance's LaunchTime (or the first reading that saw it). */
  launchedAt: z.number(),
  /** epoch ms: the last reading that saw it running. */
  lastSeenAt: z.number(),
  /** set once a reading no longer saw it (terminated outside dcp, idle alarm, spot interruption). */
  goneAt: z.number().optional(),
});
export type InstanceRecord = z.infer<typeof instanceRecordSchema>;

export const progressSchema = z.object({
  /** Groups known to the run so far (grows when more jobs are submitted while watching). */
  total: count,
  /** Groups that left the queue without being dead-lettered. Never decreases. */
  done: count,
  /** Messages the dead-letter queue gained since the monitor first looked. */
  deadLettered: count,
  /** DLQ depth at the first reading: the DLQ may be shared and already hold older messages. */
  dlqBaseline: count,
});
export type Progress = z.infer<typeof progressSchema>;

export const readingSchema = z.object({
  at: z.number(),
  visible: count,
  inFlight: count,
  dlq: count,
  target: count.optional(),
  fulfilled: z.number().min(0).optional(),
  instances: count,
});
export type ReadingSummary = z.infer<typeof readingSchema>;

export const observationsSchema = z.object({
  version: z.literal(1),
  firstReadingAt: z.number(),
  last: readingSchema,
  progress: progressSchema,
  /** Consecutive readings with visible + in flight = 0 (teardown at 2). */
  consecutiveEmpty: count,
  /** [epoch ms, done] samples for the ETA, newest last, bounded. */
  samples: z.array(z.tuple([z.number(), count])),
  instances: z.record(z.string(), instanceRecordSchema),
  downscales: z.array(z.object({ at: z.number(), from: count, to: count, reason: z.string() })),
  cheapestApplied: z.boolean().default(false),
  /** The queue as start-cluster found it (see runBaseline), kept for decisions after the first reading. */
  startBaseline: z.object({ queued: count, deadLetter: count }).optional(),
  summary: z.record(z.string(), z.unknown()).optional(),
  /** The tail (plan/monitor-tail.ts): when the current run of readings with nothing visible began. */
  tailQuietSince: z.number().optional(),
  /** Cost so far and projected (plan/run-cost.ts costRecord), USD of spot compute (+ EBS, IPv4, alarms: otherUsd), at the last reading. */
  cost: z
    .object({
      at: z.number(),
      instanceHours: z.number(),
      spentUsd: z.number().optional(),
      otherUsd: z.number().optional(),
      projectedUsd: z.number().optional(),
    })
    .optional(),
  /** Cost (plan/run-cost.ts): the budget warning was given / spending was stopped by the budget. */
  budget: z.object({ warnedAt: z.number().optional(), stoppedAt: z.number().optional() }).optional(),
});
export type Observations = z.infer<typeof observationsSchema>;

export const MAX_SAMPLES = 120;
export const MAX_DOWNSCALES = 50;

/** Reads `dcp.observations` leniently: anything unreadable starts afresh (it is only history). */
export function parseObservations(value: unknown): Observations | undefined {
  if (value === undefined || value === null) return undefined;
  const parsed = observationsSchema.safeParse(value);
  return parsed.success ? parsed.data : undefined;
}

/** The queue depths `dcp start-cluster` recorded when the run started, if it did. */
export function runBaseline(state: {
  dcp: { observations?: Record<string, unknown> | undefined };
}): { queued: number; deadLetter: number } | undefined {
  const parsed = z.object({ queuedAtStart: count, deadLetteredAtStart: count }).safeParse(state.dcp.observations ?? {});
  return parsed.success
    ? { queued: parsed.data.queuedAtStart, deadLetter: parsed.data.deadLetteredAtStart }
    : undefined;
}
