import { z } from "zod";
import { appNames } from "../plan/names.js";
import { DEFAULT_FLEET_PROVIDER, FLEET_PROVIDER_NAMES, fleetKind } from "../fleet/registry.js";

/**
 * The config file: the setting names Distributed-CellProfiler (DCP) users know from config.py
 * (reference section 2), with real JSON types and DCP's defaults. DCP wrote booleans as
 * 'True'/'False' strings and "unset" names as 'False'; both spellings are accepted so an imported
 * config.py works as is. Every key carries a description: `dcp config schema` turns this file into
 * config/config.schema.json, which editors use to complete and check config files.
 *
 * Keep this module cheap to import (zod only): every command that reads a config loads it.
 */

/** 'True'/'False' in any case, as DCP's config.py wrote booleans. */
const BOOLEAN_STRING = /^([Tt][Rr][Uu][Ee]|[Ff][Aa][Ll][Ss][Ee])$/;
/** DCP's "not set": the string 'False' (any case) or an empty string. */
const UNSET_STRING = /^([Ff][Aa][Ll][Ss][Ee])?$/;

/** A boolean that also accepts DCP's 'True'/'False' strings (any case). */
export const dcpBoolean = z.union(
  [
    z.boolean(),
    z
      .string()
      .regex(BOOLEAN_STRING)
      .transform((s) => s.toLowerCase() === "true"),
  ],
  { error: "expected true or false (DCP's 'True'/'False' strings are accepted too)" },
);

/** A value DCP users may leave unset as null, false, 'False' or '' (all read as null). */
function unsettable<T extends z.ZodType>(value: T, error: string) {
  return z.union(
    [
      z.null(),
      z.literal(false).transform(() => null),
      z
        .string()
        .regex(UNSET_STRING)
        .transform(() => null),
      value,
    ],
    { error },
  );
}

/** An optional free-form string where DCP used 'False' (or '') to mean "not set". */
const optionalName = unsettable(z.string().min(1), "expected a string, or null / 'False' for not set");

const wholeNumber = { error: "expected a whole number" };
const positiveInt = z.number(wholeNumber).int(wholeNumber).positive({ error: "must be at least 1" });
const nonNegativeInt = z.number(wholeNumber).int(wholeNumber).min(0, { error: "must be 0 or more" });

/** AWS resource names (queues, clusters, families, log streams) share this safe alphabet. */
const awsName = z
  .string({ error: "expected a name (a string)" })
  .min(1, { error: "must not be empty" })
  .max(80, { error: "must be at most 80 characters (SQS's limit for queue names)" })
  .regex(/^[A-Za-z0-9_-]+$/, { error: "use only letters, digits, '-' and '_'" });

/** S3 bucket naming rules: 3-63 lowercase letters, digits, '.' and '-'; no s3:// prefix, no path. */
const S3_BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const bucketError = 'expected an S3 bucket name such as "my-lab-images" (lowercase, without s3:// or a folder path)';
const bucketName = z.string({ error: bucketError }).regex(S3_BUCKET, { error: bucketError });
const optionalBucket = unsettable(bucketName, `${bucketError}, or null / 'False' for not set`);

/** DCP's old config form gave the dead-letter queue as an ARN; the part after the last ':' is its name. */
const deadLetterQueue = z
  .string({ error: "expected a queue name (or a queue ARN)" })
  .transform((v) => (v.includes(":") ? v.slice(v.lastIndexOf(":") + 1) : v))
  .pipe(awsName);

const instanceType = z
  .string({ error: "expected an instance type such as m5.xlarge" })
  .regex(/^[a-z][a-z0-9-]*\.[a-z0-9-]+$/, { error: "expected an instance type such as m5.xlarge" });
const machineTypes = z.union(
  [instanceType.transform((t) => [t]), z.array(instanceType).min(1, { error: "list at least one instance type" })],
  { error: 'expected a list of instance types such as ["m5.xlarge"]' },
);

/** The retention periods CloudWatch Logs accepts (PutRetentionPolicy). */
export const LOG_RETENTION_CHOICES = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
] as const;

export const configShape = {
  $schema: z.string().optional().describe("Path or URL of this file's JSON Schema, so editors complete and check it."),
  APP_NAME: awsName
    .max(70, { error: "must be at most 70 characters (APP_NAME + 'Queue' must fit SQS's 80)" })
    .default("DistributedCP")
    .describe(
      "Base name for everything: task family APP_NAME+'Task', service APP_NAME+'Service', container name, queue APP_NAME+'Queue' (unless SQS_QUEUE_NAME), log group, dashboard and alarm names, the workers' Name tag APP_NAME+'Worker'. Unique per project.",
    ),
  LOG_GROUP_NAME: z
    .string({ error: "expected a log group name" })
    .max(400, { error: "must be at most 400 characters" })
    .regex(/^[A-Za-z0-9_\-/.#]+$/, { error: "use only letters, digits and '_', '-', '/', '.', '#'" })
    .optional()
    .describe(
      "CloudWatch log group for per-job logs; LOG_GROUP_NAME+'_perInstance' holds the container logs. Default: APP_NAME.",
    ),
  DOCKERHUB_TAG: z
    .string({ error: "expected an image name" })
    .regex(/^\S+$/, {
      error: "expected an image name such as cellprofiler/distributed-cellprofiler:2.2.0_4.2.8 (no spaces)",
    })
    .default("cellprofiler/distributed-cellprofiler:2.2.0_4.2.8")
    .describe("Worker image, the task definition's image."),

  AWS_REGION: z
    .string({ error: "expected a region such as us-east-1" })
    .regex(/^[a-z]{2}(-[a-z]+)+-\d$/, { error: "expected a region such as us-east-1" })
    .default("us-east-1")
    .describe(
      "Region of every AWS call dcp makes (--region overrides it), the workers' AWS_REGION and awslogs-region. DCP only put it in the task definition.",
    ),
  AWS_PROFILE: z
    .string({ error: "expected a profile name" })
    .regex(/^\S+$/, { error: "expected a profile name from ~/.aws/config (no spaces)" })
    .default("default")
    .describe(
      'Profile (from ~/.aws/config and ~/.aws/credentials) of every AWS call dcp makes; --profile overrides it. "default" means the SDK\'s usual chain (environment, default profile, SSO, instance or task role). Workers never get its keys: they use TASK_ROLE_ARN or the instance role.',
    ),
  SSH_KEY_NAME: z
    .string({ error: "expected a key file name" })
    .optional()
    .describe("Accepted from DCP configs for compatibility; unused, as in DCP (the fleet file's KeyName is used)."),

  AWS_BUCKET: bucketName
    .default("your-bucket-name")
    .describe(
      "Bucket for logs exported at the end of a run and the monitor's files; the workers' default for SOURCE_BUCKET and DESTINATION_BUCKET.",
    ),
  SOURCE_BUCKET: optionalBucket
    .default(null)
    .describe(
      "Bucket the images are read from (mounted read-only with Mountpoint for Amazon S3, or downloaded). null / 'False': AWS_BUCKET (DCP's fallback).",
    ),
  WORKSPACE_BUCKET: optionalBucket
    .default(null)
    .describe("Bucket the pipeline and data_file are read from. null / 'False': SOURCE_BUCKET (DCP's fallback)."),
  DESTINATION_BUCKET: optionalBucket
    .default(null)
    .describe("Bucket the outputs are written to. null / 'False': AWS_BUCKET (DCP's fallback)."),
  UPLOAD_FLAGS: optionalName
    .default(null)
    .describe(
      "Extra flags for uploading outputs, e.g. \"--acl bucket-owner-full-control --metadata-directive REPLACE\". null / '' / 'False': none.",
    ),

  ECS_CLUSTER: awsName.default("default").describe("ECS cluster the workers join."),
  CLUSTER_MACHINES: positiveInt
    .default(3)
    .describe(
      "Spot fleet target capacity (number of machines); the ECS service runs CLUSTER_MACHINES x TASKS_PER_MACHINE tasks.",
    ),
  TASKS_PER_MACHINE: positiveInt.default(1).describe("Worker containers (ECS tasks) per machine."),
  MACHINE_TYPE: machineTypes
    .default(["m5.xlarge"])
    .describe(
      "Instance types, index-matched to the fleet file's launch specifications. A single string is read as a one-item list.",
    ),
  MACHINE_PRICE: z
    .number({ error: "expected a price in dollars per hour (a number), or null" })
    .positive({ error: "must be above 0, or null for no maximum" })
    .nullable()
    .default(null)
    .describe(
      "Maximum spot price in $/hour, or null (dcp's default) to pay the spot price capped at the on-demand price, which AWS recommends: a max price only raises interruptions. DCP's default was 0.20.",
    ),
  EBS_VOL_SIZE: z
    .number(wholeNumber)
    .int(wholeNumber)
    .min(22, { error: "must be at least 22 (GB)" })
    .default(30)
    .describe(
      "Size in GB of each machine's Docker volume: /dev/xvdcz when the fleet file maps it (DCP's layout), otherwise the root volume; at least 22.",
    ),
  DOWNLOAD_FILES: dcpBoolean
    .default(false)
    .describe(
      "Download each group's images to the machine's disk instead of reading them through the read-only bucket mount (Mountpoint for Amazon S3).",
    ),
  ASSIGN_IP: dcpBoolean
    .default(true)
    .describe(
      "Sets AssociatePublicIpAddress on every network interface of every launch specification; false for private subnets with a NAT or VPC endpoints.",
    ),

  DOCKER_CORES: positiveInt.default(4).describe("CellProfiler processes per container."),
  CPU_SHARES: positiveInt
    .optional()
    .describe("CPU units of each container (1024 = one core). Default: DOCKER_CORES*1024."),
  MEMORY: positiveInt.default(15000).describe("Hard memory limit of each container, in MiB."),
  SECONDS_TO_START: nonNegativeInt
    .default(180)
    .describe("Seconds between the starts of the CellProfiler processes of one container (avoids memory spikes)."),

  SQS_QUEUE_NAME: awsName.optional().describe("Job queue name. Default: APP_NAME+'Queue'."),
  SQS_MESSAGE_VISIBILITY: z
    .number(wholeNumber)
    .int(wholeNumber)
    .min(0, { error: "must be 0 or more" })
    .max(43200, { error: "SQS allows at most 43200 seconds (12 h)" })
    .default(60)
    .describe(
      "Visibility timeout of the job queue in seconds: about 1.5x the time of one job. `dcp setup` updates an existing queue when it changes.",
    ),
  SQS_DEAD_LETTER_QUEUE: deadLetterQueue
    .default("user_DeadMessages")
    .describe(
      "Dead-letter queue name; jobs go there after JOB_RETRIES receives. DCP's old ARN form (arn:aws:sqs:region:account:name) is accepted.",
    ),
  JOB_RETRIES: z
    .number(wholeNumber)
    .int(wholeNumber)
    .min(1, { error: "SQS allows 1 to 1000 receives" })
    .max(1000, { error: "SQS allows 1 to 1000 receives" })
    .default(3)
    .describe("Receives before a job moves to the dead-letter queue (the redrive maxReceiveCount)."),
  AUTO_MONITOR: dcpBoolean
    .default(false)
    .describe(
      "Accepted from DCP configs for compatibility: dcp has no Lambda auto-monitor; run `dcp monitor` (it can be left running in tmux).",
    ),
  CREATE_DASHBOARD: dcpBoolean.default(true).describe("Create a CloudWatch dashboard for the run."),
  CLEAN_DASHBOARD: dcpBoolean.default(true).describe("Delete the dashboard when the monitor finishes."),
  MONITOR_HEARTBEAT_TIMEOUT_MINUTES: z
    .number()
    .positive()
    .default(10)
    .describe(
      "dcp status: a run whose monitor heartbeat is older than this (or three polls, whichever is longer) is unattended.",
    ),

  CHECK_IF_DONE_BOOL: dcpBoolean
    .default(false)
    .describe("Skip a job whose output folder already holds EXPECTED_NUMBER_FILES files."),
  EXPECTED_NUMBER_FILES: nonNegativeInt
    .default(7)
    .describe("Number of output files that marks a job as done (with CHECK_IF_DONE_BOOL)."),
  MIN_FILE_SIZE_BYTES: nonNegativeInt
    .default(1)
    .describe("Only output files of at least this many bytes count (with CHECK_IF_DONE_BOOL)."),
  NECESSARY_STRING: z
    .string({ error: "expected a string" })
    .default("")
    .describe("Only output files whose name contains this string count (with CHECK_IF_DONE_BOOL); '' counts all."),
  ALWAYS_CONTINUE: dcpBoolean
    .default(false)
    .describe("Run CellProfiler with --always-continue (keep going after an image set fails)."),

  USE_PLUGINS: dcpBoolean.default(false).describe("Use CellProfiler-plugins (adds --plugins-directory)."),
  UPDATE_PLUGINS: dcpBoolean
    .default(false)
    .describe("Pull the latest CellProfiler-plugins before running (with USE_PLUGINS)."),
  PLUGINS_COMMIT: optionalName
    .default(null)
    .describe(
      "Commit, tag or branch of CellProfiler-plugins to check out (with USE_PLUGINS); null / 'False': as in the image.",
    ),
  INSTALL_REQUIREMENTS: dcpBoolean.default(false).describe("Install the plugins' dependencies (with USE_PLUGINS)."),
  REQUIREMENTS: z
    .string({ error: "expected a string" })
    .default("")
    .describe(
      'Plugins v1.0 layout: extra arguments to `pip install -e .`, e.g. "cellpose"; old layout: path of a requirements file in CellProfiler-plugins. DCP\'s deprecated REQUIREMENTS_FILE maps here.',
    ),

  // dcp's own settings, named in DCP's style.
  FLEET_API: z
    .enum(FLEET_PROVIDER_NAMES, { error: `expected one of ${FLEET_PROVIDER_NAMES.join(", ")}` })
    .default(DEFAULT_FLEET_PROVIDER)
    .describe(
      `How \`dcp start-cluster\` asks for spot machines: ${FLEET_PROVIDER_NAMES.map((api) => `"${api}" (${fleetKind(api).describe})`).join(" or ")}.`,
    ),
  TASK_ROLE_ARN: z
    .string({ error: "expected an IAM role ARN" })
    .regex(/^arn:aws[a-z-]*:iam::\d{12}:role\/.+$/, { error: "expected an IAM role ARN" })
    .nullable()
    .default(null)
    .describe(
      "IAM role the worker containers run as (the task definition's taskRoleArn), or null to use the instance role. Workers never get access keys.",
    ),
  LOG_RETENTION_DAYS: z
    .literal(LOG_RETENTION_CHOICES, {
      error: `CloudWatch Logs keeps logs for one of ${LOG_RETENTION_CHOICES.join(", ")} days`,
    })
    .default(60)
    .describe("Retention in days of both log groups (DCP: 60)."),
  BUDGET_USD: z
    .number({ error: "expected a number of US dollars, e.g. 250" })
    .positive({ error: "expected a positive number of US dollars" })
    .nullable()
    .default(null)
    .describe(
      "Spend limit of one run (each dcp start-cluster), in USD of spot compute and the instances' EBS volumes, public IPv4 addresses and idle alarms: dcp monitor warns once when the projected total exceeds it and stops spending (fleet and service to 0, queue kept) before spend reaches it; with FLEET_API ec2-fleet also the fleet's MaxTotalPrice. null: no limit. `dcp monitor --budget` overrides it.",
    ),
  // dcp worker settings (read from the task definition's environment inside the container).
  CELLPROFILER_COMMAND: z
    .string()
    .min(1)
    .default("cellprofiler")
    .describe("dcp worker: the CellProfiler executable (run with an argv array, never a shell)."),
  MOUNT_ROOT: z
    .string()
    .min(1)
    .default("/home/ubuntu/bucket")
    .describe(
      "dcp worker: where SOURCE_BUCKET is mounted (DOWNLOAD_FILES false); LoadData paths name files under it. A local folder on a workstation.",
    ),
  WORK_DIR: z
    .string()
    .min(1)
    .default("/tmp/dcp-worker")
    .describe("dcp worker: local folder for each task's inputs, outputs and temp files (removed after every task)."),
  PLUGINS_DIR: z
    .string()
    .min(1)
    .default("/home/ubuntu/CellProfiler-plugins")
    .describe(
      "dcp worker: the CellProfiler-plugins checkout (with USE_PLUGINS; its active_plugins/ folder is used when present).",
    ),
  WORKER_POLL_SECONDS: z
    .number()
    .int()
    .min(1)
    .max(20, { error: "SQS long polls last at most 20 seconds" })
    .default(20)
    .describe("dcp worker: length of one SQS long poll in seconds."),
  WORKER_IDLE_POLLS: positiveInt
    .default(3)
    .describe(
      "dcp worker: a job loop stops after this many empty polls in a row during which the queue had nothing visible, in flight or delayed.",
    ),
  SPOT_NOTICE_URL: optionalName
    .default("http://169.254.169.254")
    .describe(
      "dcp worker: instance metadata (IMDSv2) base URL polled for spot interruption notices; null / 'False': do not poll.",
    ),
  SPOT_POLL_SECONDS: z
    .number()
    .positive()
    .default(5)
    .describe("dcp worker: seconds between spot interruption checks (AWS recommends 5)."),
  // Unsettable like DCP's optional names: the task definition carries null as 'False' (plan/worker-env.ts).
  TASK_TIMEOUT_MINUTES: unsettable(
    z.number().positive().max(10_080),
    "expected a positive number of minutes up to 10080 (a week), e.g. 120, or null / 'False' for no limit",
  )
    .default(null)
    .describe(
      "dcp worker: longest a CellProfiler run of one task may take, in minutes; then it gets SIGTERM, SIGKILL 10 s later, the attempt is recorded as failed with cause timeout, and the message is released at once (after JOB_RETRIES receives SQS moves it to the dead-letter queue). null: no limit.",
    ),
  UPLOAD_CONCURRENCY: positiveInt
    .default(16)
    .describe("dcp worker: output files uploaded at the same time by one task."),
  DOWNLOAD_CONCURRENCY: positiveInt
    .default(8)
    .describe("dcp worker: images downloaded at the same time by one task (DOWNLOAD_FILES true)."),
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

/** DCP's defaults that depend on other keys: LOG_GROUP_NAME = APP_NAME, SQS_QUEUE_NAME = APP_NAME + 'Queue', CPU_SHARES = DOCKER_CORES * 1024. */
export function resolveDerived(parsed: ParsedConfig): Config {
  const { $schema: _ignored, ...rest } = parsed;
  return {
    ...rest,
    LOG_GROUP_NAME: parsed.LOG_GROUP_NAME ?? parsed.APP_NAME,
    SQS_QUEUE_NAME: parsed.SQS_QUEUE_NAME ?? `${parsed.APP_NAME}Queue`,
    CPU_SHARES: parsed.CPU_SHARES ?? parsed.DOCKER_CORES * 1024,
  };
}

/**
 * The buckets the workers really use: an unset SOURCE_BUCKET or DESTINATION_BUCKET falls back to
 * AWS_BUCKET and an unset WORKSPACE_BUCKET to SOURCE_BUCKET, as DCP's worker does.
 */
export function effectiveBuckets(
  config: Pick<Config, "AWS_BUCKET" | "SOURCE_BUCKET" | "WORKSPACE_BUCKET" | "DESTINATION_BUCKET">,
) {
  const source = config.SOURCE_BUCKET ?? config.AWS_BUCKET;
  return {
    source,
    workspace: config.WORKSPACE_BUCKET ?? source,
    destination: config.DESTINATION_BUCKET ?? config.AWS_BUCKET,
  };
}

/** Names every other resource is derived from, computed in one place. */
export function resourceNames(config: Config) {
  return {
    ...appNames(config.APP_NAME),
    queueName: config.SQS_QUEUE_NAME,
    deadLetterQueueName: config.SQS_DEAD_LETTER_QUEUE,
    clusterName: config.ECS_CLUSTER,
    logGroup: config.LOG_GROUP_NAME,
    perInstanceLogGroup: `${config.LOG_GROUP_NAME}_perInstance`,
  };
}

export const CONFIG_KEYS = Object.keys(configShape).filter((k) => k !== "$schema");
