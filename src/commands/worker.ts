import type { Command } from "commander";
import { OperationalError } from "../errors.js";

// Work in progress: replaced by the real command in this session's work on it.
export function registerWorker(program: Command): void {
  program
    .command("worker")
    .description("(not built yet)")
    .action(() => {
      throw new OperationalError("'worker' is not built yet");
    });
}
