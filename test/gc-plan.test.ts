/** `dcp gc`'s decisions (src/plan/gc.ts), pure: verdicts, holds, kept resources, the table, the teardown input. */
import { describe, expect, it } from "vitest";
import {
  decideAll,
  decideApp,
  fleetBills,
  gcTable,
  isIdleAlarmName,
  markDeadLetterQueues,
  teardownInputFromDiscovery,
  type AppEvidence,
  type FoundResource,
  type GcOptions,
} from "../src/plan/gc.js";
import { heartbeatTimeoutMs } from "../src/plan/ledger.js";
import { planTeardown } from "../src/plan/teardown-plan.js";

const NOW = Date.parse("2026-12-01T12:00:00Z");
const MIN = 60_000;
const DAY = 86_400_000;
const options: GcOptions = {
  nowMs: NOW,
  heartbeatTimeoutMs,
  includeRunning: false,
  includeDlq: false,
  includeLogs: false,
};

const setupOf = (app: string, createdMs = NOW - 2 * DAY): FoundResource[] => [
  { kind: "queue", id: `${app}Queue`, app, deadLetterQueue: `${app}_Dead`, createdMs },
  { kind: "queue", id: `${app}_Dead`, app, createdMs },
  { kind: "cluster", id: `${app}Cluster`, app },
  { kind: "service", id: `${app}Service`, app, cluster: `${app}Cluster` },
  { kind: "task-definition", id: `${app}Task`, app, bucket: "bkt", createdMs },
  { kind: "log-group", id: app, app, createdMs },
  { kind: "log-group", id: `${app}_perInstance`, app, createdMs },
];
const fleetOf = (app: string, createdMs = NOW - DAY): FoundResource[] => [
  { kind: "fleet", id: "sfr-1", app, api: "spot-fleet", createdMs },
  { kind: "instance", id: "i-0123456789abcdef0", app, createdMs },
  { kind: "alarm", id: `${app}_i-0123456789abcdef0`, app },
];
const evidence = (app: string, resources: FoundResource[], more: Partial<AppEvidence> = {}): AppEvidence => ({
  app,
  resources: markDeadLetterQueues(resources),
  ...more,
});
const beat = (ageMs: number, phase = "running") => ({
  bucket: "bkt",
  runId: "sfr-1",
  started: true,
  heartbeat: { atMs: NOW - ageMs, pollSeconds: 60, phase },
});

describe("gc verdicts", () => {
  it("a live fleet with a fresh heartbeat is running, and never removed (not even with --include-running)", () => {
    const d = decideApp(evidence("A", [...setupOf("A"), ...fleetOf("A")], { ledger: beat(2 * MIN) }), {
      ...options,
      includeRunning: true,
    });
    expect([d.verdict, d.remove]).toEqual(["running", false]);
    expect(d.held).toMatch(/running/);
    expect(d.resources.every((r) => r.action === "keep")).toBe(true);
  });

  it("a heartbeat older than the timeout (3 polls or 10 min) with a live fleet is unattended: removed only with --include-running", () => {
    const e = evidence("A", [...setupOf("A"), ...fleetOf("A")], { ledger: beat(11 * MIN) });
    const held = decideApp(e, options);
    expect([held.verdict, held.remove]).toEqual(["unattended", false]);
    expect(held.held).toMatch(/--include-running/);
    expect(held.reason).toMatch(/no monitor heartbeat for 11m \(timeout 10m\)/);
    const removed = decideApp(e, { ...options, includeRunning: true });
    expect(removed.remove).toBe(true);
    // 9 minutes is within the 10-minute floor; a shorter timeout (the flag) makes it unattended.
    expect(decideApp(evidence("A", fleetOf("A"), { ledger: beat(9 * MIN) }), options).verdict).toBe("running");
    const short = { ...options, heartbeatTimeoutMs: () => MIN };
    expect(decideApp(evidence("A", fleetOf("A"), { ledger: beat(9 * MIN) }), short).verdict).toBe("unattended");
  });

  it("a state file that says running but no heartbeat: running while young, unattended after the timeout", () => {
    const state = (startedMs: number) => ({
      path: "files/AState.json",
      status: "running" as const,
      fleetId: "sfr-1",
      startedMs,
      deadLetterQueueName: "A_Dead",
      bucket: "bkt",
    });
    expect(decideApp(evidence("A", fleetOf("A"), { state: state(NOW - 2 * MIN) }), options).verdict).toBe("running");
    expect(decideApp(evidence("A", fleetOf("A"), { state: state(NOW - 30 * MIN) }), options).verdict).toBe(
      "unattended",
    );
  });

  it("finished: the state file or the ledger says so, or no fleet is live any more", () => {
    const finishedState = {
      path: "s",
      status: "finished" as const,
      fleetId: "sfr-1",
      startedMs: NOW - DAY,
      deadLetterQueueName: "A_Dead",
      bucket: "bkt",
    };
    expect(decideApp(evidence("A", setupOf("A"), { state: finishedState }), options).reason).toMatch(/state file/);
    expect(decideApp(evidence("A", setupOf("A"), { ledger: { bucket: "b", finished: true } }), options).verdict).toBe(
      "finished",
    );
    const gone = decideApp(evidence("A", setupOf("A"), { ledger: beat(DAY) }), options);
    expect([gone.verdict, gone.remove]).toEqual(["finished", true]);
  });

  it("no state file and no ledger: no-state, removed (live fleet or not)", () => {
    const d = decideApp(evidence("A", [...setupOf("A"), ...fleetOf("A")]), options);
    expect([d.verdict, d.remove]).toEqual(["no-state", true]);
    expect(decideApp(evidence("B", setupOf("B")), options).verdict).toBe("no-state");
    // A ledger that could not be read (access denied) may hide a watched run: held unless --include-running.
    const unreadable = evidence("C", fleetOf("C"), { ledger: { bucket: "bkt", unreadable: true } });
    expect(decideApp(unreadable, options).held).toMatch(/unreadable/);
    expect(decideApp(unreadable, { ...options, includeRunning: true }).remove).toBe(true);
  });
});

describe("what gc deletes", () => {
  it("keeps the dead-letter queue and the log groups unless --include-dlq / --include-logs", () => {
    const e = evidence("A", setupOf("A"));
    const kept = (o: GcOptions) =>
      decideApp(e, o)
        .resources.filter((r) => r.action === "keep")
        .map((r) => r.id);
    expect(kept(options)).toEqual(["A_Dead", "A", "A_perInstance"]);
    expect(kept({ ...options, includeDlq: true })).toEqual(["A", "A_perInstance"]);
    expect(kept({ ...options, includeDlq: true, includeLogs: true })).toEqual([]);
  });

  it("an app with only kept resources has nothing to delete (a second gc finds nothing)", () => {
    const d = decideApp(
      evidence(
        "A",
        setupOf("A").filter((r) => r.kind === "log-group" || r.id === "A_Dead"),
      ),
      options,
    );
    expect(d.remove).toBe(false);
  });

  it("never deletes a dead-letter queue another app still sends to (DCP's default name is shared)", () => {
    const shared = "user_DeadMessages";
    const a = evidence("A", [
      { kind: "queue", id: "AQueue", app: "A", deadLetterQueue: shared },
      { kind: "queue", id: shared, app: "A" },
    ]);
    const b = evidence("B", [...fleetOf("B"), { kind: "queue", id: "BQueue", app: "B", deadLetterQueue: shared }], {
      ledger: beat(MIN),
    });
    const [da] = decideAll([a, b], { ...options, includeDlq: true });
    expect(da!.resources.find((r) => r.id === shared)).toMatchObject({ action: "keep", why: /another app/ });
    // Once B is gone too, the queue goes with A.
    const [alone] = decideAll([a], { ...options, includeDlq: true });
    expect(alone!.resources.find((r) => r.id === shared)?.action).toBe("delete");
  });

  it("--older-than holds apps active more recently, and apps of unknown age", () => {
    const e = evidence("A", setupOf("A", NOW - 3 * DAY));
    expect(decideApp(e, { ...options, olderThanMs: 7 * DAY }).held).toMatch(/last active 3d ago/);
    expect(decideApp(e, { ...options, olderThanMs: 2 * DAY }).remove).toBe(true);
    const ageless = evidence("B", [{ kind: "cluster", id: "BCluster", app: "B" }]);
    expect(decideApp(ageless, { ...options, olderThanMs: DAY }).held).toMatch(/age unknown/);
  });

  it("knows which fleet states still bill and which alarm names are dcp's", () => {
    expect(["active", "submitted", "modifying", "cancelled_running"].map(fleetBills)).toEqual([true, true, true, true]);
    expect(["cancelled", "cancelled_terminating", "deleted", "failed"].map(fleetBills)).toEqual([
      false,
      false,
      false,
      false,
    ]);
    expect(isIdleAlarmName("MyApp_i-0123456789abcdef0")).toBe(true);
    expect(isIdleAlarmName("MyApp_CPU")).toBe(false);
  });
});

describe("the table and the teardown input", () => {
  it("prints at most 80 columns, grouped by app, with the verdict and why", () => {
    const long = `A${"x".repeat(90)}`;
    const decisions = decideAll(
      [evidence(long, setupOf(long)), evidence("B", [...setupOf("B"), ...fleetOf("B")], { ledger: beat(20 * MIN) })],
      options,
    );
    const lines = gcTable(decisions, { nowMs: NOW });
    expect(Math.max(...lines.map((l) => l.length))).toBeLessThanOrEqual(80);
    expect(lines.find((l) => l.startsWith("B "))).toMatch(/\[unattended\]/);
    expect(lines).toContain("  → keep: unattended: pass --include-running to remove it");
    expect(lines.some((l) => /^ {4}delete queue +Ax+/.test(l))).toBe(true);
  });

  it("builds a teardown plan from what was found (no state file): the fleet, queue, service and cluster found", () => {
    const [d] = decideAll([evidence("A", [...setupOf("A"), ...fleetOf("A")], { ledger: beat(DAY) })], {
      ...options,
      includeRunning: true,
    });
    const input = teardownInputFromDiscovery(d!, NOW);
    expect(input).toMatchObject({
      cluster: "ACluster",
      serviceName: "AService",
      queueName: "AQueue",
      deadLetterQueueName: "A_Dead",
      fleetId: "sfr-1",
      bucket: "bkt",
      logGroup: "A",
      perInstanceLogGroup: "A_perInstance",
      completed: [],
    });
    const steps = planTeardown(input).steps.map((s) => s.id);
    expect(steps).toContain("cancel-fleet");
    expect(steps).toContain("export-logs");
    // A finished run's logs were exported by its own teardown.
    const [finished] = decideAll([evidence("A", setupOf("A"), { ledger: { bucket: "bkt", finished: true } })], options);
    expect(planTeardown(teardownInputFromDiscovery(finished!, NOW)).steps.map((s) => s.id)).not.toContain(
      "export-logs",
    );
  });
});
