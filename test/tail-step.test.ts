/**
 * The tail's confirming listing (run/tail.ts, TAIL_CONFIRM_MS) against the emulator's S3: a worker that
 * took a group just before the reading has its open record PUT a moment later (in the background, and on
 * real AWS the queue's counts still showed nothing visible). The first listing finds its machine idle;
 * the record lands during the confirmation wait; the machine is not terminated. The other idle one is.
 */
import { CreateBucketCommand } from "@aws-sdk/client-s3";
import { expect, it } from "vitest";
import { s3Client } from "../src/aws/s3.js";
import type { FleetProvider } from "../src/fleet/provider.js";
import { observe, type Reading } from "../src/plan/monitor-decisions.js";
import { openKey } from "../src/plan/ledger.js";
import { TAIL_CONFIRM_MS } from "../src/plan/monitor-tail.js";
import type { RunClients } from "../src/run/clients.js";
import { writeLedgerJson } from "../src/run/ledger.js";
import { tailStep } from "../src/run/tail.js";
import type { RunState } from "../src/state/run-state.js";
import { uniqueAppName } from "./harness/dcp.js";
import { ctx } from "./monitor-helpers.js";

it("keeps a machine whose open record lands during the confirmation wait; terminates the idle one", async () => {
  const s3 = s3Client(ctx);
  const app = uniqueAppName("Tail");
  const bucket = app.toLowerCase();
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  const runId = "sfr-00000000-0000-0000-0000-000000000001";
  const at = { s3, bucket, appName: app };
  const open = (instance: string) =>
    writeLedgerJson(at, openKey(app, runId, instance, `${Date.now()}-w`), { version: 1, instanceId: instance });
  await open("i-0aaaaaaaaaaaaaaaa"); // busy all along
  const shrunk: { to: number; ids: string[] }[] = [];
  const fleet = {
    setTarget: async () => undefined,
    shrink: async (_id: string, to: number, ids: string[]) => void shrunk.push({ to, ids }),
  } as unknown as FleetProvider;
  const state = {
    MONITOR_APP_NAME: app,
    MONITOR_BUCKET_NAME: bucket,
    dcp: { fleetId: runId },
  } as unknown as RunState;
  const live = ["i-0aaaaaaaaaaaaaaaa", "i-0bbbbbbbbbbbbbbbb", "i-0cccccccccccccccc"];
  const reading = (at: number): Reading => ({
    at,
    visible: 0,
    // b just took the last group: the queue's approximate count still shows only a's task in flight,
    // and b's open record is not written yet
    inFlight: 1,
    dlq: 0,
    fleet: { target: 3, fulfilled: 3, state: "active" },
    live: live.map((id) => ({ id, launchedAt: 0 })),
  });
  let observations = observe(undefined, { ...reading(1_000), visible: 5 });
  observations = { ...observe(observations, reading(2_000)), tailQuietSince: 2_000 };

  // b's record lands a second into the wait
  const late = new Promise((resolve) => setTimeout(resolve, Math.min(1_000, TAIL_CONFIRM_MS / 2))).then(() =>
    open("i-0bbbbbbbbbbbbbbbb"),
  );
  const step = await tailStep({ fleet } as unknown as RunClients, () => s3, state, reading(3_000), observations, 3);
  await late;
  expect(shrunk).toEqual([{ to: 2, ids: ["i-0cccccccccccccccc"] }]);
  expect(step.event).toMatch(/terminated 1 instance\(s\) .*i-0cccccccccccccccc/);
});
