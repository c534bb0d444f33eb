import type { Command } from "commander";
import { globalOptions, withExamples } from "./shared.js";

/** `dcp config import | show | validate | schema`: the config file, without any AWS call. */
export function registerConfig(program: Command): void {
  const config = program
    .command("config")
    .summary("import a DCP config.py; show or validate the config")
    .description(
      "Import a Distributed-CellProfiler config.py, show or validate the config file, print its JSON Schema.",
    );
  withExamples(config, [
    "dcp config import ~/Distributed-CellProfiler/config.py",
    "dcp config show",
    "dcp config validate",
    "dcp --config config/plate1.json config show --json",
  ]);

  const importCommand = config
    .command("import")
    .description(
      "Convert a DCP config.py to a dcp config file. Reads literal assignments, names assigned above " +
        "(APP_NAME + 'Queue'), arithmetic (3*60), lists and booleans, and never runs Python. Anything it " +
        "cannot convert is reported with its line number, and nothing is written.",
    )
    .argument("<config.py>", "the DCP config.py to convert")
    .option("-o, --output <path>", "where to write the config (default: the --config path, config/config.json)")
    .option("--force", "overwrite the output file if it exists")
    .option("--json", "print the result (output path, settings, notes) as JSON on stdout")
    .action(async (source: string, options: { output?: string; force?: boolean; json?: boolean }, cmd: Command) => {
      const { runConfigImport } = await import("../flows/config-import.js");
      await runConfigImport({
        source,
        output: options.output ?? globalOptions(cmd).config,
        force: Boolean(options.force),
        json: Boolean(options.json),
      });
    });
  withExamples(importCommand, [
    "dcp config import ../Distributed-CellProfiler/config.py",
    "dcp config import config.py -o config/plate1.json",
    "dcp config import config.py --force        # replace config/config.json",
  ]);

  const show = config
    .command("show")
    .description(
      "Show the resolved config (file values, defaults, --region/--profile) and the names derived from it: " +
        "queue, dead-letter queue, cluster, task family, service, log groups, state file, buckets.",
    )
    .option("--json", "print it as JSON on stdout")
    .action(async (options: { json?: boolean }, cmd: Command) => {
      const { runConfigShow } = await import("../flows/config-show.js");
      const { config: path, region, profile } = globalOptions(cmd);
      await runConfigShow(path, { region, profile }, Boolean(options.json));
    });
  withExamples(show, [
    "dcp config show",
    "dcp --config config/plate1.json --region eu-west-1 config show",
    "dcp config show --json | jq .names.queueName",
  ]);

  const validate = config
    .command("validate")
    .description(
      "Check a config file against the schema; exit 0 if it is valid, 2 with one message naming the key and the fix if not.",
    )
    .argument("[file]", "config file to check (default: the --config path, config/config.json)")
    .option("--json", "print the result as JSON on stdout")
    .action(async (file: string | undefined, options: { json?: boolean }, cmd: Command) => {
      const { runConfigValidate } = await import("../flows/config-show.js");
      const { config: path, region, profile } = globalOptions(cmd);
      await runConfigValidate(file ?? path, { region, profile }, Boolean(options.json));
    });
  withExamples(validate, [
    "dcp config validate",
    "dcp config validate config/plate1.json",
    'for f in config/*.json; do dcp config validate "$f" || break; done',
  ]);

  const schema = config
    .command("schema")
    .description("Print the config file's JSON Schema (generated from dcp's own schema), or write it with -o.")
    .option("-o, --output <path>", "write it to this file instead of stdout")
    .action(async (options: { output?: string }) => {
      const { runConfigSchema } = await import("../flows/config-schema.js");
      await runConfigSchema(options.output);
    });
  withExamples(schema, [
    "dcp config schema -o config/config.schema.json",
    "dcp config schema | jq '.properties.MACHINE_PRICE'",
  ]);
}
