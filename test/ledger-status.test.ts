/** The run ledger's pure parts for the commands: run.json's config, counts from keys, the phase and status lines. */
import { describe, expect, it } from "vitest";
import {
  attemptId,
  configForLedger,
  ledgerCounts,
  submissionKey,
  submissionKeyTime,
  submissionsPrefix,
  type AttemptKeyParts,
} from "../src/plan/ledger.js";
import { openAttemptsRunning, runPhase, statusLines } from "../src/plan/run-status.js";

const attempt = (
  metadataId: string,
  at: number,
  outcome: AttemptKeyParts["outcome"],
  cause?: AttemptKeyParts["cause"],
) => ({
  metadataId,
  attempt: attemptId(at, "w"),
  startedAt: at,
  outcome,
  ...(cause ? { cause } : {}),
});

describe("configForLedger", () => {
  it("drops keys that look like secrets and values shaped like access keys; keeps the rest", () => {
    const clean = configForLedger({
      APP_NAME: "Lab",
      AWS_PROFILE: "lab",
      DB_PASSWORD: "hunter2",
      AWS_SECRET_ACCESS_KEY: "x",
      SESSION_TOKEN: "y",
      // Shaped like an access key id, built at run time so no key-shaped literal is committed.
      NOTE: ["AKIA", "X".repeat(16)].join(""),
      MACHINE_TYPE: ["m5.large"],
      NESTED: { api_token: "z", kept: 1 },
    });
    expect(clean).toEqual({ APP_NAME: "Lab", AWS_PROFILE: "lab", MACHINE_TYPE: ["m5.large"], NESTED: { kept: 1 } });
  });
});

describe("ledgerCounts", () => {
  it("counts groups from attempt keys: a later done wins, failures by the latest cause, running from open keys", () => {
    const counts = ledgerCounts(
      [
        attempt("a", 1, "failed", "crash"),
        attempt("a", 2, "done"),
        attempt("b", 1, "failed", "pipeline-error"),
        attempt("c", 1, "failed", "s3-throttling"),
        attempt("c", 2, "failed", "missing-input"),
        attempt("d", 1, "skipped-done"),
        attempt("e", 1, "handed-back", "spot-interruption"),
        attempt("f", 1, "dead-lettered", "other"),
      ],
      3,
    );
    expect(counts).toEqual({
      groups: 6,
      done: 2,
      skipped: 1,
      failed: 3,
      failedByCause: { "pipeline-error": 1, "missing-input": 1, other: 1 },
      handedBack: 1,
      deadLettered: 1,
      attempts: 8,
      running: 3,
    });
  });

  it("submission keys sort by time and give it back", () => {
    const key = submissionKey("Lab", 1_700_000_000_000, "ab".repeat(32));
    expect(submissionKeyTime(key, submissionsPrefix("Lab"))).toBe(1_700_000_000_000);
    expect(submissionKeyTime("dcp-runs/Lab/other.json", submissionsPrefix("Lab"))).toBeUndefined();
  });
});

describe("runPhase", () => {
  const now = 1_700_000_000_000;
  const beat = (ageMs: number, phase: "running" | "tearing-down" | "finished" = "running", pollSeconds = 60) => ({
    at: new Date(now - ageMs).toISOString(),
    phase,
    pollSeconds,
  });
  const base = { summaryWritten: false, startedAt: now - 3_600_000, now, minimumTimeoutMs: 600_000, alive: true };

  it("running while the heartbeat is fresh; UNATTENDED (and billing while alive) past max(3 polls, the minimum)", () => {
    expect(runPhase({ ...base, heartbeat: beat(60_000) }).phase).toBe("running");
    expect(runPhase({ ...base, heartbeat: beat(11 * 60_000) })).toMatchObject({ phase: "unattended", billing: true });
    // three polls of 5 minutes is longer than ten minutes
    expect(runPhase({ ...base, heartbeat: beat(11 * 60_000, "running", 300) }).phase).toBe("running");
    expect(runPhase({ ...base, heartbeat: beat(2_000), minimumTimeoutMs: 1_000, alive: false })).toMatchObject({
      phase: "running",
    });
    expect(
      runPhase({ ...base, heartbeat: beat(4_000, "running", 1), minimumTimeoutMs: 1_000, alive: false }),
    ).toMatchObject({
      phase: "unattended",
      billing: false,
    });
  });

  it("no heartbeat: the run's start is the reference; finished and tearing down come from the heartbeat or summary", () => {
    expect(runPhase({ ...base, heartbeat: undefined, startedAt: now - 60_000 }).phase).toBe("running");
    expect(runPhase({ ...base, heartbeat: undefined }).phase).toBe("unattended");
    expect(runPhase({ ...base, heartbeat: beat(5_000, "tearing-down") }).phase).toBe("tearing-down");
    expect(runPhase({ ...base, heartbeat: beat(3_600_000, "finished"), alive: false }).phase).toBe("finished");
    expect(runPhase({ ...base, heartbeat: beat(3_600_000), summaryWritten: true }).phase).toBe("finished");
  });

  it("status lines say UNATTENDED and billing, failures by cause, and fit 79 columns", () => {
    const verdict = runPhase({ ...base, heartbeat: beat(14 * 60_000) });
    const lines = statusLines({
      verdict,
      heartbeat: { host: "lab-laptop", pid: 4242 },
      counts: ledgerCounts([attempt("a", 1, "done"), attempt("b", 1, "failed", "out-of-memory")], 2),
      ratePerHour: 41.25,
      cost: [
        {
          label: "cost so far",
          text: "4.10 instance-hours, about $1.23 (spot compute $1.19, EBS, IPv4 and alarms $0.04); projected total about $9.87",
        },
      ],
      types: { "m5.large": 3 },
    });
    // the cost wraps under its label rather than losing the projection at the edge
    expect(lines.filter((l) => /^ {2}\S.*projected total about \$9\.87$/.test(l))).toHaveLength(1);
    expect(lines[0]).toBe("phase: UNATTENDED and billing: no monitor heartbeat for 14m00s (limit 10m00s)");
    expect(lines).toContain("ledger: 1 done · 1 failed · 2 running");
    expect(lines).toContain("failed by cause: out-of-memory 1");
    expect(lines).toContain("rate 41.3/h · instances 3 m5.large");
    expect(lines.at(-1)).toMatch(/^on lab-laptop: dcp monitor or dcp teardown/);
    for (const line of lines) expect(line.length).toBeLessThanOrEqual(79);
  });
});

describe("openAttemptsRunning: open keys of killed workers are not running tasks", () => {
  const open = [
    { instanceId: "i-0aaaaaaaaaaaaaaaa", attempt: "1-live" },
    { instanceId: "i-0bbbbbbbbbbbbbbbb", attempt: "2-killed" }, // its instance is gone
    { instanceId: "i-0aaaaaaaaaaaaaaaa", attempt: "3-ended" }, // ended (record written), DELETE lost
    { instanceId: "lab-pc-4242-1", attempt: "4-workstation" }, // no instance id: cannot be judged
  ];
  const live = new Set(["i-0aaaaaaaaaaaaaaaa"]);

  it("drops keys on instances no longer live and attempts that already have a record", () => {
    expect(openAttemptsRunning(open, new Set(["3-ended"]), live)).toEqual({ running: 2, stale: 2 });
  });

  it("without a reading of the instances, only ended attempts are stale", () => {
    expect(openAttemptsRunning(open, new Set(["3-ended"]), undefined)).toEqual({ running: 3, stale: 1 });
  });

  it("the status line says how many were left open", () => {
    const lines = statusLines({
      verdict: runPhase({
        heartbeat: undefined,
        summaryWritten: false,
        startedAt: 0,
        now: 1,
        minimumTimeoutMs: 1e6,
        alive: true,
      }),
      heartbeat: undefined,
      counts: { ...ledgerCounts([], 4), running: 2 },
      staleOpen: 2,
      ratePerHour: undefined,
      cost: [{ label: "cost so far", text: "--" }],
      types: {},
    });
    expect(lines).toContain("ledger: 0 done · 0 failed · 2 running · 2 left open by gone workers");
  });
});
