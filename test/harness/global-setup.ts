import type { TestProject } from "vitest/node";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startEmulators, type Emulators } from "./emulators.js";
import { driftOf, readRecordedCalls } from "./iam-drift.js";

let emulators: Emulators | undefined;

export async function setup(project: TestProject): Promise<void> {
  // dcp pins SDK versions that support Node 20; the SDK's Node 22 notice is noise in test output.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  emulators = await startEmulators();
  // Test workers are started after this runs and inherit these variables; the SDK reads them.
  Object.assign(process.env, emulators.env);
  project.provide("emulatorEnv", emulators.env);
  // Every dcp the tests run records its AWS calls here (inherited); the IAM drift check reads them.
  process.env.DCP_RECORD_CALLS = join(mkdtempSync(join(tmpdir(), "dcp-calls-")), "calls.tsv");
  project.provide("callRecordFile", process.env.DCP_RECORD_CALLS);
}

export async function teardown(): Promise<void> {
  await emulators?.stop();
  // The whole suite's calls against the IAM table (test/iam-drift.test.ts checks those recorded before it ran).
  const drift = driftOf(readRecordedCalls(process.env.DCP_RECORD_CALLS ?? ""));
  if (drift.length) {
    process.stderr.write(`\nIAM drift: AWS calls missing from the IAM table:\n  ${drift.join("\n  ")}\n`);
    process.exitCode = 1;
  }
}

declare module "vitest" {
  export interface ProvidedContext {
    emulatorEnv: Record<string, string>;
    callRecordFile: string;
  }
}
