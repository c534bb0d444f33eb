import { z } from "zod";
import { UserInputError } from "../../errors.js";
import { issueToInputError } from "../../validation.js";
import type { CsvGroups } from "./csv-groups.js";
import type { JobGroup, SharedValues } from "./job-file-writer.js";

/**
 * `dcp make-jobs from-csv <load_data.csv> --group-by ...`: one group per distinct combination of
 * the grouping columns, in file order (what DCP users did with ManualMetadata.py). Values are
 * written as CellProfiler will compare them, so a CSV `Metadata_Site` of `01` gives
 * `Metadata_Site=1`, which is the only value that selects those rows.
 */

const groupByColumn = z
  .string()
  .min(1, { error: "has an empty column name" })
  .regex(/^[^=,\s]+$/, { error: "column names may not contain spaces or '='" })
  .transform((name) => (name.startsWith("Metadata_") ? name : `Metadata_${name}`));

export const fromCsvOptionsSchema = z.object({
  csv: z.string().min(1, { error: "is empty" }),
  groupBy: z
    .string({ error: "is missing" })
    .transform((text) => text.split(","))
    .pipe(z.array(groupByColumn))
    .refine((keys) => new Set(keys).size === keys.length, { error: "names a column twice" }),
  pipeline: z.string({ error: "is missing" }).min(1, { error: "is empty" }),
  dataFile: z.string({ error: "is missing" }).min(1, { error: "is empty" }),
  input: z.string().default(""),
  output: z.string({ error: "is missing" }),
  outputStructure: z.string().optional(),
});

export type FromCsvOptions = z.output<typeof fromCsvOptionsSchema>;

const FIXES: Record<string, string> = {
  csv: "give the LoadData CSV to read",
  groupBy: "name the grouping columns, e.g. --group-by Metadata_Plate,Metadata_Well,Metadata_Site",
  pipeline:
    "give the pipeline's key in the workspace bucket, e.g. --pipeline projects/X/workspace/pipelines/B1/analysis.cppipe",
  dataFile:
    "give the CSV's key in the workspace bucket, e.g. --data-file projects/X/workspace/load_data_csv/B1/P1/load_data.csv",
  output: "give the output prefix in the destination bucket, e.g. --output projects/X/workspace/analysis/B1",
};

const FLAGS: Record<string, string> = {
  csv: "<load_data.csv>",
  groupBy: "--group-by",
  dataFile: "--data-file",
  outputStructure: "--output-structure",
};

export function parseFromCsvOptions(input: Record<string, unknown>, source = "make-jobs from-csv"): FromCsvOptions {
  const result = fromCsvOptionsSchema.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const key = String(issue.path[0] ?? "");
  const flag = FLAGS[key] ?? `--${key}`;
  throw issueToInputError(source, { ...issue, path: [flag] } as typeof issue, {
    [flag]: FIXES[key] ?? "correct the value",
  });
}

export function sharedFromCsvOptions(options: FromCsvOptions): SharedValues {
  const shared: SharedValues = {
    pipeline: options.pipeline,
    data_file: options.dataFile,
    input: options.input,
    output: options.output,
  };
  if (options.outputStructure !== undefined) shared.output_structure = options.outputStructure;
  return shared;
}

/** CellProfiler splits -g on "," and "=" only: values may hold inner spaces (dcp passes argv). */
const METADATA_VALUE = /^(?:[^=,\s](?:[^=,]*[^=,\s])?)?$/;

/**
 * The groups of a CSV. A value `cellprofiler -g` cannot carry ("," or "=", or a space at its start or end) is bad input:
 * no group could select those rows.
 */
export function csvJobGroups(csv: CsvGroups): JobGroup[] {
  const groups: JobGroup[] = [];
  for (const group of csv.groups.values()) {
    const bad = group.values.findIndex((v) => !METADATA_VALUE.test(v));
    if (bad !== -1) {
      throw new UserInputError(
        csv.source,
        csv.keys[bad],
        `the value ${JSON.stringify(group.values[bad])} cannot be passed to cellprofiler -g (it contains "," or "=", or a space at its start or end)`,
        'rename the value in the CSV (CellProfiler splits -g on "," and "=")',
      );
    }
    groups.push({ Metadata: group.values.map((v, i) => `${csv.keys[i]}=${v}`).join(",") });
  }
  return groups;
}

/** Lines telling which CSV values CellProfiler reads differently from their text. */
export function reinterpretationNotes(csv: CsvGroups): string[] {
  const notes: string[] = [];
  csv.reinterpreted.forEach((note, i) => {
    if (note)
      notes.push(
        `${csv.keys[i]}: CellProfiler reads the CSV's ${JSON.stringify(note.raw)} as ${note.text} (${note.count} row${note.count === 1 ? "" : "s"} read differently from their text); the groups use the values CellProfiler compares`,
      );
  });
  return notes;
}
