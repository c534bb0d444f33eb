/**
 * `dcp iam policy|create|delete`: the least-privilege policies generated from the table in
 * src/plan/iam-policy.ts, and the roles a run needs, created or reconciled idempotently like `dcp setup`.
 */
import { readFile, rename, writeFile } from "node:fs/promises";
import { awsContext } from "../aws/context.js";
import {
  deleteInstanceProfileIfExists,
  deleteRoleIfExists,
  ensureInstanceProfile,
  ensureRole,
  ensureServiceLinkedRole,
  iamClient,
} from "../aws/iam.js";
import { callerIdentity, stsClient } from "../aws/sts.js";
import type { Config } from "../config/schema.js";
import { UserInputError } from "../errors.js";
import {
  OPERATOR_COMMANDS,
  SERVICE_LINKED_ROLES,
  iamScope,
  policyFor,
  roleSpecs,
  trustPolicy,
  type OperatorCommand,
  type Principal,
  type PolicyDocument,
} from "../plan/iam-policy.js";
import { appTags } from "../plan/names.js";
import type { ResourceChange } from "../plan/reconcile.js";
import type { Output } from "../ui/output.js";

/** The account of the credentials, or "*" (with a warning) when they cannot be read. */
async function accountOf(config: Config, output: Output): Promise<string> {
  try {
    return (await callerIdentity(stsClient(awsContext(config)))).account || "*";
  } catch (err) {
    output.warn(`could not read the account (${(err as Error).message}); the policy names account "*"`);
    return "*";
  }
}

/** `--commands setup,submit` or `all`: which commands' calls the operator's policy covers. */
export function parseCommands(value: string | undefined): readonly OperatorCommand[] | undefined {
  if (value === undefined) return undefined;
  if (value.trim() === "all") return OPERATOR_COMMANDS;
  const list = value.split(",").map((c) => c.trim());
  const unknown = list.filter((c) => !(OPERATOR_COMMANDS as readonly string[]).includes(c));
  if (unknown.length || !list.length)
    throw new UserInputError(
      "--commands",
      undefined,
      `unknown command ${unknown.join(", ") || "(none)"}`,
      `list some of ${OPERATOR_COMMANDS.join(", ")} separated by commas, or "all"`,
    );
  return list as OperatorCommand[];
}

export async function runIamPolicy(
  config: Config,
  principal: Principal,
  commandsFlag: string | undefined,
  output: Output,
): Promise<PolicyDocument> {
  const commands = principal === "operator" ? parseCommands(commandsFlag) : undefined;
  const policy = policyFor(principal, iamScope(config, await accountOf(config, output)), commands);
  if (output.json) output.result(policy);
  else process.stdout.write(`${JSON.stringify(policy, null, 2)}\n`);
  return policy;
}

export interface IamCreateSummary {
  changed: boolean;
  resources: ResourceChange[];
  taskRoleArn: string;
  instanceProfileArn: string;
  fleetRoleArn: string;
  configWritten: boolean;
}

function status(r: { created: boolean; changes: string[] }): ResourceChange["status"] {
  if (r.created) return "created";
  return r.changes.length ? "updated" : "unchanged";
}

export async function runIamCreate(
  config: Config,
  options: { writeConfig: boolean; configPath: string },
  output: Output,
): Promise<IamCreateSummary> {
  const iam = iamClient(awsContext(config));
  const scope = iamScope(config, await accountOf(config, output));
  const tags = appTags(config.APP_NAME);
  const resources: ResourceChange[] = [];
  const arns: Record<string, string> = {};
  for (const spec of roleSpecs(scope)) {
    const result = await output.step(
      `IAM role ${spec.name} (trusted by ${spec.trustedService})`,
      () =>
        ensureRole(iam, {
          name: spec.name,
          trust: trustPolicy(spec.trustedService),
          managedPolicyArns: spec.managedPolicyArns,
          ...(spec.inlinePolicy ? { inline: spec.inlinePolicy } : {}),
          tags,
          description: `dcp ${spec.kind} role of ${config.APP_NAME}`,
        }),
      (r) => (r.changes.length ? `${status(r)} (${r.changes.join("; ")})` : status(r)),
    );
    resources.push({ kind: `${spec.kind} role`, name: spec.name, status: status(result), changes: result.changes });
    arns[spec.kind] = result.arn;
    if (spec.instanceProfile) {
      const profile = await output.step(
        `Instance profile ${spec.instanceProfile}`,
        () => ensureInstanceProfile(iam, spec.instanceProfile!, spec.name, tags),
        (r) => status(r),
      );
      resources.push({
        kind: "instance profile",
        name: spec.instanceProfile,
        status: status(profile),
        changes: profile.changes,
      });
      arns.profile = profile.arn;
    }
  }
  for (const slr of SERVICE_LINKED_ROLES) {
    const created = await output.step(
      `Service-linked role ${slr.name}`,
      () => ensureServiceLinkedRole(iam, slr.service),
      (c) => (c ? "created" : "present"),
    );
    resources.push({
      kind: "service-linked role",
      name: slr.name,
      status: created ? "created" : "unchanged",
      changes: [],
    });
  }

  let configWritten = false;
  if (options.writeConfig && config.TASK_ROLE_ARN !== arns.task) {
    await writeConfigKey(options.configPath, "TASK_ROLE_ARN", arns.task!);
    configWritten = true;
    output.line(`${options.configPath}: TASK_ROLE_ARN set to ${arns.task}`);
  }
  const summary: IamCreateSummary = {
    changed: resources.some((r) => r.status !== "unchanged") || configWritten,
    resources,
    taskRoleArn: arns.task ?? "",
    instanceProfileArn: arns.profile ?? "",
    fleetRoleArn: arns.fleet ?? "",
    configWritten,
  };
  output.line(
    summary.changed
      ? `IAM done: ${resources.filter((r) => r.status === "created").length} created, ${resources.filter((r) => r.status === "updated").length} updated.`
      : `Nothing to change: all ${resources.length} IAM resources already match.`,
  );
  output.line(`Fleet file: "IamFleetRole": "${summary.fleetRoleArn}"`);
  output.line(`Fleet file: "IamInstanceProfile": { "Arn": "${summary.instanceProfileArn}" }`);
  if (!options.writeConfig && config.TASK_ROLE_ARN !== summary.taskRoleArn)
    output.line(`Config: "TASK_ROLE_ARN": "${summary.taskRoleArn}" (or run again with --write-config)`);
  output.result(summary);
  return summary;
}

/** Sets one key of the JSON config file, keeping the others and their order; written atomically. */
async function writeConfigKey(path: string, key: string, value: string): Promise<void> {
  const data = JSON.parse(await readFile(path, "utf8")) as Record<string, unknown>;
  data[key] = value;
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(data, null, 2)}\n`);
  await rename(tmp, path);
}

export interface IamDeleteSummary {
  deleted: string[];
  absent: string[];
}

/** Removes what `dcp iam create` made for this app (service-linked roles are shared by the account: kept). */
export async function runIamDelete(config: Config, output: Output): Promise<IamDeleteSummary> {
  const iam = iamClient(awsContext(config));
  const scope = iamScope(config, "*");
  const summary: IamDeleteSummary = { deleted: [], absent: [] };
  const record = (what: string, done: boolean) => (done ? summary.deleted : summary.absent).push(what);
  for (const spec of roleSpecs(scope)) {
    if (spec.instanceProfile) {
      const name = spec.instanceProfile;
      const gone = await output.step(
        `Instance profile ${name}`,
        () => deleteInstanceProfileIfExists(iam, name),
        (d) => (d ? "deleted" : "not found"),
      );
      record(`instance profile ${name}`, gone);
    }
    const gone = await output.step(
      `IAM role ${spec.name}`,
      () => deleteRoleIfExists(iam, spec.name),
      (d) => (d ? "deleted" : "not found"),
    );
    record(`${spec.kind} role ${spec.name}`, gone);
  }
  output.line(
    `Deleted ${summary.deleted.length}; ${summary.absent.length} did not exist. Service-linked roles are kept.`,
  );
  output.result(summary);
  return summary;
}
