/**
 * The doctor's pure parts: the shape of a check, the report and its exit code, a small evaluator of
 * IAM Allow statements (wildcards; anything it cannot judge makes the answer "could not verify"),
 * trust-policy reading, and the machine-size arithmetic.
 */

/** ok ✔, fail ✖ (would fail; a fix is given), warn ! (worth knowing, or could not check). */
export type CheckStatus = "ok" | "fail" | "warn";

export interface Check {
  /** What was checked, e.g. "fleet role aws-ec2-spot-fleet-tagging-role". */
  subject: string;
  status: CheckStatus;
  detail: string;
  fix?: string;
}

export interface DoctorReport {
  checks: Check[];
  failed: number;
  warnings: number;
}

export const ok = (subject: string, detail: string): Check => ({ subject, status: "ok", detail });
export const fail = (subject: string, detail: string, fix: string): Check => ({ subject, status: "fail", detail, fix });
export const warn = (subject: string, detail: string, fix?: string): Check => ({
  subject,
  status: "warn",
  detail,
  ...(fix ? { fix } : {}),
});
export const couldNotCheck = (subject: string, why: string): Check => warn(subject, `could not check: ${why}`);

export function report(checks: Check[]): DoctorReport {
  return {
    checks,
    failed: checks.filter((c) => c.status === "fail").length,
    warnings: checks.filter((c) => c.status === "warn").length,
  };
}

const MARK: Record<CheckStatus, string> = { ok: "✔", fail: "✖", warn: "!" };

export function formatCheck(check: Check): string {
  const line = `${MARK[check.status]} ${check.subject}: ${check.detail}`;
  return check.fix ? `${line}\n    Fix: ${check.fix}` : line;
}

// --- IAM policy documents -------------------------------------------------------------------------------

interface Statement {
  Effect?: string;
  Action?: string | string[];
  NotAction?: unknown;
  Resource?: string | string[];
  NotResource?: unknown;
  Condition?: unknown;
  Principal?: unknown;
}

function statementsOf(document: unknown): Statement[] {
  const s = (document as { Statement?: unknown } | undefined)?.Statement;
  if (!s) return [];
  return (Array.isArray(s) ? s : [s]) as Statement[];
}

const list = (v: string | string[] | undefined): string[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** IAM action patterns: case-insensitive, `*` any run, `?` one character. */
export function actionMatches(pattern: string, action: string): boolean {
  const re = new RegExp(
    `^${pattern
      .split("")
      .map((c) => (c === "*" ? ".*" : c === "?" ? "." : c.replace(/[.+^${}()|[\]\\]/g, "\\$&")))
      .join("")}$`,
    "i",
  );
  return re.test(action);
}

export interface PermissionVerdict {
  missing: string[];
  /** Why the answer may be wrong (Deny statements, conditions, boundaries...): empty when the evaluation is sure. */
  unsure: string[];
}

/**
 * Which of `actions` no Allow statement of `documents` grants. Resources are not compared (a statement
 * scoped to other resources still counts as allowing); Deny, NotAction, NotResource and Condition make
 * the verdict unsure rather than guessed.
 */
export function evaluateAllows(documents: readonly unknown[], actions: readonly string[]): PermissionVerdict {
  const allows: string[] = [];
  const unsure = new Set<string>();
  for (const doc of documents) {
    for (const st of statementsOf(doc)) {
      if (st.Effect === "Deny") {
        unsure.add("a Deny statement");
        continue;
      }
      if (st.NotAction !== undefined || st.NotResource !== undefined) unsure.add("NotAction/NotResource");
      if (st.Condition !== undefined) unsure.add("conditions");
      allows.push(...list(st.Action));
    }
  }
  const missing = actions.filter((a) => !allows.some((p) => actionMatches(p, a)));
  return { missing, unsure: [...unsure] };
}

/** The services a trust policy lets assume the role. */
export function trustedServices(trust: unknown): string[] {
  const out: string[] = [];
  for (const st of statementsOf(trust)) {
    if (st.Effect !== "Allow") continue;
    const service = (st.Principal as { Service?: string | string[] } | undefined)?.Service;
    out.push(...list(service));
  }
  return out;
}

/** The last path segment of an IAM ARN: arn:aws:iam::1:role/path/Name → Name. */
export function iamName(arn: string): string {
  return arn.split("/").pop() ?? arn;
}

/** The caller's principal from its STS ARN: a user, an assumed role (its role name), or root. */
export function callerPrincipal(arn: string): { kind: "user" | "role" | "root" | "other"; name: string } {
  const m = /^arn:[^:]+:(?:iam|sts)::\d*:(user|assumed-role|root)\/?(.*)$/.exec(arn);
  if (!m) return { kind: arn.endsWith(":root") ? "root" : "other", name: "" };
  if (m[1] === "user") return { kind: "user", name: iamName(m[2] ?? "") };
  if (m[1] === "assumed-role") return { kind: "role", name: (m[2] ?? "").split("/")[0] ?? "" };
  return { kind: "root", name: "" };
}

// --- machines -------------------------------------------------------------------------------------------

export interface MachineSize {
  type: string;
  vcpus: number;
  memoryMiB: number;
}

/**
 * ECS registers slightly less memory than the instance has (the OS and the agent keep some): about
 * 6 % on the ECS-optimized AMI ("Container instance memory management", ECS developer guide).
 */
export const ECS_MEMORY_FRACTION = 0.94;

export function fitCheck(
  smallest: MachineSize,
  memory: number,
  cpuShares: number,
  tasksPerMachine: number,
): { fits: boolean; detail: string } {
  const usable = Math.floor(smallest.memoryMiB * ECS_MEMORY_FRACTION);
  const needMemory = memory * tasksPerMachine;
  const needCpu = cpuShares * tasksPerMachine;
  const cpu = smallest.vcpus * 1024;
  const fits = needMemory <= usable && needCpu <= cpu;
  return {
    fits,
    detail:
      `${tasksPerMachine} × (MEMORY ${memory} MiB, CPU_SHARES ${cpuShares}) on ${smallest.type} ` +
      `(about ${usable} MiB usable by ECS of ${smallest.memoryMiB}, ${cpu} CPU units)`,
  };
}

// --- the queue's visibility timeout ---------------------------------------------------------------------

/** Above this, a task whose worker vanished (spot interruption, crash) waits long before another takes it. */
export const LONG_VISIBILITY_SECONDS = 30 * 60;

/**
 * SQS_MESSAGE_VISIBILITY against the task time. DCP's worker never extends a message's visibility, so
 * DCP asks for more than the longest task. dcp's worker keeps a lease (it extends the visibility every
 * third of it while a task runs), so a task may run longer than the setting, and what the setting
 * decides is how long a dead worker's task stays hidden before another worker retries it.
 */
export function visibilityCheck(seconds: number): Check {
  const minutes = Math.round(seconds / 60);
  const detail = `${seconds} s: dcp's worker extends it while a task runs (tasks may take longer); a task whose worker dies is retried after about ${minutes} min`;
  return seconds > LONG_VISIBILITY_SECONDS
    ? warn(
        "SQS_MESSAGE_VISIBILITY",
        detail,
        "lower it to about 600 (10 min) so interrupted tasks come back sooner; keep it above the longest task only if the queue also feeds DCP's original worker, which does not extend it",
      )
    : ok("SQS_MESSAGE_VISIBILITY", detail);
}

// --- the worker image -----------------------------------------------------------------------------------

export interface EcrImage {
  registryId: string;
  region: string;
  repository: string;
  tag: string;
}

/** An ECR image URI (<account>.dkr.ecr.<region>.amazonaws.com/<repo>[:tag]), or undefined for another registry. */
export function ecrImage(uri: string): EcrImage | undefined {
  const m = /^(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?\/([^:@]+)(?::([^@]+))?$/.exec(uri);
  if (!m) return undefined;
  return { registryId: m[1]!, region: m[2]!, repository: m[3]!, tag: m[4] ?? "latest" };
}
