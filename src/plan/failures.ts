/**
 * Which groups failed, and why, from the run ledger's attempt keys and the dead-letter queue's
 * messages (`dcp failures`, `dcp retry --from-dlq`). Pure: the flows list, read and send.
 *
 * A group is failing when its latest finished attempt failed (or was dead-lettered by the worker)
 * and no later attempt is done, or when a message of it sits in the dead-letter queue. Its cause
 * is the class of its latest failed attempt; a dead-letter message with no failed attempt in the
 * ledger has none ("no record": the ledger was off, or the worker died before writing it).
 */
import { CAUSE_CLASSES, type AttemptKeyParts, type CauseClass } from "./ledger.js";

export const NO_RECORD = "no-record";
export type FailureCause = CauseClass | typeof NO_RECORD;
export const FAILURE_CAUSES: readonly FailureCause[] = [...CAUSE_CLASSES, NO_RECORD];
export const NO_RECORD_TEXT = "no record (ledger off, or the worker died before writing)";

/** One dead-letter message, as the flow decoded it. */
export interface DlqEntry {
  messageId: string;
  /** The group's output folder (the worker's metadataId); undefined when the body cannot be run. */
  metadataId: string | undefined;
  /** The Metadata pairs, in -g order ([] when the body cannot be read). */
  metadata: Array<[string, string]>;
  receiveCount: number;
  /** Why the body is not a task, when it is not. */
  problem?: string;
}

export interface FailedGroup {
  /** metadataId, or `message <id>` for a dead-letter body that names no group */
  metadataId: string;
  metadata: Array<[string, string]>;
  cause: FailureCause;
  /** The dead-letter messages of this group (usually one). */
  dlqMessageIds: string[];
  /** Finished attempts in the ledger. */
  attempts: number;
  /** The latest failed attempt: the record `dcp failures` reads for the last lines and the log stream. */
  failedAttempt: AttemptKeyParts | undefined;
  /** Its latest attempt is done: it sits in the dead-letter queue but was analysed since (e.g. resubmitted). */
  doneSince: boolean;
  /** Why the dead-letter body is not a task, when it is not. */
  problem?: string;
}

const FAILING = new Set(["failed", "dead-lettered"]);

/** Joins the ledger's attempts with the dead-letter queue; sorted by cause, then plate, well and id. */
export function failedGroups(attempts: readonly AttemptKeyParts[], dlq: readonly DlqEntry[]): FailedGroup[] {
  const byGroup = new Map<string, AttemptKeyParts[]>();
  for (const a of attempts) {
    const list = byGroup.get(a.metadataId);
    if (list) list.push(a);
    else byGroup.set(a.metadataId, [a]);
  }
  const out = new Map<string, FailedGroup>();
  const summary = (metadataId: string) => {
    const list = (byGroup.get(metadataId) ?? []).slice().sort((x, y) => (x.attempt < y.attempt ? -1 : 1));
    const latest = list.at(-1);
    const failedAttempt = list.filter((a) => a.outcome === "failed").at(-1);
    return { list, latest, failedAttempt };
  };
  for (const [metadataId] of byGroup) {
    const { list, latest, failedAttempt } = summary(metadataId);
    if (!latest || !FAILING.has(latest.outcome)) continue;
    out.set(metadataId, {
      metadataId,
      metadata: [],
      cause: failedAttempt?.cause ?? latest.cause ?? NO_RECORD,
      dlqMessageIds: [],
      attempts: list.length,
      failedAttempt,
      doneSince: false,
    });
  }
  for (const entry of dlq) {
    const id = entry.metadataId ?? `message ${entry.messageId}`;
    const known = out.get(id);
    if (known) {
      known.dlqMessageIds.push(entry.messageId);
      if (!known.metadata.length) known.metadata = entry.metadata;
      continue;
    }
    const { list, latest, failedAttempt } = entry.metadataId
      ? summary(entry.metadataId)
      : { list: [], latest: undefined, failedAttempt: undefined };
    out.set(id, {
      metadataId: id,
      metadata: entry.metadata,
      cause: failedAttempt?.cause ?? NO_RECORD,
      dlqMessageIds: [entry.messageId],
      attempts: list.length,
      failedAttempt,
      doneSince: latest?.outcome === "done" || latest?.outcome === "skipped-done",
      ...(entry.problem ? { problem: entry.problem } : {}),
    });
  }
  return [...out.values()].sort(compareFailures);
}

/** The value of the first Metadata key naming a plate (or a well): `Metadata_Plate`, `plate`... */
export function plateOf(metadata: ReadonlyArray<[string, string]>): string | undefined {
  return metadata.find(([k]) => /plate/i.test(k))?.[1];
}

export function wellOf(metadata: ReadonlyArray<[string, string]>): string | undefined {
  return metadata.find(([k]) => /well/i.test(k))?.[1];
}

function compareFailures(a: FailedGroup, b: FailedGroup): number {
  const order = (c: FailureCause) => FAILURE_CAUSES.indexOf(c);
  return (
    order(a.cause) - order(b.cause) ||
    (plateOf(a.metadata) ?? "").localeCompare(plateOf(b.metadata) ?? "") ||
    (wellOf(a.metadata) ?? "").localeCompare(wellOf(b.metadata) ?? "") ||
    a.metadataId.localeCompare(b.metadataId)
  );
}

/** Counts per cause, in FAILURE_CAUSES order, only the causes present. */
export function countByCause(groups: readonly FailedGroup[]): Array<[FailureCause, number]> {
  const counts = new Map<FailureCause, number>();
  for (const g of groups) counts.set(g.cause, (counts.get(g.cause) ?? 0) + 1);
  return FAILURE_CAUSES.filter((c) => counts.has(c)).map((c) => [c, counts.get(c)!]);
}

/** Per plate: the wells (or ids) that failed, plates in order. Groups without a plate go under "". */
export function byPlate(groups: readonly FailedGroup[]): Array<[string, string[]]> {
  const plates = new Map<string, string[]>();
  for (const g of groups) {
    const plate = plateOf(g.metadata) ?? "";
    const list = plates.get(plate) ?? [];
    list.push(wellOf(g.metadata) ?? g.metadataId);
    plates.set(plate, list);
  }
  return [...plates].sort(([a], [b]) => a.localeCompare(b)).map(([p, wells]) => [p, wells.sort()]);
}

/**
 * `--group PATTERN`: a glob (`*` any run of characters, `?` one) matched against the whole metadataId
 * (the output folder) or the whole `Key=value,Key=value` Metadata string.
 */
export function groupMatcher(
  pattern: string,
): (metadataId: string, metadata: ReadonlyArray<[string, string]>) => boolean {
  const re = new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\]/g, "\\$&")
      .replace(/\*/g, ".*")
      .replace(/\?/g, ".")}$`,
  );
  return (metadataId, metadata) => re.test(metadataId) || re.test(metadata.map(([k, v]) => `${k}=${v}`).join(","));
}

export interface RetrySelection {
  causes?: readonly FailureCause[] | undefined;
  group?: string | undefined;
}

/** The failed groups a retry selects (by cause and by group pattern; none given: all). */
export function selectGroups(groups: readonly FailedGroup[], selection: RetrySelection): FailedGroup[] {
  const match = selection.group ? groupMatcher(selection.group) : undefined;
  return groups.filter(
    (g) =>
      (!selection.causes?.length || selection.causes.includes(g.cause)) && (!match || match(g.metadataId, g.metadata)),
  );
}

/** One CSV field, quoted when it needs to be (RFC 4180). */
function csvField(value: string | number | boolean): string {
  const text = String(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export interface FailureDetail {
  lastLines: string[];
  message?: string | undefined;
  logGroup?: string | undefined;
  logStream?: string | undefined;
}

/** `dcp failures --csv`: one row per group. */
export function failuresCsv(groups: readonly FailedGroup[], details: ReadonlyMap<string, FailureDetail>): string {
  const header = [
    "metadata_id",
    "metadata",
    "plate",
    "well",
    "cause",
    "in_dead_letter_queue",
    "attempts",
    "message",
    "last_line",
    "log_group",
    "log_stream",
  ];
  const rows = groups.map((g) => {
    const d = details.get(g.metadataId);
    return [
      g.metadataId,
      g.metadata.map(([k, v]) => `${k}=${v}`).join(","),
      plateOf(g.metadata) ?? "",
      wellOf(g.metadata) ?? "",
      g.cause,
      g.dlqMessageIds.length > 0,
      g.attempts,
      d?.message ?? g.problem ?? "",
      d?.lastLines.at(-1) ?? "",
      d?.logGroup ?? "",
      d?.logStream ?? "",
    ]
      .map(csvField)
      .join(",");
  });
  return `${[header.join(","), ...rows].join("\n")}\n`;
}
