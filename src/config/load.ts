import { existsSync, readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import { UserInputError } from "../errors.js";
import { FLEET_PROVIDER_NAMES } from "../fleet/registry.js";
import { parseJsonText, parseWithSchema, type FixHints } from "../validation.js";
import { DEFAULT_CONFIG_PATH } from "./defaults.js";
import { closestRegion, knownRegions } from "../aws/regions.js";
import {
  CONFIG_KEYS,
  LOG_RETENTION_CHOICES,
  configSchema,
  configShape,
  resolveDerived,
  type Config,
} from "./schema.js";

export { DEFAULT_CONFIG_PATH };

const BOOLEAN_FIX = "write true or false (DCP's 'True'/'False' strings work too)";
const BUCKET_FIX =
  'write the bucket name only, e.g. "my-lab-images" (no s3://, no folder), or null to fall back as DCP did';

/** The fix printed with a problem in each key; the problem itself comes from the schema. */
export const CONFIG_HINTS: FixHints = {
  APP_NAME: 'set a short name such as "MyProject_Analysis" (letters, digits, - and _)',
  LOG_GROUP_NAME: "use a log group name such as MyProject_Analysis, or remove the key to use APP_NAME",
  DOCKERHUB_TAG: 'set the worker image, e.g. "cellprofiler/distributed-cellprofiler:2.2.0_4.2.8"',
  AWS_REGION: 'use a region code such as "us-east-1"',
  AWS_PROFILE: 'use a profile name from ~/.aws/config, or "default"',
  SSH_KEY_NAME: "remove it (dcp does not use it; the fleet file's KeyName is used)",
  AWS_BUCKET: 'write the bucket name only, e.g. "my-lab-bucket" (no s3://, no folder)',
  SOURCE_BUCKET: BUCKET_FIX,
  WORKSPACE_BUCKET: BUCKET_FIX,
  DESTINATION_BUCKET: BUCKET_FIX,
  UPLOAD_FLAGS: 'write the flags as one string, e.g. "--acl bucket-owner-full-control", or null',
  ECS_CLUSTER: 'use a cluster name such as "default" (letters, digits, - and _)',
  CLUSTER_MACHINES: "set the number of machines, a whole number of at least 1 (e.g. 3)",
  TASKS_PER_MACHINE: "set the number of containers per machine, a whole number of at least 1 (usually 1)",
  MACHINE_TYPE: 'list instance types, e.g. ["m5.xlarge", "m5a.xlarge"]',
  MACHINE_PRICE:
    "set a maximum price in dollars per hour such as 0.20, or null (recommended) to pay the current spot price",
  EBS_VOL_SIZE: "set it to at least 22 (GB)",
  DOWNLOAD_FILES: BOOLEAN_FIX,
  ASSIGN_IP: BOOLEAN_FIX,
  DOCKER_CORES: "set the number of CellProfiler processes per container, a whole number such as 4",
  CPU_SHARES: "set CPU units as a whole number (1024 per core), or remove it to use DOCKER_CORES*1024",
  MEMORY: "set the container memory in MiB as a whole number, e.g. 15000",
  SECONDS_TO_START: "set the seconds between process starts as a whole number, e.g. 180",
  SQS_QUEUE_NAME: 'use a queue name (letters, digits, - and _), or remove it to use APP_NAME + "Queue"',
  SQS_MESSAGE_VISIBILITY: "set it to about 1.5x the time of one job, in seconds (at most 43200)",
  SQS_DEAD_LETTER_QUEUE: 'use a queue name such as "MyProject_DeadMessages"',
  JOB_RETRIES: "set how many receives a job gets before it goes to the dead-letter queue (1 to 1000, e.g. 3)",
  AUTO_MONITOR: BOOLEAN_FIX,
  CREATE_DASHBOARD: BOOLEAN_FIX,
  CLEAN_DASHBOARD: BOOLEAN_FIX,
  CHECK_IF_DONE_BOOL: BOOLEAN_FIX,
  EXPECTED_NUMBER_FILES: "set the number of output files that marks a job done, a whole number such as 7",
  MIN_FILE_SIZE_BYTES: "set a size in bytes, a whole number such as 1",
  NECESSARY_STRING: 'write a string, or "" to count every file',
  ALWAYS_CONTINUE: BOOLEAN_FIX,
  USE_PLUGINS: BOOLEAN_FIX,
  UPDATE_PLUGINS: BOOLEAN_FIX,
  PLUGINS_COMMIT: 'write a commit, tag or branch as a string, e.g. "v4.2.8", or null',
  INSTALL_REQUIREMENTS: BOOLEAN_FIX,
  REQUIREMENTS: 'write a string, e.g. "cellpose", or ""',
  FLEET_API: `use ${FLEET_PROVIDER_NAMES.map((api) => `"${api}"`).join(" or ")}`,
  TASK_ROLE_ARN: 'use an ARN like "arn:aws:iam::123456789012:role/dcpWorkerRole", or null',
  LOG_RETENTION_DAYS: `use one of ${LOG_RETENTION_CHOICES.join(", ")}`,
  BUDGET_USD: "write a number of dollars such as 250, or null for no limit",
};

export interface ConfigOverrides {
  region?: string | undefined;
  profile?: string | undefined;
}

/** Validates a config object (already parsed JSON); `source` names it in errors. */
export function parseConfig(value: unknown, source: string): Config {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new UserInputError(
      source,
      "(top level)",
      "must be a JSON object of settings",
      'write {"APP_NAME": "...", ...}; see config/config.example.json',
    );
  }
  const config = resolveDerived(parseWithSchema(configSchema, value, source, CONFIG_HINTS, CONFIG_KEYS));
  checkAcrossKeys(config, source);
  return config;
}

/** Rules that involve two keys, after the derived defaults are filled. */
export function checkAcrossKeys(config: Config, source: string): void {
  if (config.SQS_DEAD_LETTER_QUEUE === config.SQS_QUEUE_NAME) {
    throw new UserInputError(
      source,
      "SQS_DEAD_LETTER_QUEUE",
      `is the same queue as SQS_QUEUE_NAME (${config.SQS_QUEUE_NAME})`,
      'give the dead-letter queue its own name, e.g. "MyProject_DeadMessages"',
    );
  }
}

/** The config file as read: the resolved config and the keys the file itself sets. */
export interface LoadedConfig {
  path: string;
  config: Config;
  /** Keys present in the file (the others have their defaults). */
  keysInFile: string[];
}

/** `checkProfile: false` only for showing a config: every command that calls AWS checks the region and the profile exist. */
export async function readConfigFile(
  path: string = DEFAULT_CONFIG_PATH,
  overrides: ConfigOverrides = {},
  options: { checkProfile?: boolean } = {},
): Promise<LoadedConfig> {
  if (!existsSync(path)) {
    throw new UserInputError(
      path,
      undefined,
      "config file not found",
      `create it (cp config/config.example.json ${path}), import a DCP config.py with \`dcp config import config.py -o ${path}\`, or pass --config PATH`,
    );
  }
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    throw new UserInputError(
      path,
      undefined,
      `cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)})`,
      "pass the path of a config file with --config",
    );
  }
  if (text.trim() === "") {
    throw new UserInputError(
      path,
      "(top level)",
      "is empty",
      'write a JSON object of settings, e.g. {"APP_NAME": "MyProject_Analysis"}; see config/config.example.json',
    );
  }
  const raw = parseJsonText(text, path, "config file");
  const config = applyOverrides(parseConfig(raw, path), overrides);
  if (options.checkProfile !== false) {
    checkRegion(
      config.AWS_REGION,
      overrides.region ? { source: "command line", field: "--region" } : { source: path, field: "AWS_REGION" },
    );
    checkProfile(
      config.AWS_PROFILE,
      overrides.profile ? { source: "command line", field: "--profile" } : { source: path, field: "AWS_PROFILE" },
    );
  }
  return { path, config, keysInFile: Object.keys(raw as object).filter((k) => k !== "$schema") };
}

export async function loadConfig(path: string = DEFAULT_CONFIG_PATH, overrides: ConfigOverrides = {}): Promise<Config> {
  return (await readConfigFile(path, overrides)).config;
}

/** --region and --profile win over the file; they are checked like the file's own values. */
export function applyOverrides(config: Config, overrides: ConfigOverrides): Config {
  const flags = [
    ["--region", "AWS_REGION", overrides.region],
    ["--profile", "AWS_PROFILE", overrides.profile],
  ] as const;
  let result = config;
  for (const [flag, key, value] of flags) {
    if (!value) continue;
    const checked = configShape[key].safeParse(value);
    if (!checked.success) {
      throw new UserInputError(
        "command line",
        flag,
        checked.error.issues[0]!.message,
        CONFIG_HINTS[key] ?? "correct the value",
      );
    }
    result = { ...result, [key]: checked.data };
  }
  return result;
}

/** Profile names defined in the SDK's shared files ([profile x] / [x] in config, [x] in credentials). */
export function definedProfiles(env: NodeJS.ProcessEnv = process.env): Set<string> {
  const files = [
    env.AWS_CONFIG_FILE || join(homedir(), ".aws", "config"),
    env.AWS_SHARED_CREDENTIALS_FILE || join(homedir(), ".aws", "credentials"),
  ];
  const names = new Set<string>();
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch {
      continue;
    }
    for (const match of text.matchAll(/^[ \t]*\[[ \t]*(?:profile[ \t]+)?([^\]\s]+)[ \t]*\][ \t]*$/gm))
      names.add(match[1]!);
  }
  return names;
}

/**
 * A region the SDK does not know would fail every call with an unreachable endpoint
 * (e.g. sqs.eu-wset-1.amazonaws.com): bad input, caught before any call, with the closest region.
 */
export function checkRegion(region: string, where: { source: string; field: string }): void {
  const regions = knownRegions();
  if (!regions || regions.has(region)) return;
  const closest = closestRegion(region, regions);
  throw new UserInputError(
    where.source,
    where.field,
    `"${region}" is not an AWS region`,
    `${closest ? `did you mean "${closest}"? ` : ""}use a region code such as "us-east-1" (aws ec2 describe-regions lists yours)`,
  );
}

/**
 * A named profile that does not exist would make every AWS call fail with the SDK's "Could not
 * load credentials from any providers"; say which name and where instead, before any call.
 * "default" is left to the SDK's chain (environment, SSO, instance or task role).
 */
export function checkProfile(
  profile: string,
  where: { source: string; field: string },
  env: NodeJS.ProcessEnv = process.env,
): void {
  if (profile === "default" || definedProfiles(env).has(profile)) return;
  throw new UserInputError(
    where.source,
    where.field,
    `profile "${profile}" is not defined in ${env.AWS_CONFIG_FILE || "~/.aws/config"} or ${env.AWS_SHARED_CREDENTIALS_FILE || "~/.aws/credentials"}`,
    `create it (aws configure --profile ${profile}, or aws configure sso), correct the name, or use "default" for the environment's credentials or the instance role`,
  );
}
