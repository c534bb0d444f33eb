import type { Command } from "commander";
import { commandOutput, globalOptions, withExamples } from "./shared.js";

export function registerCollect(program: Command): void {
  const command = program
    .command("collect")
    .summary("merge the groups' CSVs into one Parquet table per object")
    .description(
      "Merge the per-group CSV folders a step wrote (one folder per group, each with <Object>.csv) into one table " +
        "per object, streamed in batches: columns unified by name (a group without a column gets nulls), real type " +
        "conflicts reported (the column is kept as text), the group's Metadata_ columns read from its folder path " +
        "when the CSVs lack them, a Metadata_dcp_source column naming each row's source file, and a report of groups " +
        "with missing or empty files (printed, and written to <out>/collect-report.json). S3 objects are downloaded " +
        "in batches into a temporary spool; DuckDB reads, unifies and writes zstd-compressed Parquet.",
    )
    .argument("<source>", "the step's output prefix: s3://bucket/prefix or a local folder")
    .option("-o, --out <folder>", "folder for the tables (<Object>.parquet or .csv) and collect-report.json")
    .option("--objects <names>", "objects to collect, comma-separated", "Image,Cells,Nuclei,Cytoplasm")
    .option("--format <format>", "parquet or csv", "parquet")
    .option(
      "--metadata-from-path <output_structure>",
      'the job\'s output_structure, e.g. "Metadata_Plate/analysis/Metadata_Plate-Metadata_Well-Metadata_Site": ' +
        "group folders are found at its depth and its Metadata_ values added as columns",
    )
    .option("--concurrency <n>", "S3 downloads in flight at once (1-64)", "16")
    .option("--json", "print the report as JSON on stdout")
    .action(async (source: string, options: Record<string, string | undefined>, cmd: Command) => {
      const { config, region, profile } = globalOptions(cmd);
      const { runCollect } = await import("../flows/collect.js");
      await runCollect(source, options, { output: commandOutput(cmd), configPath: config, region, profile });
    });
  withExamples(command, [
    'dcp collect s3://my-bucket/projects/P/workspace/analysis/B1 -o collated/B1 --metadata-from-path "Metadata_Plate/analysis/Metadata_Plate-Metadata_Well-Metadata_Site"',
    "dcp collect ./outputs -o collated --objects Image,Nuclei --format csv",
    "dcp collect s3://my-bucket/out/B1 -o collated/B1 --json | jq .conflicts",
  ]);
}
