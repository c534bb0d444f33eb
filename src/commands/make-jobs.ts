import type { Command } from "commander";
import { UserInputError } from "../errors.js";
import { choiceFlag } from "./flags.js";
import { commandConfig, commandOutput, withExamples } from "./shared.js";

const STEPS_HELP = "zproj, illum, qc, qc_persite, assaydev, assaydev_persite or analysis";

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** Options both forms share: where the file goes, checks against the data, --submit. */
function addCommonOptions(command: Command, defaultFile: string): Command {
  return command
    .option("-o, --job-file <file>", `job file to write (default ${defaultFile})`)
    .option("--check-csv <file>", "check every group matches rows of this LoadData CSV (repeatable)", collect)
    .option("--allow-missing", "write the file even when groups match no CSV row")
    .option("--submit", "send the groups to the configured queue after writing the file")
    .option("--json", "print the result as JSON on stdout");
}

/**
 * Options of `from-csv` as the user typed them. The root program parses its options anywhere on
 * the line, so commander hands options that come after the operands to `make-jobs` first, and the
 * flags both commands define (--pipeline, -o, --json...) land on the parent. Take them from there;
 * a layout-only flag (e.g. --rows) is an error rather than silently ignored.
 */
function adoptParentOptions(command: Command): void {
  const parent = command.parent;
  if (!parent) return;
  const ownNames = new Set(command.options.map((o) => o.attributeName()));
  for (const option of parent.options) {
    const name = option.attributeName();
    if (parent.getOptionValueSource(name) !== "cli") continue;
    if (!ownNames.has(name))
      throw new UserInputError(
        "dcp make-jobs from-csv",
        option.long ?? option.flags,
        "is not an option of from-csv",
        "remove it (see dcp make-jobs from-csv --help)",
      );
    if (command.getOptionValueSource(name) !== "cli")
      command.setOptionValueWithSource(name, parent.getOptionValue(name), "cli");
  }
}

function context(command: Command) {
  return {
    output: commandOutput(command),
    config: () => commandConfig(command),
    commandLine: ["dcp", ...process.argv.slice(2)].join(" "),
  };
}

export function registerMakeJobs(program: Command): void {
  const makeJobs = program
    .command("make-jobs")
    .summary("write a job file for a Cell Painting step or a LoadData CSV")
    .description(
      `Write a DCP job file for one step of a Cell Painting batch (${STEPS_HELP}), like run_batch_general.py, or from a LoadData CSV`,
    )
    .argument("<step>", STEPS_HELP)
    .argument("<identifier>", "project identifier, e.g. cpg0000-jump-pilot")
    .argument("<batch>", "batch name, e.g. 2020_11_04_CPJUMP1")
    .argument("<plates>", 'plates, comma-separated: "Plate1,Plate2"')
    .option(
      "--path-style <style>",
      "default (projects/<identifier>/...) or cpg (Cell Painting Gallery)",
      choiceFlag(
        { command: "make-jobs", flag: "--path-style" },
        ["default", "cpg"],
        "use --path-style default or --path-style cpg",
      ),
      "default",
    )
    .option("--source <source>", "Cell Painting Gallery source, e.g. source_4 (cpg style)")
    .option(
      "--plate-format <n>",
      "96 or 384: sets rows and columns (replaces --rows/--columns)",
      choiceFlag(
        { command: "make-jobs", flag: "--plate-format" },
        ["96", "384"],
        "use --plate-format 96 or --plate-format 384 (or --rows/--columns for other plates)",
      ),
    )
    .option("--rows <rows>", "rows: A,B,C or a range A-P (default A-P)")
    .option("--columns <columns>", "columns: 1,2,3 or a range 1-24 (default 1-24)")
    .option("--wells <wells>", "explicit wells, e.g. A01,B03 (replaces rows and columns)")
    .option("--sites <sites>", "sites: 1,2,3 or a range 1-9 (default 1-9; per-site steps only)")
    .option("--no-well-digit-pad", "name wells A1 instead of A01")
    .option("--pipeline <name>", "pipeline file name (default per step, e.g. analysis.cppipe)")
    .option("--pipeline-path <path>", "folder of the pipelines")
    .option("--input-path <path>", "input folder")
    .option("--output-structure <structure>", "output structure, e.g. Metadata_Plate/Metadata_Well")
    .option("--output-path <path>", "output prefix")
    .option("--datafile-name <name>", "LoadData CSV name (default per step, e.g. load_data_with_illum.csv)")
    .option("--datafile-path <path>", "folder of the per-plate LoadData CSV folders")
    .option("--use-batch", "use CellProfiler .h5 batch files instead of .cppipe + CSV")
    .option("--batchfile-name <name>", "batch file name (default Batch_data_<step>.h5)")
    .option("--batchfile-path <path>", "folder of the batch files");
  addCommonOptions(makeJobs, "files/<identifier>_<step>.json").action(
    async (step: string, identifier: string, batch: string, plates: string, _opts: unknown, command: Command) => {
      const { runMakeJobs } = await import("../flows/make-jobs.js");
      await runMakeJobs({ step, identifier, batch, plates }, command.opts(), context(command));
    },
  );
  withExamples(makeJobs, [
    'dcp make-jobs analysis 2024_05_16_Project 2024_10_10_Batch1 "Plate1,Plate2"',
    "dcp make-jobs illum cpg0000-jump-pilot 2020_11_04_CPJUMP1 BR00116991 --path-style cpg --source source_4",
    "dcp make-jobs qc MyProject Batch1 Plate1 --plate-format 96 --check-csv load_data.csv",
    "dcp make-jobs analysis MyProject Batch1 Plate1 --rows A-D --columns 1-6 --sites 1-4 -o files/pilot.json --submit",
    "dcp make-jobs from-csv load_data.csv --group-by Metadata_Plate,Metadata_Well --pipeline p/analysis.cppipe --data-file p/load_data.csv --output p/out",
  ]);

  const fromCsv = makeJobs
    .command("from-csv")
    .description(
      "Write a job file with one group per distinct combination of columns of a LoadData CSV (read as a stream)",
    )
    .argument("<load_data.csv>", "LoadData CSV on this machine")
    .option(
      "--group-by <columns>",
      "grouping columns, e.g. Metadata_Plate,Metadata_Well (the pipeline's LoadData grouping)",
    )
    .option("--pipeline <key>", "pipeline (.cppipe or .h5) key in the workspace bucket")
    .option("--data-file <key>", "the LoadData CSV's key in the workspace bucket")
    .option("--input <folder>", "input folder", "")
    .option("--output <prefix>", "output prefix in the destination bucket")
    .option("--output-structure <structure>", "output structure, e.g. Metadata_Plate/Metadata_Well");
  addCommonOptions(fromCsv, "files/<csv name>_jobs.json").action(
    async (csv: string, _opts: unknown, command: Command) => {
      const { runMakeJobsFromCsv } = await import("../flows/make-jobs.js");
      adoptParentOptions(command);
      await runMakeJobsFromCsv(csv, command.opts(), context(command));
    },
  );
  withExamples(fromCsv, [
    "dcp make-jobs from-csv load_data.csv --group-by Metadata_Plate,Metadata_Well,Metadata_Site --pipeline projects/X/workspace/pipelines/B1/analysis.cppipe --data-file projects/X/workspace/load_data_csv/B1/P1/load_data_with_illum.csv --output projects/X/workspace/analysis/B1 -o files/analysis.json",
  ]);
}
