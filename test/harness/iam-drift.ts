/**
 * The IAM drift check: the AWS calls dcp really made (recorded by the CLI with DCP_RECORD_CALLS=<file>,
 * one `command<TAB>service<TAB>Operation` line per SDK call) must each be allowed by the policy that
 * src/plan/iam-policy.ts generates for the principal making it (`dcp worker` → worker, any other command →
 * the operator's policy for that command).
 *
 * The SDK-operation → IAM-action mapping below is this test's own, written from the Service Authorization
 * Reference; it never reads the table it checks.
 */
import { existsSync, readFileSync } from "node:fs";
import { parseConfig } from "../../src/config/load.js";
import { allowedActions, iamScope, policyFor, type OperatorCommand } from "../../src/plan/iam-policy.js";

/** Client name given to `instrument()` → IAM service prefix. */
const SERVICE_PREFIX: Record<string, string> = {
  "service-quotas": "servicequotas",
};

/** Operations whose IAM action is not `<prefix>:<Operation>`, or that need more than one. */
const SPECIAL: Record<string, string[]> = {
  "s3:ListObjectsV2": ["s3:ListBucket"],
  "s3:HeadBucket": ["s3:ListBucket"],
  "s3:HeadObject": ["s3:GetObject"],
  "s3:CreateMultipartUpload": ["s3:PutObject"],
  "s3:UploadPart": ["s3:PutObject"],
  "s3:CompleteMultipartUpload": ["s3:PutObject"],
  "sqs:SendMessageBatch": ["sqs:SendMessage"],
  "sqs:DeleteMessageBatch": ["sqs:DeleteMessage"],
  "sqs:ChangeMessageVisibilityBatch": ["sqs:ChangeMessageVisibility"],
  // GetCallerIdentity needs no permission ("no permissions are required to perform this operation").
  "sts:GetCallerIdentity": [],
  // Permissions no call names: passing a role, and the fleets' launches.
  "ec2:RequestSpotFleet": ["ec2:RequestSpotFleet", "iam:PassRole", "ec2:CreateTags"],
  "ec2:CreateFleet": ["ec2:CreateFleet", "ec2:RunInstances", "iam:PassRole", "ec2:CreateTags"],
  "ec2:CreateLaunchTemplate": ["ec2:CreateLaunchTemplate", "ec2:CreateTags"],
  "ecs:RegisterTaskDefinition": ["ecs:RegisterTaskDefinition", "iam:PassRole"],
  "cloudwatch:PutMetricAlarm": ["cloudwatch:PutMetricAlarm", "cloudwatch:TagResource"],
  "logs:CreateLogGroup": ["logs:CreateLogGroup", "logs:TagResource"],
  "ecs:CreateCluster": ["ecs:CreateCluster", "ecs:TagResource"],
  "sqs:CreateQueue": ["sqs:CreateQueue", "sqs:TagQueue"],
};

export function iamActionsOf(service: string, operation: string): string[] {
  const key = `${SERVICE_PREFIX[service] ?? service}:${operation}`;
  return SPECIAL[key] ?? [key];
}

export interface RecordedCall {
  command: string;
  service: string;
  operation: string;
}

export function readRecordedCalls(file: string): RecordedCall[] {
  if (!existsSync(file)) return [];
  const seen = new Set<string>();
  const calls: RecordedCall[] = [];
  for (const line of readFileSync(file, "utf8").split("\n")) {
    if (!line || seen.has(line)) continue;
    seen.add(line);
    const [command = "", service = "", operation = ""] = line.split("\t");
    calls.push({ command, service, operation });
  }
  return calls;
}

/** A scope with every name distinct; actions are compared, so the names only need to be valid. */
const scope = iamScope(parseConfig({ APP_NAME: "DriftApp", AWS_BUCKET: "drift-bucket" }, "drift"), "123456789012");

/** Each recorded call whose IAM actions the generated policy of its principal lacks, as readable lines. */
export function driftOf(calls: readonly RecordedCall[]): string[] {
  const problems = new Set<string>();
  for (const call of calls) {
    if (call.command === "unknown") continue;
    const policy =
      call.command === "worker"
        ? policyFor("worker", scope)
        : policyFor("operator", scope, [call.command as OperatorCommand]);
    const allowed = allowedActions(policy);
    for (const action of iamActionsOf(call.service, call.operation))
      if (!allowed.has(action))
        problems.add(
          `dcp ${call.command} calls ${call.service} ${call.operation}, which needs ${action}: ` +
            `add it to src/plan/iam-policy.ts (IAM_TABLE, principal ${call.command === "worker" ? "worker" : `operator, command "${call.command}"`})`,
        );
  }
  return [...problems].sort();
}
