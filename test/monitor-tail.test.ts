/**
 * Issue 14, the tail on the emulator with real workers (the built CLI; the ECS agent harness runs `dcp
 * worker` per instance, and each worker writes its open-task record in the run ledger): two machines, one
 * job loop each, one slow group. Once nothing is visible, `dcp monitor` terminates the machine with no task
 * in flight and lowers the fleet target with it; the machine running the group keeps it to the end.
 */
import {
  CancelSpotFleetRequestsCommand,
  DescribeInstancesCommand,
  DescribeSpotFleetInstancesCommand,
  DescribeSpotFleetRequestsCommand,
  ModifySpotFleetRequestCommand,
  TerminateInstancesCommand,
} from "@aws-sdk/client-ec2";
import { afterAll, expect, it } from "vitest";
import { s3Client } from "../src/aws/s3.js";
import { attemptKey, attemptRecordSchema } from "../src/plan/ledger.js";
import { listAttempts, readLedgerJson } from "../src/run/ledger.js";
import { readRunState } from "../src/state/run-state.js";
import { runDcp } from "./harness/dcp.js";
import type { EcsAgent } from "./harness/ecs-agent.js";
import { ctx, ec2 } from "./monitor-helpers.js";
import { agentFor, realApp, startRun, wells } from "./real-aws-helpers.js";

let agent: EcsAgent | undefined;
afterAll(async () => agent?.stop());

it("terminates the idle machine while the other finishes its task; the target drops with it", async () => {
  const app = await realApp({ machines: 2, groups: wells(1) });
  const dcp = (args: string[]) => runDcp(args, { cwd: app.dir, timeoutMs: 120_000 });
  await startRun(app, dcp);
  const state = await readRunState(app.statePath);
  agent = agentFor(app, {
    pollMs: 500,
    stopTimeoutSeconds: 5,
    extraEnv: { FAKE_CP_SLEEP_MS: "8000", WORKER_IDLE_POLLS: "100000" },
  });
  const monitor = await dcp(["monitor", "--interval", "1"]);
  await agent.stop();
  const output = monitor.stdout + monitor.stderr;
  expect(monitor.code, output).toBe(0);
  const tail =
    /tail: terminated 1 instance\(s\) with no task in flight while nothing is queued \((i-[0-9a-f]+)\); fleet target (\d) -> 1/.exec(
      output,
    );
  expect(tail, output).not.toBeNull();

  // The group ran once, to the end, on the other machine.
  const at = { s3: s3Client(ctx), bucket: app.bucket, appName: app.app };
  const attempts = await listAttempts(at, state.dcp.fleetId);
  expect(attempts.map((a) => a.outcome)).toEqual(["done"]);
  const record = await readLedgerJson(
    at,
    attemptKey(app.app, state.dcp.fleetId, attempts[0]!.metadataId, attempts[0]!.attempt, "done"),
    attemptRecordSchema,
  );
  const busy = record?.placement?.instanceId;
  expect(busy).toMatch(/^i-/);
  expect(busy).not.toBe(tail![1]);
  // The idle one was terminated by the tail before the task ended, the busy one by the teardown after it.
  const out = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [busy!, tail![1]!] }));
  const ended = Object.fromEntries(
    (out.Reservations ?? []).flatMap((r) => r.Instances ?? []).map((i) => [i.InstanceId, i.StateTransitionReason]),
  );
  const when = (id: string) => Date.parse(`${/\((.+) (?:GMT|UTC)\)/.exec(ended[id] ?? "")?.[1]?.replace(" ", "T")}Z`);
  expect(when(tail![1]!)).toBeLessThan(Date.parse(record!.endedAt));
  expect(when(busy!)).toBeGreaterThanOrEqual(Math.floor(Date.parse(record!.endedAt) / 1000) * 1000);
});

it("asks for machines again when groups are queued with the fleet at 0 and nothing running (stranded work)", async () => {
  const app = await realApp({ machines: 1, groups: wells(2) });
  const dcp = (args: string[]) => runDcp(args, { cwd: app.dir, timeoutMs: 120_000 });
  const fleetId = await startRun(app, dcp);
  // As after a tail that let the fleet go, then lost the machine whose groups came back: target 0, nothing runs.
  await ec2.send(new ModifySpotFleetRequestCommand({ SpotFleetRequestId: fleetId, TargetCapacity: 0 }));
  const running = async () =>
    (await ec2.send(new DescribeSpotFleetInstancesCommand({ SpotFleetRequestId: fleetId }))).ActiveInstances ?? [];
  const ids = (await running()).flatMap((i) => (i.InstanceId ? [i.InstanceId] : []));
  if (ids.length) await ec2.send(new TerminateInstancesCommand({ InstanceIds: ids }));
  for (let i = 0; i < 50 && (await running()).length; i++) await new Promise((r) => setTimeout(r, 200));

  const monitor = await dcp(["monitor", "--once", "--interval", "1"]);
  const output = monitor.stdout + monitor.stderr;
  expect(monitor.code, output).toBe(0);
  expect(output).toMatch(/tail: fleet target 0 -> 1: 2 group\(s\) queued again and no machine runs to take them/);
  const fleet = await ec2.send(new DescribeSpotFleetRequestsCommand({ SpotFleetRequestIds: [fleetId] }));
  expect(fleet.SpotFleetRequestConfigs?.[0]?.SpotFleetRequestConfig?.TargetCapacity).toBe(1);
  // moto launches nothing on a raise, and its cancel with TerminateInstances fails on a fleet with no
  // instance ("No instances specified"; AWS cancels it): cancel it here, then the teardown finds it gone.
  await ec2.send(new CancelSpotFleetRequestsCommand({ SpotFleetRequestIds: [fleetId], TerminateInstances: false }));
  const teardown = await dcp(["teardown"]);
  expect(teardown.code, teardown.stdout + teardown.stderr).toBe(0);
});
