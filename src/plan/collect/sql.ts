/**
 * The SQL collect gives DuckDB, built from plain data so it can be read and tested without DuckDB.
 * Identifiers and literals are always quoted (a column or a path may hold any character).
 * Pure; no I/O.
 */
import type { OutputFormat } from "./options.js";
import type { UnifiedColumn } from "./schema.js";

/** The batch-local group number each appended record carries (see csv-records.ts). */
export const GROUP_COLUMN = "__dcp_group";
/** The provenance column: the source object (s3://bucket/key or local path) of every row. */
export const SOURCE_COLUMN = "Metadata_dcp_source";

export const ident = (name: string): string => `"${name.replaceAll('"', '""')}"`;
export const literal = (text: string): string => `'${text.replaceAll("'", "''")}'`;
const list = (items: readonly string[]): string => `[${items.map(literal).join(", ")}]`;

/**
 * CellProfiler's ExportToSpreadsheet writes Python csv's "excel" dialect: comma, '"' quotes doubled
 * inside fields, a header row. Fixing the dialect skips DuckDB's dialect sniffing (the costliest
 * part of opening a file); types are still detected, over the whole file (sample_size = -1), so a
 * text value late in a numeric column widens the column instead of failing the read.
 */
const CSV_OPTIONS = "header = true, delim = ',', quote = '\"', escape = '\"', new_line = '\\n'";

export interface BatchColumn {
  name: string;
  type: string;
}

/** Per group: its rows, then per column count(col), and for VARCHAR columns the numeric and integer counts and a text example. */
export function batchStatsSql(table: string, columns: readonly BatchColumn[]): string {
  const parts = columns.map(({ name, type }) => {
    const c = ident(name);
    if (type !== "VARCHAR") return `count(${c})`;
    return [
      `count(${c})`,
      `count(try_cast(${c} AS DOUBLE))`,
      `count(*) FILTER (WHERE regexp_full_match(${c}, '\\s*[+-]?[0-9]{1,18}\\s*'))`,
      `any_value(${c}) FILTER (WHERE ${c} IS NOT NULL AND try_cast(${c} AS DOUBLE) IS NULL)`,
    ].join(", ");
  });
  return `SELECT ${ident(GROUP_COLUMN)}, ${parts.join(", ")} FROM ${ident(table)} GROUP BY ${ident(GROUP_COLUMN)}`;
}

export interface BatchGroupRow {
  source: string;
  metadata: Record<string, string>;
}

/** A per-group value looked up by the record's group number in a list literal: no join, no hash table. */
function byGroup(values: readonly string[]): string {
  return `${list(values)}[b.${ident(GROUP_COLUMN)} + 1]`;
}

/**
 * One batch of one object read straight into a part table (DuckDB's own storage in the spool's
 * database file: cheaper to write and read back than Parquet): path metadata first (the CSV's own
 * value where the file has the column), then the CSV columns, the provenance column, and the
 * group number (dropped at the end). Types are detected on DuckDB's sample of each file (fast);
 * `wholeFile` detects them over every row, for the rare batch where a value after the sample does
 * not fit (a text value in a numeric column): the flow retries with it when the sampled read fails.
 */
export function loadPartSql(
  files: readonly string[],
  csvColumns: ReadonlySet<string>,
  keys: readonly string[],
  groups: readonly BatchGroupRow[],
  part: string,
  wholeFile = false,
): string {
  const metadata = keys.map((k) => {
    const fromPath = byGroup(groups.map((g) => g.metadata[k] ?? ""));
    return `${csvColumns.has(k) ? `COALESCE(CAST(b.${ident(k)} AS VARCHAR), ${fromPath})` : fromPath} AS ${ident(k)}`;
  });
  const excluded = keys.filter((k) => csvColumns.has(k)).map(ident);
  const rest = excluded.length ? `b.* EXCLUDE (${excluded.join(", ")})` : "b.*";
  const select = [...metadata, rest, `${byGroup(groups.map((g) => g.source))} AS ${ident(SOURCE_COLUMN)}`].join(", ");
  const sample = wholeFile ? ", sample_size = -1" : "";
  const read = `read_csv(${list(files)}, union_by_name = true, ${CSV_OPTIONS}${sample})`;
  return `CREATE OR REPLACE TABLE ${ident(part)} AS SELECT ${select} FROM ${read} b`;
}

/** The final table: every part table, each column cast to its unified type, in one compressed file. */
export function writeFinalSql(
  parts: readonly string[],
  columns: readonly UnifiedColumn[],
  out: string,
  format: OutputFormat,
): string {
  const select = [...columns, { name: SOURCE_COLUMN, type: "VARCHAR" }]
    .map(({ name, type }) => `CAST(${ident(name)} AS ${type}) AS ${ident(name)}`)
    .join(", ");
  // Row groups of 16,384 rows: DuckDB buffers one row group per writer, and 122,880 rows (its default) of a
  // 200-column table would take about 200 MB of the memory limit.
  const options =
    format === "parquet" ? "FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 16384" : "FORMAT csv, HEADER true";
  const union = parts.map((p) => `SELECT * FROM ${ident(p)}`).join(" UNION ALL BY NAME ");
  return `COPY (SELECT ${select} FROM (${union})) TO ${literal(out)} (${options})`;
}
