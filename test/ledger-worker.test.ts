/**
 * The worker's run ledger: the cause classification (one pure function), the bounded output tail,
 * the records it builds, and one worker run against the emulators that leaves a record per attempt
 * (done, a poisoned group, a missing data file) and no open key.
 */
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  attemptKey,
  attemptRecordSchema,
  currentPointerKey,
  openKey,
  openRecordSchema,
  parseAttemptKey,
  runLedgerKeys,
  STDERR_TAIL_BYTES,
  STDERR_TAIL_LINES,
} from "../src/plan/ledger.js";
import { LineTail, attemptRecord, classifyAttempt, openRecord } from "../src/worker/attempt.js";
import { WorkerLedger, resolvePlacement, workerId } from "../src/worker/ledger.js";
import { listAttempts, listOpenAttempts } from "../src/run/ledger.js";
import {
  EXAMPLE,
  PLATE,
  exampleMessage,
  getText,
  receiveAll,
  runWorkerToEnd,
  s3,
  scenario,
  send,
} from "./worker-helpers.js";

const at = (lines: string[] = []) => ({ lastLines: lines });

describe("classifyAttempt: what happened -> outcome and cause class", () => {
  it("done and skipped carry no cause; a stop is a hand-back for a spot interruption", () => {
    expect(classifyAttempt("done", {})).toEqual({ outcome: "done" });
    expect(classifyAttempt("skipped", {})).toEqual({ outcome: "skipped-done" });
    expect(classifyAttempt("handed-back", { exit: { code: null, signal: "SIGTERM" } }, "stopping")).toEqual({
      outcome: "handed-back",
      cause: { class: "spot-interruption", message: "stopping" },
    });
    expect(classifyAttempt("malformed", {}).cause?.class).toBe("bad-message");
    expect(classifyAttempt("dead-lettered", {}).outcome).toBe("dead-lettered");
  });

  it.each([
    ["missing object on download", { missingObject: true }, "missing-input"],
    ["SlowDown / 503", { throttled: true }, "s3-throttling"],
    ["timeout", { timedOut: true }, "timeout"],
    ["done file Failure", { exit: { code: 255, signal: null }, doneFile: "Failure" }, "pipeline-error"],
    ["exit 137", { exit: { code: 137, signal: null } }, "out-of-memory"],
    ["SIGKILL", { exit: { code: null, signal: "SIGKILL" } }, "out-of-memory"],
    ["another signal", { exit: { code: null, signal: "SIGSEGV" } }, "crash"],
    ["non-zero, no done file", { exit: { code: 1, signal: null }, ...at(["ValueError: boom"]) }, "crash"],
    [
      "CellProfiler's -g key check",
      {
        exit: { code: 1, signal: null },
        ...at([
          "ValueError: The grouping keys specified on the command line (Metadata_X) must be the same as those defined by the modules in the pipeline (Metadata_Plate)",
        ]),
      },
      "grouping-mismatch",
    ],
    [
      "no image set matches -g (the test double)",
      { exit: { code: 1, signal: null }, ...at(["ValueError: no image set matches the group Metadata_Site=9"]) },
      "grouping-mismatch",
    ],
    ["the worker's own -g check (download mode)", { groupingMismatch: true }, "grouping-mismatch"],
    ["nothing known", {}, "other"],
    ["exit 0 and no done file", { exit: { code: 0, signal: null } }, "other"],
  ] as const)("%s -> %s", (_, facts, cause) => {
    expect(classifyAttempt("failed", facts, "why")).toEqual({
      outcome: "failed",
      cause: { class: cause, message: "why" },
    });
  });
});

describe("LineTail: CellProfiler's last lines, bounded", () => {
  it("keeps the last STDERR_TAIL_LINES lines and at most STDERR_TAIL_BYTES bytes", () => {
    const tail = new LineTail();
    for (let i = 0; i < 100; i++) tail.push(`line ${i}`);
    expect(tail.get()).toHaveLength(STDERR_TAIL_LINES);
    expect(tail.get().at(-1)).toBe("line 99");
    const big = new LineTail();
    for (let i = 0; i < 5; i++) big.push("x".repeat(3000));
    expect(big.get().join("").length).toBeLessThanOrEqual(STDERR_TAIL_BYTES);
    expect(big.get()).toHaveLength(1);
  });
});

describe("records and keys", () => {
  const id = {
    runId: "sfr-1",
    metadataId: "P1/A01-1",
    group: [["Metadata_Plate", "P1"]] as Array<[string, string]>,
    attempt: "0001700000000000-host-1-1",
    attemptNumber: 2,
    workerId: workerId(1, "host", 1),
    placement: { instanceId: "i-0abc", instanceType: "m5.large", spot: true },
    startedAtMs: 1_700_000_000_000,
  };

  it("builds records that pass the shared schemas, and keys that parse back to group, outcome and cause", () => {
    const tail = new LineTail();
    tail.push("Error: boom");
    const ending = classifyAttempt("failed", { exit: { code: 255, signal: null }, doneFile: "Failure" }, "bad");
    const record = attemptRecord(
      id,
      ending,
      { tail, exit: { code: 255, signal: null } },
      { CellProfiler: 12.4 },
      id.startedAtMs + 5000,
    );
    expect(attemptRecordSchema.parse(record)).toMatchObject({
      outcome: "failed",
      cause: { class: "pipeline-error" },
      exitCode: 255,
      lastLines: ["Error: boom"],
      phasesMs: { CellProfiler: 12 },
      outputs: { count: 0, bytes: 0, files: [] },
    });
    expect(openRecordSchema.parse(openRecord(id)).placement?.instanceId).toBe("i-0abc");
    const key = attemptKey("App", "sfr-1", id.metadataId, id.attempt, ending.outcome, ending.cause?.class);
    expect(parseAttemptKey(key, runLedgerKeys("App", "sfr-1").attemptsPrefix)).toMatchObject({
      metadataId: "P1/A01-1",
      outcome: "failed",
      cause: "pipeline-error",
    });
    expect(openKey("App", "sfr-1", "i-0abc", id.attempt)).toBe(`dcp-runs/App/sfr-1/open/i-0abc/${id.attempt}.json`);
  });

  it("placement: DCP_INSTANCE_ID wins; no metadata service gives none (the worker id stands in)", async () => {
    expect(await resolvePlacement("http://127.0.0.1:9", { DCP_INSTANCE_ID: "i-0123" })).toEqual({
      instanceId: "i-0123",
    });
    expect(await resolvePlacement("http://127.0.0.1:9", {})).toBeUndefined();
    expect(await resolvePlacement(undefined, {})).toBeUndefined();
  });
});

describe("dcp worker writes the run ledger", () => {
  it("one record per attempt (done, pipeline-error, missing-input, timeout), no open key left, with the instance id", async () => {
    // Site 4 (a copy of site 1's row) hangs (the TEST DOUBLE's poison file) past TASK_TIMEOUT_MINUTES (3 s).
    const s = await scenario({ retries: 1, env: { TASK_TIMEOUT_MINUTES: "0.05", WORKER_IDLE_POLLS: "1" } });
    const csv = readFileSync(join(EXAMPLE, "load_data.csv"), "utf8").trim().split("\n");
    const site4 = `${csv[0]}\n${csv[1]!.replace(/,1$/, ",4")}\n`;
    await s3.send(new PutObjectCommand({ Bucket: s.bucket, Key: "workspace/site4.csv", Body: site4 }));
    const poison = join(s.dir, "poison.txt");
    writeFileSync(poison, "Metadata_Site=4 hang\n");
    const location = { s3, bucket: s.bucket, appName: s.app };
    await s3.send(
      new PutObjectCommand({
        Bucket: s.bucket,
        Key: currentPointerKey(s.app),
        Body: JSON.stringify({ version: 1, runId: "sfr-test", startedAt: new Date().toISOString() }),
      }),
    );
    await send(s, exampleMessage("1"));
    await send(s, exampleMessage("2"));
    await send(s, exampleMessage("3", { data_file: "workspace/absent.csv" }));
    await send(s, exampleMessage("4", { data_file: "workspace/site4.csv" }));
    const run = await runWorkerToEnd(s, {
      FAKE_CP_POISON: "Metadata_Site=2",
      FAKE_CP_POISON_FILE: poison,
      DCP_INSTANCE_ID: "i-0feed",
    });
    expect(run.code, run.output).toBe(0);
    const attempts = await listAttempts(location, "sfr-test");
    const summary = attempts.map((a) => `${a.metadataId} ${a.outcome} ${a.cause ?? ""}`.trim()).sort();
    expect(summary).toEqual([
      `${PLATE}-D03-1 done`,
      `${PLATE}-D03-2 failed pipeline-error`,
      `${PLATE}-D03-3 failed missing-input`,
      `${PLATE}-D03-4 failed timeout`,
    ]);
    // The timed-out message was released and, after its one receive (JOB_RETRIES 1), dead-lettered.
    expect(run.output).toMatch(/TASK_TIMEOUT_MINUTES \(0\.05 min\) reached: stopping CellProfiler/);
    expect(run.output).toMatch(/ran longer than TASK_TIMEOUT_MINUTES .* stopped: it was killed by SIGTERM/);
    const dead = (await receiveAll(s.deadLetterUrl)).map((m) => JSON.parse(m.Body!).Metadata as string);
    expect(dead.filter((m) => m.endsWith("Metadata_Site=4"))).toHaveLength(1);
    expect(await listOpenAttempts(location, "sfr-test")).toEqual([]);
    const failed = attempts.find((a) => a.cause === "pipeline-error")!;
    const key = attemptKey(s.app, "sfr-test", failed.metadataId, failed.attempt, "failed", "pipeline-error");
    const record = attemptRecordSchema.parse(JSON.parse(await getText(s.bucket, key)));
    expect(record.placement?.instanceId).toBe("i-0feed");
    expect(record.exitCode).toBe(255);
    expect(record.lastLines.join("\n")).toMatch(/Error/);
    const done = attempts.find((a) => a.outcome === "done")!;
    const doneRecord = attemptRecordSchema.parse(
      JSON.parse(await getText(s.bucket, attemptKey(s.app, "sfr-test", done.metadataId, done.attempt, "done"))),
    );
    expect(doneRecord.outputs.count).toBeGreaterThanOrEqual(3);
    expect(doneRecord.outputs.bytes).toBeGreaterThan(0);
  });
});

/** A worker's ledger on a run whose pointer is written; `begin(n)` starts attempt n of group gn. */
async function ledgerOnRun(runId: string, instanceId: string, openDelayMs: number, client: typeof s3 = s3) {
  const s = await scenario({ retries: 1 });
  const location = { s3: client, bucket: s.bucket, appName: s.app };
  const pointer = JSON.stringify({ version: 1, runId, startedAt: new Date().toISOString() });
  await s3.send(new PutObjectCommand({ Bucket: s.bucket, Key: currentPointerKey(s.app), Body: pointer }));
  const ledger = new WorkerLedger(location, Promise.resolve({ instanceId }), () => {}, openDelayMs);
  await ledger.start();
  const begin = (n: number) =>
    ledger.begin({ metadataId: `g${n}`, group: [], attempt: `${n}`, attemptNumber: 1, workerId: "w", startedAtMs: n });
  return { ledger, begin, location };
}

describe("the open record is written only for a task still running after the delay", () => {
  it("a short attempt costs one PUT (its record); a longer one also PUTs and then DELETEs its open key", async () => {
    const { ledger, begin, location } = await ledgerOnRun("sfr-open", "i-0open", 200);
    const ending = { outcome: "done" } as const;
    begin(1).end(ending, { tail: new LineTail() }, {});
    await ledger.flush();
    expect(ledger.requests).toBe(2); // the pointer, the record
    const long = begin(2);
    // Polled, not timed: the key appears once the delay has passed (never asserted as a duration).
    while (!(await listOpenAttempts(location, "sfr-open")).length) await new Promise((r) => setTimeout(r, 50));
    expect((await listOpenAttempts(location, "sfr-open")).map((o) => o.instanceId)).toEqual(["i-0open"]);
    long.end(ending, { tail: new LineTail() }, {});
    await ledger.flush();
    expect(ledger.requests).toBe(5);
    expect(await listOpenAttempts(location, "sfr-open")).toEqual([]);
    expect((await listAttempts(location, "sfr-open")).map((a) => a.metadataId).sort()).toEqual(["g1", "g2"]);
  });
});

describe("the open record goes ahead of the ledger writes already waiting", () => {
  it("with 4 writes in flight and 2 waiting, a task's open record is the next one sent", async () => {
    // S3 as the worker sees it, each PUT held 100 ms, in the order their slots were granted
    const sent: string[] = [];
    const slow = {
      send: async (command: { input: { Key?: string } }, options?: unknown) => {
        if (command instanceof PutObjectCommand) {
          sent.push(command.input.Key!.split("/").slice(3, 4)[0]!);
          await new Promise((r) => setTimeout(r, 100));
        }
        return s3.send(command as PutObjectCommand, options as never);
      },
    } as unknown as typeof s3;
    const { ledger, begin } = await ledgerOnRun("sfr-first", "i-0first", 0, slow);
    for (let n = 1; n <= 6; n++) begin(n).end({ outcome: "done" }, { tail: new LineTail() }, {});
    const running = begin(7);
    while (sent.length < 7) await new Promise((r) => setTimeout(r, 20));
    // 4 records in flight, then the open record, then the 2 records that were waiting
    expect(sent.slice(0, 7)).toEqual(["attempts", "attempts", "attempts", "attempts", "open", "attempts", "attempts"]);
    running.end({ outcome: "done" }, { tail: new LineTail() }, {});
    await ledger.flush();
  });
});

describe("IAM: the worker's ledger permissions", () => {
  it("reads, writes and deletes only under dcp-runs/<APP_NAME>/ of AWS_BUCKET", async () => {
    const { policyFor, iamScope } = await import("../src/plan/iam-policy.js");
    const { parseConfig } = await import("../src/config/load.js");
    const config = parseConfig({ APP_NAME: "Lab", AWS_BUCKET: "lab-logs", SOURCE_BUCKET: "lab-images" }, "test");
    const ledger = policyFor("worker", iamScope(config, "123456789012")).Statement.find((s) =>
      s.Action.includes("s3:DeleteObject"),
    )!;
    expect([...ledger.Action].sort()).toEqual(["s3:DeleteObject", "s3:GetObject", "s3:PutObject"]);
    expect(ledger.Resource).toEqual(["arn:aws:s3:::lab-logs/dcp-runs/Lab/*"]);
  });
});
