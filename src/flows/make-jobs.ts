import { createReadStream } from "node:fs";
import { basename, extname, join } from "node:path";
import { parse } from "csv-parse";
import type { Config } from "../config/schema.js";
import { UserInputError } from "../errors.js";
import { writeFileAtomic } from "../io/atomic-write.js";
import { CsvGroupCollector, type CsvGroups } from "../plan/make-jobs/csv-groups.js";
import { GroupMatcher, formatMatchReport, type MatchReport } from "../plan/make-jobs/csv-match.js";
import {
  csvJobGroups,
  parseFromCsvOptions,
  reinterpretationNotes,
  sharedFromCsvOptions,
} from "../plan/make-jobs/from-csv.js";
import { jobFileChunks, type JobFileHead, type JobGroup } from "../plan/make-jobs/job-file-writer.js";
import { layoutGroups, parseLayoutOptions, planLayout, type LayoutPlan } from "../plan/make-jobs/layout.js";
import type { Output } from "../ui/output.js";

/**
 * `dcp make-jobs`: plan the groups (pure, src/plan/make-jobs), check them against LoadData CSVs,
 * stream the job file to disk, and optionally hand the messages to the submit path.
 */

export interface MakeJobsContext {
  output: Output;
  /** Loaded only for --submit, so making a file needs no config and no AWS. */
  config: () => Promise<Config>;
  /** The command line, recorded in the file's _comment. */
  commandLine: string;
}

export interface CommonFlags {
  jobFile?: string;
  submit?: boolean;
  checkCsv?: string[];
  allowMissing?: boolean;
}

export interface MakeJobsResult {
  file: string;
  groups: number;
  step?: string;
  plates?: number;
  wellsPerPlate?: number;
  sitesPerWell?: number;
  originalQueue?: string;
  check?: MatchReport;
  submitted?: number;
}

/** The grouping keys of a layout step, as its Metadata strings carry them. */
function layoutKeys(plan: LayoutPlan): string[] {
  const keys = ["Metadata_Plate"];
  if (plan.definition.granularity !== "plate") keys.push("Metadata_Well");
  if (plan.definition.granularity === "site") keys.push("Metadata_Site");
  return keys;
}

/** The flags every make-jobs form shares, apart from the form's own (and --json, which Output handles). */
function splitFlags(flags: Record<string, unknown> & CommonFlags) {
  const {
    jobFile,
    submit,
    checkCsv,
    allowMissing,
    json: _json,
    ...rest
  } = flags as CommonFlags & {
    json?: boolean;
  } & Record<string, unknown>;
  return { common: { jobFile, submit, checkCsv, allowMissing }, rest };
}

/** --submit sends the written file; otherwise say how to. */
async function finish(result: MakeJobsResult, config: Config | undefined, ctx: MakeJobsContext) {
  if (config) result.submitted = await submitFile(result.file, config, ctx);
  else ctx.output.line(`next: dcp submit ${result.file}`);
  ctx.output.result(result);
  return result;
}

export async function runMakeJobs(
  positional: { step: string; identifier: string; batch: string; plates: string },
  flags: Record<string, unknown> & CommonFlags,
  ctx: MakeJobsContext,
): Promise<MakeJobsResult> {
  const { common, rest: layoutFlags } = splitFlags(flags);
  const { jobFile, submit, checkCsv, allowMissing } = common;
  const options = parseLayoutOptions({ ...positional, ...layoutFlags });
  const plan = planLayout(options);
  const config = submit ? await ctx.config() : undefined;
  const out = ctx.output;
  for (const warning of plan.warnings) out.warn(warning);
  const shape = [`${plan.plates.length} plate${plan.plates.length === 1 ? "" : "s"}`];
  if (plan.wells.length) shape.push(`${plan.wells.length} well${plan.wells.length === 1 ? "" : "s"}`);
  if (plan.sites.length) shape.push(`${plan.sites.length} site${plan.sites.length === 1 ? "" : "s"}`);
  out.line(`${plan.step}: ${plan.groupCount} groups (${shape.join(" × ")})`);

  let check: MatchReport | undefined;
  if (checkCsv?.length) {
    const keys = layoutKeys(plan);
    const csvs: CsvGroups[] = [];
    for (const file of checkCsv) csvs.push(await readCsvGroups(file, keys, out));
    check = checkGroups(new GroupMatcher(keys, csvs), layoutGroups(plan), out, Boolean(allowMissing), (report) =>
      layoutHint(report, options.wellDigitPad),
    );
  }

  const file = jobFile ?? join("files", `${options.identifier}_${options.step}.json`);
  const head: JobFileHead = {
    comment: `${ctx.commandLine} (run_batch_general.py would have sent these to ${plan.originalQueue}; dcp submit sends them to the configured queue)`,
    shared: plan.shared,
  };
  await writeJobFile(file, head, layoutGroups(plan));
  out.line(`wrote ${plan.groupCount} groups to ${file}`);
  const result: MakeJobsResult = {
    file,
    groups: plan.groupCount,
    step: plan.step,
    plates: plan.plates.length,
    wellsPerPlate: plan.wells.length,
    sitesPerWell: plan.sites.length,
    originalQueue: plan.originalQueue,
    ...(check ? { check } : {}),
  };
  return finish(result, config, ctx);
}

export async function runMakeJobsFromCsv(
  csv: string,
  flags: Record<string, unknown> & CommonFlags,
  ctx: MakeJobsContext,
): Promise<MakeJobsResult> {
  const { common, rest: csvFlags } = splitFlags(flags);
  const { jobFile, submit, checkCsv, allowMissing } = common;
  const options = parseFromCsvOptions({ csv, ...csvFlags });
  const config = submit ? await ctx.config() : undefined;
  const out = ctx.output;
  const collected = await readCsvGroups(options.csv, options.groupBy, out);
  for (const note of reinterpretationNotes(collected)) out.line(note);
  const groups = csvJobGroups(collected);
  if (groups.length === 0)
    throw new UserInputError(
      options.csv,
      undefined,
      "has no data rows",
      "give a LoadData CSV with a header and at least one row",
    );
  out.line(`${groups.length} groups (one per distinct ${options.groupBy.join(",")} in ${collected.rowCount} rows)`);

  // Against the CSV itself, or against the copies given with --check-csv (e.g. the one --data-file names).
  const extra: CsvGroups[] = [];
  for (const file of checkCsv ?? []) extra.push(await readCsvGroups(file, options.groupBy, out));
  const check = checkGroups(
    new GroupMatcher(options.groupBy, extra.length ? extra : [collected]),
    groups,
    out,
    Boolean(allowMissing),
  );

  const shared = sharedFromCsvOptions(options);
  const file = jobFile ?? join("files", `${basename(options.csv, extname(options.csv))}_jobs.json`);
  await writeJobFile(file, { comment: ctx.commandLine, shared }, groups);
  out.line(`wrote ${groups.length} groups to ${file}`);
  const result: MakeJobsResult = { file, groups: groups.length, check };
  return finish(result, config, ctx);
}

/** The layout flag that most likely fixes the commonest near miss. */
function layoutHint(report: MatchReport, wellDigitPad: boolean): string | undefined {
  const kinds = report.kinds.map((k) => k.kind);
  if (kinds.some((k) => k.includes("zero padding in Metadata_Well")))
    return wellDigitPad
      ? "the CSV's wells are not zero-padded: add --no-well-digit-pad"
      : "the CSV's wells are zero-padded: drop --no-well-digit-pad";
  if (kinds.some((k) => k.includes("zero padding in Metadata_Site")))
    return "CellProfiler reads sites as numbers: write --sites without leading zeros (e.g. --sites 1-9)";
  return undefined;
}

function checkGroups(
  matcher: GroupMatcher,
  groups: Iterable<JobGroup>,
  out: Output,
  allowMissing: boolean,
  hint?: (report: MatchReport) => string | undefined,
): MatchReport {
  for (const group of groups) matcher.check(group.Metadata);
  const report = matcher.report();
  for (const line of formatMatchReport(report)) out.line(line);
  if (report.unmatched > 0) {
    const first = report.kinds[0]?.examples[0]?.group ?? "";
    if (!allowMissing) {
      const fix = hint?.(report) ?? "correct the layout (see the near misses above)";
      throw new UserInputError(
        report.csv.join(", "),
        undefined,
        `${report.unmatched} of ${report.checked} groups match no row (e.g. ${first}); CellProfiler would run nothing for them`,
        `${fix}, or pass --allow-missing to write the file anyway`,
      );
    }
    out.warn(`${report.unmatched} groups match no CSV row; writing them anyway (--allow-missing)`);
  }
  return report;
}

/** Streams a CSV through csv-parse, keeping only the distinct combinations of `keys`. */
export async function readCsvGroups(file: string, keys: readonly string[], out: Output): Promise<CsvGroups> {
  const collector = new CsvGroupCollector(file, keys);
  return out.step(
    `reading ${file}`,
    async (handle) => {
      let header: string[] | undefined;
      let line = 0;
      try {
        const parser = parse({ bom: true, relax_column_count: true, skip_empty_lines: true });
        const source = createReadStream(file);
        source.on("error", (err) => parser.destroy(err));
        source.pipe(parser);
        for await (const record of parser as AsyncIterable<string[]>) {
          line = (parser.info?.lines as number | undefined) ?? line + 1;
          if (!header) {
            header = record;
            const missing = collector.header(record);
            if (missing.length) {
              const metadata = record.filter((c) => c.startsWith("Metadata_"));
              throw new UserInputError(
                file,
                missing[0],
                "is not a column of this CSV",
                `group by columns it has (${metadata.join(", ") || "it has no Metadata_ columns"})`,
              );
            }
            continue;
          }
          if (record.length < header.length) {
            throw new UserInputError(
              file,
              `line ${line}`,
              `has ${record.length} fields but the header has ${header.length} (LoadData stops on such rows)`,
              "fix or remove the row",
            );
          }
          collector.add(record);
          if (collector.rows % 100_000 === 0) handle.update(`${collector.rows} rows`);
        }
      } catch (err) {
        if (err instanceof UserInputError) throw err;
        const code = (err as NodeJS.ErrnoException).code;
        if (code === "ENOENT")
          throw new UserInputError(file, undefined, "file not found", "check the path of the LoadData CSV");
        throw new UserInputError(
          file,
          line ? `line ${line}` : undefined,
          `is not a readable CSV (${(err as Error).message})`,
          "check the file is a comma-separated LoadData CSV",
        );
      }
      if (!header) throw new UserInputError(file, undefined, "is empty", "give a LoadData CSV with a header row");
      return collector.finish();
    },
    (groups) => `${groups.rowCount} rows, ${groups.groups.size} distinct ${keys.join(",")}`,
  );
}

/** Writes next to the target and renames, so a failed run never leaves half a job file. */
export async function writeJobFile(file: string, head: JobFileHead, groups: Iterable<JobGroup>): Promise<void> {
  try {
    await writeFileAtomic(file, jobFileChunks(head, groups));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "EACCES" || code === "ENOENT" || code === "EISDIR" || code === "ENOTDIR") {
      throw new UserInputError(file, undefined, `cannot be written (${code})`, "choose another path with -o FILE");
    }
    throw err;
  }
}

/**
 * --submit: the written file goes through the same path as `dcp submit FILE` (every group
 * validated first, then sent in batches), so nothing reaches the queue that submit would refuse.
 */
async function submitFile(file: string, config: Config, ctx: MakeJobsContext): Promise<number> {
  const { checkJobFile, jobFileMessages } = await import("../submit/job-reader.js");
  const { submitMessages, unsentFileFor } = await import("../submit/engine.js");
  const job = await ctx.output.step(
    `Checking ${file}`,
    () => checkJobFile(file),
    (j) => `${j.groups} groups, all valid`,
  );
  const report = await submitMessages(config, jobFileMessages(job), {
    output: ctx.output,
    total: job.groups,
    unsentFile: unsentFileFor(file),
    shared: job.shared,
  });
  return report.sent;
}
