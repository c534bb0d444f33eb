import { z } from "zod";

/**
 * The config file: the setting names Distributed-CellProfiler users know from config.py,
 * with real JSON types and DCP's defaults. DCP wrote booleans as 'True'/'False' strings and
 * "unset" buckets as 'False'; both spellings are accepted so an imported config.py works as is.
 */

const TRUE_STRINGS = new Set(["true", "yes", "1"]);
const FALSE_STRINGS = new Set(["false", "no", "0", ""]);

/** A boolean that also accepts DCP's 'True'/'False' strings (any case). */
export const dcpBoolean = z.preprocess((value) => {
  if (typeof value !== "string") return value;
  const lower = value.trim().toLowerCase();
  if (TRUE_STRINGS.has(lower)) return true;
  if (FALSE_STRINGS.has(lower)) return false;
  return value;
}, z.boolean({ error: "expected true or false (DCP's 'True'/'False' strings are accepted too)" }));

/** An optional name where DCP used the string 'False' (or an empty string) to mean "not set". */
const optionalName = z.preprocess((value) => {
  if (value === false || value === null) return null;
  if (typeof value === "string" && FALSE_STRINGS.has(value.trim().toLowerCase())) return null;
  return value;
}, z.string().min(1).nullable());

const positiveInt = z.number({ error: "expected a whole number" }).int({ error: "expected a whole number" }).positive();
const nonNegativeInt = z.number({ error: "expected a whole number" }).int({ error: "expected a whole number" }).min(0);

/** AWS resource names (queues, clusters, families, log groups) share this safe alphabet. */
const awsName = z
  .string()
  .min(1)
  .max(80)
  .regex(/^[A-Za-z0-9_-]+$/, { error: "use only letters, digits, '-' and '_' (at most 80 characters)" });

export const FLEET_APIS = ["spot-fleet", "ec2-fleet"] as const;

export const configShape = {
  $schema: z.string().optional(),
  APP_NAME: awsName.default("DistributedCP"),
  LOG_GROUP_NAME: z.string().regex(/^[A-Za-z0-9_\-/.#]+$/).max(400).optional(),
  DOCKERHUB_TAG: z.string().min(1).default("cellprofiler/distributed-cellprofiler:2.2.0_4.2.8"),

  AWS_REGION: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, { error: "expected a region such as us-east-1" }).default("us-east-1"),
  AWS_PROFILE: z.string().default("default"),
  SSH_KEY_NAME: z.string().optional(),

  AWS_BUCKET: z.string().min(1).default("your-bucket-name"),
  SOURCE_BUCKET: optionalName.default("bucket-name"),
  WORKSPACE_BUCKET: optionalName.default("bucket-name"),
  DESTINATION_BUCKET: optionalName.default("bucket-name"),
  UPLOAD_FLAGS: optionalName.default(null),

  ECS_CLUSTER: awsName.default("default"),
  CLUSTER_MACHINES: positiveInt.default(3),
  TASKS_PER_MACHINE: positiveInt.default(1),
  MACHINE_TYPE: z
    .preprocess((v) => (typeof v === "string" ? [v] : v), z.array(z.string().regex(/^[a-z0-9-]+\.[a-z0-9-]+$/, { error: "expected an instance type such as m5.xlarge" })).min(1, { error: "list at least one instance type" }))
    .default(["m5.xlarge"]),
  MACHINE_PRICE: z.number().positive().nullable().default(null),
  EBS_VOL_SIZE: z.number().int().min(22, { error: "must be at least 22 GB" }).default(30),
  DOWNLOAD_FILES: dcpBoolean.default(false),
  ASSIGN_IP: dcpBoolean.default(true),

  DOCKER_CORES: positiveInt.default(4),
  CPU_SHARES: positiveInt.optional(),
  MEMORY: positiveInt.default(15000),
  SECONDS_TO_START: nonNegativeInt.default(180),

  SQS_QUEUE_NAME: awsName.optional(),
  SQS_MESSAGE_VISIBILITY: z.number().int().min(0).max(43200, { error: "SQS allows at most 43200 seconds (12 h)" }).default(60),
  SQS_DEAD_LETTER_QUEUE: z
    .preprocess((v) => (typeof v === "string" && v.includes(":") ? v.slice(v.lastIndexOf(":") + 1) : v), awsName)
    .default("user_DeadMessages"),
  JOB_RETRIES: z.number().int().min(1).max(1000, { error: "SQS allows 1 to 1000 receives" }).default(3),
  AUTO_MONITOR: dcpBoolean.default(false),
  CREATE_DASHBOARD: dcpBoolean.default(true),
  CLEAN_DASHBOARD: dcpBoolean.default(true),

  CHECK_IF_DONE_BOOL: dcpBoolean.default(false),
  EXPECTED_NUMBER_FILES: nonNegativeInt.default(7),
  MIN_FILE_SIZE_BYTES: nonNegativeInt.default(1),
  NECESSARY_STRING: z.string().default(""),
  ALWAYS_CONTINUE: dcpBoolean.default(false),

  USE_PLUGINS: dcpBoolean.default(false),
  UPDATE_PLUGINS: dcpBoolean.default(false),
  PLUGINS_COMMIT: optionalName.default(null),
  INSTALL_REQUIREMENTS: dcpBoolean.default(false),
  REQUIREMENTS: z.string().default(""),

  // dcp's own settings, named in DCP's style.
  FLEET_API: z.enum(FLEET_APIS, { error: `expected one of ${FLEET_APIS.join(", ")}` }).default("spot-fleet"),
  TASK_ROLE_ARN: z.string().regex(/^arn:aws[a-z-]*:iam::\d{12}:role\/.+$/, { error: "expected an IAM role ARN" }).nullable().default(null),
  LOG_RETENTION_DAYS: z.number().int().positive().default(60),
  // dcp worker settings (read from the task definition's environment inside the container).
  CELLPROFILER_COMMAND: z.string().min(1).default("cellprofiler"),
  MOUNT_ROOT: z.string().min(1).default("/home/ubuntu/bucket"),
  WORK_DIR: z.string().min(1).default("/tmp/dcp-worker"),
  PLUGINS_DIR: z.string().min(1).default("/home/ubuntu/CellProfiler-plugins"),
  WORKER_POLL_SECONDS: z.number().int().min(1).max(20, { error: "SQS long polls last at most 20 seconds" }).default(20),
  WORKER_IDLE_POLLS: positiveInt.default(3),
  SPOT_NOTICE_URL: optionalName.default("http://169.254.169.254"),
  SPOT_POLL_SECONDS: z.number().positive().default(5),
  UPLOAD_CONCURRENCY: positiveInt.default(8),
  DOWNLOAD_CONCURRENCY: positiveInt.default(8),
};

export const configSchema = z.strictObject(configShape);

export type ConfigInput = z.input<typeof configSchema>;
type ParsedConfig = z.output<typeof configSchema>;

/** The config after defaults that depend on other keys (APP_NAME + 'Queue', ...) are filled. */
export type Config = Omit<ParsedConfig, "LOG_GROUP_NAME" | "SQS_QUEUE_NAME" | "CPU_SHARES" | "$schema"> & {
  LOG_GROUP_NAME: string;
  SQS_QUEUE_NAME: string;
  CPU_SHARES: number;
};

export function resolveDerived(parsed: ParsedConfig): Config {
  const { $schema: _ignored, ...rest } = parsed;
  return {
    ...rest,
    LOG_GROUP_NAME: parsed.LOG_GROUP_NAME ?? parsed.APP_NAME,
    SQS_QUEUE_NAME: parsed.SQS_QUEUE_NAME ?? `${parsed.APP_NAME}Queue`,
    CPU_SHARES: parsed.CPU_SHARES ?? parsed.DOCKER_CORES * 1024,
  };
}

/** Names every other resource is derived from, computed in one place. */
export function resourceNames(config: Config) {
  return {
    taskFamily: `${config.APP_NAME}Task`,
    serviceName: `${config.APP_NAME}Service`,
    containerName: config.APP_NAME,
    perInstanceLogGroup: `${config.LOG_GROUP_NAME}_perInstance`,
    stateFile: `files/${config.APP_NAME}SpotFleetRequestId.json`,
    alarmPrefix: `${config.APP_NAME}_`,
  };
}

export const CONFIG_KEYS = Object.keys(configShape).filter((k) => k !== "$schema");
