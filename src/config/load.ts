import { existsSync } from "node:fs";
import { UserInputError } from "../errors.js";
import { parseWithSchema, readJsonFile, type FixHints } from "../validation.js";
import { CONFIG_KEYS, configSchema, resolveDerived, type Config } from "./schema.js";

export const DEFAULT_CONFIG_PATH = "config/config.json";

const CONFIG_HINTS: FixHints = {
  APP_NAME: 'set a short name such as "MyProject_Analysis"',
  MACHINE_TYPE: 'list instance types, e.g. ["m5.xlarge", "m5a.xlarge"]',
  SQS_MESSAGE_VISIBILITY: "set it to about 1.5x the time of one job, in seconds",
  JOB_RETRIES: "set how many receives a job gets before it goes to the dead-letter queue (e.g. 3)",
  FLEET_API: 'use "spot-fleet" or "ec2-fleet"',
  AWS_REGION: 'use a region code such as "us-east-1"',
  TASK_ROLE_ARN: 'use an ARN like "arn:aws:iam::123456789012:role/dcpWorkerRole", or null',
  EBS_VOL_SIZE: "set it to at least 22 (GB)",
};

export interface ConfigOverrides {
  region?: string | undefined;
  profile?: string | undefined;
}

/** Validates a config object (already parsed JSON); `source` names it in errors. */
export function parseConfig(value: unknown, source: string): Config {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new UserInputError(source, undefined, "must be a JSON object of settings", 'write {"APP_NAME": "...", ...}; see config/config.example.json');
  }
  return resolveDerived(parseWithSchema(configSchema, value, source, CONFIG_HINTS, CONFIG_KEYS));
}

export async function loadConfig(path: string = DEFAULT_CONFIG_PATH, overrides: ConfigOverrides = {}): Promise<Config> {
  if (!existsSync(path)) {
    throw new UserInputError(path, undefined, "config file not found", `create it (cp config/config.example.json ${path}), import a DCP config.py with \`dcp config import config.py\`, or pass --config PATH`);
  }
  const config = parseConfig(await readJsonFile(path, "config file"), path);
  return applyOverrides(config, overrides);
}

export function applyOverrides(config: Config, overrides: ConfigOverrides): Config {
  return {
    ...config,
    ...(overrides.region ? { AWS_REGION: overrides.region } : {}),
    ...(overrides.profile ? { AWS_PROFILE: overrides.profile } : {}),
  };
}
