import { appendFileSync } from "node:fs";
import type { Config } from "../config/schema.js";
import type { DcpCall } from "./errors.js";

/**
 * What every AWS client of one command shares: the region and profile from the config
 * (overridden by --region/--profile). DCP ignored both for its own calls (reference 7.1.12);
 * dcp passes them to every client it creates.
 *
 * Endpoints are never plumbed here: the SDK reads AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_<SERVICE>
 * itself, which is how tests and the demo point dcp at local emulators.
 */
export interface AwsContext {
  region: string;
  /** undefined means the SDK's default credential chain (env, SSO, instance or task role...). */
  profile: string | undefined;
}

export function awsContext(config: Pick<Config, "AWS_REGION" | "AWS_PROFILE">): AwsContext {
  const profile = config.AWS_PROFILE.trim();
  // "default" is DCP's placeholder; passing it explicitly would stop the SDK from using
  // environment or role credentials, which is what workers and CI have.
  return { region: config.AWS_REGION, profile: profile && profile !== "default" ? profile : undefined };
}

type Middleware = (commandName: string, service: string) => void;
const callObservers: Middleware[] = [];

/** Lets benchmarks and tests count the API calls a flow makes, through an SDK middleware. */
export function observeAwsCalls(observer: Middleware): () => void {
  callObservers.push(observer);
  return () => {
    const i = callObservers.indexOf(observer);
    if (i >= 0) callObservers.splice(i, 1);
  };
}

/** The dcp command running ("setup", "iam create", "worker"...), set by the CLI before its action runs. */
let callLabel = "unknown";
export function setAwsCallLabel(label: string): void {
  callLabel = label;
}

/**
 * With DCP_RECORD_CALLS=<file>, every SDK call is appended to that file as `command<TAB>service<TAB>Operation`
 * (the IAM drift test compares them with the generated policies; test/iam-drift.test.ts).
 */
function recordCall(file: string, commandName: string, service: string): void {
  appendFileSync(file, `${callLabel}\t${service}\t${commandName.replace(/Command$/, "")}\n`);
}

export function endpointOverridden(service: string): boolean {
  return Boolean(process.env[`AWS_ENDPOINT_URL_${service.toUpperCase()}`] || process.env.AWS_ENDPOINT_URL);
}

interface MiddlewareStackLike {
  remove(name: string): boolean;
  add(
    middleware: (
      next: (args: unknown) => Promise<unknown>,
      context: { commandName?: string; endpointV2?: { url?: URL } },
    ) => (args: unknown) => Promise<unknown>,
    options: { step: "initialize"; name: string },
  ): void;
}

/** Options shared by every client. */
export function clientOptions(ctx: AwsContext) {
  return { region: ctx.region, ...(ctx.profile ? { profile: ctx.profile } : {}), maxAttempts: 5 };
}

interface ClientConfigLike {
  region?: string | (() => Promise<string>);
  profile?: string;
}

/** Attaches what dcp was doing to an error of an AWS call (read by describeAwsFailure in errors.ts). */
async function attachCall(err: unknown, call: DcpCall, config: ClientConfigLike | undefined): Promise<void> {
  if (typeof err !== "object" || err === null || "dcpCall" in err) return;
  try {
    const region = typeof config?.region === "function" ? await config.region() : config?.region;
    if (region) call.region = region;
  } catch {
    // the region provider itself failed: leave it out
  }
  const profile = config?.profile;
  if (profile) call.profile = profile;
  Object.defineProperty(err, "dcpCall", { value: call, enumerable: false, configurable: true });
}

/**
 * Adds the call-counting middleware, and drops the SDK's logger middleware: dcp gives the SDK no
 * logger, yet that middleware copies every input and output through the schema's sensitive-data
 * filter for the default no-op logger, a cost per message of a 10-entry SendMessageBatch.
 * Every error a call throws carries `dcpCall` (service, operation, region, endpoint).
 */
export function instrument<C extends { middlewareStack: unknown }>(client: C, service: string): C {
  const stack = client.middlewareStack as MiddlewareStackLike;
  stack.remove("loggerMiddleware");
  const config = (client as { config?: ClientConfigLike }).config;
  stack.add(
    (next, context) => async (args) => {
      for (const observer of callObservers) observer(context.commandName ?? "unknown", service);
      const record = process.env.DCP_RECORD_CALLS;
      if (record && callLabel !== "unknown") recordCall(record, context.commandName ?? "unknown", service);
      try {
        return await next(args);
      } catch (err) {
        const operation = (context.commandName ?? "unknown").replace(/Command$/, "");
        const endpoint = context.endpointV2?.url?.host;
        await attachCall(err, { service, operation, ...(endpoint ? { endpoint } : {}) }, config);
        throw err;
      }
    },
    { step: "initialize", name: "dcpCallObserver" },
  );
  return client;
}
