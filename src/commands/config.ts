import type { Command } from "commander";
import { OperationalError } from "../errors.js";

// Work in progress: replaced by the real command in this session's work on it.
export function registerConfig(program: Command): void {
  program
    .command("config")
    .description("(not built yet)")
    .action(() => {
      throw new OperationalError("'config' is not built yet");
    });
}
