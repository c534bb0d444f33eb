import type { Command } from "commander";
import { OperationalError } from "../errors.js";

// Work in progress: replaced by the real command in this session's work on it.
export function registerStartCluster(program: Command): void {
  program
    .command("start-cluster")
    .description("(not built yet)")
    .action(() => {
      throw new OperationalError("'start-cluster' is not built yet");
    });
}
