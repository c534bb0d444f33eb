/**
 * The decisions of dcp failures and dcp retry without emulators: the ledger/DLQ join, selection, CSV,
 * CHECK_IF_DONE, the send-then-delete moves (interrupted), and the flag checks.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { SQSClient } from "@aws-sdk/client-sqs";
import { describe, expect, it } from "vitest";
import { parseConfig } from "../src/config/load.js";
import { UserInputError } from "../src/errors.js";
import { runRetry } from "../src/flows/retry.js";
import { Output } from "../src/ui/output.js";
import { tempDir } from "./harness/dcp.js";
import { checkGroupsDone, checkIfDone } from "../src/plan/check-if-done.js";
import {
  NO_RECORD,
  byPlate,
  countByCause,
  failedGroups,
  failuresCsv,
  groupMatcher,
  selectGroups,
  type DlqEntry,
} from "../src/plan/failures.js";
import {
  attemptId,
  attemptKey,
  parseAttemptKey,
  runLedgerKeys,
  type CauseClass,
  type Outcome,
} from "../src/plan/ledger.js";
import { PRIOR_RECEIVES_ATTRIBUTE } from "../src/plan/message.js";
import { journalPath, moveToJobQueue, retriedAttributes } from "../src/run/dlq-retry.js";
import { holdSecondsFor, type HeldMessage } from "../src/run/queue-reading.js";

const prefix = runLedgerKeys("App", "sfr-1").attemptsPrefix;
let clock = 1_700_000_000_000;
function attempt(group: string, outcome: Outcome, cause?: CauseClass) {
  clock += 1000;
  return parseAttemptKey(attemptKey("App", "sfr-1", group, attemptId(clock, "w1"), outcome, cause), prefix)!;
}
const pairs = (plate: string, well: string): Array<[string, string]> => [
  ["Metadata_Plate", plate],
  ["Metadata_Well", well],
];
const dlq = (id: string, group: string | undefined, metadata: Array<[string, string]> = []): DlqEntry => ({
  messageId: id,
  metadataId: group,
  metadata,
  receiveCount: 1,
});

describe("failedGroups", () => {
  it("a group fails when its latest attempt failed and none is done since; the cause is its latest failure's", () => {
    const attempts = [
      attempt("P1-A01", "failed", "crash"),
      attempt("P1-A01", "done"), // failed, then done: not listed
      attempt("P1-A02", "failed", "crash"),
      attempt("P1-A02", "failed", "pipeline-error"), // latest failure wins
      attempt("P1-A03", "done"),
      attempt("P1-A04", "failed", "out-of-memory"),
      attempt("P1-A04", "dead-lettered", "other"), // the worker moved it: cause from the failure before
      attempt("P1-A05", "failed", "timeout"),
      attempt("P1-A05", "handed-back", "spot-interruption"), // back in the queue: not failing
    ];
    const groups = failedGroups(attempts, []);
    expect(groups.map((g) => [g.metadataId, g.cause, g.attempts])).toEqual([
      ["P1-A02", "pipeline-error", 2],
      ["P1-A04", "out-of-memory", 2],
    ]);
  });

  it("joins the dead-letter queue: known causes, 'no record' without a failed attempt, undecodable bodies by message id", () => {
    const attempts = [attempt("P1-B01", "failed", "pipeline-error"), attempt("P2-C03", "done")];
    const groups = failedGroups(attempts, [
      dlq("m1", "P1-B01", pairs("P1", "B01")),
      dlq("m2", "P1-B02", pairs("P1", "B02")), // worker died before writing
      dlq("m3", undefined),
      dlq("m4", "P2-C03", pairs("P2", "C03")), // in the DLQ but done since
    ]);
    const by = Object.fromEntries(groups.map((g) => [g.metadataId, g]));
    expect(by["P1-B01"]).toMatchObject({
      cause: "pipeline-error",
      dlqMessageIds: ["m1"],
      metadata: pairs("P1", "B01"),
    });
    expect(by["P1-B02"]).toMatchObject({ cause: NO_RECORD, attempts: 0 });
    expect(by["message m3"]).toMatchObject({ cause: NO_RECORD });
    expect(by["P2-C03"]).toMatchObject({ doneSince: true, cause: NO_RECORD });
    // sorted by cause (CAUSE_CLASSES order, no-record last), then plate and well
    expect(groups[0]!.metadataId).toBe("P1-B01");
    expect(countByCause(groups)).toEqual([
      ["pipeline-error", 1],
      [NO_RECORD, 3],
    ]);
    expect(byPlate(groups)).toEqual([
      ["", ["message m3"]],
      ["P1", ["B01", "B02"]],
      ["P2", ["C03"]],
    ]);
  });

  it("selects by cause and by a glob on the folder or the Metadata string", () => {
    const groups = failedGroups(
      [attempt("P1-A01", "failed", "crash"), attempt("P1-A02", "failed", "pipeline-error")],
      [
        dlq("m1", "P1-A01", pairs("P1", "A01")),
        dlq("m2", "P1-A02", pairs("P1", "A02")),
        dlq("m3", "P2-A01", pairs("P2", "A01")),
      ],
    );
    expect(selectGroups(groups, { causes: ["crash"] }).map((g) => g.metadataId)).toEqual(["P1-A01"]);
    expect(
      selectGroups(groups, { group: "P1-*" })
        .map((g) => g.metadataId)
        .sort(),
    ).toEqual(["P1-A01", "P1-A02"]);
    expect(
      selectGroups(groups, { group: "*Metadata_Well=A01" })
        .map((g) => g.metadataId)
        .sort(),
    ).toEqual(["P1-A01", "P2-A01"]);
    expect(selectGroups(groups, { causes: [NO_RECORD], group: "P?-A01" }).map((g) => g.metadataId)).toEqual(["P2-A01"]);
    // regex characters in a pattern are literal
    expect(groupMatcher("P1.A01")("P1-A01", [])).toBe(false);
  });

  it("writes one CSV row per group, quoting what needs it", () => {
    const groups = failedGroups([attempt("Plate 1-A01", "failed", "crash")], []);
    groups[0]!.metadata = pairs("Plate 1", "A01");
    const csv = failuresCsv(
      groups,
      new Map([
        ["Plate 1-A01", { lastLines: ["x", 'ValueError: "bad", really'], message: "exit 1", logStream: "Plate 1-A01" }],
      ]),
    );
    expect(csv.split("\n")[1]).toBe(
      'Plate 1-A01,"Metadata_Plate=Plate 1,Metadata_Well=A01",Plate 1,A01,crash,false,1,exit 1,"ValueError: ""bad"", really",,Plate 1-A01',
    );
  });
});

describe("CHECK_IF_DONE", () => {
  const rule = { expectedFiles: 3, minFileSizeBytes: 10, necessaryString: ".csv" };
  it("counts files big enough that contain the string; at least one is always needed", () => {
    expect(
      checkIfDone(
        [
          { key: "o/g/a.csv", size: 10 },
          { key: "o/g/b.csv", size: 9 },
          { key: "o/g/c.txt", size: 100 },
          { key: "o/g/d.csv", size: 11 },
        ],
        rule,
      ),
    ).toEqual({ counted: 2, needed: 3, done: false });
    expect(checkIfDone([], { ...rule, expectedFiles: 0 })).toEqual({ counted: 0, needed: 1, done: false });
  });

  it("judges many groups from one listing, an object counting for each group prefix it is under", () => {
    const objects = ["a.csv", "b.csv", "c.csv"].flatMap((f) => [
      { key: `out/P1-A01/${f}`, size: 20 },
      { key: `out/P1-A02/${f}`, size: f === "c.csv" ? 1 : 20 },
      { key: `out/P1-A010/${f}`, size: 20 },
    ]);
    const verdicts = checkGroupsDone(["out/P1-A01/", "out/P1-A02/", "out/P1-A03/"], objects, rule);
    expect([...verdicts].map(([p, v]) => [p, v.counted, v.done])).toEqual([
      ["out/P1-A01/", 3, true],
      ["out/P1-A02/", 2, false],
      ["out/P1-A03/", 0, false],
    ]);
  });
});

describe("retry helpers", () => {
  it("a retried message drops the prior-receives attribute and keeps the others", () => {
    expect(retriedAttributes({ [PRIOR_RECEIVES_ATTRIBUTE]: { DataType: "Number", StringValue: "3" } })).toBeUndefined();
    expect(
      retriedAttributes({
        [PRIOR_RECEIVES_ATTRIBUTE]: { DataType: "Number", StringValue: "3" },
        lab: { DataType: "String", StringValue: "x", StringListValues: [] },
      }),
    ).toEqual({ lab: { DataType: "String", StringValue: "x" } });
  });

  it("holds messages long enough to read the queue, within SQS's 12 hours", () => {
    expect(holdSecondsFor(0)).toBe(120);
    expect(holdSecondsFor(10_000)).toBe(1120);
    expect(holdSecondsFor(10_000_000)).toBe(43_200);
  });

  it("keeps its journal next to the state file", () => {
    expect(journalPath("files/MyAppSpotFleetRequestId.json")).toBe("files/MyAppRetryJournal.json");
  });
});

/**
 * moveToJobQueue against an in-memory pair of queues (an SQS client stand-in answering the three calls
 * it makes), to interrupt it between and inside batches: a failed DeleteMessageBatch, a Ctrl-C.
 */
describe("moving dead-letter messages to the job queue", () => {
  interface Queues {
    job: string[];
    dlq: Map<string, string>;
    failDeletes: number;
  }
  function fakeSqs(q: Queues) {
    return {
      async send(command: { constructor: { name: string }; input: any }) {
        const name = command.constructor.name;
        if (name === "SendMessageBatchCommand") {
          for (const e of command.input.Entries) {
            expect(e.MessageAttributes?.[PRIOR_RECEIVES_ATTRIBUTE]).toBeUndefined();
            q.job.push(e.MessageBody);
          }
          return { Successful: command.input.Entries.map((e: any) => ({ Id: e.Id })) };
        }
        if (name === "DeleteMessageBatchCommand") {
          if (q.failDeletes-- > 0) throw Object.assign(new Error("Access denied"), { name: "AccessDenied" });
          for (const e of command.input.Entries) q.dlq.delete(e.ReceiptHandle);
          return { Successful: command.input.Entries.map((e: any) => ({ Id: e.Id })) };
        }
        throw new Error(`unexpected ${name}`);
      },
    } as unknown as SQSClient;
  }
  const held = (q: Queues): HeldMessage[] =>
    [...q.dlq].map(([id, body]) => ({
      messageId: id,
      receiptHandle: id,
      body,
      receiveCount: 1,
      message: { MessageAttributes: { [PRIOR_RECEIVES_ATTRIBUTE]: { DataType: "Number", StringValue: "2" } } },
    }));
  const setup = () => {
    const q: Queues = { job: [], dlq: new Map(), failDeletes: 0 };
    for (let i = 0; i < 25; i++) q.dlq.set(`m${i}`, `body ${i}`);
    const journalFile = join(tempDir("dcp-journal-"), "AppRetryJournal.json");
    const run = (signal?: AbortSignal, onBatch?: (n: number) => void) => {
      const messages = held(q);
      return moveToJobQueue(messages, new Set(), {
        sqs: fakeSqs(q),
        deadLetterUrl: "dlq",
        jobUrl: "job",
        journalFile,
        present: new Set(messages.map((m) => m.messageId)),
        signal,
        onBatch,
      });
    };
    // Every message in exactly one of the two queues, once.
    const exactlyOnce = () => {
      const all = [...q.job, ...q.dlq.values()].sort();
      expect(all).toEqual(Array.from({ length: 25 }, (_, i) => `body ${i}`).sort());
    };
    return { q, run, exactlyOnce, journalFile };
  };

  it("a failed delete leaves that batch in the journal; the next run deletes it without sending it again", async () => {
    const { q, run, exactlyOnce, journalFile } = setup();
    q.failDeletes = 1;
    const cut = await run();
    expect(cut).toMatchObject({ moved: 0, sentNotDeleted: 10, failure: "Access denied" });
    expect(q.job).toHaveLength(10);
    expect(existsSync(journalFile)).toBe(true);
    const again = await run();
    expect(again).toMatchObject({ moved: 25, finishedFromJournal: 10, sentNotDeleted: 0, refused: [] });
    exactlyOnce();
    expect(q.dlq.size).toBe(0);
    expect(existsSync(journalFile)).toBe(false);
  });

  it("Ctrl-C between batches stops after the batch in flight; running again moves the rest once", async () => {
    const { run, exactlyOnce } = setup();
    const stop = new AbortController();
    const first = await run(stop.signal, (moved) => moved >= 10 && stop.abort());
    expect(first).toMatchObject({ moved: 10, interrupted: true, sentNotDeleted: 0 });
    exactlyOnce();
    expect(await run()).toMatchObject({ moved: 15, finishedFromJournal: 0 });
    exactlyOnce();
  });
});

describe("dcp retry's flags", () => {
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
