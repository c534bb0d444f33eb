/**
 * The worker-environment contract: the variables `dcp setup` puts in the ECS task definition.
 *
 * First every variable the ORIGINAL Distributed-CellProfiler worker (run-worker.sh, cp-worker.py)
 * reads, in DCP's order and string formats (reference 5.9), so the original worker image runs
 * unchanged under dcp; then what dcp's own worker reads (WORKER_ENV_KEYS).
 *
 * Never credentials: workers get them from the task role or the instance role. The values come from
 * the config only, never from the caller's environment, and a name that looks like a credential is
 * refused (DCP put AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY in plaintext here, reference 1.1).
 */
import { effectiveBuckets, type Config } from "../config/schema.js";

export interface EnvVar {
  name: string;
  value: string;
}

/** Config keys DCP's task definition passes under their own names, in DCP's order. */
const DCP_SAME_NAME_KEYS: ReadonlyArray<keyof Config> = [
  "AWS_BUCKET",
  "DOCKER_CORES",
  "LOG_GROUP_NAME",
  "CHECK_IF_DONE_BOOL",
  "EXPECTED_NUMBER_FILES",
  "ECS_CLUSTER",
  "SECONDS_TO_START",
  "MIN_FILE_SIZE_BYTES",
  "USE_PLUGINS",
  "NECESSARY_STRING",
  "DOWNLOAD_FILES",
  "ALWAYS_CONTINUE",
];

/**
 * Config keys dcp's own worker reads, passed under their own names after DCP's variables.
 * Add a key with a one-line edit; `dcp setup` then passes it to every new task definition revision.
 */
export const WORKER_ENV_KEYS: Array<keyof Config> = [
  "SQS_QUEUE_NAME",
  "SQS_MESSAGE_VISIBILITY",
  "JOB_RETRIES",
  "CELLPROFILER_COMMAND",
  "MOUNT_ROOT",
  "WORK_DIR",
  "PLUGINS_DIR",
  "WORKER_POLL_SECONDS",
  "WORKER_IDLE_POLLS",
  "SPOT_NOTICE_URL",
  "SPOT_POLL_SECONDS",
  "TASK_TIMEOUT_MINUTES",
  "UPLOAD_CONCURRENCY",
  "DOWNLOAD_CONCURRENCY",
];

/** Names that must never reach a container's environment, whatever the config or caller holds. */
export const CREDENTIAL_NAME = /KEY|SECRET|TOKEN|PASSWORD|CREDENTIAL/i;

/** DCP's formats: 'True'/'False' for booleans, numbers as decimal strings, lists as JSON. */
export function envValue(value: unknown): string | undefined {
  if (value === null || value === undefined) return undefined;
  if (typeof value === "boolean") return value ? "True" : "False";
  if (typeof value === "number" || typeof value === "string") return String(value);
  return JSON.stringify(value);
}

/** DCP's optional names were the string 'False' when unset; run-worker.sh compares with it. */
function orFalse(value: string | null): string {
  return value ?? "False";
}

export function workerEnvironment(config: Config, queueUrl: string): EnvVar[] {
  const env: EnvVar[] = [];
  const add = (name: string, value: unknown) => {
    const text = envValue(value);
    if (text !== undefined && !env.some((e) => e.name === name)) env.push({ name, value: text });
  };
  add("AWS_REGION", config.AWS_REGION);
  add("APP_NAME", config.APP_NAME);
  add("SQS_QUEUE_URL", queueUrl);
  for (const key of DCP_SAME_NAME_KEYS) add(key, config[key]);
  // The buckets after DCP's fallbacks (SOURCE and DESTINATION -> AWS_BUCKET, WORKSPACE -> SOURCE),
  // always set, so the original worker and dcp's read the same names. DCP sent DESTINATION_BUCKET
  // only along with SOURCE_BUCKET.
  const buckets = effectiveBuckets(config);
  add("SOURCE_BUCKET", buckets.source);
  add("DESTINATION_BUCKET", buckets.destination);
  add("WORKSPACE_BUCKET", buckets.workspace);
  add("UPLOAD_FLAGS", config.UPLOAD_FLAGS);
  if (config.USE_PLUGINS) {
    add("UPDATE_PLUGINS", config.UPDATE_PLUGINS);
    add("PLUGINS_COMMIT", orFalse(config.PLUGINS_COMMIT));
    add("INSTALL_REQUIREMENTS", config.INSTALL_REQUIREMENTS);
    add("REQUIREMENTS", config.REQUIREMENTS);
  }
  // null is passed as DCP's 'False' ("not set"), so the worker reads null rather than the default.
  for (const key of WORKER_ENV_KEYS) add(key, config[key] ?? "False");

  const leaked = env.find((e) => CREDENTIAL_NAME.test(e.name));
  if (leaked)
    throw new Error(
      `worker environment: ${leaked.name} looks like a credential; workers get credentials from their task or instance role`,
    );
  return env;
}
