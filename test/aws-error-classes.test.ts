/** Unit checks of the one-of-each modules: AWS error classification, regions, flags, atomic write, mapLimit. */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import {
  describeAwsFailure,
  isAccessDenied,
  isExpiredCredentials,
  isMissingCredentials,
  isNotFound,
  isThrottling,
  isUnreachable,
  isUnsupported,
  parseAccessDenied,
} from "../src/aws/errors.js";
import { closestRegion, knownRegions } from "../src/aws/regions.js";
import { choiceFlag, integerFlag, secondsFlag } from "../src/commands/flags.js";
import { mapLimit } from "../src/concurrency.js";
import { writeFileAtomic } from "../src/io/atomic-write.js";
import { tempDir } from "./harness/dcp.js";

const named = (name: string, extra: Record<string, unknown> = {}) => Object.assign(new Error("m"), { name, ...extra });

describe("AWS error classification", () => {
  it("not found: the SDK's typed names and EC2's codes, not look-alikes", () => {
    for (const name of [
      "QueueDoesNotExist",
      "AWS.SimpleQueueService.NonExistentQueue",
      "ClusterNotFoundException",
      "ServiceNotFoundException",
      "ResourceNotFoundException",
      "ResourceNotFound",
      "DashboardNotFoundError",
      "NoSuchKey",
      "NotFound",
      "ParameterNotFound",
      "InvalidSpotFleetRequestId.NotFound",
      "InvalidFleetId.NotFound",
      "InvalidInstanceID.NotFound",
      "InvalidLaunchTemplateId.NotFound",
      "InvalidLaunchTemplateName.NotFoundException",
      "InvalidSpotFleetRequestId.Malformed",
    ])
      expect(isNotFound(named(name)), name).toBe(true);
    // sqs-consumer's SQSError carries the AWS name in `code`.
    expect(isNotFound(named("SQSError", { code: "AWS.SimpleQueueService.NonExistentQueue" }))).toBe(true);
    for (const name of ["ClusterContainsServicesException", "AccessDenied", "NotFoundish", "Error"])
      expect(isNotFound(named(name)), name).toBe(false);
  });

  it("throttling, access denied, expired, missing credentials, unreachable, unsupported", () => {
    expect(isThrottling(named("RequestThrottled"))).toBe(true);
    expect(isThrottling(named("Whatever", { $retryable: { throttling: true } }))).toBe(true);
    expect(isThrottling(named("ValidationException"))).toBe(false);
    expect(isAccessDenied(named("UnauthorizedOperation"))).toBe(true);
    expect(isAccessDenied(named("AccessDeniedException"))).toBe(true);
    expect(isExpiredCredentials(named("ExpiredToken"))).toBe(true);
    expect(isExpiredCredentials(named("TokenProviderError", { message: "The SSO session has expired" }))).toBe(true);
    expect(isMissingCredentials(named("CredentialsProviderError"))).toBe(true);
    expect(isUnreachable(Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), { code: "ECONNREFUSED" }))).toBe(
      true,
    );
    const aggregate = Object.assign(new AggregateError([Object.assign(new Error("x"), { code: "ECONNREFUSED" })]), {});
    expect(isUnreachable(aggregate)).toBe(true);
    expect(isUnreachable(named("TimeoutError"))).toBe(true);
    expect(isUnsupported(named("InvalidAction"), false)).toBe(true);
    const html500 = named("Unknown", { message: "XML parse error", $metadata: { httpStatusCode: 500 } });
    expect(isUnsupported(html500, true)).toBe(true);
    expect(isUnsupported(html500, false)).toBe(false);
  });

  it("AccessDenied names the principal, action and resource when AWS does", () => {
    expect(
      parseAccessDenied(
        "User: arn:aws:sts::1:assumed-role/R/me is not authorized to perform: ec2:CreateFleet on resource: arn:aws:ec2:us-east-1:1:fleet/* because no identity-based policy allows the ec2:CreateFleet action",
      ),
    ).toEqual({
      principal: "arn:aws:sts::1:assumed-role/R/me",
      action: "ec2:CreateFleet",
      resource: "arn:aws:ec2:us-east-1:1:fleet/*",
    });
    const err = named("AccessDenied", { message: "Access Denied", dcpCall: { service: "s3", operation: "PutObject" } });
    expect(describeAwsFailure(err, {})).toContain("not allowed to s3:PutObject");
    expect(describeAwsFailure(named("ValidationException"), {})).toBeUndefined();
  });

  it("the expired-session fix names the profile's login command", () => {
    const err = named("ExpiredTokenException", { dcpCall: { service: "ecs", operation: "ListTasks", profile: "lab" } });
    expect(describeAwsFailure(err, {})).toContain("`aws sso login --profile lab`");
    expect(describeAwsFailure(named("ExpiredToken"), { AWS_PROFILE: "x" })).toContain("`aws sso login --profile x`");
  });
});

describe("regions", () => {
  it("come from the installed SDK, with the closest one suggested", () => {
    const regions = knownRegions()!;
    expect(regions.has("us-east-1")).toBe(true);
    expect(regions.has("cn-north-1")).toBe(true);
    expect(regions.has("aws-global")).toBe(false);
    expect(closestRegion("eu-wset-1", regions)).toBe("eu-west-1");
  });
});

describe("flags", () => {
  const where = { command: "monitor", flag: "--interval" };
  it("one message shape: dcp <command>: --flag: problem. Fix: ...", () => {
    const seconds = secondsFlag(where, { min: 1, max: 3600, fix: "pass a number of seconds, e.g. --interval 60" });
    expect(seconds("2.5")).toBe(2.5);
    expect(() => seconds("0")).toThrow(
      "dcp monitor: --interval: must be at least 1 second. Fix: pass a number of seconds, e.g. --interval 60",
    );
    expect(() => seconds("")).toThrow(/expected a number of seconds, got ""/);
    const loops = integerFlag({ command: "worker", flag: "--loops" }, { example: "2" });
    expect(() => loops("1.5")).toThrow(
      'dcp worker: --loops: expected a whole number, got "1.5". Fix: pass e.g. --loops 2',
    );
    const plate = choiceFlag({ command: "make-jobs", flag: "--plate-format" }, ["96", "384"]);
    expect(plate("96")).toBe("96");
    expect(() => plate("95")).toThrow("--plate-format: must be 96 or 384. Fix: use --plate-format 96");
  });
});

describe("one atomic write, one mapLimit", () => {
  it("writes whole files and leaves nothing behind on failure", async () => {
    const dir = tempDir("dcp-atomic-");
    const file = join(dir, "sub", "a.json");
    await writeFileAtomic(file, "{}\n");
    expect(readFileSync(file, "utf8")).toBe("{}\n");
    await writeFileAtomic(file, ["a", "b"]);
    expect(readFileSync(file, "utf8")).toBe("ab");
    const failing = new Readable({
      read() {
        this.destroy(new Error("network gone"));
      },
    });
    await expect(writeFileAtomic(join(dir, "sub", "b.bin"), failing)).rejects.toThrow("network gone");
    expect(existsSync(join(dir, "sub", "b.bin"))).toBe(false);
    expect(readdirSync(join(dir, "sub"))).toEqual(["a.json"]);
  });

  it("mapLimit keeps order and at most `limit` running", async () => {
    let running = 0;
    let peak = 0;
    const out = await mapLimit([1, 2, 3, 4, 5], 2, async (n) => {
      peak = Math.max(peak, ++running);
      await new Promise((r) => setImmediate(r));
      running -= 1;
      return n * 2;
    });
    expect(out).toEqual([2, 4, 6, 8, 10]);
    expect(peak).toBe(2);
  });
});
