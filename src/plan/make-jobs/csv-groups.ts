import {
  cellProfilerText,
  isWellColumnName,
  isWellRowName,
  loadDataType,
  widerType,
  type ColumnType,
} from "./cellprofiler-values.js";

/**
 * The distinct combinations of some metadata columns of a LoadData CSV, fed one record at a time
 * (the flow streams the file through csv-parse), then typed the way LoadData types them.
 * Memory grows with the number of distinct combinations, not with the number of rows.
 */

export interface CsvGroup {
  /** Values as CellProfiler compares them (str() of the typed value), in key order. */
  values: string[];
  /** The CSV text of the first row with this combination. */
  raw: string[];
  rows: number;
}

export interface CsvGroups {
  source: string;
  keys: readonly string[];
  types: ColumnType[];
  /** Keyed by values joined with SEPARATOR, in order of first appearance. */
  groups: Map<string, CsvGroup>;
  /** Rows whose values CellProfiler reads differently from the text (e.g. "01" read as 1), per key. */
  reinterpreted: Array<{ raw: string; text: string; count: number } | undefined>;
  rowCount: number;
}

export const SEPARATOR = "\u0000";
const SYNTHETIC_WELL = -2;

export class CsvGroupCollector {
  private positions: number[] = [];
  private readonly types: ColumnType[];
  private readonly rawGroups = new Map<string, { raw: string[]; rows: number }>();
  private rowCount = 0;

  constructor(
    readonly source: string,
    readonly keys: readonly string[],
  ) {
    this.types = keys.map((key) => (isWellColumnName(key) ? "text" : "integer"));
  }

  get rows(): number {
    return this.rowCount;
  }

  /**
   * Takes the header; returns the keys it lacks (the caller reports them). Like LoadData, a CSV with
   * Metadata_Row and Metadata_Col (or WellRow/WellColumn...) but no Metadata_Well gets a synthetic
   * Metadata_Well: the row text followed by the column text.
   */
  header(fields: readonly string[]): string[] {
    this.positions = this.keys.map((key) => fields.indexOf(key));
    const well = this.keys.indexOf("Metadata_Well");
    if (well !== -1 && this.positions[well] === -1 && !fields.some((f) => f.toLowerCase() === "metadata_well")) {
      const row = fields.findIndex(isWellRowName);
      const column = fields.findIndex(isWellColumnName);
      if (row !== -1 && column !== -1) {
        this.positions[well] = SYNTHETIC_WELL;
        this.wellParts = [row, column];
      }
    }
    return this.keys.filter((_, i) => this.positions[i] === -1);
  }

  private wellParts: [number, number] = [-1, -1];

  private cell(record: readonly string[], position: number): string {
    if (position === SYNTHETIC_WELL) return (record[this.wellParts[0]] ?? "") + (record[this.wellParts[1]] ?? "");
    return record[position] ?? "";
  }

  add(record: readonly string[]): void {
    this.rowCount += 1;
    const raw = this.positions.map((p) => this.cell(record, p));
    for (let i = 0; i < raw.length; i++) {
      if (this.types[i] !== "text") this.types[i] = widerType(this.types[i]!, loadDataType(raw[i]!));
    }
    const id = raw.join(SEPARATOR);
    const seen = this.rawGroups.get(id);
    if (seen) seen.rows += 1;
    else this.rawGroups.set(id, { raw, rows: 1 });
  }

  finish(): CsvGroups {
    const groups = new Map<string, CsvGroup>();
    const reinterpreted: CsvGroups["reinterpreted"] = this.keys.map(() => undefined);
    for (const { raw, rows } of this.rawGroups.values()) {
      const values = raw.map((text, i) => cellProfilerText(text, this.types[i]!));
      values.forEach((value, i) => {
        if (value === raw[i]) return;
        const note = reinterpreted[i];
        if (note) note.count += rows;
        else reinterpreted[i] = { raw: raw[i]!, text: value, count: rows };
      });
      const id = values.join(SEPARATOR);
      const existing = groups.get(id);
      if (existing) existing.rows += rows;
      else groups.set(id, { values, raw, rows });
    }
    return {
      source: this.source,
      keys: this.keys,
      types: [...this.types],
      groups,
      reinterpreted,
      rowCount: this.rowCount,
    };
  }
}
