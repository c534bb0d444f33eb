/**
 * Vocabulary shared by the flows that create-or-reconcile AWS resources (setup, start-cluster):
 * what happened to one resource (the app's tags are in names.ts).
 * Pure: no AWS imports.
 */

export type ChangeStatus = "created" | "updated" | "unchanged";

/** What a reconcile step did to one resource; `changes` says what differed (empty when created or unchanged). */
export interface ResourceChange {
  kind: string;
  name: string;
  status: ChangeStatus;
  changes: string[];
}

/**
 * Desired tags whose key `existing` lacks. Tags are only ever added, never removed or overwritten:
 * a resource two apps share (DCP's default dead-letter queue "user_DeadMessages", say) keeps the
 * dcp:app of the app that created it, instead of flipping between apps on every setup.
 */
export function missingTags(
  existing: Readonly<Record<string, string>>,
  desired: Readonly<Record<string, string>>,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(desired)) if (!(key in existing)) out[key] = value;
  return out;
}

/** The status of a resource that already existed: updated when anything differed. */
export function existingStatus(kind: string, name: string, changes: string[]): ResourceChange {
  return { kind, name, status: changes.length ? "updated" : "unchanged", changes };
}
