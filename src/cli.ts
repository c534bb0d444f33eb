import { Command, CommanderError } from "commander";
import { DEFAULT_CONFIG_PATH } from "./config/defaults.js";
import { registerCommands } from "./commands/index.js";
import { describeAwsFailure } from "./aws/errors.js";
import { setAwsCallLabel } from "./aws/context.js";
import { stopWhenParentExits } from "./signals.js";

/**
 * The `dcp` program. Command modules only declare flags and help; each action imports its
 * flow (and so its AWS clients) on demand, which keeps `dcp --help` fast.
 */
export function buildProgram(): Command {
  const program = new Command("dcp")
    .description("Run CellProfiler pipelines at scale on AWS spot capacity (Distributed-CellProfiler, ported).")
    .option("--config <path>", "config file", DEFAULT_CONFIG_PATH)
    .option("--region <region>", "AWS region (overrides AWS_REGION in the config)")
    .option("--profile <name>", "AWS profile (overrides AWS_PROFILE in the config)")
    .showHelpAfterError("(run with --help for usage)")
    // Command names only in the lists: full usages would push the summaries off an 80-column screen.
    .configureHelp({ subcommandTerm: (cmd) => cmd.name() })
    .exitOverride();
  program.addHelpText(
    "after",
    `
The usual run:
  $ dcp config import config.py       convert your DCP config (or write JSON)
  $ dcp iam create --write-config     the roles a run needs (once per app)
  $ dcp doctor files/job.json files/fleet.json   what would fail, before paying
  $ dcp setup                         queues, cluster, task definition, logs
  $ dcp submit files/job.json         one message per CellProfiler group
  $ dcp start-cluster files/fleet.json
  $ dcp monitor                       shrink the fleet, tear down at the end
`,
  );
  registerCommands(program);
  // Names the command in recorded AWS calls (DCP_RECORD_CALLS; the IAM drift test).
  program.hook("preAction", (_root, action) => {
    const path: string[] = [];
    for (let c: Command | null = action; c && c !== program; c = c.parent) path.unshift(c.name());
    setAwsCallLabel(path.join(" "));
  });
  return program;
}

export async function main(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  let commandPath = "";
  program.hook("preAction", (_program, action) => {
    const names: string[] = [];
    for (let c: Command | null = action; c && c !== program; c = c.parent) names.unshift(c.name());
    commandPath = names.join(" ");
  });
  try {
    await program.parseAsync(argv as string[]);
    return Number(process.exitCode ?? 0);
  } catch (err) {
    return reportError(err, commandPath);
  }
}

/**
 * The one exit policy: usage mistakes and bad input 2, Ctrl-C 130 (errors carry their exitCode),
 * the AWS failures a new user meets first one translated line (exit 1), anything else its name
 * and message (exit 1).
 */
function reportError(err: unknown, commandPath: string): number {
  if (err instanceof CommanderError) {
    // Help and version are "errors" to commander; usage mistakes are bad input (exit 2).
    if (err.code === "commander.helpDisplayed" || err.code === "commander.version" || err.code === "commander.help")
      return 0;
    return 2;
  }
  const exitCode = (err as { exitCode?: unknown }).exitCode;
  if (typeof exitCode === "number") {
    // Flag errors name their command ("dcp monitor: --interval: ..."); others get the program's prefix.
    const message = (err as Error).message;
    process.stderr.write(message.startsWith("dcp ") ? `${message}\n` : `dcp: ${message}\n`);
    return exitCode;
  }
  const aws = describeAwsFailure(err);
  if (aws) {
    process.stderr.write(`${commandPath ? `dcp ${commandPath}` : "dcp"}: ${aws}\n`);
    if (process.env.DCP_DEBUG) process.stderr.write(`${(err as Error).stack ?? ""}\n`);
    return 1;
  }
  const name = (err as { name?: string }).name ?? "Error";
  const message = (err as Error).message ?? String(err);
  process.stderr.write(`dcp: ${name}: ${message}\n`);
  if (process.env.DCP_DEBUG) process.stderr.write(`${(err as Error).stack ?? ""}\n`);
  return 1;
}

// dcp supports Node 20 and pins its SDK versions in package-lock.json, so the SDK's notice that
// future SDK releases will need Node 22 is noise on every command a user runs.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
// `dcp ... | head` closes stdout early; that is not an error worth a stack trace.
process.stdout.on("error", (err: NodeJS.ErrnoException) => {
  if (err.code === "EPIPE") process.exit(process.exitCode ?? 0);
  throw err;
});

stopWhenParentExits();
const exitCode = await main(process.argv);
process.exitCode = exitCode;
