import { parseMetadataString } from "../message.js";
import { SEPARATOR, type CsvGroups } from "./csv-groups.js";

/**
 * Checks groups against LoadData CSVs the way CellProfiler matches `-g`: a group runs only the
 * image sets whose typed values, as text, equal the group's values. Groups that match no row are
 * counted, and near misses are explained (zero padding A1/A01 or 1/01, case, stray spaces), with a
 * count and three examples per kind, so "Site=01 vs Site=1" is found before paying for machines.
 */

export const EXAMPLES_PER_KIND = 3;

export interface MissExample {
  group: string;
  /** The closest CSV values, as "Key=value" (with the CSV text when CellProfiler reads it differently). */
  csv: string;
}

export interface MissKind {
  /** e.g. "zero padding in Metadata_Well", or "Metadata_Plate value in no CSV row". */
  kind: string;
  count: number;
  examples: MissExample[];
}

export interface MatchReport {
  csv: string[];
  checked: number;
  matched: number;
  unmatched: number;
  kinds: MissKind[];
}

const LEADING_ZEROS = /(^|\D)0+(?=\d)/g;

function withoutZeros(value: string): string {
  return value.replace(LEADING_ZEROS, "$1");
}

/** Spaces removed, lower case, leading zeros of every digit run removed. */
export function looseText(value: string): string {
  return withoutZeros(value.replace(/\s+/g, "").toLowerCase());
}

/** Names the differences between a group value and the CSV value that CellProfiler would not forgive. */
export function differenceKinds(group: string, csv: string): string[] {
  const kinds: string[] = [];
  const g = group.replace(/\s+/g, "");
  const c = csv.replace(/\s+/g, "");
  if (g !== group || c !== csv) kinds.push("stray spaces");
  if (withoutZeros(g) !== withoutZeros(c) && withoutZeros(g).toLowerCase() === withoutZeros(c).toLowerCase())
    kinds.push("case");
  if (g.toLowerCase() !== c.toLowerCase() && looseText(g) === looseText(c)) kinds.push("zero padding");
  return kinds;
}

export class GroupMatcher {
  private readonly exact = new Set<string>();
  private readonly loose = new Map<string, { values: string[]; raw: string[] }>();
  private readonly present: Array<Set<string>>;
  private readonly kinds = new Map<string, MissKind>();
  private checked = 0;
  private matched = 0;

  constructor(
    readonly keys: readonly string[],
    private readonly csvs: readonly CsvGroups[],
  ) {
    this.present = keys.map(() => new Set<string>());
    for (const csv of csvs) {
      for (const [id, group] of csv.groups) {
        this.exact.add(id);
        const looseId = group.values.map(looseText).join(SEPARATOR);
        if (!this.loose.has(looseId)) this.loose.set(looseId, group);
        group.values.forEach((v, i) => this.present[i]!.add(v));
      }
    }
  }

  /** The group's values in key order; undefined when it does not have exactly these keys. */
  private values(metadata: string): string[] | undefined {
    const pairs = parseMetadataString(metadata);
    if (pairs.length !== this.keys.length) return undefined;
    const byKey = new Map(pairs);
    const values = this.keys.map((k) => byKey.get(k));
    return values.every((v) => v !== undefined) ? (values as string[]) : undefined;
  }

  check(metadata: string): boolean {
    this.checked += 1;
    const values = this.values(metadata);
    if (values && this.exact.has(values.join(SEPARATOR))) {
      this.matched += 1;
      return true;
    }
    if (!values) {
      this.note(`keys differ from the CSV columns ${this.keys.join(",")}`, { group: metadata, csv: "" });
      return false;
    }
    const near = this.loose.get(values.map(looseText).join(SEPARATOR));
    if (near) {
      const labels: string[] = [];
      const shown: string[] = [];
      values.forEach((value, i) => {
        const csvValue = near.values[i]!;
        if (value === csvValue) return;
        for (const kind of differenceKinds(value, csvValue)) labels.push(`${kind} in ${this.keys[i]}`);
        const rawNote =
          near.raw[i] !== csvValue
            ? ` (the CSV says ${JSON.stringify(near.raw[i])}, which CellProfiler reads as ${csvValue})`
            : "";
        shown.push(`${this.keys[i]}=${JSON.stringify(csvValue)}${rawNote}`);
      });
      this.note([...new Set(labels)].join(" + "), { group: metadata, csv: shown.join(", ") });
      return false;
    }
    const absent = values
      .map((v, i) => (this.present[i]!.has(v) ? undefined : this.keys[i]))
      .filter((k): k is string => k !== undefined);
    const kind = absent.length
      ? `${absent.join(" and ")} value in no CSV row`
      : "combination in no CSV row (each value exists elsewhere)";
    this.note(kind, { group: metadata, csv: "" });
    return false;
  }

  private note(kind: string, example: MissExample): void {
    let entry = this.kinds.get(kind);
    if (!entry) {
      entry = { kind, count: 0, examples: [] };
      this.kinds.set(kind, entry);
    }
    entry.count += 1;
    if (entry.examples.length < EXAMPLES_PER_KIND) entry.examples.push(example);
  }

  report(): MatchReport {
    const kinds = [...this.kinds.values()].sort((a, b) => b.count - a.count);
    return {
      csv: this.csvs.map((c) => c.source),
      checked: this.checked,
      matched: this.matched,
      unmatched: this.checked - this.matched,
      kinds,
    };
  }
}

/** Human lines for a report: a count per kind and up to three examples. */
export function formatMatchReport(report: MatchReport): string[] {
  if (report.unmatched === 0) return [`all ${report.checked} groups match rows of ${report.csv.join(", ")}`];
  const lines = [`${report.unmatched} of ${report.checked} groups match no row of ${report.csv.join(", ")}`];
  for (const kind of report.kinds) {
    lines.push(`  ${kind.kind}: ${kind.count} group${kind.count === 1 ? "" : "s"}, e.g.`);
    for (const example of kind.examples)
      lines.push(`    ${example.group}${example.csv ? `  ~ CSV ${example.csv}` : ""}`);
  }
  return lines;
}
