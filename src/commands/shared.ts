import type { Command } from "commander";
import type { Config } from "../config/schema.js";
import { Output } from "../ui/output.js";

/** Options every command accepts, defined once on the root program. */
export interface GlobalOptions {
  config: string;
  region?: string;
  profile?: string;
}

export function globalOptions(command: Command): GlobalOptions {
  return command.optsWithGlobals<GlobalOptions>();
}

/** Loads the config named by --config with --region/--profile applied (zod is loaded here, not at start-up). */
export async function commandConfig(command: Command): Promise<Config> {
  const { config, region, profile } = globalOptions(command);
  const { loadConfig } = await import("../config/load.js");
  return loadConfig(config, { region, profile });
}

export function commandOutput(command: Command): Output {
  const opts = command.opts<{ json?: boolean }>();
  return new Output({ json: Boolean(opts.json) });
}

/** Help text with examples, in the same layout for every command. */
export function withExamples(command: Command, examples: readonly string[]): Command {
  return command.addHelpText("after", `\nExamples:\n${examples.map((e) => `  $ ${e}`).join("\n")}\n`);
}
