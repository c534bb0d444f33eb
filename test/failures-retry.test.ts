/**
 * `dcp failures` and `dcp retry` through the built CLI (`make build` first) against the emulators,
 * with a dead-letter queue and ledger records this test writes itself (the worker that writes them
 * has its own tests; test/failures-e2e.test.ts runs the whole run). Faults come from the realism
 * proxy's `fail` option: a DeleteMessageBatch that fails mid-retry (the send went through).
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CreateBucketCommand } from "@aws-sdk/client-s3";
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
} from "@aws-sdk/client-sqs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { putText, s3Client } from "../src/aws/s3.js";
import { sqsClient } from "../src/aws/sqs.js";
import { attemptId, attemptKey, currentPointerKey, type AttemptRecord, type CauseClass } from "../src/plan/ledger.js";
import { PRIOR_RECEIVES_ATTRIBUTE } from "../src/plan/message.js";
import { parseConfig } from "../src/config/load.js";
import { UserInputError } from "../src/errors.js";
import { runRetry } from "../src/flows/retry.js";
import { Output } from "../src/ui/output.js";
import { runDcp, tempDir, uniqueAppName } from "./harness/dcp.js";
import { startRealismProxy, type RealismProxy } from "./harness/realism-proxy.js";

const ctx = { region: "us-east-1", profile: undefined };
const sqs = sqsClient(ctx);
const s3 = s3Client(ctx);
const RUN = "sfr-failures-test";
const GROUPS = 25;
const well = (i: number) => `A${String(i).padStart(2, "0")}`;
/** Groups 0-11 failed with pipeline-error, 12-16 crashed, 17-24 have no record. */
const causeOf = (i: number): CauseClass | undefined => (i < 12 ? "pipeline-error" : i < 17 ? "crash" : undefined);

interface App {
  app: string;
  dir: string;
  bucket: string;
  jobUrl: string;
  dlqUrl: string;
}

function body(i: number): string {
  return JSON.stringify({
    Metadata: `Metadata_Plate=P1,Metadata_Well=${well(i)}`,
    pipeline: "pipelines/p.cppipe",
    output: "out",
    input: "",
    data_file: "csv/load_data.csv",
    output_structure: "Metadata_Plate-Metadata_Well",
  });
}

async function makeApp(): Promise<App> {
  const app = uniqueAppName("Fail");
  const dir = tempDir("dcp-failures-");
  const bucket = `${app.toLowerCase()}-data`;
  mkdirSync(join(dir, "config"));
  mkdirSync(join(dir, "files"));
  writeFileSync(
    join(dir, "config", "config.json"),
    JSON.stringify({
      APP_NAME: app,
      AWS_BUCKET: bucket,
      SQS_DEAD_LETTER_QUEUE: `${app}_Dead`,
      AWS_REGION: "us-east-1",
    }),
  );
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  const jobUrl = (await sqs.send(new CreateQueueCommand({ QueueName: `${app}Queue` }))).QueueUrl!;
  const dlqUrl = (await sqs.send(new CreateQueueCommand({ QueueName: `${app}_Dead` }))).QueueUrl!;
  for (let i = 0; i < GROUPS; i += 10)
    await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: dlqUrl,
        Entries: Array.from({ length: Math.min(10, GROUPS - i) }, (_, j) => ({
          Id: String(j),
          MessageBody: body(i + j),
          // as the worker's own dead-lettering leaves it: the receives spent before
          MessageAttributes: { [PRIOR_RECEIVES_ATTRIBUTE]: { DataType: "Number", StringValue: "3" } },
        })),
      }),
    );
  // The ledger: a current run, and per failed group an attempt record (key and body).
  const at = { s3, bucket, appName: app };
  await putText(s3, bucket, currentPointerKey(app), JSON.stringify({ version: 1, runId: RUN, startedAt: "x" }));
  for (let i = 0; i < GROUPS; i++) {
    const cause = causeOf(i);
    if (!cause) continue;
    const id = attemptId(1_700_000_000_000 + i, "i-1");
    const record: AttemptRecord = {
      version: 1,
      runId: RUN,
      metadataId: `P1-${well(i)}`,
      group: [
        ["Metadata_Plate", "P1"],
        ["Metadata_Well", well(i)],
      ],
      attempt: id,
      attemptNumber: 3,
      workerId: "i-1",
      startedAt: "2026-12-01T00:00:00Z",
      endedAt: "2026-12-01T00:00:01Z",
      outcome: "failed",
      cause: { class: cause, message: `CellProfiler failed for ${well(i)}` },
      lastLines: ["Traceback (most recent call last):", `ValueError: poison ${well(i)}`],
      phasesMs: {},
      outputs: { count: 0, bytes: 0, files: [] },
      logGroup: app,
      logStream: `P1-${well(i)}`,
    };
    await putText(at.s3, bucket, attemptKey(app, RUN, record.metadataId, id, "failed", cause), JSON.stringify(record));
  }
  return { app, dir, bucket, jobUrl, dlqUrl };
}

async function depth(url: string): Promise<number> {
  const { Attributes = {} } = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: url,
      AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    }),
  );
  return Number(Attributes.ApproximateNumberOfMessages) + Number(Attributes.ApproximateNumberOfMessagesNotVisible);
}

/** Every message of a queue (received and hidden for a minute: call it last). */
async function drain(url: string) {
  const out: Array<{ body: string; attributes: string[] }> = [];
  while (true) {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: url,
        MaxNumberOfMessages: 10,
        VisibilityTimeout: 60,
        WaitTimeSeconds: 1,
        MessageAttributeNames: ["All"],
      }),
    );
    if (!Messages.length) return out;
    for (const m of Messages) out.push({ body: m.Body!, attributes: Object.keys(m.MessageAttributes ?? {}) });
  }
}

const wellsOf = (bodies: Array<{ body: string }>) =>
  bodies.map((b) => (JSON.parse(b.body) as { Metadata: string }).Metadata.split("=").at(-1)!).sort();

let proxy: RealismProxy;
beforeAll(async () => {
  proxy = await startRealismProxy({ seed: 13 });
});
afterAll(async () => {
  await proxy?.stop();
});

describe("dcp failures and dcp retry --from-dlq", () => {
  it("lists every dead-lettered group by cause, leaves the DLQ as it was, and moves exactly the chosen ones even when a delete fails", async () => {
    const a = await makeApp();
    const steps: string[] = []; // durations, printed for the record (never asserted)
    const dcp = async (args: string[], env: Record<string, string> = {}) => {
      const started = Date.now();
      const result = await runDcp(args, { cwd: a.dir, env });
      steps.push(`${args.slice(0, 2).join(" ")} ${((Date.now() - started) / 1000).toFixed(1)} s`);
      return result;
    };

    const failures = await dcp(["failures", "--json", "--csv", "failed.csv"]);
    expect(failures.code, failures.stderr).toBe(0);
    const listed = JSON.parse(failures.stdout) as {
      runId: string;
      byCause: Record<string, number>;
      groups: Array<{ metadataId: string; cause: string; lastLines: string[]; logStream: string; well: string }>;
    };
    expect(listed.runId).toBe(RUN);
    expect(listed.byCause).toEqual({ "pipeline-error": 12, crash: 5, "no-record": 8 });
    expect(listed.groups).toHaveLength(GROUPS);
    const a03 = listed.groups.find((g) => g.metadataId === "P1-A03")!;
    expect(a03).toMatchObject({ cause: "pipeline-error", well: "A03", logStream: "P1-A03" });
    expect(a03.lastLines.at(-1)).toBe("ValueError: poison A03");
    expect(readFileSync(join(a.dir, "failed.csv"), "utf8").trim().split("\n")).toHaveLength(GROUPS + 1);
    expect(failures.stderr).toMatch(/no record \(ledger off, or the worker died before writing\)/);
    // Read whole, consumed never: every message is visible again at once.
    expect(await depth(a.dlqUrl)).toBe(GROUPS);

    const dry = await dcp(["retry", "--from-dlq", "--cause", "pipeline-error", "--dry-run", "--json"]);
    expect(dry.code, dry.stderr).toBe(0);
    expect(JSON.parse(dry.stdout)).toMatchObject({ selected: 12, moved: 0, byCause: { "pipeline-error": 12 } });
    expect([await depth(a.jobUrl), await depth(a.dlqUrl)]).toEqual([0, GROUPS]);

    // The first DeleteMessageBatch fails: that batch is in both queues for now, recorded in the journal.
    proxy.configure({ fail: [{ action: "DeleteMessageBatch", error: "AccessDenied", times: 1 }] });
    const cut = await dcp(["retry", "--from-dlq", "--cause", "pipeline-error", "--yes", "--json"], proxy.env);
    expect(cut.code, cut.stderr).toBe(1);
    expect(JSON.parse(cut.stdout)).toMatchObject({ moved: 0, sentNotDeleted: 10 });
    expect(cut.stderr).toMatch(/running dcp retry --from-dlq again deletes them without sending them again/);
    expect([await depth(a.jobUrl), await depth(a.dlqUrl)]).toEqual([10, GROUPS]);

    // Run again: the 10 are only deleted, the other 2 sent and deleted; nothing is sent twice.
    proxy.configure({ fail: [] });
    const again = await dcp(["retry", "--from-dlq", "--cause", "pipeline-error", "--yes", "--json"], proxy.env);
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ moved: 12, finishedFromJournal: 10, sentNotDeleted: 0 });
    // Every message is in exactly one of the two queues; retried ones start their attempt count afresh.
    const inJob = await drain(a.jobUrl);
    const inDlq = await drain(a.dlqUrl);
    expect(wellsOf(inJob)).toEqual(Array.from({ length: 12 }, (_, i) => well(i)));
    expect(wellsOf(inDlq)).toEqual(Array.from({ length: 13 }, (_, i) => well(12 + i)));
    for (const m of inJob) expect(m.attributes).not.toContain(PRIOR_RECEIVES_ATTRIBUTE);
    console.info(`[failures-retry] ${steps.join(", ")}`);
  });

  it("refuses contradictory or unknown flags with one line (exit 2) before any AWS call", async () => {
    const config = parseConfig({ APP_NAME: "FlagApp", AWS_BUCKET: "flag-bucket" }, "config.json");
    const output = new Output({ plain: true, stream: process.stderr });
    await expect(runRetry(config, {}, output)).rejects.toThrow(
      /--from-dlq \/ --missing: no source of groups given\. Fix: pass --from-dlq/,
    );
    await expect(runRetry(config, { fromDlq: true, missing: "job.json" }, output)).rejects.toThrow(UserInputError);
    await expect(runRetry(config, { fromDlq: true, cause: ["segfault"] }, output)).rejects.toThrow(
      /--cause: "segfault" is not a cause class\. Fix: use one of missing-input, /,
    );
    await expect(runRetry(config, { missing: "job.json", cause: ["crash"] }, output)).rejects.toThrow(
      /--cause: selects dead-letter messages by why they failed/,
    );
  });
});
