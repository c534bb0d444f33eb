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
const CSV_OPTIONS = "header = true, delim = ',', quote = '\"', escape = '\"', new_line = '\\n', sample_size = -1";

export function loadBatchSql(files: readonly string[]): string {
  return `CREATE OR REPLACE TEMP TABLE batch AS SELECT * FROM read_csv(${list(files)}, union_by_name = true, ${CSV_OPTIONS})`;
}

export interface BatchColumn {
  name: string;
  type: string;
}

/** Per group: its rows, then per column count(col), and for VARCHAR columns the numeric and integer counts and a text example. */
export function batchStatsSql(columns: readonly BatchColumn[]): string {
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
  return `SELECT ${ident(GROUP_COLUMN)}, ${parts.join(", ")} FROM batch GROUP BY ${ident(GROUP_COLUMN)}`;
}

export interface BatchGroupRow {
  id: number;
  source: string;
  metadata: Record<string, string>;
}

/** The batch's groups as a temp table: id, source object, one VARCHAR column per path metadata key. */
export function groupsTableSql(keys: readonly string[], groups: readonly BatchGroupRow[]): string {
  const columns = ["id", "source", ...keys].map(ident).join(", ");
  const rows = groups.map(
    (g) => `(${g.id}, ${literal(g.source)}${keys.map((k) => `, ${literal(g.metadata[k] ?? "")}`).join("")})`,
  );
  return `CREATE OR REPLACE TEMP TABLE batch_groups AS SELECT * FROM (VALUES ${rows.join(", ")}) AS t(${columns})`;
}

/**
 * One batch written as a part file: path metadata first (the CSV's own value where it has one),
 * then the CSV columns, then the provenance column.
 */
export function writePartSql(batchColumns: readonly string[], keys: readonly string[], part: string): string {
  const inBatch = new Set(batchColumns);
  const metadata = keys.map((k) =>
    inBatch.has(k) ? `COALESCE(CAST(b.${ident(k)} AS VARCHAR), g.${ident(k)}) AS ${ident(k)}` : `g.${ident(k)}`,
  );
  const excluded = [GROUP_COLUMN, ...keys.filter((k) => inBatch.has(k))].map(ident).join(", ");
  const select = [...metadata, `b.* EXCLUDE (${excluded})`, `g.source AS ${ident(SOURCE_COLUMN)}`].join(", ");
  return `COPY (SELECT ${select} FROM batch b JOIN batch_groups g ON b.${ident(GROUP_COLUMN)} = g.id ORDER BY b.${ident(GROUP_COLUMN)}) TO ${literal(part)} (FORMAT parquet, COMPRESSION zstd)`;
}

/** The final table: every part, each column cast to its unified type, in one compressed file. */
export function writeFinalSql(
  parts: readonly string[],
  columns: readonly UnifiedColumn[],
  out: string,
  format: OutputFormat,
): string {
  const select = [...columns, { name: SOURCE_COLUMN, type: "VARCHAR" }]
    .map(({ name, type }) => `CAST(${ident(name)} AS ${type}) AS ${ident(name)}`)
    .join(", ");
  const options = format === "parquet" ? "FORMAT parquet, COMPRESSION zstd" : "FORMAT csv, HEADER true";
  return `COPY (SELECT ${select} FROM read_parquet(${list(parts)}, union_by_name = true)) TO ${literal(out)} (${options})`;
}
