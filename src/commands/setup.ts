import type { Command } from "commander";
import { OperationalError } from "../errors.js";

// Work in progress: replaced by the real command in this session's work on it.
export function registerSetup(program: Command): void {
  program
    .command("setup")
    .description("(not built yet)")
    .action(() => {
      throw new OperationalError("'setup' is not built yet");
    });
}
