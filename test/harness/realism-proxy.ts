/**
 * The realism layer: an HTTP proxy between the AWS SDK and the local emulators (moto for everything but
 * SQS, fauxqs for SQS) that makes them behave like real AWS where it matters to dcp (issue 10,
 * docs/ARCHITECTURE.md "Realism layer", facts in the AWS references cited below). It runs in the test
 * process; a CLI child process only gets `proxy.env` (AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_SQS pointing
 * at the proxy), so one configuration serves in-process SDK calls and child processes alike.
 *
 *   const proxy = await startRealismProxy({ seed: 7, invisibleSeconds: 3, throttle: { PutMetricAlarm: 3 } });
 *   await runDcp(["start-cluster", fleetFile], { env: proxy.env });
 *   proxy.requests("RequestSpotFleet")[0].params["SpotFleetRequestConfig.ValidUntil"];
 *   await proxy.stop();
 *
 * Faults (all off unless configured, except the validation AWS always does, `validate`):
 * - invisibleSeconds: spot fleet requests, EC2 fleets, instances and alarms created less than N s ago are
 *   NotFound / left out of lists ("Eventual consistency in the Amazon EC2 API"); queueSeconds: a queue in
 *   its first second answers QueueDoesNotExist (CreateQueue reference). New ids are learnt from the create
 *   answers passing through (RequestSpotFleet, CreateFleet, RunInstances, fleet-instance describes,
 *   PutMetricAlarm, CreateQueue).
 * - throttle: { Action: requests per second } with each service's throttling error (token bucket).
 * - validate: fractional-second ValidFrom/ValidUntil and tag specification resource types Spot Fleet /
 *   EC2 Fleet refuse (SpotFleetTagSpecification reference; aws-sdk-js-v3 issue 7103).
 * - capacity: at most `available` instances per fleet: the request reaches moto with its target clipped,
 *   answers show the requested target, activity status `error`, a capacity event in
 *   DescribeSpotFleetRequestHistory (served here: moto lacks it) and `Errors` in DescribeFleets.
 * - lose: a seeded share of answers is lost after moto/fauxqs acted (the client sees a 500 and retries).
 *   Client tokens are modelled as AWS does: (action, token) replays the first answer, or
 *   IdempotentParameterMismatch when the parameters differ (moto ignores tokens).
 * - spotPrices, spotVcpuQuota: DescribeSpotPriceHistory and Service Quotas GetServiceQuota (L-34B43A08).
 * - fail: chosen actions answer AccessDenied (message naming principal, action, resource) or ExpiredToken.
 * S3 and other REST calls (action `METHOD /path`) pass through byte for byte; only `fail` and `throttle`
 * apply to them. Tokens, invisibility and capacity apply to the EC2/ECS/SQS/CloudWatch calls named above.
 * Every request is logged (service, action, parameters, raw body, status, fault): `proxy.requests()`,
 * also served as JSON at GET <proxy.url>/__realism/log; POST /__realism/configure merges a configuration.
 * Seeded faults decide from (seed, action, n-th call of that action), so interleaving does not change them.
 */
import { createHash } from "node:crypto";
import {
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http";
import type { AddressInfo } from "node:net";
import { EMULATOR_CREDENTIALS } from "./emulators.js";

export interface SpotPrice {
  zone: string;
  instanceType: string;
  price: number;
}

export interface FailRule {
  /** An action name (REST: `METHOD /path`), or a pattern (in-process only). */
  action: string | RegExp;
  error: "AccessDenied" | "ExpiredToken" | { code: string; message: string; status: number };
  /** How many calls fail (default: all). */
  times?: number;
}

export interface RealismConfig {
  /** Seed of every random decision (default 1). */
  seed: number;
  /** New spot fleet requests, EC2 fleets, instances and alarms are invisible for this long (default 0). */
  invisibleSeconds: number;
  /** A new queue answers QueueDoesNotExist for this long (default 0; AWS says 1). */
  queueSeconds: number;
  /** Requests per second per action; above it, the service's throttling error. */
  throttle: Record<string, number>;
  /** Refuse what AWS refuses and moto accepts (default true). */
  validate: boolean;
  /** At most this many instances (capacity units) per fleet; the rest is "no Spot capacity". */
  capacity?: { available: number; message?: string };
  /** Lose this share of answers after the service acted, for `actions` (default: all), at most `max`. */
  lose?: { share: number; actions?: string[]; max?: number };
  /** Served DescribeSpotPriceHistory (moto's own when unset). */
  spotPrices?: SpotPrice[];
  /** Served Service Quotas value of L-34B43A08 (Spot vCPUs). */
  spotVcpuQuota?: number;
  fail: FailRule[];
  /** The clock, in ms (default Date.now); tests can move it. */
  now: () => number;
}

export interface LoggedRequest {
  seq: number;
  /** Signing name from the Authorization header: ec2, monitoring, ecs, logs, sqs, s3, servicequotas... */
  service: string;
  action: string;
  /** Query protocol: flat `A.B.1.C` keys; JSON protocol: the parsed body; REST: the query string. */
  params: Record<string, unknown>;
  body: string;
  status?: number;
  /** What the proxy did instead of passing through: invisible, throttled, rejected, lost, replayed... */
  fault?: string;
}

export interface RealismProxy {
  /** AWS_ENDPOINT_URL (moto behind it) and AWS_ENDPOINT_URL_SQS (fauxqs behind it). */
  url: string;
  sqsUrl: string;
  /** Credentials, region and both endpoint variables: spread into a child's env or withEnv(). */
  env: Record<string, string>;
  config: RealismConfig;
  configure(changes: Partial<RealismConfig>): void;
  /** The request log, optionally only one action's requests. */
  requests(action?: string): LoggedRequest[];
  clearLog(): void;
  stop(): Promise<void>;
}

export interface ProxyOptions extends Partial<RealismConfig> {
  /** Upstreams (default: the emulators of test/harness/global-setup.ts). */
  motoUrl?: string;
  fauxqsUrl?: string;
  baseEnv?: Record<string, string>;
}

interface Parsed {
  service: string;
  contentType: string;
  action: string;
  protocol: "query" | "json" | "rest";
  params: Record<string, unknown>;
}

interface Answer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

const ACCOUNT = "123456789012";
const CONTROL = "/__realism/";

// ---------------------------------------------------------------- parsing and answers

function parseRequest(req: IncomingMessage, body: string): Parsed {
  const scope = /Credential=[^/]+\/\d+\/[^/]+\/([^/]+)\//.exec(req.headers.authorization ?? "");
  const service = scope?.[1] ?? "unknown";
  const contentType = String(req.headers["content-type"] ?? "application/x-amz-json-1.0");
  const target = req.headers["x-amz-target"];
  if (typeof target === "string") {
    return {
      service,
      contentType,
      action: target.slice(target.lastIndexOf(".") + 1),
      protocol: "json",
      params: body ? (JSON.parse(body) as Record<string, unknown>) : {},
    };
  }
  if (String(req.headers["content-type"]).startsWith("application/x-www-form-urlencoded")) {
    const params = Object.fromEntries(new URLSearchParams(body)) as Record<string, unknown>;
    return { service, contentType, action: String(params.Action ?? ""), protocol: "query", params };
  }
  const url = new URL(req.url ?? "/", "http://x");
  return {
    service,
    contentType,
    action: `${req.method} ${url.pathname}`,
    protocol: "rest",
    params: Object.fromEntries(url.searchParams),
  };
}

/**
 * An error in the shape the SDK parses for this protocol: EC2 query XML, REST XML (S3), or JSON with
 * `__type`, plus `x-amzn-query-error` for the JSON services that keep their query error codes (SQS,
 * CloudWatch), so `err.name` and the SDK's throttling/transient classification are AWS's.
 */
function errorAnswer(p: Parsed, status: number, code: string, message: string, queryCode?: string): Answer {
  const requestId = createHash("md5").update(`${code}${message}`).digest("hex");
  if (p.protocol === "json") {
    const headers: Record<string, string> = {
      "content-type": p.contentType,
      "x-amzn-requestid": requestId,
    };
    if (queryCode) headers["x-amzn-query-error"] = `${queryCode};${status >= 500 ? "Receiver" : "Sender"}`;
    return { status, headers, body: JSON.stringify({ __type: code, message }) };
  }
  const xml =
    p.service === "s3"
      ? `<Error><Code>${code}</Code><Message>${esc(message)}</Message><RequestId>${requestId}</RequestId></Error>`
      : `<Response><Errors><Error><Code>${code}</Code><Message>${esc(message)}</Message></Error></Errors><RequestID>${requestId}</RequestID></Response>`;
  return { status, headers: { "content-type": "text/xml" }, body: `<?xml version="1.0" encoding="UTF-8"?>\n${xml}` };
}

function esc(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** Per service: AWS's throttling error (CloudWatch quotas; EC2 "Request throttling"). */
function throttled(p: Parsed): Answer {
  if (p.service === "ec2") return errorAnswer(p, 503, "RequestLimitExceeded", "Request limit exceeded.");
  if (p.service === "monitoring") return errorAnswer(p, 400, "Throttling", "Rate exceeded", "Throttling");
  if (p.service === "s3") return errorAnswer(p, 503, "SlowDown", "Please reduce your request rate.");
  if (p.service === "sqs") return errorAnswer(p, 400, "ThrottlingException", "Rate exceeded", "RequestThrottled");
  return errorAnswer(p, 400, "ThrottlingException", "Rate exceeded");
}

function internalError(p: Parsed): Answer {
  if (p.protocol === "json")
    return errorAnswer(p, 500, "InternalFailure", "An internal error occurred.", "InternalFailure");
  return errorAnswer(p, 500, "InternalError", "An internal error has occurred");
}

function chosenError(p: Parsed, rule: FailRule): Answer {
  const json = p.protocol === "json";
  if (rule.error === "ExpiredToken") {
    const code = json ? "ExpiredTokenException" : "ExpiredToken";
    return errorAnswer(p, 400, code, "The security token included in the request is expired", "ExpiredToken");
  }
  if (rule.error === "AccessDenied") {
    const iamAction = `${p.service === "monitoring" ? "cloudwatch" : p.service}:${p.action}`;
    const message =
      `User: arn:aws:iam::${ACCOUNT}:user/dcp-test is not authorized to perform: ${iamAction} on resource: ` +
      `arn:aws:${p.service}:us-east-1:${ACCOUNT}:* because no identity-based policy allows the ${iamAction} action`;
    // EC2 names it UnauthorizedOperation (403); JSON services AccessDeniedException.
    if (p.service === "ec2")
      return errorAnswer(
        p,
        403,
        "UnauthorizedOperation",
        `You are not authorized to perform this operation. ${message}`,
      );
    return errorAnswer(p, json ? 400 : 403, json ? "AccessDeniedException" : "AccessDenied", message, "AccessDenied");
  }
  return errorAnswer(p, rule.error.status, rule.error.code, rule.error.message, rule.error.code);
}

function xmlAnswer(action: string, inner: string): Answer {
  return {
    status: 200,
    headers: { "content-type": "text/xml" },
    body: `<?xml version="1.0" encoding="UTF-8"?>\n<${action}Response xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>realism</requestId>${inner}</${action}Response>`,
  };
}

// ---------------------------------------------------------------- XML helpers (EC2 answers)

function xmlValues(xml: string, tag: string): string[] {
  return [...xml.matchAll(new RegExp(`<${tag}>([^<]*)</${tag}>`, "g"))].map((m) => m[1]!);
}

/** Maps the top-level `<item>`s of every `<container>` (undefined drops the item). */
function mapItems(xml: string, container: string, map: (item: string) => string | undefined): string {
  return xml.replace(new RegExp(`<${container}>([\\s\\S]*?)</${container}>`, "g"), (_all, inner: string) => {
    const items: string[] = [];
    let depth = 0;
    let start = 0;
    for (const m of inner.matchAll(/<(\/?)item>/g)) {
      if (m[1] === "") {
        if (depth === 0) start = m.index;
        depth += 1;
      } else if (--depth === 0) items.push(inner.slice(start, m.index + "</item>".length));
    }
    return `<${container}>${items.map(map).join("")}</${container}>`;
  });
}

function filterItems(xml: string, container: string, keep: (item: string) => boolean): string {
  return mapItems(xml, container, (item) => (keep(item) ? item : undefined));
}

function setTag(xml: string, tag: string, value: string): string {
  return xml.replace(new RegExp(`<${tag}>[^<]*</${tag}>`, "g"), `<${tag}>${value}</${tag}>`);
}

// ---------------------------------------------------------------- the proxy

export async function startRealismProxy(options: ProxyOptions = {}): Promise<RealismProxy> {
  const { motoUrl, fauxqsUrl, baseEnv, ...initial } = options;
  // vitest only when the upstreams are not given, so a script outside vitest can use the proxy too.
  const emulators = motoUrl && fauxqsUrl ? undefined : (await import("vitest")).inject("emulatorEnv");
  const moto = motoUrl ?? emulators!.AWS_ENDPOINT_URL!;
  const fauxqs = fauxqsUrl ?? emulators!.AWS_ENDPOINT_URL_SQS!;
  const config: RealismConfig = {
    seed: 1,
    invisibleSeconds: 0,
    queueSeconds: 0,
    throttle: {},
    validate: true,
    fail: [],
    now: () => Date.now(),
    ...initial,
  };
  const log: LoggedRequest[] = [];
  const createdAt = new Map<string, number>(); // id or alarm/queue name → first seen (ms)
  const buckets = new Map<string, { tokens: number; at: number }>();
  const calls = new Map<string, number>();
  const tokens = new Map<string, { fingerprint: string; answer: Answer }>();
  const requestedTarget = new Map<string, number>(); // fleet id → target the client asked for
  const fleetCreated = new Map<string, string>(); // fleet id → ISO time
  const failed = new Map<FailRule, number>();
  let lost = 0;

  /** A number in [0, 1) from (seed, key, n-th call): reproducible whatever the interleaving. */
  function draw(key: string): number {
    const n = (calls.get(key) ?? 0) + 1;
    calls.set(key, n);
    return createHash("sha256").update(`${config.seed}:${key}:${n}`).digest().readUInt32BE(0) / 2 ** 32;
  }

  const isNew = (id: string, seconds = config.invisibleSeconds) => {
    const at = createdAt.get(id);
    return at !== undefined && config.now() - at < seconds * 1000;
  };
  const learn = (ids: Iterable<string>) => {
    for (const id of ids) if (!createdAt.has(id)) createdAt.set(id, config.now());
  };
  const listParam = (params: Record<string, unknown>, prefix: string) =>
    Object.entries(params)
      .filter(([k]) => new RegExp(`^${prefix}\\.\\d+$`).test(k))
      .map(([, v]) => String(v));

  function takeToken(action: string, rate: number): boolean {
    const now = config.now();
    const bucket = buckets.get(action) ?? { tokens: rate, at: now };
    bucket.tokens = Math.min(rate, bucket.tokens + ((now - bucket.at) / 1000) * rate);
    bucket.at = now;
    buckets.set(action, bucket);
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }

  /** What AWS refuses before acting, or undefined. */
  function validation(p: Parsed): Answer | undefined {
    if (!config.validate || p.service !== "ec2") return undefined;
    if (p.action !== "RequestSpotFleet" && p.action !== "CreateFleet") return undefined;
    const prefix = p.action === "RequestSpotFleet" ? "SpotFleetRequestConfig." : "";
    for (const field of ["ValidFrom", "ValidUntil"]) {
      const value = p.params[`${prefix}${field}`];
      if (typeof value === "string" && !/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/.test(value)) {
        const code = p.action === "RequestSpotFleet" ? "InvalidSpotFleetRequestConfig" : "InvalidParameterValue";
        return errorAnswer(p, 400, code, `Parameter: ${prefix}${field} is invalid.`);
      }
    }
    for (const [key, value] of Object.entries(p.params)) {
      const m = /^(.*)TagSpecification(?:Set)?\.\d+\.ResourceType$/.exec(key);
      if (!m) continue;
      const inLaunchSpec = /LaunchSpecifications\.\d+\.$/.test(m[1]!);
      const allowed = p.action === "CreateFleet" ? "fleet" : inLaunchSpec ? "instance" : "spot-fleet-request";
      if (p.action === "CreateFleet" && p.params.Type === "instant") continue;
      if (value !== allowed)
        return errorAnswer(
          p,
          400,
          "InvalidParameterValue",
          `The value '${String(value)}' for parameter '${key}' is invalid. Use '${allowed}'.`,
        );
    }
    return undefined;
  }

  /** Answers that hide ids created less than invisibleSeconds ago, before asking moto. */
  function invisibleBefore(p: Parsed): Answer | undefined {
    if (p.service === "sqs") {
      const queue =
        String(p.params.QueueUrl ?? p.params.QueueName ?? "")
          .split("/")
          .pop() ?? "";
      if (queue && p.action !== "CreateQueue" && isNew(`queue:${queue}`, config.queueSeconds))
        return errorAnswer(
          p,
          400,
          "QueueDoesNotExist",
          "The specified queue does not exist.",
          "AWS.SimpleQueueService.NonExistentQueue",
        );
      return undefined;
    }
    if (!config.invisibleSeconds || p.service !== "ec2") return undefined;
    const notFound = (code: string, ids: string[], what: string) => {
      const hidden = ids.filter((id) => isNew(id));
      if (!hidden.length) return undefined;
      return errorAnswer(p, 400, code, `The ${what} ID '${hidden.join(", ")}' does not exist`);
    };
    switch (p.action) {
      case "DescribeSpotFleetRequests":
        return notFound(
          "InvalidSpotFleetRequestId.NotFound",
          listParam(p.params, "SpotFleetRequestId"),
          "spot fleet request",
        );
      case "DescribeSpotFleetInstances":
      case "DescribeSpotFleetRequestHistory":
      case "ModifySpotFleetRequest":
        return notFound(
          "InvalidSpotFleetRequestId.NotFound",
          [String(p.params.SpotFleetRequestId)],
          "spot fleet request",
        );
      case "DescribeFleetInstances":
      case "ModifyFleet":
        return notFound("InvalidFleetId.NotFound", [String(p.params.FleetId)], "fleet");
      case "DescribeInstances":
      case "TerminateInstances":
        // With InstanceIds the whole call fails; with an instance-id filter the id is just left out.
        return notFound("InvalidInstanceID.NotFound", listParam(p.params, "InstanceId"), "instance");
      case "CreateTags":
        return notFound("InvalidInstanceID.NotFound", listParam(p.params, "ResourceId"), "instance");
      default:
        return undefined;
    }
  }

  /** Rewrites moto's answer: learns new ids, hides them from lists, reports partial capacity. */
  function rewrite(p: Parsed, answer: Answer): Answer {
    if (answer.status !== 200) return answer;
    let body = answer.body;
    switch (p.action) {
      case "RequestSpotFleet":
      case "CreateFleet": {
        const id = xmlValues(body, p.action === "CreateFleet" ? "fleetId" : "spotFleetRequestId")[0];
        if (id) {
          learn([id]);
          fleetCreated.set(id, new Date(config.now()).toISOString().replace(/\.\d+Z$/, "Z"));
          const target = Number(
            p.params["SpotFleetRequestConfig.TargetCapacity"] ??
              p.params["TargetCapacitySpecification.TotalTargetCapacity"],
          );
          if (Number.isFinite(target)) requestedTarget.set(id, target);
        }
        learn(xmlValues(body, "item").filter((v) => v.startsWith("i-")));
        break;
      }
      case "RunInstances":
      case "DescribeSpotFleetInstances":
      case "DescribeFleetInstances":
      case "DescribeFleets":
        learn([...xmlValues(body, "instanceId"), ...xmlValues(body, "item").filter((v) => v.startsWith("i-"))]);
        break;
      case "PutMetricAlarm":
        learn([`alarm:${String(p.params.AlarmName)}`]);
        break;
      case "CreateQueue":
        learn([`queue:${String(p.params.QueueName)}`]);
        break;
      case "DeleteQueue":
        createdAt.delete(`queue:${String(p.params.QueueUrl).split("/").pop()}`);
        break;
      case "DeleteAlarms":
        for (const name of (p.params.AlarmNames as string[] | undefined) ?? []) createdAt.delete(`alarm:${name}`);
        break;
    }
    if (config.invisibleSeconds) {
      const visible = (item: string) =>
        !xmlValues(item, "instanceId")
          .concat(xmlValues(item, "spotFleetRequestId"), xmlValues(item, "fleetId"))
          .some((id) => isNew(id));
      if (p.action === "DescribeInstances") {
        body = filterItems(body, "instancesSet", visible);
        body = filterItems(body, "reservationSet", (item) => /<instancesSet>\s*<item>/.test(item));
      }
      if (p.action === "DescribeSpotFleetRequests") body = filterItems(body, "spotFleetRequestConfigSet", visible);
      if (p.action === "DescribeFleets") body = filterItems(body, "fleetSet", visible);
      if (p.action === "DescribeAlarms") {
        const answerJson = JSON.parse(body) as { MetricAlarms?: Array<{ AlarmName?: string }> };
        answerJson.MetricAlarms = answerJson.MetricAlarms?.filter((a) => !isNew(`alarm:${a.AlarmName}`));
        body = JSON.stringify(answerJson);
      }
    }
    if (config.capacity) body = capacityView(p, body);
    return { ...answer, body };
  }

  /** Shows the target the client asked for, the capacity moto launched, and status `error` when short. */
  function capacityView(p: Parsed, body: string): string {
    const short = (item: string, idTag: string) => {
      const asked = requestedTarget.get(xmlValues(item, idTag)[0] ?? "");
      return asked !== undefined && asked > config.capacity!.available ? asked : undefined;
    };
    const withStatus = (item: string, extra: string) =>
      `${item.slice(0, -"</item>".length).replace(/<activityStatus>[^<]*<\/activityStatus>|<activityStatus\/>/g, "")}<activityStatus>error</activityStatus>${extra}</item>`;
    if (p.action === "DescribeSpotFleetRequests")
      return mapItems(body, "spotFleetRequestConfigSet", (item) => {
        const asked = short(item, "spotFleetRequestId");
        return asked === undefined ? item : withStatus(setTag(item, "targetCapacity", String(asked)), "");
      });
    if (p.action === "DescribeFleets")
      return mapItems(body, "fleetSet", (item) => {
        const asked = short(item, "fleetId");
        if (asked === undefined) return item;
        const errors = `<errorSet><item><errorCode>InsufficientInstanceCapacity</errorCode><errorMessage>${esc(capacityMessage())}</errorMessage><lifecycle>spot</lifecycle></item></errorSet>`;
        const cleared = item.replace(/<errorSet>[\s\S]*?<\/errorSet>|<errorSet\/>/, "");
        return withStatus(setTag(cleared, "totalTargetCapacity", String(asked)), errors);
      });
    return body;
  }

  const capacityMessage = () =>
    config.capacity?.message ?? "There is no Spot capacity available that matches your request.";

  /** The request as moto should see it: fleet targets clipped to the available capacity. */
  function forwardBody(p: Parsed, body: string): string {
    if (!config.capacity || p.protocol !== "query") return body;
    const keys = [
      "SpotFleetRequestConfig.TargetCapacity",
      "TargetCapacitySpecification.TotalTargetCapacity",
      "TargetCapacity",
      "TargetCapacitySpecification.SpotTargetCapacity",
    ];
    const params = new URLSearchParams(body);
    let changed = false;
    for (const key of keys) {
      const value = params.get(key);
      if (value !== null && Number(value) > config.capacity.available) {
        params.set(key, String(config.capacity.available));
        changed = true;
      }
    }
    const modified = Number(p.params.TargetCapacity ?? p.params["TargetCapacitySpecification.TotalTargetCapacity"]);
    if ((p.action === "ModifySpotFleetRequest" || p.action === "ModifyFleet") && Number.isFinite(modified))
      requestedTarget.set(String(p.params.SpotFleetRequestId ?? p.params.FleetId), modified);
    return changed ? params.toString() : body;
  }

  /** Answers the proxy serves itself (moto lacks them, or the test set the values). */
  function served(p: Parsed): Answer | undefined {
    if (p.action === "DescribeSpotPriceHistory" && config.spotPrices) {
      const types = listParam(p.params, "InstanceType");
      const zone = p.params.AvailabilityZone as string | undefined;
      const items = config.spotPrices
        .filter((s) => (!types.length || types.includes(s.instanceType)) && (!zone || zone === s.zone))
        .map(
          (s) =>
            `<item><availabilityZone>${s.zone}</availabilityZone><instanceType>${s.instanceType}</instanceType><productDescription>Linux/UNIX</productDescription><spotPrice>${s.price.toFixed(6)}</spotPrice><timestamp>${new Date(config.now()).toISOString()}</timestamp></item>`,
        );
      return xmlAnswer(p.action, `<spotPriceHistorySet>${items.join("")}</spotPriceHistorySet><nextToken></nextToken>`);
    }
    if (p.action === "DescribeSpotFleetRequestHistory") {
      const id = String(p.params.SpotFleetRequestId);
      const asked = requestedTarget.get(id);
      const event = (type: string, sub: string, text: string) =>
        `<item><eventType>${type}</eventType><timestamp>${fleetCreated.get(id) ?? new Date(config.now()).toISOString()}</timestamp><eventInformation><eventSubType>${sub}</eventSubType><eventDescription>${esc(text)}</eventDescription></eventInformation></item>`;
      const events = [event("fleetRequestChange", "active", "")];
      if (config.capacity && asked !== undefined && asked > config.capacity.available)
        events.push(event("error", "allLaunchSpecsTemporarilyBlacklisted", capacityMessage()));
      return xmlAnswer(
        p.action,
        `<spotFleetRequestId>${id}</spotFleetRequestId><startTime>${String(p.params.StartTime)}</startTime><lastEvaluatedTime>${new Date(config.now()).toISOString()}</lastEvaluatedTime><historyRecordSet>${events.join("")}</historyRecordSet>`,
      );
    }
    if (p.action === "GetServiceQuota" && config.spotVcpuQuota !== undefined) {
      if (p.params.QuotaCode !== "L-34B43A08")
        return errorAnswer(p, 400, "NoSuchResourceException", "The quota does not exist.");
      const quota = {
        ServiceCode: "ec2",
        ServiceName: "Amazon Elastic Compute Cloud (Amazon EC2)",
        QuotaArn: `arn:aws:servicequotas:us-east-1:${ACCOUNT}:ec2/L-34B43A08`,
        QuotaCode: "L-34B43A08",
        QuotaName: "All Standard (A, C, D, H, I, M, R, T, Z) Spot Instance Requests",
        Value: config.spotVcpuQuota,
        Unit: "None",
        Adjustable: true,
        GlobalQuota: false,
      };
      return {
        status: 200,
        headers: { "content-type": "application/x-amz-json-1.1" },
        body: JSON.stringify({ Quota: quota }),
      };
    }
    return undefined;
  }

  /** The client token of a create call, and a fingerprint of its other parameters. */
  function clientToken(p: Parsed): { key: string; fingerprint: string } | undefined {
    const entry = Object.entries(p.params).find(([k]) => /(^|\.)clientToken$/i.test(k));
    if (!entry || entry[1] === undefined || entry[1] === "") return undefined;
    const rest = Object.entries(p.params)
      .filter(([k]) => k !== entry[0])
      .sort(([a], [b]) => a.localeCompare(b));
    return { key: `${p.action}:${String(entry[1])}`, fingerprint: JSON.stringify(rest) };
  }

  /** Chosen errors and throttling, for every protocol (REST actions are `METHOD /path`). */
  function preFault(p: Parsed, entry: LoggedRequest): Answer | undefined {
    const rule = config.fail.find(
      (r) =>
        (typeof r.action === "string" ? r.action === p.action : r.action.test(p.action)) &&
        (r.times === undefined || (failed.get(r) ?? 0) < r.times),
    );
    if (rule) {
      failed.set(rule, (failed.get(rule) ?? 0) + 1);
      entry.fault = "failed";
      return chosenError(p, rule);
    }
    const rate = config.throttle[p.action];
    if (rate !== undefined && !takeToken(p.action, rate)) {
      entry.fault = "throttled";
      return throttled(p);
    }
    return undefined;
  }

  async function handle(
    p: Parsed,
    req: IncomingMessage,
    body: string,
    upstream: string,
    entry: LoggedRequest,
  ): Promise<Answer> {
    const early = preFault(p, entry);
    if (early) return early;
    const refused = validation(p);
    if (refused) {
      entry.fault = "rejected";
      return refused;
    }
    const hidden = invisibleBefore(p);
    if (hidden) {
      entry.fault = "invisible";
      return hidden;
    }
    const own = served(p);
    if (own) {
      entry.fault = "served";
      return own;
    }
    const token = clientToken(p);
    const first = token && tokens.get(token.key);
    if (token && first) {
      entry.fault = first.fingerprint === token.fingerprint ? "replayed" : "idempotent-mismatch";
      if (first.fingerprint === token.fingerprint) return first.answer;
      return p.protocol === "json"
        ? errorAnswer(p, 400, "InvalidParameterException", "Creation of service was not idempotent.")
        : errorAnswer(p, 400, "IdempotentParameterMismatch", "Client token already used with different parameters.");
    }
    const answer = rewrite(p, await forward(req, forwardBody(p, body), upstream));
    if (token && answer.status === 200) tokens.set(token.key, { fingerprint: token.fingerprint, answer });
    const lose = config.lose;
    const losable = answer.status < 300 && (!lose?.actions || lose.actions.includes(p.action));
    if (lose && losable && (lose.max === undefined || lost < lose.max)) {
      if (draw(`lose:${p.action}`) < lose.share) {
        lost += 1;
        entry.fault = "lost";
        return internalError(p);
      }
    }
    return answer;
  }

  async function onRequest(req: IncomingMessage, res: ServerResponse, upstream: string): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks);
    if (req.url?.startsWith(CONTROL)) return control(req, res, raw.toString());
    const p = parseRequest(req, raw.toString());
    if (p.protocol === "rest") {
      // S3 and other REST calls: logged and passed through byte for byte.
      const entry: LoggedRequest = {
        seq: log.length + 1,
        service: p.service,
        action: p.action,
        params: p.params,
        body: "",
      };
      log.push(entry);
      const early = preFault(p, entry);
      const answer = early ? { ...early, body: Buffer.from(early.body) } : await forwardRaw(req, raw, upstream);
      entry.status = answer.status;
      res.writeHead(answer.status, answer.headers).end(answer.body);
      return;
    }
    const body = raw.toString();
    const entry: LoggedRequest = { seq: log.length + 1, service: p.service, action: p.action, params: p.params, body };
    log.push(entry);
    const answer = await handle(p, req, body, upstream, entry);
    entry.status = answer.status;
    const payload = Buffer.from(answer.body);
    res.writeHead(answer.status, { ...answer.headers, "content-length": String(payload.length) }).end(payload);
  }

  function control(req: IncomingMessage, res: ServerResponse, body: string): void {
    if (req.method === "POST" && req.url === `${CONTROL}configure`) {
      proxy.configure(JSON.parse(body) as Partial<RealismConfig>);
      res.writeHead(204).end();
      return;
    }
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(log));
  }

  const servers = await Promise.all(
    [moto, fauxqs].map((upstream) =>
      listen((req, res) =>
        onRequest(req, res, upstream).catch((err: Error) => res.writeHead(502).end(String(err.stack))),
      ),
    ),
  );
  const [url, sqsUrl] = servers.map((s) => `http://127.0.0.1:${(s.address() as AddressInfo).port}`) as [string, string];
  const proxy: RealismProxy = {
    url,
    sqsUrl,
    env: { ...EMULATOR_CREDENTIALS, ...(baseEnv ?? emulators), AWS_ENDPOINT_URL: url, AWS_ENDPOINT_URL_SQS: sqsUrl },
    config,
    configure(changes) {
      Object.assign(config, changes);
    },
    requests: (action) => (action ? log.filter((r) => r.action === action) : [...log]),
    clearLog: () => void log.splice(0),
    stop: () =>
      Promise.all(
        servers.map(
          (s) =>
            new Promise<void>((r) => {
              s.closeAllConnections();
              s.close(() => r());
            }),
        ),
      ).then(() => undefined),
  };
  return proxy;
}

function listen(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<Server> {
  return new Promise((resolve) => {
    const server = createServer(handler);
    server.listen(0, "127.0.0.1", () => resolve(server));
  });
}

const HOP_BY_HOP = new Set(["connection", "keep-alive", "transfer-encoding", "content-length"]);

function forwardRaw(
  req: IncomingMessage,
  body: Buffer,
  upstream: string,
): Promise<{ status: number; headers: Record<string, string>; body: Buffer }> {
  const target = new URL(req.url ?? "/", upstream);
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers))
    if (value !== undefined && !HOP_BY_HOP.has(name)) headers[name] = Array.isArray(value) ? value.join(", ") : value;
  headers["content-length"] = String(body.length);
  return new Promise((resolve, reject) => {
    const out = httpRequest(target, { method: req.method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const answerHeaders: Record<string, string> = {};
        for (const [name, value] of Object.entries(res.headers))
          if (value !== undefined && !HOP_BY_HOP.has(name))
            answerHeaders[name] = Array.isArray(value) ? value.join(", ") : value;
        resolve({ status: res.statusCode ?? 500, headers: answerHeaders, body: Buffer.concat(chunks) });
      });
      res.on("error", reject);
    });
    out.on("error", reject);
    out.end(body);
  });
}

async function forward(req: IncomingMessage, body: string, upstream: string): Promise<Answer> {
  const answer = await forwardRaw(req, Buffer.from(body), upstream);
  return { ...answer, body: answer.body.toString() };
}
