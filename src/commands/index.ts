import type { Command } from "commander";
import { registerConfig } from "./config.js";
import { registerSetup } from "./setup.js";
import { registerSubmit } from "./submit.js";
import { registerStartCluster } from "./start-cluster.js";
import { registerMonitor } from "./monitor.js";
import { registerTeardown } from "./teardown.js";
import { registerWorker } from "./worker.js";
import { registerMakeJobs } from "./make-jobs.js";
import { registerCollect } from "./collect.js";
import { registerIam } from "./iam.js";
import { registerDoctor } from "./doctor.js";
import { registerGc } from "./gc.js";
import { registerEstimate } from "./estimate.js";
import { registerStatus } from "./status.js";
import { registerWorkflow } from "./workflow.js";

/** Every command, in the order a run uses them. */
export function registerCommands(program: Command): void {
  registerConfig(program);
  registerIam(program);
  registerDoctor(program);
  registerEstimate(program);
  registerSetup(program);
  registerMakeJobs(program);
  registerSubmit(program);
  registerStartCluster(program);
  registerMonitor(program);
  registerStatus(program);
  registerTeardown(program);
  registerWorker(program);
  registerCollect(program);
  registerGc(program);
  registerWorkflow(program);
}
