/**
 * `dcp collect`: every group's CellProfiler CSVs (one folder per group, as the worker uploads them)
 * merged into one table per object. Streaming: groups are found from the listing as it arrives
 * (src/plan/collect/groups.ts) and handled in batches of at most BATCH_GROUPS groups / BATCH_BYTES
 * bytes; an S3 batch is downloaded into a local spool (bounded concurrency) while the previous one
 * is loaded, and deleted once loaded. Per batch and object, the files are appended into one CSV per
 * distinct header (csv-records.ts says why), DuckDB reads them with union_by_name, the per-group
 * statistics feed the column unifier (schema.ts), and the batch stays as a part table in the spool's
 * DuckDB database file. At the end each object's parts are cast to the unified types and written as
 * one table. Memory: one batch in DuckDB (memory_limit, spilling to the spool), counters per column,
 * and the report's lists of problem groups.
 */
import { closeSync, existsSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { mkdir, mkdtemp, readdir, rename, rm, stat, writeFile } from "node:fs/promises";
import { availableParallelism, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { S3Client } from "@aws-sdk/client-s3";
import { awsContext, type AwsContext } from "../aws/context.js";
import { downloadToFile, listObjectPages, s3Client } from "../aws/s3.js";
import { OperationalError, UserInputError } from "../errors.js";
import { headerColumns, splitCsv } from "../plan/collect/csv-records.js";
import { GroupFinder, type FoundGroup, type ListedFile } from "../plan/collect/groups.js";
import { parseCollectFlags, type CollectFlags, type CollectPlan } from "../plan/collect/options.js";
import {
  ColumnUnifier,
  describeConflict,
  kindOfTextCounts,
  kindOfType,
  type TypeConflict,
} from "../plan/collect/schema.js";
import {
  GROUP_COLUMN,
  batchStatsSql,
  ident,
  SOURCE_COLUMN,
  loadPartSql,
  writeFinalSql,
  type BatchColumn,
} from "../plan/collect/sql.js";
import type { Output } from "../ui/output.js";
import { mapLimit } from "../concurrency.js";
import type { DuckEngine } from "../collect/duckdb.js";

const BATCH_GROUPS = 250;
const BATCH_BYTES = 128 * 1024 * 1024;
/** Problem groups listed in the report (all are counted). */
const LISTED_PROBLEMS = 10_000;

export interface CollectContext {
  output: Output;
  configPath: string;
  region?: string;
  profile?: string;
}

interface Source {
  label: string;
  /** Files in listing order (everything below one folder contiguous). */
  list(): AsyncIterable<ListedFile>;
  /** Local paths of the given files (downloaded into `dir` for S3). */
  fetch(files: ListedFile[], dir: string): Promise<Map<string, string>>;
  /** The provenance of a file: s3://bucket/key or the local path. */
  origin(path: string): string;
}

export interface ObjectSummary {
  rows: number;
  files: number;
  columns: number;
  table?: string;
}

export interface CollectReport {
  source: string;
  output: string;
  format: string;
  groups: number;
  objects: Record<string, ObjectSummary>;
  missing: { count: number; groups: Array<{ group: string; objects: string[] }> };
  empty: { count: number; files: Array<{ group: string; object: string; reason: "empty file" | "header only" }> };
  unmatched: { count: number; folders: string[] };
  conflicts: Array<TypeConflict & { object: string }>;
  seconds: number;
}

export async function runCollect(sourceText: string, flags: CollectFlags, ctx: CollectContext): Promise<CollectReport> {
  const started = performance.now();
  const plan = parseCollectFlags(sourceText, flags);
  const source = await openSource(plan, ctx);
  const spool = await mkdtemp(join(tmpdir(), "dcp-collect-"));
  // Ctrl-C or a kill: the spool (downloads, DuckDB's database) is removed before exiting.
  const interrupted = (signal: NodeJS.Signals) => {
    rmSync(spool, { recursive: true, force: true });
    process.exit(signal === "SIGINT" ? 130 : 143);
  };
  process.once("SIGINT", interrupted).once("SIGTERM", interrupted);
  const { DuckEngine } = await import("../collect/duckdb.js");
  const engine = await DuckEngine.open({
    database: join(spool, "collect.duckdb"),
    tempDirectory: join(spool, "duckdb"),
    memoryLimit: "384MB",
    threads: Math.min(2, availableParallelism()),
  });
  const collector = new Collector(plan, source, engine, spool);
  try {
    await ctx.output.step(
      `Collecting ${plan.objects.join(", ")} from ${source.label}`,
      (handle) => collector.collectAll((text) => handle.update(text)),
      () => `${collector.groups} groups`,
    );
    if (collector.groups === 0)
      throw new UserInputError(
        source.label,
        undefined,
        `holds no group folder with ${plan.objects.map((o) => `${o}.csv`).join(", ")}${plan.template ? ` at the depth of ${plan.template.text}` : ""}`,
        "check the path (the step's output prefix), --objects and --metadata-from-path",
      );
    await mkdir(plan.out, { recursive: true });
    const report = await collector.finish((line) => ctx.output.line(line));
    report.seconds = (performance.now() - started) / 1000;
    await writeFile(join(plan.out, "collect-report.json"), `${JSON.stringify(report, null, 2)}\n`);
    printReport(report, ctx.output);
    ctx.output.result(report);
    return report;
  } finally {
    process.off("SIGINT", interrupted).off("SIGTERM", interrupted);
    engine.close();
    await rm(spool, { recursive: true, force: true });
  }
}

async function openSource(plan: CollectPlan, ctx: CollectContext): Promise<Source> {
  if (plan.source.kind === "local") {
    const root = plan.source.path;
    const info = await stat(root).catch(() => undefined);
    if (!info?.isDirectory())
      throw new UserInputError(
        root,
        undefined,
        info ? "is not a folder" : "does not exist",
        "name the folder holding the group folders (or an s3://bucket/prefix)",
      );
    // The output folder may sit inside the source (dcp collect . -o collated): never read it back.
    const skip = resolve(plan.out);
    return {
      label: root,
      list: () => walk(root, "", skip),
      fetch: async (files) => new Map(files.map((f) => [f.path, join(root, f.path)])),
      origin: (path) => resolve(root, path),
    };
  }
  const { bucket, prefix } = plan.source;
  const client = s3Client(await s3Context(ctx));
  const label = `s3://${bucket}/${prefix}`;
  return {
    label,
    list: () => listS3(client, bucket, prefix, label),
    fetch: (files, dir) => download(client, bucket, prefix, files, dir, plan.concurrency),
    origin: (path) => `s3://${bucket}/${prefix}${path}`,
  };
}

/** The config's region and profile when a config file exists; else --region/--profile and the SDK's chain. */
async function s3Context(ctx: CollectContext): Promise<AwsContext> {
  if (existsSync(ctx.configPath)) {
    const { loadConfig } = await import("../config/load.js");
    return awsContext(await loadConfig(ctx.configPath, { region: ctx.region, profile: ctx.profile }));
  }
  return {
    region: ctx.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? "us-east-1",
    profile: ctx.profile,
  };
}

/** Depth-first, names sorted: every folder's files and subfolders come out together. */
async function* walk(root: string, rel: string, skip: string): AsyncGenerator<ListedFile> {
  const entries = (await readdir(join(root, rel), { withFileTypes: true })).sort((a, b) =>
    a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
  );
  for (const entry of entries) {
    const path = rel ? `${rel}/${entry.name}` : entry.name;
    // Symbolic links are followed (stat), so a linked plate folder is collected like a real one.
    const info = entry.isSymbolicLink() ? await stat(join(root, path)).catch(() => undefined) : entry;
    if (info?.isDirectory()) {
      if (resolve(root, path) !== skip) yield* walk(root, path, skip);
    } else if (info?.isFile()) yield { path, size: (await stat(join(root, path))).size };
  }
}

async function* listS3(client: S3Client, bucket: string, prefix: string, label: string): AsyncGenerator<ListedFile> {
  let any = false;
  try {
    for await (const page of listObjectPages(client, bucket, prefix)) {
      for (const o of page) {
        if (o.key.endsWith("/")) continue;
        any = true;
        yield { path: o.key.slice(prefix.length), size: o.size };
      }
    }
  } catch (err) {
    if ((err as { name?: string }).name === "NoSuchBucket")
      throw new UserInputError(label, undefined, `bucket ${bucket} does not exist`, "correct the bucket name");
    throw err;
  }
  if (!any) throw new UserInputError(label, undefined, "holds no objects", "check the prefix (the step's output path)");
}

async function download(
  client: S3Client,
  bucket: string,
  prefix: string,
  files: ListedFile[],
  dir: string,
  concurrency: number,
): Promise<Map<string, string>> {
  const local = new Map(files.map((f, i) => [f.path, join(dir, `${i}.csv`)]));
  await mkdir(dir, { recursive: true });
  await mapLimit(files, concurrency, (f) => downloadToFile(client, bucket, `${prefix}${f.path}`, local.get(f.path)!));
  return local;
}

/** One appended file of a batch: its header's columns, and where each group's records start (line 1 is the header). */
interface Variant {
  path: string;
  fd: number;
  columns: Set<string>;
  starts: Array<{ line: number; index: number }>;
  lines: number;
}

interface ObjectState {
  unifier: ColumnUnifier;
  parts: string[];
  rows: number;
  files: number;
}

class Collector {
  groups = 0;
  private batchNumber = 0;
  private readonly objects = new Map<string, ObjectState>();
  private readonly missing: CollectReport["missing"] = { count: 0, groups: [] };
  private readonly empty: CollectReport["empty"] = { count: 0, files: [] };
  private readonly finder: GroupFinder;

  constructor(
    private readonly plan: CollectPlan,
    private readonly source: Source,
    private readonly engine: DuckEngine,
    private readonly spool: string,
  ) {
    this.finder = new GroupFinder(plan.objects, plan.template);
    for (const object of plan.objects) {
      const unifier = new ColumnUnifier();
      for (const key of plan.template?.keys ?? []) unifier.column(key);
      this.objects.set(object, { unifier, parts: [], rows: 0, files: 0 });
    }
  }

  private async *batches(): AsyncGenerator<FoundGroup[]> {
    let batch: FoundGroup[] = [];
    let bytes = 0;
    const take = function* (groups: FoundGroup[]) {
      for (const group of groups) {
        batch.push(group);
        for (const f of group.files.values()) bytes += f.size;
        if (batch.length >= BATCH_GROUPS || bytes >= BATCH_BYTES) {
          yield batch;
          batch = [];
          bytes = 0;
        }
      }
    };
    for await (const file of this.source.list()) yield* take(this.finder.push(file));
    yield* take(this.finder.end());
    if (batch.length) yield batch;
  }

  /** Every batch: fetched (the next one downloads while this one loads), loaded, then its spool removed. */
  async collectAll(progress: (text: string) => void): Promise<void> {
    let pending: { batch: FoundGroup[]; dir: string; fetched: Promise<Map<string, string>> } | undefined;
    for await (const batch of this.batches()) {
      const dir = join(this.spool, `batch-${this.batchNumber++}`);
      const files = batch.flatMap((g) => [...g.files.values()].filter((f) => f.size > 0));
      const fetched = this.source.fetch(files, dir);
      fetched.catch(() => undefined); // awaited below; this only avoids an unhandled-rejection warning meanwhile
      if (pending) await this.load(pending.batch, await pending.fetched, pending.dir, progress);
      pending = { batch, dir, fetched };
    }
    if (pending) await this.load(pending.batch, await pending.fetched, pending.dir, progress);
  }

  private async load(batch: FoundGroup[], local: Map<string, string>, dir: string, progress: (t: string) => void) {
    const first = this.groups;
    this.groups += batch.length;
    await mkdir(dir, { recursive: true });
    for (const group of batch) {
      const absent = this.plan.objects.filter((o) => !group.files.has(o));
      if (!absent.length) continue;
      this.missing.count += 1;
      if (this.missing.groups.length < LISTED_PROBLEMS) this.missing.groups.push({ group: group.dir, objects: absent });
    }
    for (const object of this.plan.objects) await this.loadObject(object, batch, first, local, dir);
    await rm(dir, { recursive: true, force: true });
    progress(`${this.groups} groups`);
  }

  private noteEmpty(group: FoundGroup, object: string, reason: "empty file" | "header only"): void {
    this.empty.count += 1;
    if (this.empty.files.length < LISTED_PROBLEMS) this.empty.files.push({ group: group.dir, object, reason });
  }

  /** One object of one batch: appended per header, read by DuckDB, evidence recorded, written as a part. */
  private async loadObject(
    object: string,
    batch: FoundGroup[],
    first: number,
    local: Map<string, string>,
    dir: string,
  ): Promise<void> {
    const state = this.objects.get(object)!;
    const variants = new Map<string, Variant>();
    try {
      batch.forEach((group, index) => {
        const file = group.files.get(object);
        if (!file) return;
        const split = file.size > 0 ? splitCsv(readFileSync(local.get(file.path)!)) : undefined;
        if (!split) return this.noteEmpty(group, object, "empty file");
        state.files += 1;
        if (!split.records.length) this.noteEmpty(group, object, "header only");
        let variant = variants.get(split.header);
        if (!variant) {
          const path = join(dir, `${object}-${variants.size}.csv`);
          variant = {
            path,
            fd: openSync(path, "w"),
            columns: new Set(headerColumns(split.header)),
            starts: [],
            lines: 1,
          };
          writeSync(variant.fd, `${GROUP_COLUMN},${split.header}\n`);
          variants.set(split.header, variant);
        }
        variant.starts.push({ line: variant.lines + 1, index });
        variant.lines += split.records.length;
        const prefix = Buffer.from(`${index},`);
        const newline = Buffer.from("\n");
        writeSync(variant.fd, Buffer.concat(split.records.flatMap((r) => [prefix, r, newline])));
        state.rows += split.records.length;
      });
    } finally {
      for (const v of variants.values()) closeSync(v.fd);
    }
    if (!variants.size) return;
    const keys = this.plan.template?.keys ?? [];
    const rows = batch.map((group) => {
      const file = group.files.get(object);
      return { source: file ? this.source.origin(file.path) : "", metadata: group.metadata };
    });
    const files = [...variants.values()].map((v) => v.path);
    const csvColumns = new Set([...variants.values()].flatMap((v) => [...v.columns]));
    const part = `part_${object}_${first}`;
    await this.engine
      .run(loadPartSql(files, csvColumns, keys, rows, part))
      .catch((err: Error) => {
        // A value after DuckDB's type sample that does not fit the sampled type: detect over every row.
        if (!/conver/i.test(err.message)) throw err;
        return this.engine.run(loadPartSql(files, csvColumns, keys, rows, part, true));
      })
      .catch((err: Error) => {
        throw new OperationalError(this.describeReadError(err, object, batch, [...variants.values()]));
      });
    state.parts.push(part);
    const columns = (await this.engine.describe(ident(part))).filter(
      (c) => c.name !== GROUP_COLUMN && c.name !== SOURCE_COLUMN,
    );
    this.recordEvidence(state.unifier, columns, batch, await this.engine.rows(batchStatsSql(part, columns)));
  }

  /** DuckDB names a line of an appended file; name the group's own file instead. */
  private describeReadError(err: Error, object: string, batch: FoundGroup[], variants: Variant[]): string {
    const first = err.message.split("\n")[0]!;
    const line = Number(/Line:\s*(\d+)/i.exec(err.message)?.[1] ?? NaN);
    const variant =
      variants.find((v) => err.message.includes(v.path)) ?? (variants.length === 1 ? variants[0] : undefined);
    const start = variant?.starts.findLast((s) => s.line <= line);
    if (!start)
      return `DuckDB could not read the ${object}.csv files of ${batch.length} groups starting at ${batch[0]!.dir || "(top folder)"} (a malformed CSV, e.g. a row with more fields than its header?): ${first}`;
    const group = batch[start.index]!;
    const source = this.source.origin(group.files.get(object)!.path);
    return `${source}: record ${line - start.line + 1} cannot be read: ${first.replace(/ on line: \d+/i, "")}`;
  }

  private recordEvidence(unifier: ColumnUnifier, columns: BatchColumn[], batch: FoundGroup[], stats: unknown[][]) {
    for (const { name } of columns) unifier.column(name);
    for (const row of stats) {
      const group = batch[Number(row[0])]!.dir;
      let at = 1;
      for (const { name, type } of columns) {
        const typed = kindOfType(type);
        if (typed !== undefined) {
          if (Number(row[at++]) > 0) unifier.add(name, typed, group);
          continue;
        }
        const [nonNull, numeric, integer, example] = row.slice(at, at + 4);
        at += 4;
        const kind = kindOfTextCounts({ nonNull: Number(nonNull), numeric: Number(numeric), integer: Number(integer) });
        if (kind) unifier.add(name, kind, group, kind === "text" ? String(example) : undefined);
      }
    }
  }

  /** Each object's parts as one table, cast to the unified types; the report. */
  async finish(line: (text: string) => void): Promise<CollectReport> {
    const objects: Record<string, ObjectSummary> = {};
    const conflicts: CollectReport["conflicts"] = [];
    const extension = this.plan.format === "parquet" ? "parquet" : "csv";
    for (const [object, state] of this.objects) {
      const { columns, conflicts: found } = state.unifier.decide();
      const summary: ObjectSummary = { rows: state.rows, files: state.files, columns: columns.length + 1 };
      objects[object] = summary;
      conflicts.push(...found.map((c) => ({ object, ...c })));
      if (!state.parts.length) continue;
      const table = join(this.plan.out, `${object}.${extension}`);
      const partial = `${table}.partial`;
      await this.engine.run(writeFinalSql(state.parts, columns, partial, this.plan.format));
      await rename(partial, table);
      for (const part of state.parts) await this.engine.run(`DROP TABLE ${ident(part)}`);
      summary.table = table;
      line(`${object}: ${state.rows} rows from ${state.files} files, ${summary.columns} columns -> ${table}`);
    }
    return {
      source: this.source.label,
      output: this.plan.out,
      format: this.plan.format,
      groups: this.groups,
      objects,
      missing: this.missing,
      empty: this.empty,
      unmatched: { count: this.finder.unmatchedCount, folders: this.finder.unmatched },
      conflicts,
      seconds: 0,
    };
  }
}

function printReport(report: CollectReport, output: Output): void {
  const few = <T>(items: T[], show: (item: T) => string) =>
    items.slice(0, 5).map(show).join("; ") + (items.length > 5 ? "; ..." : "");
  for (const [object, summary] of Object.entries(report.objects))
    if (!summary.table) output.warn(`${object}: no ${object}.csv with a header in any group; no table written`);
  if (report.missing.count)
    output.warn(
      `${report.missing.count} group(s) lack files: ${few(report.missing.groups, (g) => `${g.group || "(top folder)"} (${g.objects.join(", ")})`)}`,
    );
  if (report.empty.count)
    output.warn(
      `${report.empty.count} empty file(s): ${few(report.empty.files, (f) => `${f.group || "(top folder)"}/${f.object}.csv (${f.reason})`)}`,
    );
  if (report.unmatched.count)
    output.warn(
      `${report.unmatched.count} folder(s) do not fit --metadata-from-path and were skipped: ${few(report.unmatched.folders, (f) => f)}`,
    );
  for (const conflict of report.conflicts) output.warn(`type conflict: ${describeConflict(conflict.object, conflict)}`);
  output.line(
    `Collected ${report.groups} groups in ${report.seconds.toFixed(1)} s; report: ${join(report.output, "collect-report.json")}`,
  );
}
