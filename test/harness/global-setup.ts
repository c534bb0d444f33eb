import type { TestProject } from "vitest/node";
import { startEmulators, type Emulators } from "./emulators.js";

let emulators: Emulators | undefined;

export async function setup(project: TestProject): Promise<void> {
  // dcp pins SDK versions that support Node 20; the SDK's Node 22 notice is noise in test output.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  emulators = await startEmulators();
  // Test workers are started after this runs and inherit these variables; the SDK reads them.
  Object.assign(process.env, emulators.env);
  project.provide("emulatorEnv", emulators.env);
}

export async function teardown(): Promise<void> {
  await emulators?.stop();
}

declare module "vitest" {
  export interface ProvidedContext {
    emulatorEnv: Record<string, string>;
  }
}
