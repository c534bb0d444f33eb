/**
 * Stopping a worker mid-task (SIGTERM from ECS, or a spot interruption notice served over IMDSv2 by
 * a local HTTP server): CellProfiler is stopped, the message is visible again at once although the
 * queue's visibility timeout is 60 s, the interrupted receive does not count toward JOB_RETRIES
 * (JOB_RETRIES is 1 here, so a counted receive would send the task to the DLQ), and the worker exits 0.
 */
import { createServer, type Server } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import {
  PLATE,
  cellprofilerRuns,
  exampleMessage,
  listKeys,
  queueCounts,
  receiveAll,
  runWorkerToEnd,
  scenario,
  send,
  startWorker,
  type Scenario,
} from "./worker-helpers.js";

const servers: Server[] = [];
afterEach(() => {
  for (const server of servers.splice(0)) server.close();
});

/** A stand-in for the instance metadata service: IMDSv2 token, then spot/instance-action (404 until `notify`). */
async function metadataService() {
  const state = { notice: false, tokenRequests: 0, actionRequests: 0, actionWithoutToken: 0 };
  const server = createServer((req, res) => {
    if (
      req.method === "PUT" &&
      req.url === "/latest/api/token" &&
      req.headers["x-aws-ec2-metadata-token-ttl-seconds"]
    ) {
      state.tokenRequests += 1;
      res.end("test-token");
      return;
    }
    if (req.method === "GET" && req.url === "/latest/meta-data/spot/instance-action") {
      state.actionRequests += 1;
      if (req.headers["x-aws-ec2-metadata-token"] !== "test-token") {
        state.actionWithoutToken += 1;
        res.writeHead(401).end();
        return;
      }
      if (!state.notice) res.writeHead(404).end("Not Found");
      else
        res
          .writeHead(200, { "content-type": "application/json" })
          .end(JSON.stringify({ action: "terminate", time: "2026-11-22T01:00:00Z" }));
      return;
    }
    res.writeHead(404).end();
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return { url: `http://127.0.0.1:${port}`, state };
}

async function expectHandedBackWithoutSpendingARetry(s: Scenario) {
  // Visible right away (the queue's own visibility timeout is 60 s) and still in the main queue.
  expect(await queueCounts(s.queueUrl)).toEqual({ visible: 1, inFlight: 0 });
  expect(await receiveAll(s.deadLetterUrl)).toEqual([]);
  // JOB_RETRIES is 1: a second worker can only run it if the interrupted receive was not counted.
  const second = await runWorkerToEnd(s, { FAKE_CP_SLEEP_MS: "0", SPOT_NOTICE_URL: "False" });
  expect(second.code, second.output).toBe(0);
  expect(second.output).toContain("(attempt 1 of 1)");
  expect(await listKeys(s.bucket, `results/${PLATE}-D03-1/`)).toHaveLength(3);
  expect(await receiveAll(s.deadLetterUrl)).toEqual([]);
  expect(await queueCounts(s.queueUrl)).toEqual({ visible: 0, inFlight: 0 });
  expect(cellprofilerRuns(s)).toHaveLength(2);
}

describe("dcp worker shutdown", () => {
  it("SIGTERM during a 30 s job: CellProfiler stopped, message back at once without spending a retry, exit 0", async () => {
    const s = await scenario({ retries: 1, visibility: 60, env: { FAKE_CP_SLEEP_MS: "30000" } });
    await send(s, exampleMessage("1"));
    const worker = startWorker(s);
    await worker.waitFor("TEST DOUBLE: working...");
    worker.child.kill("SIGTERM");
    const exit = await worker.exited;
    expect(exit, worker.output()).toEqual({ code: 0, signal: null });
    expect(worker.output()).toContain("stopping: SIGTERM received");
    expect(worker.output()).toContain("CellProfiler was stopped because the worker is stopping");
    expect(worker.output()).toContain(
      "task handed back to the queue (re-sent; this interrupted attempt does not count toward JOB_RETRIES)",
    );
    expect(worker.output()).not.toContain("TEST DOUBLE: 1 image set"); // it never finished
    await expectHandedBackWithoutSpendingARetry(s);
  });

  it("SIGTERM while waiting for work: exit 0 at once", async () => {
    const s = await scenario({ env: { WORKER_POLL_SECONDS: "20", WORKER_IDLE_POLLS: "100" } });
    const worker = startWorker(s);
    await worker.waitFor("[loop 1] started");
    worker.child.kill("SIGTERM");
    expect(await worker.exited).toEqual({ code: 0, signal: null });
    expect(worker.output()).toContain("worker finished (SIGTERM received): no tasks");
  });

  it("a spot interruption notice (IMDSv2) does the same", async () => {
    const imds = await metadataService();
    const s = await scenario({
      retries: 1,
      visibility: 60,
      env: { FAKE_CP_SLEEP_MS: "30000", SPOT_NOTICE_URL: imds.url, SPOT_POLL_SECONDS: "0.2" },
    });
    await send(s, exampleMessage("1"));
    const worker = startWorker(s);
    await worker.waitFor("TEST DOUBLE: working...");
    expect(imds.state.actionRequests).toBeGreaterThan(0);
    imds.state.notice = true;
    const exit = await worker.exited;
    expect(exit, worker.output()).toEqual({ code: 0, signal: null });
    expect(worker.output()).toContain("stopping: spot interruption notice (terminate at 2026-11-22T01:00:00Z)");
    expect(imds.state.tokenRequests).toBeGreaterThan(0);
    expect(imds.state.actionWithoutToken).toBe(0);
    await expectHandedBackWithoutSpendingARetry(s);
  });
});
