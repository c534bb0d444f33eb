import type { Command } from "commander";
import { OperationalError } from "../errors.js";

// Work in progress: replaced by the real command in this session's work on it.
export function registerMonitor(program: Command): void {
  program
    .command("monitor")
    .description("(not built yet)")
    .action(() => {
      throw new OperationalError("'monitor' is not built yet");
    });
}
