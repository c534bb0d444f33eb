/**
 * The data file in download mode (DOWNLOAD_FILES true): which images one group needs and the
 * rewritten LoadData CSV or file list that points CellProfiler at the local copies. Pure; no I/O.
 *
 * Fixes over DCP (reference 7.1.18-19): file lists are trimmed and rewritten too, PathNames outside
 * the mount root are a clear input error, relative PathNames resolve under `-i` like CellProfiler's
 * "Default Input Folder", and a group with no rows is an input error before anything is downloaded.
 */
import { posix } from "node:path";
import { parse } from "csv-parse/sync";
import { TaskInputError, assertContainedPath, sameMetadataValue } from "./naming.js";

export type DataFileKind = "csv" | "txt" | "h5";

export function dataFileKind(dataFile: string): DataFileKind {
  const lower = dataFile.toLowerCase();
  if (lower.endsWith(".csv")) return "csv";
  if (lower.endsWith(".txt")) return "txt";
  if (lower.endsWith(".h5")) return "h5";
  throw new TaskInputError("data_file", `"${dataFile}" is not a LoadData .csv, a file-list .txt or a batch .h5 file`);
}

export interface Table {
  header: string[];
  rows: string[][];
}

export function parseCsv(text: string, source: string): Table {
  let records: string[][];
  try {
    records = parse(text, { bom: true, skip_empty_lines: true, relax_column_count: true }) as string[][];
  } catch (err) {
    throw new TaskInputError(source, `is not a readable CSV (${(err as Error).message})`);
  }
  const [header, ...rows] = records;
  if (!header) throw new TaskInputError(source, "is empty");
  return { header, rows };
}

function quoteCell(cell: string): string {
  return /[",\r\n]/.test(cell) || cell !== cell.trim() ? `"${cell.replace(/"/g, '""')}"` : cell;
}

export function stringifyCsv(table: Table): string {
  return [table.header, ...table.rows].map((row) => row.map(quoteCell).join(",")).join("\n") + "\n";
}

/** The rows of one group (every -g key must be a column), as CellProfiler's -g selects them. */
export function groupRows(table: Table, group: ReadonlyArray<[string, string]>, source: string): Table {
  const columns = group.map(([key, value]) => {
    const index = table.header.indexOf(key);
    if (index < 0)
      throw new TaskInputError(
        source,
        `has no column ${key}, which the group's Metadata names (columns: ${table.header.filter((h) => h.startsWith("Metadata_")).join(", ") || "none named Metadata_*"})`,
      );
    return [index, value] as const;
  });
  const rows = table.rows.filter((row) => columns.every(([i, value]) => sameMetadataValue(row[i] ?? "", value)));
  if (!rows.length) {
    throw new TaskInputError(
      source,
      `no row matches the group ${group.map(([k, v]) => `${k}=${v}`).join(",")} (check the values, e.g. "1" rather than "01")`,
    );
  }
  return { header: table.header, rows };
}

export interface Download {
  /** Key in the image bucket. */
  key: string;
  /** Absolute local file. */
  file: string;
}

export interface LocalLayout {
  /** Where SOURCE_BUCKET is mounted in mount mode; LoadData paths name files under it. */
  mountRoot: string;
  /** The local mirror of the bucket in download mode. */
  localRoot: string;
  /** The message's `input` folder: relative PathNames resolve under it (CellProfiler's -i). */
  input: string;
}

function underMount(path: string, mountRoot: string): string | undefined {
  const root = mountRoot.replace(/\/+$/, "");
  if (path === root) return "";
  return path.startsWith(`${root}/`) ? path.slice(root.length + 1) : undefined;
}

function addDownload(downloads: Map<string, Download>, key: string, layout: LocalLayout, field: string): void {
  const normalized = posix.normalize(key);
  assertContainedPath(normalized, field);
  downloads.set(normalized, { key: normalized, file: posix.join(layout.localRoot, normalized) });
}

const IMAGE_COLUMN = /^(Image_)?(Objects)?(FileName|PathName)_(.+)$/;

/** Images the rows name, and the rows with absolute paths moved from the mount root to the local root. */
export function planCsvDownloads(
  table: Table,
  layout: LocalLayout,
  source: string,
): { downloads: Download[]; table: Table } {
  const pairs = new Map<string, { file?: number; path?: number }>();
  table.header.forEach((name, index) => {
    const match = IMAGE_COLUMN.exec(name);
    if (!match) return;
    const id = `${match[2] ?? ""}${match[4]}`;
    const entry = pairs.get(id) ?? {};
    if (match[3] === "FileName") entry.file = index;
    else entry.path = index;
    pairs.set(id, entry);
  });
  const downloads = new Map<string, Download>();
  const rows = table.rows.map((row, r) => {
    const out = [...row];
    for (const [id, { file, path }] of pairs) {
      if (file === undefined) continue;
      const fileName = row[file]?.trim() ?? "";
      if (!fileName) continue;
      const field = `${source} row ${r + 2} (${id})`;
      const pathName = path === undefined ? "" : (row[path]?.trim() ?? "");
      if (pathName.startsWith("/")) {
        const relative = underMount(pathName, layout.mountRoot);
        if (relative === undefined)
          throw new TaskInputError(
            field,
            `PathName "${pathName}" is not under the mount root ${layout.mountRoot}, so it cannot be downloaded from the image bucket`,
          );
        addDownload(downloads, posix.join(relative, fileName), layout, field);
        out[path!] = posix.join(layout.localRoot, relative);
      } else {
        addDownload(downloads, posix.join(layout.input, pathName, fileName), layout, field);
      }
    }
    return out;
  });
  return { downloads: [...downloads.values()], table: { header: table.header, rows } };
}

/** A file list (one path or URL per line): files under the mount root are downloaded and rewritten. */
export function planFileListDownloads(
  text: string,
  layout: LocalLayout,
  source: string,
): { downloads: Download[]; text: string } {
  const downloads = new Map<string, Download>();
  const lines: string[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (!line) return;
    const isFileUrl = line.startsWith("file://");
    const path = isFileUrl ? decodeURIComponent(line.slice("file://".length)) : line;
    if (!isFileUrl && /^[a-z][a-z0-9+.-]*:\/\//i.test(line)) {
      lines.push(line); // s3://, http(s):// ... CellProfiler fetches those itself.
      return;
    }
    const field = `${source} line ${i + 1}`;
    const relative = path.startsWith("/") ? underMount(path, layout.mountRoot) : undefined;
    if (relative === undefined)
      throw new TaskInputError(
        field,
        `"${line}" is not an absolute path under the mount root ${layout.mountRoot} or a URL`,
      );
    addDownload(downloads, relative, layout, field);
    const local = posix.join(layout.localRoot, posix.normalize(relative));
    lines.push(isFileUrl ? `file://${local}` : local);
  });
  return { downloads: [...downloads.values()], text: lines.join("\n") + "\n" };
}
