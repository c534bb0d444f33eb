/**
 * AWS error classification, in one place. Adapters ask these questions ("is it gone?", "was it
 * throttled?") and return outcomes such as "already gone" to flows, never SDK error names.
 *
 * Names are matched exactly, first against the exception classes the SDK generates for each
 * service (node_modules/@aws-sdk/client-<service>/dist-types/models/errors.d.ts); EC2 has no typed
 * exceptions, so its error codes (the EC2 API reference, "Error codes for the Amazon EC2 API") are
 * listed here. Nothing in this module loads the SDK: `dcp` reports errors without it.
 *
 * `describeAwsFailure` turns the failures a new user meets first (no credentials, an expired
 * session, AccessDenied, an unreachable endpoint) into one line: what dcp was doing, what AWS
 * said, and the fix.
 */

/** What `instrument` (context.ts) attaches to every error an AWS call throws. */
export interface DcpCall {
  /** dcp's short service key: "sqs", "ec2", "ecs", "logs", "cloudwatch", "s3", "ssm". */
  service: string;
  /** The API operation, e.g. "GetQueueUrl". */
  operation: string;
  region?: string;
  profile?: string;
  /** The endpoint the call was sent to, when the SDK had resolved it. */
  endpoint?: string;
}

interface AwsErrorLike {
  name?: string;
  code?: string;
  Code?: string;
  message?: string;
  errno?: number;
  errors?: unknown[];
  cause?: unknown;
  $metadata?: { httpStatusCode?: number };
  $retryable?: { throttling?: boolean };
  dcpCall?: DcpCall;
}

function asError(err: unknown): AwsErrorLike {
  return typeof err === "object" && err !== null ? (err as AwsErrorLike) : {};
}

/** The error's AWS name: the SDK class name, or the wire code when the SDK left a generic name. */
export function awsErrorName(err: unknown): string {
  const e = asError(err);
  const name = e.name ?? "";
  if (name && name !== "Error") return name;
  return e.Code ?? e.code ?? name;
}

function namesOf(err: unknown): string[] {
  const e = asError(err);
  return [e.name, e.Code, e.code].filter((n): n is string => typeof n === "string" && n !== "");
}

const NOT_FOUND = new Set([
  // SQS (JSON protocol name, and the Query protocol code older endpoints and sqs-consumer report)
  "QueueDoesNotExist",
  "AWS.SimpleQueueService.NonExistentQueue",
  // ECS
  "ClusterNotFoundException",
  "ServiceNotFoundException",
  // CloudWatch Logs, ECS, SSM, SQS
  "ResourceNotFoundException",
  // CloudWatch (alarms, dashboards)
  "ResourceNotFound",
  "DashboardNotFoundError",
  // S3 (GetObject, HeadObject, buckets)
  "NoSuchKey",
  "NotFound",
  "NoSuchBucket",
  // SSM
  "ParameterNotFound",
  // EC2 error codes (untyped in the SDK)
  "InvalidSpotFleetRequestId.NotFound",
  "InvalidFleetId.NotFound",
  "InvalidInstanceID.NotFound",
  "InvalidLaunchTemplateId.NotFound",
  "InvalidLaunchTemplateName.NotFoundException",
  "InvalidLaunchTemplateId.VersionNotFound",
]);

/**
 * EC2 answers `<Resource>Id.Malformed` for an id that cannot exist (moto also for ids of
 * resources it has dropped): no such resource, so "not found" for a caller deleting it.
 */
const EC2_MALFORMED_ID = /^Invalid[A-Za-z]+(Id|ID)\.Malformed$/;
/** Other EC2 not-found codes follow one pattern: Invalid<Resource>(Id|ID|Name).NotFound. */
const EC2_NOT_FOUND = /^Invalid[A-Za-z]+(Id|ID|Name)\.NotFound(Exception)?$/;

/** AWS says the resource does not exist (or no longer does). */
export function isNotFound(err: unknown): boolean {
  return namesOf(err).some((n) => NOT_FOUND.has(n) || EC2_NOT_FOUND.test(n) || EC2_MALFORMED_ID.test(n));
}

/** The call's result, or undefined when AWS says the resource does not exist. */
export async function unlessNotFound<T>(call: Promise<T>): Promise<T | undefined> {
  try {
    return await call;
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

/** Runs a delete: true when it did it, false when AWS says the resource was already gone. */
export async function doneUnlessGone(call: Promise<unknown>): Promise<boolean> {
  return (await unlessNotFound(call.then(() => true))) ?? false;
}

// The SDK's own list (@smithy/service-error-classification THROTTLING_ERROR_CODES) plus SQS's.
const THROTTLING = new Set([
  "BandwidthLimitExceeded",
  "EC2ThrottledException",
  "LimitExceededException",
  "PriorRequestNotComplete",
  "ProvisionedThroughputExceededException",
  "RequestLimitExceeded",
  "RequestThrottled",
  "RequestThrottledException",
  "SlowDown",
  "ThrottledException",
  "Throttling",
  "ThrottlingException",
  "TooManyRequestsException",
  "TransactionInProgressException",
  "KmsThrottled",
]);

/** AWS asked dcp to slow down (the SDK has already retried with back-off). */
export function isThrottling(err: unknown): boolean {
  const e = asError(err);
  return (
    e.$retryable?.throttling === true ||
    e.$metadata?.httpStatusCode === 429 ||
    namesOf(err).some((n) => THROTTLING.has(n))
  );
}

/**
 * An API the endpoint does not offer. Real AWS names it; emulators (moto lacks ModifyFleet) answer
 * 500 with an HTML page the SDK cannot parse, which only counts when an endpoint override is set.
 */
export function isUnsupported(err: unknown, endpointOverridden: boolean): boolean {
  const e = asError(err);
  if (/NotImplemented|InvalidAction|UnsupportedOperation/i.test(e.name ?? "")) return true;
  const status = e.$metadata?.httpStatusCode ?? 0;
  return (
    endpointOverridden &&
    status >= 500 &&
    /not (been )?implemented|XML parse error|Deserialization error/i.test(e.message ?? "")
  );
}

const ACCESS_DENIED = new Set([
  "AccessDenied",
  "AccessDeniedException",
  "UnauthorizedOperation", // EC2
  "AuthorizationError",
  "UnauthorizedAccess",
  "KmsAccessDenied",
  "KmsAccessDeniedException",
]);

/** The principal is not allowed to make this call (IAM, SCP, resource or key policy). */
export function isAccessDenied(err: unknown): boolean {
  return namesOf(err).some((n) => ACCESS_DENIED.has(n));
}

const EXPIRED = new Set(["ExpiredToken", "ExpiredTokenException", "TokenRefreshRequired", "RequestExpired"]);

/** The session behind the credentials has expired (temporary keys, an SSO session). */
export function isExpiredCredentials(err: unknown): boolean {
  if (namesOf(err).some((n) => EXPIRED.has(n))) return true;
  const e = asError(err);
  // The SSO token provider and credential providers say so in their message only.
  return (
    /^(TokenProviderError|CredentialsProviderError)$/.test(e.name ?? "") &&
    /expired|refresh failed|sso session/i.test(e.message ?? "")
  );
}

const INVALID_CREDENTIALS = new Set([
  "InvalidClientTokenId",
  "UnrecognizedClientException",
  "InvalidAccessKeyId",
  "SignatureDoesNotMatch",
  "AuthFailure",
  "IncompleteSignature",
]);

/** AWS rejected the keys themselves (unknown key id, wrong secret). */
export function isInvalidCredentials(err: unknown): boolean {
  return namesOf(err).some((n) => INVALID_CREDENTIALS.has(n));
}

/** The SDK found no credentials at all (no keys, no profile with keys, no role). */
export function isMissingCredentials(err: unknown): boolean {
  const e = asError(err);
  return e.name === "CredentialsProviderError" && !isExpiredCredentials(err);
}

const UNREACHABLE_CODES = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ECONNRESET",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EPIPE",
]);

/** The endpoint could not be reached: refused, unknown host, DNS failure, timeout. */
export function isUnreachable(err: unknown): boolean {
  const e = asError(err);
  if (e.name === "TimeoutError" || e.name === "RequestTimeout") return true;
  if (e.code && UNREACHABLE_CODES.has(e.code)) return true;
  // Node's happy-eyeballs connect reports an AggregateError of the per-address errors.
  return Array.isArray(e.errors) && e.errors.some((inner) => isUnreachable(inner));
}

// --- one line for the failures a new user meets first ------------------------------------------

const SERVICE_NAMES: Record<string, string> = {
  sqs: "SQS",
  ec2: "EC2",
  ecs: "ECS",
  logs: "CloudWatch Logs",
  cloudwatch: "CloudWatch",
  s3: "S3",
  ssm: "SSM",
  sts: "STS",
  iam: "IAM",
  ecr: "ECR",
  "service-quotas": "Service Quotas",
};

/** The command that refreshes the session of `profile` (an SSO profile, the usual case on a laptop). */
function loginCommand(profile: string | undefined): string {
  return profile ? `aws sso login --profile ${profile}` : "aws sso login";
}

function doing(call: DcpCall | undefined): string {
  if (!call) return "calling AWS";
  const where = call.region ? ` in ${call.region}` : "";
  return `calling ${SERVICE_NAMES[call.service] ?? call.service} ${call.operation}${where}`;
}

function awsSaid(err: unknown): string {
  const e = asError(err);
  const name = awsErrorName(err);
  const message = (e.message ?? "").split("\n")[0]!.trim();
  if (!message || message === name) return name || "an error";
  return name && name !== "Error" ? `${name}: ${message}` : message;
}

/** Principal, action and resource as IAM names them in an AccessDenied message. */
export function parseAccessDenied(message: string): { principal?: string; action?: string; resource?: string } {
  const m =
    /User: (\S+) is not authorized to perform: ([\w-]+:[\w*]+)(?: on resource: (\S+?))?(?:\s|$|\.(?:\s|$))/.exec(
      message,
    );
  if (!m) return {};
  return { principal: m[1], action: m[2], ...(m[3] ? { resource: m[3] } : {}) };
}

function unreachableTarget(err: unknown, call: DcpCall | undefined): string {
  const e = asError(err) as AwsErrorLike & { address?: string; port?: number; hostname?: string };
  if (call?.endpoint) return call.endpoint;
  const inner = (Array.isArray(e.errors) ? e.errors[0] : undefined) as typeof e | undefined;
  const address = e.address ?? e.hostname ?? inner?.address;
  const port = e.port ?? inner?.port;
  return address ? `${address}${port ? `:${port}` : ""}` : "the AWS endpoint";
}

function withAwsSaid(err: unknown, said = awsSaid(err)): string {
  return `; AWS said ${said}`;
}

/**
 * One line for a failure a new user meets first, or undefined for any other error:
 * `<what dcp was doing>: <what went wrong> (<what AWS said>). Fix: <the fix>`.
 */
export function describeAwsFailure(err: unknown, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const e = asError(err);
  const call = e.dcpCall;
  const profile = call?.profile ?? env.AWS_PROFILE;
  const what = doing(call);
  if (isExpiredCredentials(err)) {
    return `${what}: the AWS session${profile ? ` of profile ${profile}` : ""} has expired${withAwsSaid(err)}. Fix: log in again with \`${loginCommand(profile)}\` (or refresh the temporary keys you exported), then rerun`;
  }
  if (isMissingCredentials(err)) {
    const fix = profile
      ? `check that profile ${profile} has credentials (\`aws configure --profile ${profile}\`, or \`${loginCommand(profile)}\` for an SSO profile)`
      : "run `aws configure` (access keys) or `aws sso login` (IAM Identity Center), or set AWS_PROFILE to a profile that has credentials";
    return `${what}: no AWS credentials found (${awsSaid(err)}). Fix: ${fix}`;
  }
  if (isInvalidCredentials(err)) {
    return `${what}: AWS rejected the credentials${withAwsSaid(err)}. Fix: check the access key in use (\`aws sts get-caller-identity\`${profile ? ` --profile ${profile}` : ""}), or run \`aws configure\``;
  }
  if (isAccessDenied(err)) {
    const parsed = parseAccessDenied(e.message ?? "");
    const action =
      parsed.action ?? (call ? `${call.service === "logs" ? "logs" : call.service}:${call.operation}` : undefined);
    const who = parsed.principal ? `${parsed.principal} may not ` : "not allowed to ";
    const on = parsed.resource ? ` on ${parsed.resource}` : "";
    return `${what}: access denied: ${who}${action ?? "make this call"}${on}${withAwsSaid(err, awsErrorName(err))}. Fix: grant it to the identity dcp uses; \`dcp iam policy operator\` prints the policy dcp needs`;
  }
  if (isUnreachable(err)) {
    const service = call ? `${SERVICE_NAMES[call.service] ?? call.service} ` : "";
    const said = (e.message ?? "").split("\n")[0] || e.code || awsErrorName(err);
    return `${what}: cannot reach the ${service}endpoint ${unreachableTarget(err, call)} (${said}). Fix: check the network, the region and any AWS_ENDPOINT_URL${call ? `/AWS_ENDPOINT_URL_${call.service.toUpperCase()}` : ""} setting`;
  }
  return undefined;
}
