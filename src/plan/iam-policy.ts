/**
 * The AWS permissions dcp needs, as ONE table: for each principal (the operator running each command, the
 * worker in the container, the Spot Fleet role, the instance role), the IAM actions it is granted and on which
 * resources. `dcp iam policy` prints the least-privilege policies generated from it; `dcp iam create` puts the
 * worker's on the task role; the doctor checks the operator's against it. test/iam-drift.test.ts checks that
 * every AWS call the code makes during the test suite appears here, for the principal that makes it (with its
 * own SDK-operation → IAM-action mapping: the two never share a list).
 *
 * Scoping (Service Authorization Reference, "Actions, resources, and condition keys" for each service):
 * - SQS queues, ECS cluster/service/task definitions, log groups, alarms, dashboards and S3 buckets have names
 *   dcp knows in advance: their statements name the ARNs.
 * - EC2 fleets, launch templates and instances get ids at creation: creates are allowed only with the tag
 *   `dcp:app` = APP_NAME in the request (`aws:RequestTag`), and changes only on resources carrying it
 *   (`aws:ResourceTag`), as EC2 supports both keys on these resource types.
 * - Describe/List calls without resource-level permissions (EC2 Describe*, ecs:ListTaskDefinitions,
 *   logs:DescribeLogGroups, cloudwatch:DescribeAlarms, sqs:GetQueueUrl is queue-scoped) use "*", as AWS requires.
 */
import type { Config } from "../config/schema.js";
import { effectiveBuckets, resourceNames } from "../config/schema.js";

export const PRINCIPALS = ["operator", "worker", "fleet", "instance"] as const;
export type Principal = (typeof PRINCIPALS)[number];

/** The commands whose AWS calls the operator's policy covers (`dcp <command>`). */
export const OPERATOR_COMMANDS = [
  "setup",
  "make-jobs",
  "submit",
  "start-cluster",
  "monitor",
  "teardown",
  "doctor",
  "estimate",
  "collect",
  "status",
  "workflow run",
  "failures",
  "retry",
  "iam policy",
  "iam create",
  "iam delete",
  "gc",
] as const;
export type OperatorCommand = (typeof OPERATOR_COMMANDS)[number];

/**
 * The operator's policy by default: every command but `iam create` / `iam delete`, which an administrator
 * runs once per account, `gc`, the region's clean-up, and `failures` / `retry`, which read and move
 * dead-letter messages, and `workflow run`, which drives runs under per-step names (`dcp iam policy operator
 * --commands gc`, `--commands failures,retry` or `--commands "workflow run"` is their own policy; `--commands all`
 * includes them all). With them the document outgrows IAM's 6,144-character
 * limit of a managed policy for long names.
 */
const OWN_POLICY: readonly OperatorCommand[] = ["iam create", "iam delete", "gc", "failures", "retry", "workflow run"];
export const DEFAULT_OPERATOR_COMMANDS: readonly OperatorCommand[] = OPERATOR_COMMANDS.filter(
  (c) => !OWN_POLICY.includes(c),
);

export const APP_TAG = "dcp:app";

/** Everything a policy is scoped to, derived from the config and the account. */
export interface IamScope {
  partition: string;
  region: string;
  /** The 12-digit account, or "*" when unknown (the policy then matches any account). */
  account: string;
  app: string;
  queues: string[];
  cluster: string;
  taskFamily: string;
  service: string;
  logGroups: string[];
  alarmPrefix: string;
  /** The logs bucket (AWS_BUCKET), and the buckets the workers read and write. */
  logsBucket: string;
  readBuckets: string[];
  writeBuckets: string[];
  roles: IamRoleNames;
  /** The roles dcp passes (iam:PassRole): TASK_ROLE_ARN and the fleet file's roles when known, else dcp's own. */
  passRoles: { task: string; instance: string; fleet: string };
}

export interface IamRoleNames {
  task: string;
  instance: string;
  fleet: string;
}

/** The roles `dcp iam create` makes: `<APP_NAME>TaskRole` (as the issue names it), `...InstanceRole`, `...FleetRole`. */
export function roleNames(app: string): IamRoleNames {
  return { task: `${app}TaskRole`, instance: `${app}InstanceRole`, fleet: `${app}FleetRole` };
}

export function partitionOf(region: string): string {
  if (region.startsWith("cn-")) return "aws-cn";
  if (region.startsWith("us-gov-")) return "aws-us-gov";
  return "aws";
}

export function iamScope(
  config: Config,
  account: string,
  passRoles: { instance?: string; fleet?: string } = {},
): IamScope {
  const names = resourceNames(config);
  const buckets = effectiveBuckets(config);
  const uniq = (xs: string[]) => [...new Set(xs)];
  const partition = partitionOf(config.AWS_REGION);
  const roles = roleNames(config.APP_NAME);
  const own = (name: string) => `arn:${partition}:iam::${account}:role/${name}`;
  return {
    partition,
    region: config.AWS_REGION,
    account,
    app: config.APP_NAME,
    queues: uniq([names.queueName, names.deadLetterQueueName]),
    cluster: names.clusterName,
    taskFamily: names.taskFamily,
    service: names.serviceName,
    logGroups: uniq([names.logGroup, names.perInstanceLogGroup]),
    alarmPrefix: names.alarmPrefix,
    logsBucket: config.AWS_BUCKET,
    readBuckets: uniq([buckets.source, buckets.workspace, buckets.destination]),
    writeBuckets: uniq([buckets.destination]),
    roles,
    passRoles: {
      task: config.TASK_ROLE_ARN ?? own(roles.task),
      instance: passRoles.instance ?? own(roles.instance),
      fleet: passRoles.fleet ?? own(roles.fleet),
    },
  };
}

type Condition = Record<string, Record<string, string | string[]>>;

interface Grant {
  /** Who makes the calls: the operator (for these commands), or one of the roles. */
  by: Principal;
  commands?: readonly OperatorCommand[];
  actions: readonly string[];
  resources: (s: IamScope) => string[];
  condition?: (s: IamScope) => Condition;
  /** Why, for the reader of the table and of `dcp iam policy`. */
  why: string;
}

const arn = (s: IamScope, service: string, resource: string, region = s.region, account = s.account) =>
  `arn:${s.partition}:${service}:${region}:${account}:${resource}`;
const queueArns = (s: IamScope) => s.queues.map((q) => arn(s, "sqs", q));
const logGroupArns = (s: IamScope) =>
  s.logGroups.flatMap((g) => [arn(s, "logs", `log-group:${g}`)].concat(arn(s, "logs", `log-group:${g}:*`)));
const bucketArns = (s: IamScope, buckets: string[]) => buckets.map((b) => `arn:${s.partition}:s3:::${b}`);
const objectArns = (s: IamScope, buckets: string[]) => buckets.map((b) => `arn:${s.partition}:s3:::${b}/*`);
/** The run ledger's objects: s3://AWS_BUCKET/dcp-runs/<APP_NAME>/ (plan/ledger.ts). */
const ledgerObjects = (s: IamScope) => [`arn:${s.partition}:s3:::${s.logsBucket}/dcp-runs/${s.app}/*`];
const roleArn = (s: IamScope, name: string) => `arn:${s.partition}:iam::${s.account}:role/${name}`;
const ecsArns = (s: IamScope) => [
  arn(s, "ecs", `cluster/${s.cluster}`),
  arn(s, "ecs", `service/${s.cluster}/${s.service}`),
  arn(s, "ecs", `task-definition/${s.taskFamily}:*`),
  arn(s, "ecs", `container-instance/${s.cluster}/*`),
  arn(s, "ecs", `task/${s.cluster}/*`),
];
const all = () => ["*"];
const requestTag = (s: IamScope): Condition => ({ StringEquals: { [`aws:RequestTag/${APP_TAG}`]: s.app } });
const resourceTag = (s: IamScope): Condition => ({ StringEquals: { [`aws:ResourceTag/${APP_TAG}`]: s.app } });

const RUN: readonly OperatorCommand[] = ["start-cluster", "monitor", "teardown"];
const ENDS_RUN: readonly OperatorCommand[] = ["start-cluster", "monitor", "teardown"];

/** THE table. Each row: who, for which commands, which actions on what. */
export const IAM_TABLE: readonly Grant[] = [
  // --- operator: queues ---------------------------------------------------------------------------------
  {
    by: "operator",
    commands: ["setup"],
    actions: ["sqs:CreateQueue", "sqs:SetQueueAttributes", "sqs:TagQueue", "sqs:ListQueueTags"],
    resources: queueArns,
    why: "setup creates or updates the job queue and the dead-letter queue, tagged dcp:app",
  },
  {
    by: "operator",
    commands: [
      "setup",
      "make-jobs",
      "submit",
      "start-cluster",
      "monitor",
      "teardown",
      "doctor",
      "status",
      "gc",
      "workflow run",
    ],
    actions: ["sqs:GetQueueUrl", "sqs:GetQueueAttributes"],
    resources: queueArns,
    why: "every command finds the queues and reads their depth",
  },
  {
    by: "operator",
    commands: ["submit", "make-jobs"],
    actions: ["sqs:SendMessage"],
    resources: queueArns,
    why: "submit (and make-jobs --submit) sends one message per group (SendMessageBatch needs sqs:SendMessage)",
  },
  {
    by: "operator",
    commands: ["monitor", "teardown", "gc"],
    actions: ["sqs:DeleteQueue"],
    resources: queueArns,
    why: "teardown deletes the job queue",
  },
  {
    by: "operator",
    commands: ["workflow run"],
    actions: ["sqs:ReceiveMessage", "sqs:ChangeMessageVisibility"],
    resources: queueArns,
    why: "a workflow's gate reads a step's dead-letter queue, and a resumed submit reads what its queue holds; every message is made visible again",
  },
  // --- operator: ECS ------------------------------------------------------------------------------------
  {
    by: "operator",
    commands: ["setup"],
    actions: ["ecs:CreateCluster", "ecs:RegisterTaskDefinition", "ecs:CreateService", "ecs:TagResource"],
    resources: ecsArns,
    why: "setup creates the cluster, the task definition and the service, tagged dcp:app",
  },
  {
    by: "operator",
    commands: ["setup", "start-cluster", "monitor", "teardown", "doctor", "gc"],
    actions: [
      "ecs:DescribeClusters",
      "ecs:DescribeServices",
      "ecs:DescribeTaskDefinition",
      "ecs:UpdateService",
      "ecs:ListTagsForResource",
      "ecs:ListTasks",
      "ecs:ListContainerInstances",
      "ecs:DescribeContainerInstances",
    ],
    resources: ecsArns,
    why: "setup and the run read the cluster and scale the service",
  },
  {
    by: "operator",
    commands: ["setup", "monitor", "teardown", "gc"],
    actions: ["ecs:ListTaskDefinitions", "ecs:ListServices", "ecs:DeregisterTaskDefinition"],
    resources: all,
    why: "ListTaskDefinitions, ListServices and DeregisterTaskDefinition take no resource-level permission",
  },
  {
    by: "operator",
    commands: ["monitor", "teardown", "gc"],
    actions: ["ecs:DeleteService", "ecs:DeregisterContainerInstance", "ecs:DeleteCluster"],
    resources: ecsArns,
    why: "teardown removes the service, the container instances and the cluster",
  },
  // --- operator: logs -----------------------------------------------------------------------------------
  {
    by: "operator",
    commands: ["setup", "start-cluster"],
    actions: ["logs:CreateLogGroup", "logs:PutRetentionPolicy", "logs:TagResource", "logs:ListTagsForResource"],
    resources: logGroupArns,
    why: "setup creates the two log groups with their retention, tagged dcp:app",
  },
  {
    by: "operator",
    commands: ["setup", "start-cluster", "monitor", "teardown", "doctor", "gc"],
    actions: ["logs:DescribeLogGroups", "logs:DescribeExportTasks"],
    resources: all,
    why: "DescribeLogGroups and DescribeExportTasks take no resource-level permission",
  },
  {
    by: "operator",
    commands: ["monitor", "teardown", "gc"],
    actions: ["logs:CreateExportTask"],
    resources: logGroupArns,
    why: "teardown exports the logs to AWS_BUCKET (the bucket policy must let logs.amazonaws.com write)",
  },
  // --- operator: EC2 fleets -----------------------------------------------------------------------------
  {
    by: "operator",
    commands: ["start-cluster"],
    actions: ["ec2:RequestSpotFleet", "ec2:CreateFleet", "ec2:CreateLaunchTemplate", "ec2:RunInstances"],
    resources: all,
    condition: requestTag,
    why: "start-cluster requests the fleet (and its launch template), tagged dcp:app at creation",
  },
  {
    by: "operator",
    commands: ["start-cluster"],
    actions: ["ec2:RunInstances"],
    resources: (s) => [
      `arn:${s.partition}:ec2:${s.region}::image/*`,
      arn(s, "ec2", "subnet/*"),
      arn(s, "ec2", "security-group/*"),
      arn(s, "ec2", "network-interface/*"),
      arn(s, "ec2", "volume/*"),
      arn(s, "ec2", "key-pair/*"),
      arn(s, "ec2", "launch-template/*"),
    ],
    why: "EC2 Fleet launches with the caller's ec2:RunInstances on the image, subnets and security groups",
  },
  {
    by: "operator",
    commands: ["start-cluster"],
    actions: ["ec2:CreateTags"],
    resources: all,
    condition: requestTag,
    why: "tags on creation, and the dcp:app tag on the instances' volumes",
  },
  {
    by: "operator",
    commands: [...ENDS_RUN, "gc"],
    actions: [
      "ec2:CancelSpotFleetRequests",
      "ec2:ModifySpotFleetRequest",
      "ec2:DeleteFleets",
      "ec2:ModifyFleet",
      "ec2:DeleteLaunchTemplate",
      "ec2:TerminateInstances",
    ],
    resources: all,
    condition: resourceTag,
    why: "the monitor resizes and cancels only fleets, templates and instances tagged with this app",
  },
  {
    by: "operator",
    commands: [...RUN, "doctor", "estimate", "status", "gc"],
    actions: [
      "ec2:DescribeSpotFleetRequests",
      "ec2:DescribeSpotFleetInstances",
      "ec2:DescribeSpotFleetRequestHistory",
      "ec2:DescribeFleets",
      "ec2:DescribeFleetInstances",
      "ec2:DescribeLaunchTemplates",
      "ec2:DescribeInstances",
      "ec2:DescribeSpotPriceHistory",
      "ec2:DescribeImages",
      "ec2:DescribeSubnets",
      "ec2:DescribeSecurityGroups",
      "ec2:DescribeInstanceTypeOfferings",
      "ec2:DescribeInstanceTypes",
    ],
    resources: all,
    why: "EC2 Describe calls take no resource-level permission",
  },
  {
    by: "operator",
    commands: ["start-cluster", "doctor"],
    actions: ["ssm:GetParameter"],
    resources: (s) => [`arn:${s.partition}:ssm:${s.region}::parameter/aws/service/ecs/*`],
    why: "IMAGE_ID auto: the ECS-optimized AMI from AWS's public parameter",
  },
  {
    by: "operator",
    commands: ["start-cluster"],
    actions: ["iam:PassRole"],
    resources: (s) => [s.passRoles.fleet, s.passRoles.instance],
    condition: () => ({ StringEquals: { "iam:PassedToService": ["ec2.amazonaws.com", "spotfleet.amazonaws.com"] } }),
    why: "the fleet request names the fleet role and the instance profile's role (no call names PassRole)",
  },
  {
    by: "operator",
    commands: ["setup"],
    actions: ["iam:PassRole"],
    resources: (s) => [s.passRoles.task],
    condition: () => ({ StringEquals: { "iam:PassedToService": "ecs-tasks.amazonaws.com" } }),
    why: "the task definition names the task role (TASK_ROLE_ARN)",
  },
  {
    by: "operator",
    commands: ["start-cluster", "iam create"],
    actions: ["iam:CreateServiceLinkedRole"],
    resources: (s) => [`arn:${s.partition}:iam::${s.account}:role/aws-service-role/*`],
    condition: () => ({
      StringEquals: {
        "iam:AWSServiceName": ["spotfleet.amazonaws.com", "spot.amazonaws.com", "ec2fleet.amazonaws.com"],
      },
    }),
    why: "Spot Fleet and EC2 Fleet need their service-linked roles; the first fleet creates them",
  },
  // --- operator: CloudWatch alarms and dashboard --------------------------------------------------------
  {
    by: "operator",
    commands: ENDS_RUN,
    actions: ["cloudwatch:PutMetricAlarm", "cloudwatch:DeleteAlarms", "cloudwatch:TagResource"],
    resources: (s) => [arn(s, "cloudwatch", `alarm:${s.alarmPrefix}*`)],
    why: "one idle alarm per instance, named <APP_NAME>_<instance id>",
  },
  {
    by: "operator",
    commands: [...ENDS_RUN, "gc"],
    actions: ["cloudwatch:DescribeAlarms"],
    resources: all,
    why: "DescribeAlarms by name prefix",
  },
  {
    by: "operator",
    commands: ENDS_RUN,
    actions: ["cloudwatch:PutDashboard", "cloudwatch:DeleteDashboards"],
    resources: (s) => [`arn:${s.partition}:cloudwatch::${s.account}:dashboard/${s.app}*`],
    why: "CREATE_DASHBOARD / CLEAN_DASHBOARD",
  },
  // --- operator: dcp gc (finds every app's resources by their dcp:app tag, removes this app's) -----------
  {
    by: "operator",
    commands: ["gc"],
    actions: [
      "sqs:ListQueues",
      "sqs:ListQueueTags",
      "sqs:GetQueueAttributes",
      "ecs:ListClusters",
      "ecs:DescribeClusters",
      "ecs:ListServices",
      "ecs:DescribeServices",
      "ecs:ListTaskDefinitionFamilies",
      "ecs:DescribeTaskDefinition",
      "logs:ListTagsForResource",
      "cloudwatch:ListTagsForResource",
      "cloudwatch:ListDashboards",
    ],
    resources: all,
    why: "gc lists every queue, cluster, service, task definition, log group and alarm of the region for its tags",
  },
  {
    by: "operator",
    commands: ["gc"],
    actions: ["cloudwatch:DeleteAlarms"],
    resources: (s) => [arn(s, "cloudwatch", `alarm:${s.alarmPrefix}*`)],
    why: "gc deletes the app's idle alarms",
  },
  {
    by: "operator",
    commands: ["gc"],
    actions: ["cloudwatch:DeleteDashboards"],
    resources: (s) => [`arn:${s.partition}:cloudwatch::${s.account}:dashboard/${s.app}*`],
    why: "gc deletes the app's dashboard",
  },
  {
    by: "operator",
    commands: ["gc"],
    actions: ["logs:DeleteLogGroup"],
    resources: logGroupArns,
    why: "gc --include-logs deletes the log groups",
  },
  {
    by: "operator",
    commands: ["gc"],
    actions: ["s3:ListBucket", "s3:GetObject"],
    resources: (s) => [...bucketArns(s, [s.logsBucket]), `arn:${s.partition}:s3:::${s.logsBucket}/dcp-runs/*`],
    why: "gc reads the run ledger (pointer, heartbeat, run and summary); without ListBucket a missing key is a 403",
  },
  // --- operator: doctor (read-only) ---------------------------------------------------------------------
  {
    by: "operator",
    commands: ["doctor", "setup"],
    actions: [
      "iam:GetRole",
      "iam:GetInstanceProfile",
      "iam:ListAttachedRolePolicies",
      "iam:ListRolePolicies",
      "iam:GetRolePolicy",
      "iam:GetPolicy",
      "iam:GetPolicyVersion",
    ],
    resources: (s) => [
      `arn:${s.partition}:iam::${s.account}:role/*`,
      `arn:${s.partition}:iam::${s.account}:instance-profile/*`,
      `arn:${s.partition}:iam::*:policy/*`,
    ],
    why: "the doctor reads the roles named in the config and fleet file, and their policies",
  },
  {
    by: "operator",
    commands: ["doctor"],
    actions: [
      "iam:GetUser",
      "iam:ListAttachedUserPolicies",
      "iam:ListUserPolicies",
      "iam:GetUserPolicy",
      "iam:ListGroupsForUser",
      "iam:ListAttachedGroupPolicies",
      "iam:ListGroupPolicies",
      "iam:GetGroupPolicy",
    ],
    resources: (s) => [`arn:${s.partition}:iam::${s.account}:user/*`, `arn:${s.partition}:iam::${s.account}:group/*`],
    why: "the doctor reads the caller's own policies to check its permissions",
  },
  {
    by: "operator",
    commands: ["doctor"],
    actions: ["servicequotas:GetServiceQuota"],
    resources: all,
    why: "the Spot vCPU quota (L-34B43A08)",
  },
  {
    by: "operator",
    commands: ["doctor", "collect", "start-cluster", "monitor", "teardown", "status", "estimate", "workflow run"],
    actions: ["s3:ListBucket", "s3:GetBucketLocation"],
    resources: (s) => bucketArns(s, [s.logsBucket, ...s.readBuckets]),
    // One statement for all (a managed policy holds at most 6,144 characters): the run ledger in AWS_BUCKET is
    // counted by listing its keys under dcp-runs/<APP_NAME>/ (attempts, open attempts, submissions).
    why: "the doctor checks that the buckets exist and in which region; dcp collect lists the output folders; the run ledger is counted by listing (status, the monitor's tail, estimate --from-run)",
  },
  {
    by: "operator",
    commands: ["doctor", "collect"],
    actions: ["s3:GetObject"],
    resources: (s) => objectArns(s, s.readBuckets),
    why: "the doctor reads the pipeline and the LoadData file of the job; dcp collect downloads the CSVs",
  },
  {
    by: "operator",
    commands: ["doctor"],
    actions: ["ecr:DescribeImages"],
    resources: (s) => [arn(s, "ecr", "repository/*")],
    why: "DOCKERHUB_TAG on ECR: the image exists",
  },
  // --- operator: the run ledger (s3://AWS_BUCKET/dcp-runs/<APP_NAME>/, plan/ledger.ts) -----------------
  {
    by: "operator",
    commands: ["submit", "start-cluster", "monitor", "teardown", "gc"],
    actions: ["s3:PutObject"],
    resources: ledgerObjects,
    why: "the run ledger: submissions, run.json and the pointer, the monitor's heartbeat, the summary",
  },
  {
    by: "operator",
    commands: ["start-cluster", "monitor", "teardown", "status", "estimate"],
    actions: ["s3:GetObject"],
    resources: ledgerObjects,
    why: "the run ledger: the pointer, run.json, the heartbeat and the records (estimate --from-run: task times)",
  },
  // --- operator: dcp failures and dcp retry -------------------------------------------------------------
  {
    by: "operator",
    commands: ["failures", "retry"],
    actions: ["sqs:GetQueueUrl", "sqs:GetQueueAttributes", "sqs:ReceiveMessage", "sqs:ChangeMessageVisibility"],
    resources: queueArns,
    why: "failures and retry read the whole dead-letter queue and make every message visible again",
  },
  {
    by: "operator",
    commands: ["retry"],
    actions: ["sqs:SendMessage", "sqs:DeleteMessage"],
    resources: queueArns,
    why: "retry sends groups to the job queue, then deletes them from the dead-letter queue",
  },
  {
    by: "operator",
    commands: ["failures", "retry"],
    actions: ["s3:ListBucket"],
    resources: (s) => bucketArns(s, [s.logsBucket, ...s.readBuckets]),
    why: "the run ledger's attempts are listed (AWS_BUCKET/dcp-runs/); retry --missing lists the output folder",
  },
  {
    by: "operator",
    commands: ["failures", "retry"],
    actions: ["s3:GetObject"],
    resources: ledgerObjects,
    why: "the run ledger's current-run pointer and the failed groups' attempt records",
  },
  // --- operator: dcp iam --------------------------------------------------------------------------------
  {
    by: "operator",
    commands: ["iam create", "iam delete"],
    actions: [
      "iam:GetRole",
      "iam:CreateRole",
      "iam:DeleteRole",
      "iam:TagRole",
      "iam:UpdateAssumeRolePolicy",
      "iam:AttachRolePolicy",
      "iam:DetachRolePolicy",
      "iam:PutRolePolicy",
      "iam:DeleteRolePolicy",
      "iam:ListAttachedRolePolicies",
      "iam:ListRolePolicies",
      "iam:GetRolePolicy",
      "iam:GetInstanceProfile",
      "iam:CreateInstanceProfile",
      "iam:DeleteInstanceProfile",
      "iam:TagInstanceProfile",
      "iam:AddRoleToInstanceProfile",
      "iam:RemoveRoleFromInstanceProfile",
    ],
    resources: (s) => [
      ...Object.values(s.roles).map((r) => roleArn(s, r)),
      `arn:${s.partition}:iam::${s.account}:instance-profile/${s.roles.instance}`,
    ],
    why: "dcp iam create / delete manage only this app's three roles and its instance profile",
  },
  {
    by: "operator",
    commands: ["iam create", "doctor"],
    actions: ["iam:ListRoles"],
    resources: (s) => [`arn:${s.partition}:iam::${s.account}:role/aws-service-role/*`],
    why: "the Spot Fleet and EC2 Fleet service-linked roles, found by their path",
  },
  // --- worker (the task role, or the instance role when TASK_ROLE_ARN is null) --------------------------
  {
    by: "worker",
    actions: [
      "sqs:GetQueueUrl",
      "sqs:GetQueueAttributes",
      "sqs:ReceiveMessage",
      "sqs:DeleteMessage",
      "sqs:ChangeMessageVisibility",
      "sqs:SendMessage",
    ],
    resources: queueArns,
    why: "jobs from the queue; a stopped task is sent back, a poison one to the dead-letter queue",
  },
  {
    by: "worker",
    actions: ["s3:ListBucket"],
    resources: (s) => bucketArns(s, s.readBuckets),
    why: "inputs to download, and the upload check of the output prefix",
  },
  {
    by: "worker",
    actions: ["s3:GetObject"],
    resources: (s) => objectArns(s, s.readBuckets),
    why: "pipeline, data file and images",
  },
  {
    by: "worker",
    actions: ["s3:PutObject", "s3:PutObjectAcl", "s3:AbortMultipartUpload"],
    resources: (s) => objectArns(s, s.writeBuckets),
    why: "outputs (multipart above 1 MiB; UPLOAD_FLAGS may set an ACL)",
  },
  {
    by: "worker",
    actions: ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
    resources: ledgerObjects,
    why: "the run ledger: reads the run pointer, writes one record per attempt and an open key it deletes",
  },
  {
    by: "worker",
    actions: ["logs:CreateLogStream", "logs:PutLogEvents"],
    resources: logGroupArns,
    why: "one log stream per task",
  },
  // --- fleet role (Spot Fleet acts as it; the managed AmazonEC2SpotFleetTaggingRole covers this) --------
  {
    by: "fleet",
    actions: ["ec2:RunInstances", "ec2:CreateTags", "ec2:RequestSpotInstances", "ec2:TerminateInstances"],
    resources: all,
    why: "Spot Fleet launches, tags and ends the fleet's instances",
  },
  {
    by: "fleet",
    actions: ["ec2:DescribeImages", "ec2:DescribeSubnets", "ec2:DescribeInstanceStatus", "ec2:DescribeInstances"],
    resources: all,
    why: "Spot Fleet validates the launch specifications",
  },
  {
    by: "fleet",
    actions: ["iam:PassRole"],
    resources: (s) => [s.passRoles.instance],
    condition: () => ({ StringEquals: { "iam:PassedToService": "ec2.amazonaws.com" } }),
    why: "the instances get the instance profile's role",
  },
  // --- instance role (the managed AmazonEC2ContainerServiceforEC2Role covers this) ----------------------
  {
    by: "instance",
    actions: [
      "ecs:RegisterContainerInstance",
      "ecs:DeregisterContainerInstance",
      "ecs:SubmitContainerStateChange",
      "ecs:SubmitTaskStateChange",
    ],
    resources: (s) => [arn(s, "ecs", `cluster/${s.cluster}`), arn(s, "ecs", `container-instance/${s.cluster}/*`)],
    why: "the ECS agent joins the cluster",
  },
  {
    by: "instance",
    actions: ["ecs:DiscoverPollEndpoint", "ecs:Poll", "ecs:StartTelemetrySession", "ecs:UpdateContainerInstancesState"],
    resources: all,
    why: "the ECS agent's control channel",
  },
  {
    by: "instance",
    actions: [
      "ecr:GetAuthorizationToken",
      "ecr:BatchCheckLayerAvailability",
      "ecr:GetDownloadUrlForLayer",
      "ecr:BatchGetImage",
    ],
    resources: all,
    why: "pulls the worker image when it lives on ECR",
  },
  {
    by: "instance",
    actions: ["logs:CreateLogStream", "logs:PutLogEvents"],
    resources: logGroupArns,
    why: "the awslogs driver writes the containers' output to <LOG_GROUP_NAME>_perInstance",
  },
];

export interface PolicyStatement {
  Effect: "Allow";
  Action: string[];
  Resource: string[];
  Condition?: Condition;
}

export interface PolicyDocument {
  Version: "2012-10-17";
  Statement: PolicyStatement[];
}

/** The grants of one principal (for the operator: of some commands, default all). */
export function grantsFor(principal: Principal, commands?: readonly OperatorCommand[]): Grant[] {
  return IAM_TABLE.filter(
    (g) => g.by === principal && (!commands || !g.commands || g.commands.some((c) => commands.includes(c))),
  );
}

/**
 * The least-privilege policy of one principal: one statement per row of the table, rows with the same
 * resources and condition merged. No Sids: a managed policy may hold at most 6,144 characters (IAM quotas),
 * and the operator's policy is close to it (test/doctor-plan.test.ts keeps it under).
 */
export function policyFor(
  principal: Principal,
  scope: IamScope,
  commands: readonly OperatorCommand[] | undefined = principal === "operator" ? DEFAULT_OPERATOR_COMMANDS : undefined,
): PolicyDocument {
  const statements = new Map<string, PolicyStatement>();
  for (const grant of grantsFor(principal, commands)) {
    const Resource = [...new Set(grant.resources(scope))].sort();
    const Condition = grant.condition?.(scope);
    const key = JSON.stringify([Resource, Condition ?? null]);
    const existing = statements.get(key);
    if (existing) {
      existing.Action = [...new Set([...existing.Action, ...grant.actions])].sort();
      continue;
    }
    statements.set(key, {
      Effect: "Allow",
      Action: [...new Set(grant.actions)].sort(),
      Resource,
      ...(Condition ? { Condition } : {}),
    });
  }
  return { Version: "2012-10-17", Statement: [...statements.values()] };
}

/** Every action a policy allows (conditions aside). */
export function allowedActions(policy: PolicyDocument): Set<string> {
  return new Set(policy.Statement.flatMap((s) => s.Action));
}

// --- the roles' trust, and the AWS managed policies attached to them ----------------------------------

export function trustPolicy(service: string) {
  return {
    Version: "2012-10-17",
    Statement: [{ Effect: "Allow", Principal: { Service: service }, Action: "sts:AssumeRole" }],
  };
}

export interface RoleSpec {
  kind: "task" | "instance" | "fleet";
  name: string;
  trustedService: string;
  managedPolicyArns: string[];
  /** Inline policy (the worker's permissions) on the task role. */
  inlinePolicy?: { name: string; document: PolicyDocument };
  instanceProfile?: string;
}

export const SPOT_FLEET_TAGGING_POLICY = "service-role/AmazonEC2SpotFleetTaggingRole";
export const ECS_INSTANCE_POLICY = "service-role/AmazonEC2ContainerServiceforEC2Role";

/** Service-linked roles Spot Fleet and EC2 Fleet need before the first request (aws-behaviour "IAM a run needs"). */
export const SERVICE_LINKED_ROLES = [
  { service: "spotfleet.amazonaws.com", name: "AWSServiceRoleForEC2SpotFleet" },
  { service: "spot.amazonaws.com", name: "AWSServiceRoleForEC2Spot" },
  { service: "ec2fleet.amazonaws.com", name: "AWSServiceRoleForEC2Fleet" },
] as const;

export function managedPolicyArn(partition: string, name: string): string {
  return `arn:${partition}:iam::aws:policy/${name}`;
}

/** What `dcp iam create` makes, in order. */
export function roleSpecs(scope: IamScope): RoleSpec[] {
  return [
    {
      kind: "task",
      name: scope.roles.task,
      trustedService: "ecs-tasks.amazonaws.com",
      managedPolicyArns: [],
      inlinePolicy: { name: "dcp-worker", document: policyFor("worker", scope) },
    },
    {
      kind: "instance",
      name: scope.roles.instance,
      trustedService: "ec2.amazonaws.com",
      managedPolicyArns: [managedPolicyArn(scope.partition, ECS_INSTANCE_POLICY)],
      instanceProfile: scope.roles.instance,
    },
    {
      kind: "fleet",
      name: scope.roles.fleet,
      trustedService: "spotfleet.amazonaws.com",
      managedPolicyArns: [managedPolicyArn(scope.partition, SPOT_FLEET_TAGGING_POLICY)],
    },
  ];
}
