import { z } from "zod";
import { issueToInputError } from "../../validation.js";
import { PATH_STYLES, pathDefaults, posixJoin } from "./paths.js";
import { listSchema, parseColumns, parseNames, parseRows, parseSites } from "./ranges.js";
import { STEP_NAMES, STEPS, type StepDefinition, type StepName } from "./steps.js";
import type { JobGroup, SharedValues } from "./job-file-writer.js";

/**
 * `dcp make-jobs <step> <identifier> <batch> <plates>`: run_batch_general.py's plate layouts
 * (reference 3.4), with its defaults, and without its bugs: --wells works for every step, and
 * --rows/--columns/--sites take ranges.
 */

export const ROWS_384 = "A-P";
export const COLUMNS_384 = "1-24";
export const ROWS_96 = "A-H";
export const COLUMNS_96 = "1-12";
export const DEFAULT_SITES = "1-9";

const optionalText = z.string().optional();

export const layoutOptionsSchema = z.object({
  step: z.enum(STEP_NAMES, { error: (issue) => `"${String(issue.input)}" is not a step` }),
  identifier: z.string().min(1, { error: "is empty" }),
  batch: z.string().min(1, { error: "is empty" }),
  plates: z
    .string()
    .min(1, { error: "is an empty plate list" })
    .pipe(listSchema((text) => parseNames(text, "plate name"))),
  pathStyle: z.enum(PATH_STYLES, { error: 'must be "default" or "cpg"' }).default("default"),
  source: z.string().default(""),
  plateFormat: z.enum(["96", "384"], { error: "must be 96 or 384" }).optional(),
  rows: listSchema(parseRows).optional(),
  columns: listSchema(parseColumns).optional(),
  wells: listSchema((text) => parseNames(text, "well")).optional(),
  sites: listSchema(parseSites).optional(),
  wellDigitPad: z.boolean().default(true),
  pipeline: optionalText,
  pipelinePath: optionalText,
  inputPath: optionalText,
  outputStructure: optionalText,
  outputPath: optionalText,
  datafileName: optionalText,
  datafilePath: optionalText,
  useBatch: z.boolean().default(false),
  batchfileName: optionalText,
  batchfilePath: optionalText,
});

export type LayoutOptions = z.output<typeof layoutOptionsSchema>;

const FIXES: Record<string, string> = {
  step: `use one of ${STEP_NAMES.join(", ")}`,
  plates: 'list plates separated by commas, e.g. "Plate1,Plate2"',
  pathStyle: "use --path-style default or --path-style cpg",
  plateFormat: "use --plate-format 96 or --plate-format 384 (or --rows/--columns for other plates)",
  rows: "list rows like A,B,C or give a range like A-H",
  columns: "list columns like 1,2,3 or give a range like 1-12",
  wells: "list wells like A01,B03",
  sites: "list sites like 1,2,3 or give a range like 1-9",
};

const POSITIONAL = new Set(["step", "identifier", "batch", "plates"]);

/** `plateFormat` → `--plate-format`, `step` → `<step>`: errors name what the user typed. */
export function flagName(key: string): string {
  if (POSITIONAL.has(key)) return `<${key}>`;
  return `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

/** Validates the command's arguments; the first problem becomes one UserInputError (exit 2). */
export function parseLayoutOptions(input: Record<string, unknown>, source = "make-jobs"): LayoutOptions {
  const result = layoutOptionsSchema.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const key = String(issue.path[0] ?? "");
  const fix = FIXES[key] ?? "correct the value";
  return throwIssue(source, { ...issue, path: [flagName(key)] } as typeof issue, fix);
}

function throwIssue(source: string, issue: z.core.$ZodIssue, fix: string): never {
  throw issueToInputError(source, issue, { [String(issue.path[0])]: fix });
}

export interface LayoutPlan {
  step: StepName;
  definition: StepDefinition;
  shared: SharedValues;
  /** Set when each plate has its own data_file: groups then carry it beside Metadata. */
  dataFileByPlate?: ReadonlyMap<string, string>;
  plates: readonly string[];
  /** Formatted well names (empty for illum). */
  wells: readonly string[];
  /** Site values (empty unless the step is per site). */
  sites: readonly string[];
  groupCount: number;
  /** Where run_batch_general.py would have sent these messages; dcp uses the configured queue. */
  originalQueue: string;
  warnings: string[];
}

function given(value: string | undefined): value is string {
  return value !== undefined && value !== "";
}

/** The original's `f"{row}{int(col):02d}"`, or `:01d` with --no-well-digit-pad. */
export function wellName(row: string, column: number, pad: boolean): string {
  return pad && column < 10 ? `${row}0${column}` : `${row}${column}`;
}

function layoutWells(options: LayoutOptions, warnings: string[]): string[] {
  const explicitRowsOrColumns = options.rows !== undefined || options.columns !== undefined;
  if (options.wells && options.wells.length > 0) {
    if (explicitRowsOrColumns || options.plateFormat)
      warnings.push("--wells replaces --rows, --columns and --plate-format");
    return options.wells;
  }
  let rows = options.rows ?? (parseRows(ROWS_384) as { values: string[] }).values;
  let columns = options.columns ?? (parseColumns(COLUMNS_384) as { values: number[] }).values;
  if (options.plateFormat) {
    if (explicitRowsOrColumns)
      warnings.push(`--plate-format ${options.plateFormat} replaces --rows and --columns (as in run_batch_general.py)`);
    const is96 = options.plateFormat === "96";
    rows = (parseRows(is96 ? ROWS_96 : ROWS_384) as { values: string[] }).values;
    columns = (parseColumns(is96 ? COLUMNS_96 : COLUMNS_384) as { values: number[] }).values;
  }
  const wells: string[] = [];
  for (const row of rows) for (const column of columns) wells.push(wellName(row, column, options.wellDigitPad));
  return wells;
}

export function planLayout(options: LayoutOptions): LayoutPlan {
  const definition = STEPS[options.step];
  const warnings: string[] = [];
  const paths = pathDefaults(options.pathStyle, options.identifier, options.source, options.batch);
  if (options.pathStyle === "cpg" && !given(options.source))
    warnings.push(
      "--path-style cpg without --source: paths start with <identifier>/workspace (the Gallery nests them under a source such as source_4)",
    );

  const pipelinePath = given(options.pipelinePath) ? options.pipelinePath : paths.pipelinePath;
  const batchPath = given(options.batchfilePath) ? options.batchfilePath : paths.batchPath;
  const input = given(options.inputPath) ? options.inputPath : paths.inputPath;
  const datafilePath = given(options.datafilePath) ? options.datafilePath : paths.datafilePath;
  const output = given(options.outputPath) ? options.outputPath : paths[definition.outPath];
  const outputStructure = given(options.outputStructure) ? options.outputStructure : definition.outputStructure;

  const shared: SharedValues = { output, input };
  if (outputStructure !== undefined) shared.output_structure = outputStructure;
  let dataFileByPlate: Map<string, string> | undefined;
  if (options.useBatch) {
    if (options.pathStyle === "cpg" && !given(options.batchfilePath))
      warnings.push(
        "--use-batch with --path-style cpg: the Gallery layout has no batch-file folder, so the batch file is read from the bucket root; pass --batchfile-path",
      );
    const batchFile = posixJoin(batchPath, given(options.batchfileName) ? options.batchfileName : definition.batchFile);
    shared.pipeline = batchFile;
    shared.data_file = batchFile;
  } else {
    shared.pipeline = posixJoin(pipelinePath, given(options.pipeline) ? options.pipeline : definition.pipeline);
    const csvName = given(options.datafileName) ? options.datafileName : definition.csvName;
    const files = new Map(options.plates.map((plate) => [plate, posixJoin(datafilePath, plate, csvName)]));
    const distinct = new Set(files.values());
    if (distinct.size === 1) shared.data_file = [...distinct][0]!;
    else dataFileByPlate = files;
  }

  let wells: string[] = [];
  let sites: string[] = [];
  const ignored = (flags: string[]) =>
    flags.filter((f) => options[f as keyof LayoutOptions] !== undefined).map(flagName);
  const unusedFiles = ignored(
    options.useBatch
      ? ["pipeline", "pipelinePath", "datafileName", "datafilePath"]
      : ["batchfileName", "batchfilePath"],
  );
  if (unusedFiles.length)
    warnings.push(
      options.useBatch
        ? `--use-batch: the batch file is both pipeline and data file; ${unusedFiles.join(", ")} ignored`
        : `${unusedFiles.join(", ")} ignored without --use-batch`,
    );
  if (definition.granularity === "plate") {
    const unused = ignored(["rows", "columns", "wells", "sites", "plateFormat"]);
    if (unused.length) warnings.push(`${options.step} makes one group per plate; ${unused.join(", ")} ignored`);
  } else {
    wells = layoutWells(options, warnings);
    if (definition.granularity === "site")
      sites = options.sites ?? (parseSites(DEFAULT_SITES) as { values: string[] }).values;
    else if (options.sites)
      warnings.push(
        `${options.step} makes one group per well; --sites ignored (use ${options.step}_persite for one group per site)`,
      );
  }
  if (outputStructure !== undefined && definition.outputStructure === undefined) {
    warnings.push(
      `--output-structure is used for ${options.step} too (run_batch_general.py ignored it outside zproj and analysis)`,
    );
  }

  const groupCount = options.plates.length * Math.max(1, wells.length) * Math.max(1, sites.length);
  return {
    step: options.step,
    definition,
    shared,
    ...(dataFileByPlate ? { dataFileByPlate } : {}),
    plates: options.plates,
    wells,
    sites,
    groupCount,
    originalQueue: `${options.identifier}_${definition.queueSuffix}Queue`,
    warnings,
  };
}

/** Groups in the original's order: plate, then row, then column (or the --wells order), then site. */
export function* layoutGroups(plan: LayoutPlan): Generator<JobGroup> {
  const wellParts = plan.wells.map((w) => `,Metadata_Well=${w}`);
  const siteParts = plan.sites.map((s) => `,Metadata_Site=${s}`);
  for (const plate of plan.plates) {
    const prefix = `Metadata_Plate=${plate}`;
    const dataFile = plan.dataFileByPlate?.get(plate);
    const make =
      dataFile === undefined
        ? (m: string): JobGroup => ({ Metadata: m })
        : (m: string): JobGroup => ({ Metadata: m, data_file: dataFile });
    if (wellParts.length === 0) {
      yield make(prefix);
      continue;
    }
    for (const well of wellParts) {
      if (siteParts.length === 0) {
        yield make(prefix + well);
        continue;
      }
      for (const site of siteParts) yield make(prefix + well + site);
    }
  }
}
