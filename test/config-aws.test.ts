/**
 * AWS_REGION / AWS_PROFILE from the config, and --region / --profile, reach every AWS client
 * (DCP ignored both for its own calls, reference 7.1.12).
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import { ListClustersCommand } from "@aws-sdk/client-ecs";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { ListQueuesCommand } from "@aws-sdk/client-sqs";
import { describe, expect, it } from "vitest";
import { cloudwatchClient } from "../src/aws/cloudwatch.js";
import { awsContext } from "../src/aws/context.js";
import { ec2Client } from "../src/aws/ec2.js";
import { ecsClient } from "../src/aws/ecs.js";
import { logsClient } from "../src/aws/logs.js";
import { s3Client } from "../src/aws/s3.js";
import { sqsClient, sqsSendClient } from "../src/aws/sqs.js";
import { ssmClient } from "../src/aws/ssm.js";
import { loadConfig } from "../src/config/load.js";
import { runDcp, tempDir } from "./harness/dcp.js";
import { withEnv } from "./harness/env.js";

const FACTORIES = { sqsClient, ecsClient, ec2Client, cloudwatchClient, logsClient, s3Client, ssmClient };

function writeConfig(dir: string, settings: Record<string, unknown>): string {
  const path = join(dir, "config.json");
  writeFileSync(path, JSON.stringify(settings));
  return path;
}

/** A profile "dcplab" with its own keys and region, in files the SDK finds through its own variables. */
function useProfileFiles(): void {
  const dir = tempDir("dcp-profile-");
  const configFile = join(dir, "config");
  const credentialsFile = join(dir, "credentials");
  writeFileSync(configFile, "[profile dcplab]\nregion = ap-southeast-2\n");
  writeFileSync(
    credentialsFile,
    "[dcplab]\naws_access_key_id = AKIADCPLABPROFILE\naws_secret_access_key = dcplab-secret\n",
  );
  process.env.AWS_CONFIG_FILE = configFile;
  process.env.AWS_SHARED_CREDENTIALS_FILE = credentialsFile;
}

describe("every client dcp makes", () => {
  it("counts its calls and has no SDK logger middleware (dcp gives the SDK no logger)", () => {
    for (const [name, factory] of Object.entries({ ...FACTORIES, sqsSendClient })) {
      const names = factory({ region: "us-east-1", profile: undefined }).middlewareStack.identify().join("\n");
      expect(names, name).toMatch(/^dcpCallObserver /m);
      expect(names, name).not.toMatch(/logger/i);
    }
  });

  it("sends concurrent calls of one command to their own endpoints (S3 buckets on their own hosts)", async () => {
    // The SDK's cacheMiddleware shares one context between concurrent calls of a command, and half
    // of these would reach the other bucket's host; only submit's sender, which talks to one queue, uses it.
    await withEnv({ AWS_ENDPOINT_URL: undefined, AWS_ENDPOINT_URL_S3: undefined }, async () => {
      const s3 = s3Client({ region: "us-east-1", profile: undefined });
      const misrouted: string[] = [];
      s3.config.requestHandler = {
        handle: async (request: { hostname: string; path: string }) => {
          const bucket = request.path.includes("odd") ? "dcp-odd" : "dcp-even";
          if (!request.hostname.startsWith(`${bucket}.`)) misrouted.push(`${request.path} -> ${request.hostname}`);
          await new Promise((resolve) => setTimeout(resolve, Math.random() * 5));
          return { response: { statusCode: 200, headers: {}, body: Readable.from([]) } };
        },
      } as unknown as typeof s3.config.requestHandler;
      const puts = Array.from({ length: 40 }, (_, i) =>
        s3.send(
          new PutObjectCommand({
            Bucket: i % 2 ? "dcp-odd" : "dcp-even",
            Key: i % 2 ? `odd-${i}` : `even-${i}`,
            Body: "x",
          }),
        ),
      );
      await Promise.all(puts);
      expect(misrouted).toEqual([]);
    });
  });
});

describe("region and profile reach every client", () => {
  it("uses the config's AWS_REGION, over the environment's, and --region over both", async () => {
    const path = writeConfig(tempDir(), { APP_NAME: "RegionTest", AWS_REGION: "eu-west-1" });
    expect(process.env.AWS_REGION).toBe("us-east-1");
    for (const [name, factory] of Object.entries(FACTORIES)) {
      const fromFile = factory(awsContext(await loadConfig(path)));
      expect(await fromFile.config.region(), name).toBe("eu-west-1");
      const overridden = factory(awsContext(await loadConfig(path, { region: "us-west-2" })));
      expect(await overridden.config.region(), name).toBe("us-west-2");
    }
  });

  it("passes the config's AWS_PROFILE to the SDK, and --profile overrides it", async () => {
    useProfileFiles();
    const dir = tempDir();
    const withProfile = writeConfig(dir, { APP_NAME: "ProfileTest", AWS_PROFILE: "dcplab" });
    const ecs = ecsClient(awsContext(await loadConfig(withProfile)));
    // The profile's keys, not the AWS_ACCESS_KEY_ID of the environment.
    expect((await ecs.config.credentials()).accessKeyId).toBe("AKIADCPLABPROFILE");
    expect(Array.isArray((await ecs.send(new ListClustersCommand({}))).clusterArns)).toBe(true);
    // The config's region still wins over the profile's.
    expect(await ecs.config.region()).toBe("us-east-1");

    // A profile that does not exist: the SDK would fail every call; dcp refuses the config first.
    const missing = writeConfig(join(dir), { APP_NAME: "ProfileTest", AWS_PROFILE: "no-such-profile" });
    const broken = sqsClient({ region: "us-east-1", profile: "no-such-profile" });
    await expect(broken.send(new ListQueuesCommand({}))).rejects.toThrow(/credentials/i);
    await expect(loadConfig(missing)).rejects.toThrow(
      /config\.json: AWS_PROFILE: profile "no-such-profile" is not defined in .*Fix:/,
    );

    const fixed = sqsClient(awsContext(await loadConfig(missing, { profile: "dcplab" })));
    expect((await fixed.config.credentials()).accessKeyId).toBe("AKIADCPLABPROFILE");
    await expect(fixed.send(new ListQueuesCommand({}))).resolves.toBeDefined();
  });

  it("leaves DCP's placeholder profile \"default\" to the SDK's usual chain (environment, role...)", async () => {
    const path = writeConfig(tempDir(), { APP_NAME: "DefaultProfile", AWS_PROFILE: "default" });
    const ctx = awsContext(await loadConfig(path));
    expect(ctx.profile).toBeUndefined();
    expect((await ecsClient(ctx).config.credentials()).accessKeyId).toBe(process.env.AWS_ACCESS_KEY_ID);
  });

  it("applies global --region/--profile placed before or after the command", async () => {
    const path = writeConfig(tempDir(), { APP_NAME: "FlagTest", AWS_REGION: "eu-west-1", AWS_PROFILE: "lab" });
    const before = await runDcp(["--config", path, "--region", "eu-central-1", "config", "show", "--json"]);
    expect(before.code, before.stderr).toBe(0);
    expect(JSON.parse(before.stdout)).toMatchObject({
      config: { AWS_REGION: "eu-central-1", AWS_PROFILE: "lab" },
      source: { AWS_REGION: "flag", AWS_PROFILE: "file" },
    });
    const after = await runDcp(["config", "show", "--json", "--config", path, "--profile", "other"]);
    expect(after.code, after.stderr).toBe(0);
    expect(JSON.parse(after.stdout)).toMatchObject({ config: { AWS_REGION: "eu-west-1", AWS_PROFILE: "other" } });
    const bad = await runDcp(["--config", path, "--region", "Frankfurt", "config", "show"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--region: expected a region such as us-east-1\. Fix:/);
  });
});
