/**
 * Column unification across groups, decided from evidence rather than from DuckDB's silent
 * widening. `union_by_name` widens a column to VARCHAR as soon as one file reads it as text, and a
 * header-only CSV (an empty well) or a column with no values reads as VARCHAR too. So each group
 * contributes, per column, the kind of the values it actually holds: integer, number, text, or
 * another DuckDB type; a group with no value in a column (empty file, all-null column) contributes
 * nothing. Then per column: integers only → BIGINT; numbers (with or without integers) → DOUBLE
 * (a widening, not a conflict); one other type only → that type; text only → VARCHAR; anything
 * else is a real conflict: reported with example groups, and the column is written as VARCHAR so
 * no value is lost or guessed. Memory: a few counters and examples per column, none per group.
 * Pure; no I/O.
 */

export type ValueKind = "integer" | "number" | "text" | `other:${string}`;

const INTEGER_TYPES = new Set([
  "TINYINT",
  "SMALLINT",
  "INTEGER",
  "BIGINT",
  "HUGEINT",
  "UTINYINT",
  "USMALLINT",
  "UINTEGER",
  "UBIGINT",
]);
const NUMBER_TYPES = new Set(["FLOAT", "DOUBLE", "REAL"]);

/** The kind of a typed (non-VARCHAR) column's values; undefined for VARCHAR (look at the values). */
export function kindOfType(type: string): ValueKind | undefined {
  if (type === "VARCHAR") return undefined;
  if (INTEGER_TYPES.has(type)) return "integer";
  if (NUMBER_TYPES.has(type) || type.startsWith("DECIMAL")) return "number";
  return `other:${type}`;
}

const INTEGER_TEXT = /^\s*[+-]?\d{1,18}\s*$/;
const NUMBER_TEXT = /^\s*[+-]?(\d+\.?\d*([eE][+-]?\d+)?|\.\d+([eE][+-]?\d+)?|nan|inf|infinity)\s*$/i;

/** The kind of one text value (path metadata), by the same rules the VARCHAR statistics use. */
export function kindOfText(value: string): ValueKind {
  if (INTEGER_TEXT.test(value)) return "integer";
  if (NUMBER_TEXT.test(value)) return "number";
  return "text";
}

/** A VARCHAR column's values in one group: how many are non-null, cast to a number, are integers. */
export interface TextColumnCounts {
  nonNull: number;
  numeric: number;
  integer: number;
}

export function kindOfTextCounts(counts: TextColumnCounts): ValueKind | undefined {
  if (counts.nonNull === 0) return undefined;
  if (counts.integer === counts.nonNull) return "integer";
  if (counts.numeric === counts.nonNull) return "number";
  return "text";
}

export interface KindExample {
  group: string;
  /** A value of that kind, for text (so the report shows what is not a number). */
  value?: string;
}

export interface TypeConflict {
  column: string;
  /** Per kind: the number of groups whose values are of that kind, and a few of them. */
  kinds: Array<{ kind: ValueKind; groups: number; examples: KindExample[] }>;
  writtenAs: "VARCHAR";
}

export interface UnifiedColumn {
  name: string;
  type: string;
}

const EXAMPLES_KEPT = 3;

interface ColumnEvidence {
  kinds: Map<ValueKind, { groups: number; examples: KindExample[] }>;
}

export class ColumnUnifier {
  private readonly columns = new Map<string, ColumnEvidence>();

  /** Records that the column exists (in a header), whether or not any group has values in it. */
  column(name: string): void {
    if (!this.columns.has(name)) this.columns.set(name, { kinds: new Map() });
  }

  /** One group's values in a column are of `kind`. */
  add(name: string, kind: ValueKind, group: string, value?: string): void {
    this.column(name);
    const evidence = this.columns.get(name)!;
    let entry = evidence.kinds.get(kind);
    if (!entry) evidence.kinds.set(kind, (entry = { groups: 0, examples: [] }));
    entry.groups += 1;
    if (entry.examples.length < EXAMPLES_KEPT) entry.examples.push(value === undefined ? { group } : { group, value });
  }

  names(): string[] {
    return [...this.columns.keys()];
  }

  /** Every column (in order of first appearance) with its type, and the real conflicts. */
  decide(): { columns: UnifiedColumn[]; conflicts: TypeConflict[] } {
    const columns: UnifiedColumn[] = [];
    const conflicts: TypeConflict[] = [];
    for (const [name, evidence] of this.columns) {
      const type = unifiedType([...evidence.kinds.keys()]);
      columns.push({ name, type: type ?? "VARCHAR" });
      if (type === undefined)
        conflicts.push({
          column: name,
          kinds: [...evidence.kinds].map(([kind, e]) => ({ kind, groups: e.groups, examples: e.examples })),
          writtenAs: "VARCHAR",
        });
    }
    return { columns, conflicts };
  }
}

/** The type for a set of kinds; undefined for a real conflict. No kinds (no values anywhere): VARCHAR. */
export function unifiedType(kinds: readonly ValueKind[]): string | undefined {
  const set = new Set(kinds);
  if (set.size === 0) return "VARCHAR";
  if ([...set].every((k) => k === "integer")) return "BIGINT";
  if ([...set].every((k) => k === "integer" || k === "number")) return "DOUBLE";
  if (set.size === 1) {
    const [only] = set;
    return only === "text" ? "VARCHAR" : only!.slice("other:".length);
  }
  return undefined;
}

/** One line per conflict, for people. */
export function describeConflict(object: string, conflict: TypeConflict): string {
  const parts = conflict.kinds.map(({ kind, groups, examples }) => {
    const shown = examples
      .map((e) => (e.value === undefined ? e.group || "(top folder)" : `${e.group || "(top folder)"}: "${e.value}"`))
      .join("; ");
    return `${kind === "text" ? "text" : kind.replace("other:", "")} in ${groups} group${groups === 1 ? "" : "s"} (e.g. ${shown})`;
  });
  return `${object}.${conflict.column}: ${parts.join(", ")}; written as text (VARCHAR), nothing converted`;
}
