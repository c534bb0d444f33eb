/**
 * The AWS failures a new user meets first, through the built CLI: each is one line saying what
 * dcp was doing, what went wrong and the fix, exit 1; an unknown region is bad input (exit 2)
 * caught before any call. No credentials and an unreachable endpoint need no emulator; an expired
 * session and AccessDenied come from a local stub answering in SQS's wire format.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { runDcp, tempDir, type DcpResult } from "./harness/dcp.js";
import { STUB_ERRORS, startAwsErrorStub, type AwsErrorStub } from "./harness/aws-error-stub.js";

/** A folder with a config, empty shared AWS files and (optionally) one profile with session keys. */
function workspace(config: Record<string, unknown>, profile?: string) {
  const dir = tempDir("dcp-aws-errors-");
  mkdirSync(join(dir, "config"), { recursive: true });
  writeFileSync(
    join(dir, "config", "config.json"),
    JSON.stringify({ APP_NAME: "Stub", AWS_BUCKET: "stub-bucket", AWS_REGION: "us-east-1", ...config }),
  );
  const credentials = join(dir, "credentials");
  const awsConfig = join(dir, "aws-config");
  writeFileSync(
    credentials,
    profile
      ? `[${profile}]\naws_access_key_id = ASIASTUBSTUBSTUBSTUB\naws_secret_access_key = stub-secret\naws_session_token = stub-token\n`
      : "",
  );
  writeFileSync(awsConfig, profile ? `[profile ${profile}]\nregion = us-east-1\n` : "");
  return { dir, credentials, awsConfig };
}

/** No credentials anywhere: no keys, empty shared files, no instance metadata, no container role. */
function bareEnv(ws: { dir: string; credentials: string; awsConfig: string }): Record<string, string | undefined> {
  return {
    HOME: ws.dir,
    AWS_ACCESS_KEY_ID: undefined,
    AWS_SECRET_ACCESS_KEY: undefined,
    AWS_SESSION_TOKEN: undefined,
    AWS_PROFILE: undefined,
    AWS_DEFAULT_PROFILE: undefined,
    AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: undefined,
    AWS_CONTAINER_CREDENTIALS_FULL_URI: undefined,
    AWS_WEB_IDENTITY_TOKEN_FILE: undefined,
    AWS_SHARED_CREDENTIALS_FILE: ws.credentials,
    AWS_CONFIG_FILE: ws.awsConfig,
    AWS_EC2_METADATA_DISABLED: "true",
  };
}

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function oneLine(result: DcpResult): string {
  const lines = result.stderr.split("\n").filter((l) => l.startsWith("dcp"));
  expect(lines, result.stderr).toHaveLength(1);
  return lines[0]!;
}

let stub: AwsErrorStub | undefined;
afterEach(async () => {
  await stub?.close();
  stub = undefined;
});

describe("AWS failures a new user meets first", () => {
  it("no credentials: what dcp was doing, and aws configure / aws sso login / AWS_PROFILE", async () => {
    const ws = workspace({});
    const port = await closedPort();
    const result = await runDcp(["setup"], {
      cwd: ws.dir,
      env: { ...bareEnv(ws), AWS_ENDPOINT_URL: `http://127.0.0.1:${port}`, AWS_ENDPOINT_URL_SQS: undefined },
    });
    expect(result.code, result.stderr).toBe(1);
    const line = oneLine(result);
    // setup checks the credentials first (STS GetCallerIdentity), before it creates anything.
    expect(line).toMatch(/^dcp setup: calling STS GetCallerIdentity in us-east-1: no AWS credentials found/);
    expect(line).toContain("Fix: run `aws configure`");
    expect(line).toContain("`aws sso login`");
    expect(line).toContain("AWS_PROFILE");
    expect(result.stderr).not.toMatch(/^dcp: CredentialsProviderError/m);
  });

  it("an expired session: the login command for the profile in use", async () => {
    stub = await startAwsErrorStub(STUB_ERRORS.expiredToken);
    const ws = workspace({ AWS_PROFILE: "lab" }, "lab");
    const result = await runDcp(["setup"], {
      cwd: ws.dir,
      env: { ...bareEnv(ws), AWS_ENDPOINT_URL: stub.url, AWS_ENDPOINT_URL_SQS: stub.url },
    });
    expect(result.code, result.stderr).toBe(1);
    const line = oneLine(result);
    expect(line).toMatch(
      /^dcp setup: calling STS GetCallerIdentity in us-east-1: the AWS session of profile lab has expired/,
    );
    expect(line).toContain("Fix: log in again with `aws sso login --profile lab`");
    expect(stub.calls[0]).toBe("GetCallerIdentity");
  });

  it("AccessDenied: the principal, the action, the resource and dcp iam policy operator", async () => {
    stub = await startAwsErrorStub(STUB_ERRORS.accessDenied);
    const ws = workspace({});
    const result = await runDcp(["setup"], {
      cwd: ws.dir,
      env: {
        ...bareEnv(ws),
        AWS_ACCESS_KEY_ID: "stub-access-key-id",
        AWS_SECRET_ACCESS_KEY: "stub-secret",
        AWS_ENDPOINT_URL: stub.url,
        AWS_ENDPOINT_URL_SQS: stub.url,
      },
    });
    expect(result.code, result.stderr).toBe(1);
    const line = oneLine(result);
    expect(line).toMatch(/^dcp setup: calling SQS GetQueueUrl in us-east-1: access denied: /);
    expect(line).toContain("arn:aws:iam::123456789012:user/alice may not sqs:getqueueurl");
    expect(line).toContain("on arn:aws:sqs:us-east-1:123456789012:Stub_DeadMessages");
    expect(line).toContain("`dcp iam policy operator`");
    expect(line).not.toContain("stub-secret");
  });

  it("an unreachable endpoint: which service and endpoint", async () => {
    const port = await closedPort();
    const ws = workspace({});
    const result = await runDcp(["setup"], {
      cwd: ws.dir,
      env: {
        ...bareEnv(ws),
        AWS_ACCESS_KEY_ID: "stub-access-key-id",
        AWS_SECRET_ACCESS_KEY: "stub-secret",
        AWS_ENDPOINT_URL: `http://127.0.0.1:${port}`,
        AWS_ENDPOINT_URL_SQS: `http://127.0.0.1:${port}`,
      },
    });
    expect(result.code, result.stderr).toBe(1);
    const line = oneLine(result);
    expect(line).toContain(
      `dcp setup: calling STS GetCallerIdentity in us-east-1: cannot reach the STS endpoint 127.0.0.1:${port}`,
    );
    expect(line).toContain("ECONNREFUSED");
    expect(line).toContain("Fix: check the network");
  });

  it("an unknown region is bad input: exit 2 before any AWS call, with the closest region", async () => {
    stub = await startAwsErrorStub(STUB_ERRORS.accessDenied);
    const ws = workspace({ AWS_REGION: "eu-wset-1" });
    const env = { ...bareEnv(ws), AWS_ENDPOINT_URL: stub.url, AWS_ENDPOINT_URL_SQS: stub.url };
    const fromFile = await runDcp(["setup"], { cwd: ws.dir, env });
    expect(fromFile.code, fromFile.stderr).toBe(2);
    expect(oneLine(fromFile)).toMatch(
      /config\.json: AWS_REGION: "eu-wset-1" is not an AWS region\. Fix: did you mean "eu-west-1"\?/,
    );
    const fromFlag = await runDcp(["--region", "us-est-2", "setup"], { cwd: workspace({}).dir, env });
    expect(fromFlag.code, fromFlag.stderr).toBe(2);
    expect(oneLine(fromFlag)).toMatch(/--region: "us-est-2" is not an AWS region\. Fix: did you mean "us-east-2"\?/);
    expect(stub.calls).toEqual([]);
  });
});
