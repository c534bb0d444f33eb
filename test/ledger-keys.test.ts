import { describe, expect, it } from "vitest";
import {
  attemptId,
  attemptKey,
  currentPointerKey,
  groupStates,
  openKey,
  parseAttemptKey,
  parseOpenKey,
  runLedgerKeys,
} from "../src/plan/ledger.js";

describe("ledger keys", () => {
  const keys = runLedgerKeys("Lab", "sfr-123");

  it("round-trips group, outcome and cause through an attempt key", () => {
    const id = attemptId(1_700_000_000_123, "i-0abc/worker 2");
    expect(id).toBe("1700000000123-i-0abc_worker_2");
    const key = attemptKey("Lab", "sfr-123", "Plate 1/A01~s1", id, "failed", "pipeline-error");
    expect(key.startsWith("dcp-runs/Lab/sfr-123/attempts/")).toBe(true);
    expect(parseAttemptKey(key, keys.attemptsPrefix)).toEqual({
      metadataId: "Plate 1/A01~s1",
      attempt: id,
      startedAt: 1_700_000_000_123,
      outcome: "failed",
      cause: "pipeline-error",
    });
    expect(parseAttemptKey(attemptKey("Lab", "sfr-123", "g", id, "done"), keys.attemptsPrefix)?.cause).toBeUndefined();
  });

  it("rejects keys that are not attempt records", () => {
    expect(parseAttemptKey(`${keys.attemptsPrefix}g/1-w~finished.json`, keys.attemptsPrefix)).toBeUndefined();
    expect(parseAttemptKey(`${keys.attemptsPrefix}g/1-w~failed~nonsense.json`, keys.attemptsPrefix)).toBeUndefined();
    expect(parseAttemptKey(keys.heartbeat, keys.attemptsPrefix)).toBeUndefined();
  });

  it("names open attempts per instance and the pointer per app", () => {
    const key = openKey("Lab", "sfr-123", "i-0abc", "1-w");
    expect(parseOpenKey(key, keys.openPrefix)).toEqual({ instanceId: "i-0abc", attempt: "1-w" });
    expect(currentPointerKey("Lab")).toBe("dcp-runs/Lab/current.json");
  });

  it("folds attempts into each group's latest outcome", () => {
    const parse = (k: string) => parseAttemptKey(k, keys.attemptsPrefix)!;
    const states = groupStates([
      parse(attemptKey("Lab", "sfr-123", "g1", attemptId(2, "w"), "done")),
      parse(attemptKey("Lab", "sfr-123", "g1", attemptId(1, "w"), "failed", "crash")),
      parse(attemptKey("Lab", "sfr-123", "g2", attemptId(1, "w"), "failed", "out-of-memory")),
    ]);
    expect(states.get("g1")).toMatchObject({ attempts: 2, latest: { outcome: "done" } });
    expect(states.get("g2")?.latest?.cause).toBe("out-of-memory");
  });
});
