import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import {
  CloudWatchLogsClient,
  CreateLogGroupCommand,
  CreateLogStreamCommand,
  PutLogEventsCommand,
} from "@aws-sdk/client-cloudwatch-logs";
import { CreateBucketCommand, ListObjectsV2Command } from "@aws-sdk/client-s3";
import { describe, expect, it } from "vitest";
import { exportLogGroup } from "../src/aws/logs.js";
import { s3Client } from "../src/aws/s3.js";
import { emulatorEnv, uniqueAppName } from "./harness/dcp.js";

function body(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks)));
  });
}

/**
 * A loopback proxy to moto that answers the first `busy` CreateExportTask calls the way CloudWatch
 * Logs does while another export of the account runs (moto never does).
 */
async function busyExportsProxy(busy: number): Promise<{ url: string; refused: () => number; close: () => void }> {
  const moto = emulatorEnv().AWS_ENDPOINT_URL!;
  let refused = 0;
  const server = createServer(async (req, res) => {
    const payload = await body(req);
    if (String(req.headers["x-amz-target"]).endsWith(".CreateExportTask") && refused < busy) {
      refused += 1;
      res.writeHead(400, { "content-type": "application/x-amz-json-1.1" });
      res.end(JSON.stringify({ __type: "LimitExceededException", message: "Resource limit exceeded." }));
      return;
    }
    const headers = Object.fromEntries(
      Object.entries(req.headers).filter(([k]) => k !== "host" && k !== "content-length"),
    ) as Record<string, string>;
    const upstream = await fetch(`${moto}${req.url}`, {
      method: req.method,
      headers,
      body: payload.length ? payload : undefined,
    });
    res.writeHead(upstream.status, {
      "content-type": upstream.headers.get("content-type") ?? "application/x-amz-json-1.1",
    });
    res.end(Buffer.from(await upstream.arrayBuffer()));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    refused: () => refused,
    close: () => server.close(),
  };
}

describe("log export", () => {
  it("retries while another export runs (LimitExceededException), then exports and waits for it", async () => {
    const group = uniqueAppName("Exp");
    const bucket = group.toLowerCase();
    const ctx = { region: "us-east-1", profile: undefined };
    await s3Client(ctx).send(new CreateBucketCommand({ Bucket: bucket }));
    const proxy = await busyExportsProxy(2);
    try {
      // maxAttempts 1: the SDK retries LimitExceededException itself a few times (a throttling code); dcp's own loop outlasts that.
      const logs = new CloudWatchLogsClient({ region: "us-east-1", endpoint: proxy.url, maxAttempts: 1 });
      await logs.send(new CreateLogGroupCommand({ logGroupName: group }));
      await logs.send(new CreateLogStreamCommand({ logGroupName: group, logStreamName: "w" }));
      await logs.send(
        new PutLogEventsCommand({
          logGroupName: group,
          logStreamName: "w",
          logEvents: [{ timestamp: Date.now(), message: "hello" }],
        }),
      );
      const waits: string[] = [];
      const outcome = await exportLogGroup(
        logs,
        {
          logGroup: group,
          bucket,
          prefix: `exportedlogs/${group}`,
          fromMs: Date.now() - 60_000,
          toMs: Date.now() + 1000,
        },
        { pollMs: 10, retryMs: 10, deadlineMs: 30_000, onWait: (m) => waits.push(m) },
      );
      expect(proxy.refused()).toBe(2);
      expect(waits.filter((w) => /another log export is running/.test(w))).toHaveLength(2);
      expect(outcome).toMatchObject({ exported: true, status: "COMPLETED" });
      const listed = await s3Client(ctx).send(
        new ListObjectsV2Command({ Bucket: bucket, Prefix: `exportedlogs/${group}/` }),
      );
      expect(listed.KeyCount).toBeGreaterThan(0);

      const gone = await exportLogGroup(
        logs,
        { logGroup: `${group}-missing`, bucket, prefix: "x", fromMs: 0, toMs: 1 },
        { pollMs: 10, retryMs: 10, deadlineMs: 1000 },
      );
      expect(gone).toEqual({ exported: false, reason: `log group ${group}-missing does not exist` });
    } finally {
      proxy.close();
    }
  });

  it("gives up waiting for a busy account at the deadline and says so", async () => {
    const proxy = await busyExportsProxy(1000);
    try {
      const logs = new CloudWatchLogsClient({ region: "us-east-1", endpoint: proxy.url, maxAttempts: 1 });
      const outcome = await exportLogGroup(
        logs,
        { logGroup: "any", bucket: "any", prefix: "x", fromMs: 0, toMs: 1 },
        // A deadline of many retry periods: on a loaded machine one refused call can take 100 ms.
        { pollMs: 10, retryMs: 20, deadlineMs: 1000 },
      );
      expect(outcome).toEqual({
        exported: false,
        reason: "another log export kept running; export it later from the CloudWatch console",
      });
      expect(proxy.refused()).toBeGreaterThan(1);
    } finally {
      proxy.close();
    }
  });
});
