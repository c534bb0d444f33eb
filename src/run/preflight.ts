/**
 * The cheap checks both `dcp doctor` and `dcp setup` run first: credentials (STS GetCallerIdentity), the
 * region and profile, and the roles named in the config (TASK_ROLE_ARN), plus the role checks the doctor
 * reuses for the fleet file's roles. Shared by two flows, so it lives outside src/flows/.
 */
import { type AwsContext, awsContext } from "../aws/context.js";
import { isExpiredCredentials, isInvalidCredentials, isMissingCredentials, isUnreachable } from "../aws/errors.js";
import { callerIdentity, stsClient, type CallerIdentity } from "../aws/sts.js";
import type { Config } from "../config/schema.js";
import { OperationalError } from "../errors.js";
import {
  couldNotCheck,
  evaluateAllows,
  fail,
  formatCheck,
  iamName,
  ok,
  trustedServices,
  warn,
  type Check,
} from "../plan/doctor.js";
import type { Output } from "../ui/output.js";

export const errorText = (err: unknown) => `${(err as { name?: string }).name ?? "Error"}: ${(err as Error).message}`;
export const IAM_CREATE = "run `dcp iam create` (it creates the roles and prints the ARNs for the fleet file)";

/** Runs one check; an unexpected AWS error becomes "could not check", AccessDenied says which permission. */
export async function guarded(subject: string, run: () => Promise<Check | Check[]>): Promise<Check[]> {
  try {
    const out = await run();
    return Array.isArray(out) ? out : [out];
  } catch (err) {
    return [couldNotCheck(subject, errorText(err))];
  }
}

// --- credentials, region, profile -----------------------------------------------------------------------

export async function credentialsCheck(
  ctx: AwsContext,
): Promise<{ check: Check; identity?: CallerIdentity; error?: unknown }> {
  const profile = ctx.profile ? `profile ${ctx.profile}` : "the SDK's default chain (no AWS_PROFILE)";
  try {
    const identity = await callerIdentity(stsClient(ctx));
    return { check: ok("credentials", `account ${identity.account}, ${identity.arn}, from ${profile}`), identity };
  } catch (err) {
    return {
      error: err,
      check: fail(
        "credentials",
        `no usable credentials from ${profile} (${errorText(err)})`,
        ctx.profile
          ? `run \`aws sso login --profile ${ctx.profile}\` or \`aws configure --profile ${ctx.profile}\`, or fix AWS_PROFILE in the config`
          : "run `aws configure` (or `aws sso login`), or set AWS_PROFILE in the config to a profile that works",
      ),
    };
  }
}

// --- roles ---------------------------------------------------------------------------------------------

export interface RoleExpectation {
  subject: string;
  name: string;
  service: string;
  managedPolicy?: string;
  /** Actions its policies must grant (the task role's SQS). */
  actions?: readonly string[];
  fix: string;
}

async function policyDocuments(ctx: AwsContext, role: string): Promise<{ documents: unknown[]; attached: string[] }> {
  const { iamClient, managedPolicyDocument, rolePolicies } = await import("../aws/iam.js");
  const iam = iamClient(ctx);
  const { attached, inline } = await rolePolicies(iam, role);
  const managed = await Promise.all(attached.map((p) => managedPolicyDocument(iam, p.arn)));
  return { documents: [...inline.map((p) => p.document), ...managed], attached: attached.map((p) => p.arn) };
}

export async function roleCheck(ctx: AwsContext, want: RoleExpectation): Promise<Check> {
  // Loaded on demand: `dcp setup` without TASK_ROLE_ARN needs no IAM client.
  const { getRole, iamClient, isAccessDenied } = await import("../aws/iam.js");
  const subject = `${want.subject} ${want.name}`;
  let role;
  try {
    role = await getRole(iamClient(ctx), want.name);
  } catch (err) {
    if (isAccessDenied(err)) return couldNotCheck(subject, "your credentials may not call iam:GetRole");
    throw err;
  }
  if (!role) return fail(subject, "does not exist", want.fix);
  const trusted = trustedServices(role.trust);
  if (!trusted.includes(want.service))
    return fail(
      subject,
      `is not trusted by ${want.service} (trusted by: ${trusted.join(", ") || "no service"})`,
      `aws iam update-assume-role-policy --role-name ${want.name} --policy-document '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"${want.service}"},"Action":"sts:AssumeRole"}]}'`,
    );
  if (!want.managedPolicy && !want.actions) return ok(subject, `exists, trusted by ${want.service}`);
  const { documents, attached } = await policyDocuments(ctx, want.name);
  if (want.managedPolicy && !attached.some((a) => a.endsWith(`/${want.managedPolicy}`)))
    return fail(
      subject,
      `has no ${want.managedPolicy.split("/").pop()} policy`,
      `aws iam attach-role-policy --role-name ${want.name} --policy-arn arn:aws:iam::aws:policy/${want.managedPolicy}`,
    );
  if (want.actions) {
    const verdict = evaluateAllows(documents, want.actions);
    if (verdict.missing.length)
      return fail(
        subject,
        `cannot ${verdict.missing.join(", ")}`,
        `aws iam put-role-policy --role-name ${want.name} --policy-name dcp-worker --policy-document "$(dcp iam policy worker --json)" (or \`dcp iam create\`)`,
      );
  }
  return ok(subject, `exists, trusted by ${want.service}, with the policies a run needs`);
}

const WORKER_ACTIONS = [
  "sqs:ReceiveMessage",
  "sqs:DeleteMessage",
  "sqs:ChangeMessageVisibility",
  "sqs:SendMessage",
  "sqs:GetQueueAttributes",
  "s3:GetObject",
  "s3:PutObject",
  "s3:ListBucket",
];

function taskRoleCheck(ctx: AwsContext, config: Config): Promise<Check[]> {
  if (!config.TASK_ROLE_ARN)
    return Promise.resolve([
      warn(
        "task role",
        "TASK_ROLE_ARN is null: the workers use the instance role, which then needs the worker policy (queues, buckets, logs)",
        "`dcp iam create --write-config` (creates the task role and sets TASK_ROLE_ARN)",
      ),
    ]);
  const name = iamName(config.TASK_ROLE_ARN);
  return guarded(`task role ${name}`, () =>
    roleCheck(ctx, {
      subject: "task role",
      name,
      service: "ecs-tasks.amazonaws.com",
      actions: WORKER_ACTIONS,
      fix: `${IAM_CREATE}, then set TASK_ROLE_ARN to its task role (or \`dcp iam create --write-config\`)`,
    }),
  );
}

/** The cheap checks `dcp setup` runs first: credentials, region, and the roles named in the config. */
export async function preflight(
  config: Config,
): Promise<{ checks: Check[]; identity?: CallerIdentity; credentialsError?: unknown }> {
  const ctx = awsContext(config);
  const [creds, task] = await Promise.all([credentialsCheck(ctx), taskRoleCheck(ctx, config)]);
  const region = ok("region", `${config.AWS_REGION} (AWS_REGION${ctx.profile ? `, profile ${ctx.profile}` : ""})`);
  return {
    checks: creds.identity ? [creds.check, region, ...task] : [creds.check, region],
    ...(creds.identity ? { identity: creds.identity } : {}),
    ...(creds.error !== undefined ? { credentialsError: creds.error } : {}),
  };
}

/**
 * `dcp setup`'s first step: the preflight lines, then stop with the doctor's message instead of failing
 * midway. A role check that cannot read IAM (AccessDenied on iam:GetRole) is a warning and setup goes on.
 */
export async function setupPreflight(config: Config, output: Output): Promise<void> {
  const { checks, credentialsError } = await preflight(config);
  // No usable credentials, an expired session or an unreachable endpoint: the AWS error itself, so the
  // CLI prints the one translation every command uses (what dcp was doing, what AWS said, the fix).
  if (
    isMissingCredentials(credentialsError) ||
    isExpiredCredentials(credentialsError) ||
    isInvalidCredentials(credentialsError) ||
    isUnreachable(credentialsError)
  )
    throw credentialsError;
  if (credentialsError !== undefined) {
    // Something else answered GetCallerIdentity (which AWS never refuses): say so, and let setup's own
    // calls show what AWS says.
    output.warn(`could not check the credentials (${errorText(credentialsError)}); going on`);
    return;
  }
  for (const check of checks) output.line(formatCheck(check));
  const failed = checks.filter((c) => c.status === "fail");
  if (failed.length)
    throw new OperationalError(
      `setup stopped before creating anything: ${failed.map((c) => `${c.subject}: ${c.detail}. Fix: ${c.fix ?? ""}`).join("; ")}`,
    );
}
