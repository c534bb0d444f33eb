import type { Command } from "commander";
import { OperationalError } from "../errors.js";

// Work in progress: replaced by the real command in this session's work on it.
export function registerTeardown(program: Command): void {
  program
    .command("teardown")
    .description("(not built yet)")
    .action(() => {
      throw new OperationalError("'teardown' is not built yet");
    });
}
