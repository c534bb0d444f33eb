/**
 * Where `dcp worker` gets its settings: the config file when one exists (a workstation), otherwise
 * the environment variables the task definition sets (the container has no config file). The
 * environment's strings ('True', '4', ...) go through the same zod schema as the file, so a bad
 * value is the same one clear error, naming the variable.
 */
import { existsSync } from "node:fs";
import { loadConfig, parseConfig, type ConfigOverrides } from "../config/load.js";
import { CONFIG_KEYS, configShape, type Config } from "../config/schema.js";
import { UserInputError } from "../errors.js";

export const ENVIRONMENT_SOURCE = "environment";

/** Keys never read from the environment: the SDK resolves the profile itself. */
const NOT_FROM_ENV = new Set(["AWS_PROFILE"]);

/** Turns environment strings into config values: kept when the key's schema takes the string, else a number or JSON. */
export function configInputFromEnv(env: NodeJS.ProcessEnv): Record<string, unknown> {
  const input: Record<string, unknown> = {};
  for (const key of CONFIG_KEYS) {
    const raw = env[key];
    if (raw === undefined || NOT_FROM_ENV.has(key)) continue;
    const schema = configShape[key as keyof typeof configShape];
    if (schema.safeParse(raw).success) {
      input[key] = raw;
      continue;
    }
    const trimmed = raw.trim();
    if (trimmed !== "" && !Number.isNaN(Number(trimmed))) input[key] = Number(trimmed);
    else if (/^[[{]|^null$/.test(trimmed)) {
      try {
        input[key] = JSON.parse(trimmed);
      } catch {
        input[key] = raw;
      }
    } else input[key] = raw;
  }
  return input;
}

export interface WorkerSettings {
  config: Config;
  /** The config file's path, or "environment". */
  source: string;
  /** SQS_QUEUE_URL from the task definition; otherwise the queue is looked up by SQS_QUEUE_NAME. */
  queueUrl: string | undefined;
}

export async function loadWorkerSettings(
  configPath: string,
  overrides: ConfigOverrides = {},
  env: NodeJS.ProcessEnv = process.env,
): Promise<WorkerSettings> {
  if (existsSync(configPath)) {
    return { config: await loadConfig(configPath, overrides), source: configPath, queueUrl: undefined };
  }
  // Neither source: say so before any AWS call, rather than fail later on credentials or a queue.
  if (!env.APP_NAME && !env.SQS_QUEUE_URL)
    throw new UserInputError(
      configPath,
      undefined,
      "dcp worker has no settings: this config file does not exist and neither APP_NAME nor SQS_QUEUE_URL is set in the environment",
      "run it where config/config.json is (or pass --config <file>), or set APP_NAME (and SQS_QUEUE_URL) as the task definition does; `dcp worker --self-test` needs neither",
    );
  const config = parseConfig(configInputFromEnv(env), ENVIRONMENT_SOURCE);
  const withOverrides = { ...config, ...(overrides.region ? { AWS_REGION: overrides.region } : {}) };
  return { config: withOverrides, source: ENVIRONMENT_SOURCE, queueUrl: env.SQS_QUEUE_URL || undefined };
}
