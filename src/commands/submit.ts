import type { Command } from "commander";
import { OperationalError } from "../errors.js";

// Work in progress: replaced by the real command in this session's work on it.
export function registerSubmit(program: Command): void {
  program
    .command("submit")
    .description("(not built yet)")
    .action(() => {
      throw new OperationalError("'submit' is not built yet");
    });
}
