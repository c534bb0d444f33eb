/**
 * Retries over the real wire: a stub proxy in front of fauxqs removes some entries from
 * SendMessageBatch requests before they reach the queue and reports them failed in the response,
 * as SQS does for entries it could not take. Only those entries may be sent again; sender faults
 * are reported, never resent; nothing reaches the queue twice.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { CreateQueueCommand, GetQueueUrlCommand, ReceiveMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { sqsClient, sqsSendClient } from "../src/aws/sqs.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startProxy, type Proxy } from "../bench/latency-proxy.js";
import { parseConfig } from "../src/config/load.js";
import { sendMessages, submitMessages } from "../src/submit/engine.js";
import { checkJobFile, jobFileMessages } from "../src/submit/job-reader.js";
import { messageBody, type DcpMessage } from "../src/plan/message.js";
import { Output } from "../src/ui/output.js";
import { emulatorEnv, runDcp, tempDir, uniqueAppName } from "./harness/dcp.js";
import { withEnv } from "./harness/env.js";

interface BatchRequest {
  QueueUrl: string;
  Entries: Array<{ Id: string; MessageBody: string }>;
}
interface BatchResponse {
  Successful?: unknown[];
  Failed?: Array<{ Id: string; SenderFault: boolean; Code: string; Message: string }>;
}

function messages(count: number, tag: string): DcpMessage[] {
  return Array.from({ length: count }, (_, i) => ({
    Metadata: `Metadata_Tag=${tag},Metadata_Site=${i}`,
    pipeline: "p.cppipe",
    output: "out/",
    input: "in/",
    data_file: "d.csv",
    output_structure: "",
  }));
}

const site = (body: string) => Number(/Metadata_Site=(\d+)/.exec(body)?.[1]);

/** A proxy whose `decide` picks, per entry, to forward it or to fail it (transient or sender fault). */
async function failingProxy(decide: (site: number) => "forward" | "transient" | "sender") {
  const calls: number[][] = [];
  const forwarded = new Map<number, number>();
  const proxy = await startProxy({
    target: emulatorEnv().AWS_ENDPOINT_URL_SQS!,
    intercept: ({ target, body }) => {
      if (target !== "AmazonSQS.SendMessageBatch") return undefined;
      const batch = JSON.parse(body.toString()) as BatchRequest;
      calls.push(batch.Entries.map((e) => site(e.MessageBody)));
      const failed: NonNullable<BatchResponse["Failed"]> = [];
      const keep = batch.Entries.filter((e) => {
        const verdict = decide(site(e.MessageBody));
        if (verdict === "forward") return true;
        failed.push(
          verdict === "sender"
            ? { Id: e.Id, SenderFault: true, Code: "InvalidMessageContents", Message: "refused by the stub" }
            : { Id: e.Id, SenderFault: false, Code: "InternalError", Message: "try again" },
        );
        return false;
      });
      for (const e of keep) forwarded.set(site(e.MessageBody), (forwarded.get(site(e.MessageBody)) ?? 0) + 1);
      const withFailures = (answer: BatchResponse) =>
        Buffer.from(JSON.stringify({ ...answer, Failed: [...(answer.Failed ?? []), ...failed] }));
      // SQS refuses an empty batch: when every entry fails, answer without forwarding.
      if (!keep.length) return { reply: withFailures({ Successful: [] }) };
      return {
        body: Buffer.from(JSON.stringify({ ...batch, Entries: keep })),
        response: (answer) => withFailures(JSON.parse(answer.toString()) as BatchResponse),
      };
    },
  });
  return { proxy, calls, forwarded };
}

describe("submit retries only the failed entries", () => {
  let queueUrl: string;
  let direct: SQSClient;
  const proxies: Proxy[] = [];

  beforeAll(async () => {
    direct = new SQSClient({
      region: "us-east-1",
      endpoint: emulatorEnv().AWS_ENDPOINT_URL_SQS,
      useQueueUrlAsEndpoint: false,
    });
    queueUrl = (await direct.send(new CreateQueueCommand({ QueueName: uniqueAppName("Retry") }))).QueueUrl!;
  });
  afterAll(async () => {
    await Promise.all(proxies.map((p) => p.close()));
  });

  async function receiveAll(url: string): Promise<string[]> {
    const bodies: string[] = [];
    for (let empty = 0; empty < 2;) {
      const { Messages = [] } = await direct.send(
        new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, VisibilityTimeout: 300 }),
      );
      if (!Messages.length) empty += 1;
      for (const m of Messages) bodies.push(m.Body!);
    }
    return bodies;
  }

  it("resends transient failures alone, reports sender faults, and queues each message once", async () => {
    // Sites 2 and 15 fail on their first send; site 7 is a sender fault every time.
    const failedOnce = new Set<number>();
    const { proxy, calls, forwarded } = await failingProxy((s) => {
      if (s === 7) return "sender";
      if ((s === 2 || s === 15) && !failedOnce.has(s)) {
        failedOnce.add(s);
        return "transient";
      }
      return "forward";
    });
    proxies.push(proxy);
    const client = new SQSClient({ region: "us-east-1", endpoint: proxy.url, useQueueUrlAsEndpoint: false });
    const result = await sendMessages(client, queueUrl, messages(30, "a"), { concurrency: 1, retryBaseMs: 1 });

    expect(result.sent).toBe(29);
    expect(result.unsent.map((u) => [u.seq, u.code, u.senderFault])).toEqual([[7, "InvalidMessageContents", true]]);
    expect(result.retried).toBe(2);
    // Each failed entry goes back alone, right after its batch; nothing else is resent.
    const range = (from: number) => Array.from({ length: 10 }, (_, i) => from + i);
    expect(calls).toEqual([range(0), [2], range(10), [15], range(20)]);
    expect([...forwarded.values()].every((n) => n === 1)).toBe(true);
    expect(forwarded.has(7)).toBe(false);

    const received = (await receiveAll(queueUrl)).map(site).sort((a, b) => a - b);
    expect(received).toEqual(Array.from({ length: 30 }, (_, i) => i).filter((i) => i !== 7));
  });

  it("gives up on an entry after maxAttempts and reports it unsent", async () => {
    const url = (await direct.send(new CreateQueueCommand({ QueueName: uniqueAppName("Retry") }))).QueueUrl!;
    const { proxy, calls } = await failingProxy((s) => (s === 3 ? "transient" : "forward"));
    proxies.push(proxy);
    const client = new SQSClient({ region: "us-east-1", endpoint: proxy.url, useQueueUrlAsEndpoint: false });
    const result = await sendMessages(client, url, messages(12, "b"), {
      concurrency: 2,
      retryBaseMs: 1,
      maxAttempts: 3,
    });

    expect(result.sent).toBe(11);
    expect(result.unsent.map((u) => [u.seq, u.code, u.senderFault])).toEqual([[3, "InternalError", false]]);
    expect(calls.filter((c) => c.includes(3))).toHaveLength(3);
    expect(calls.flat().filter((s) => s !== 3)).toHaveLength(11);
    expect((await receiveAll(url)).length).toBe(11);
  });

  it("writes what SQS refused to a job file that resubmits exactly those messages, and fails", async () => {
    const app = uniqueAppName("Unsent");
    const url = (await direct.send(new CreateQueueCommand({ QueueName: `${app}Queue` }))).QueueUrl!;
    const { proxy } = await failingProxy((s) => (s === 4 || s === 9 ? "sender" : "forward"));
    proxies.push(proxy);
    const unsentFile = join(tempDir(), "job.unsent.json");
    const log = new PassThrough();
    let printed = "";
    log.on("data", (c: Buffer) => (printed += c.toString()));
    const sent = messages(12, "d");
    await withEnv({ AWS_ENDPOINT_URL_SQS: proxy.url }, async () => {
      const run = submitMessages(parseConfig({ APP_NAME: app }, "config.json"), sent, {
        output: new Output({ plain: true, stream: log as unknown as NodeJS.WriteStream }),
        total: 12,
        unsentFile,
      });
      await expect(run).rejects.toMatchObject({
        exitCode: 1,
        message: expect.stringMatching(
          /^2 of 12 messages were not sent \(listed in .*job\.unsent\.json\); the 10 others were sent once$/,
        ),
      });
    });
    expect(printed).toMatch(/groups\[4\] not sent: InvalidMessageContents: refused by the stub/);
    expect(printed).toMatch(/Queue \S+ now holds about 10 messages/);
    expect(printed).not.toMatch(/already holds/);
    expect((await receiveAll(url)).length).toBe(10);

    const checked = await checkJobFile(unsentFile);
    const resubmitted: string[] = [];
    for await (const m of jobFileMessages(checked)) resubmitted.push(messageBody(m));
    expect(resubmitted).toEqual([messageBody(sent[4]!), messageBody(sent[9]!)]);
  });

  it("dcp submit exits 1 when SQS refuses a group and leaves a DCP job file of just that group", async () => {
    const app = uniqueAppName("CliUnsent");
    const url = (await direct.send(new CreateQueueCommand({ QueueName: `${app}Queue` }))).QueueUrl!;
    const { proxy } = await failingProxy((s) => (s === 4 ? "sender" : "forward"));
    proxies.push(proxy);
    const work = tempDir();
    mkdirSync(join(work, "config"));
    writeFileSync(join(work, "config/config.json"), JSON.stringify({ APP_NAME: app }));
    const shared = {
      pipeline: "p.cppipe",
      data_file: "d.csv",
      input: "in/",
      output: "out/",
      output_structure: "Metadata_Site",
    };
    const groups = Array.from({ length: 12 }, (_, i) => ({ Metadata: `Metadata_Tag=g,Metadata_Site=${i}` }));
    writeFileSync(join(work, "job.json"), JSON.stringify({ ...shared, groups }));

    const run = await runDcp(["submit", "job.json", "--json"], { cwd: work, env: { AWS_ENDPOINT_URL_SQS: proxy.url } });
    expect(run.code).toBe(1);
    expect(JSON.parse(run.stdout)).toMatchObject({
      sent: 11,
      unsent: 1,
      interrupted: false,
      failures: [{ group: 4, code: "InvalidMessageContents", senderFault: true }],
    });
    expect(run.stderr).toMatch(
      /dcp: 1 of 12 messages were not sent \(listed in job\.unsent-\S+\.json\); the 11 others were sent once/,
    );
    expect((await receiveAll(url)).length).toBe(11);
    const [unsent] = readdirSync(work).filter((f) => f.startsWith("job.unsent-"));
    const { _comment, ...content } = JSON.parse(readFileSync(join(work, unsent!), "utf8")) as Record<string, unknown>;
    // The original's format: shared keys once, groups with Metadata only.
    expect(content).toEqual({ ...shared, groups: [groups[4]] });
    expect(_comment).toMatch(/did not send/);
  });

  it("on abort, lets the calls in flight finish and hands back every message not started, in order", async () => {
    const url = (await direct.send(new CreateQueueCommand({ QueueName: uniqueAppName("Abort") }))).QueueUrl!;
    const stop = new AbortController();
    const all = messages(35, "e");
    const result = await sendMessages(direct, url, all, {
      concurrency: 1,
      onProgress: () => stop.abort(),
      signal: stop.signal,
    });
    expect(result.sent).toBe(10);
    const rest: DcpMessage[] = [];
    for await (const m of result.notStarted!) rest.push(m);
    expect(rest).toEqual(all.slice(10));
    expect((await receiveAll(url)).map(site).sort((a, b) => a - b)).toEqual(Array.from({ length: 10 }, (_, i) => i));
  });

  it("after an interruption, writes the refused and the never-sent messages to one job file", async () => {
    const app = uniqueAppName("Interrupted");
    const url = (await direct.send(new CreateQueueCommand({ QueueName: `${app}Queue` }))).QueueUrl!;
    const stop = new AbortController();
    // The first batch is in flight when the user interrupts; its site 3 is refused.
    const { proxy } = await failingProxy((s) => {
      stop.abort();
      return s === 3 ? "sender" : "forward";
    });
    proxies.push(proxy);
    const unsentFile = join(tempDir(), "job.unsent.json");
    const all = messages(25, "f");
    await withEnv({ AWS_ENDPOINT_URL_SQS: proxy.url }, async () => {
      const output = new Output({ plain: true, stream: new PassThrough() as unknown as NodeJS.WriteStream });
      const report = await submitMessages(parseConfig({ APP_NAME: app }, "config.json"), all, {
        output,
        concurrency: 1,
        unsentFile,
        throwOnUnsent: false,
        signal: stop.signal,
      });
      expect(report).toMatchObject({ sent: 9, notSent: 16, interrupted: true, unsentFile, queueDepth: 9 });
    });
    expect((await receiveAll(url)).length).toBe(9);
    const resubmit: string[] = [];
    for await (const m of jobFileMessages(await checkJobFile(unsentFile))) resubmit.push(messageBody(m));
    expect(resubmit).toEqual([all[3]!, ...all.slice(10)].map(messageBody));
  });

  it("reports an entry whose MD5 comes back different as not sent, without resending its batch", async () => {
    // The proxy corrupts the MD5 SQS reports for site 5, as if the body had changed on the way.
    const corruptingProxy = () =>
      startProxy({
        target: emulatorEnv().AWS_ENDPOINT_URL_SQS!,
        intercept: ({ target, body }) => {
          if (target !== "AmazonSQS.SendMessageBatch") return undefined;
          const ids = new Map(
            (JSON.parse(body.toString()) as BatchRequest).Entries.map((e) => [e.Id, site(e.MessageBody)]),
          );
          return {
            response: (answer) => {
              const parsed = JSON.parse(answer.toString()) as {
                Successful: Array<{ Id: string; MD5OfMessageBody: string }>;
              };
              for (const entry of parsed.Successful)
                if (ids.get(entry.Id) === 5) entry.MD5OfMessageBody = "0".repeat(32);
              return Buffer.from(JSON.stringify(parsed));
            },
          };
        },
      });
    const send = async (client: "dcp submit's" | "the SDK's") => {
      const proxy = await corruptingProxy();
      proxies.push(proxy);
      const url = (await direct.send(new CreateQueueCommand({ QueueName: uniqueAppName("Md5") }))).QueueUrl!;
      return withEnv({ AWS_ENDPOINT_URL_SQS: proxy.url }, async () => {
        const ctx = { region: "us-east-1", profile: undefined };
        const sqs = client === "dcp submit's" ? sqsSendClient(ctx) : sqsClient(ctx);
        await sqs.send(new GetQueueUrlCommand({ QueueName: url.split("/").pop()! }));
        const result = await sendMessages(sqs, url, messages(10, "m"), { retryBaseMs: 1, maxAttempts: 2 }).catch(
          (err: Error) => err,
        );
        return { result, queued: (await receiveAll(url)).length };
      });
    };

    // dcp submit's client: the nine good entries count as sent, site 5 as queued-but-suspect, once.
    const checked = await send("dcp submit's");
    expect(checked.result).toMatchObject({
      sent: 9,
      calls: 1,
      retried: 0,
      unsent: [{ seq: 5, code: "MD5Mismatch", senderFault: false }],
    });
    expect((checked.result as { unsent: Array<{ reason: string }> }).unsent[0]!.reason).toMatch(
      /check the queue before sending it again/,
    );
    expect(checked.queued).toBe(10);
    // The SDK's own check fails the whole call after SQS queued it, so a retry would queue every message twice.
    const sdk = await send("the SDK's");
    expect(sdk.result).toBeInstanceOf(Error);
    expect(sdk.queued).toBe(20);
  });

  it("stops with an operational error when the queue does not exist", async () => {
    const missing = queueUrl.replace(/[^/]+$/, uniqueAppName("Gone"));
    await expect(sendMessages(direct, missing, messages(25, "c"), { retryBaseMs: 1 })).rejects.toMatchObject({
      exitCode: 1,
      message: expect.stringMatching(/sending stopped: .*0 messages were sent/),
    });
  });
});
