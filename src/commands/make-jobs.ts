import type { Command } from "commander";
import { OperationalError } from "../errors.js";

// Work in progress: replaced by the real command in this session's work on it.
export function registerMakeJobs(program: Command): void {
  program
    .command("make-jobs")
    .description("(not built yet)")
    .action(() => {
      throw new OperationalError("'make-jobs' is not built yet");
    });
}
