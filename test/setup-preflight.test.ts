/**
 * `dcp setup` runs the doctor's cheap checks first (credentials, region, the task role named in the config):
 * a missing task role stops it before anything is created; a caller who may not read IAM (AccessDenied on
 * iam:GetRole, served by a local stub through AWS_ENDPOINT_URL_IAM) gets a warning and setup goes on.
 */
import { createServer } from "node:http";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { findQueueUrl, sqsClient } from "../src/aws/sqs.js";
import { runDcp, tempDir, uniqueAppName } from "./harness/dcp.js";

const sqs = sqsClient({ region: "us-east-1", profile: undefined });

function configFor(dir: string, app: string, taskRole: string): string {
  const path = join(dir, "config.json");
  writeFileSync(
    path,
    JSON.stringify({
      APP_NAME: app,
      ECS_CLUSTER: `${app}Cluster`,
      SQS_DEAD_LETTER_QUEUE: `${app}Dead`,
      TASK_ROLE_ARN: `arn:aws:iam::123456789012:role/${taskRole}`,
    }),
  );
  return path;
}

describe("dcp setup preflight", () => {
  it("stops with the doctor's message, before creating anything, when the task role does not exist", async () => {
    const app = uniqueAppName("Pre");
    const dir = tempDir();
    const result = await runDcp(["--config", configFor(dir, app, `${app}Missing`), "setup"], { cwd: dir });
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/✔ credentials: account 123456789012/);
    expect(result.stdout).toMatch(/✖ task role \S+Missing: does not exist/);
    expect(result.stderr).toMatch(
      /setup stopped before creating anything: task role \S+Missing: does not exist\. Fix: .*dcp iam create/,
    );
    expect(await findQueueUrl(sqs, `${app}Dead`)).toBeUndefined();
  });

  it("warns and goes on when the caller may not call iam:GetRole", async () => {
    const denied = createServer((req, res) => {
      req.resume();
      req.on("end", () => {
        res.statusCode = 403;
        res.setHeader("content-type", "text/xml");
        res.end(
          '<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error><Type>Sender</Type>' +
            "<Code>AccessDenied</Code><Message>not authorized to perform: iam:GetRole</Message></Error>" +
            "<RequestId>dcp-test</RequestId></ErrorResponse>",
        );
      });
    });
    await new Promise<void>((resolve) => denied.listen(0, "127.0.0.1", resolve));
    const address = denied.address();
    const port = typeof address === "object" && address ? address.port : 0;
    try {
      const app = uniqueAppName("Pre");
      const dir = tempDir();
      const result = await runDcp(["--config", configFor(dir, app, `${app}Role`), "setup"], {
        cwd: dir,
        env: { AWS_ENDPOINT_URL_IAM: `http://127.0.0.1:${port}` },
      });
      expect(result.stdout).toMatch(/! task role \S+Role: could not check: your credentials may not call iam:GetRole/);
      expect(result.code, result.stderr).toBe(0);
      expect(await findQueueUrl(sqs, `${app}Dead`)).toBeDefined();
    } finally {
      await new Promise((resolve) => denied.close(resolve));
    }
  });
});
