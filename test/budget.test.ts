/**
 * Issue 14, the budget on the emulator (the built CLI, spot prices served by the realism proxy; before the
 * stop the groups' progress is made by the test deleting messages, as workers would): BUDGET_USD below the
 * projection -> one warning; spend about to reach the budget (--budget) -> fleet and service to 0,
 * alarms and fleet removed, the queue keeps exactly the groups not done, the state file says "budget";
 * then `dcp start-cluster` (no --replace) starts a new fleet on the same queue, real workers (the ECS agent
 * harness, CellProfiler's TEST DOUBLE) and `dcp monitor` finish every remaining group exactly once, and
 * nothing of the app is left.
 */
import { DescribeInstancesCommand } from "@aws-sdk/client-ec2";
import { DescribeServicesCommand } from "@aws-sdk/client-ecs";
import { DeleteMessageBatchCommand, GetQueueAttributesCommand, ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import { afterAll, describe, expect, it } from "vitest";
import { fleetProvider } from "../src/fleet/registry.js";
import { listAttempts } from "../src/run/ledger.js";
import { s3Client } from "../src/aws/s3.js";
import { readRunState } from "../src/state/run-state.js";
import { runDcp } from "./harness/dcp.js";
import type { EcsAgent } from "./harness/ecs-agent.js";
import { startRealismProxy } from "./harness/realism-proxy.js";
import { alarmNamesOf, ctx, ec2, ecs, fleetWithState, sqs } from "./monitor-helpers.js";
import {
  agentFor,
  cellprofilerRuns,
  everythingLeft,
  fleetFile,
  folderOf,
  groupArg,
  NOTHING_OF_THE_APP,
  realApp,
  wells,
} from "./real-aws-helpers.js";

const GROUPS = 500;
/** Groups the test leaves for the resumed run's workers (the rest it deletes, as workers would). */
const LEFT = 4;

const cleanups: (() => Promise<unknown>)[] = [];
let agent: EcsAgent | undefined;
afterAll(async () => {
  await agent?.stop();
  for (const c of cleanups) await c().catch(() => undefined);
});

/** Receives and deletes `count` messages of the queue (as workers finishing them would); their -g values. */
async function finishGroups(queueUrl: string, count: number): Promise<string[]> {
  const finished: string[] = [];
  while (finished.length < count) {
    const got = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: Math.min(10, count - finished.length) }),
    );
    const messages = got.Messages ?? [];
    if (!messages.length) continue;
    await sqs.send(
      new DeleteMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })),
      }),
    );
    for (const m of messages) finished.push((JSON.parse(m.Body!) as { Metadata: string }).Metadata);
  }
  return finished;
}

describe("dcp monitor: the budget", () => {
  it("warns once above the projection, stops spending before the budget, keeps the queue; start-cluster resumes", async () => {
    const proxy = await startRealismProxy({
      spotPrices: ["us-east-1a", "us-east-1b", "us-east-1c", "us-east-1d", "us-east-1e", "us-east-1f"].map((zone) => ({
        zone,
        instanceType: "m5.xlarge",
        price: 80,
      })),
    });
    cleanups.push(() => proxy.stop());
    const app = await realApp({ machines: 2, groups: wells(GROUPS), extra: { BUDGET_USD: 10 } });
    const dcp = (args: string[], env: Record<string, string> = {}) =>
      runDcp(["--config", app.configPath, ...args], { cwd: app.dir, env, timeoutMs: 120_000 });
    expect((await dcp(["setup"])).code).toBe(0);
    expect((await dcp(["submit", app.jobFile])).code).toBe(0);
    const run = await fleetWithState(app, 2);
    const queueUrl = run.queueUrl;
    const monitor = (...args: string[]) => dcp(["monitor", "--once", "--interval", "5", ...args], proxy.env);

    // Reading 1, then two groups done (as workers would), reading 2: a rate, so a projection.
    expect((await monitor()).code).toBe(0);
    const finished = await finishGroups(queueUrl, 2);
    const second = await monitor();
    expect(second.code, second.stderr).toBe(0);
    // 2 machines x $80/h (EC2's 60 s minimum: ~$2.67 spent), 498 groups left at 2 groups per reading: far above
    // $10 however fast the readings come, while spent + one interval + termination (~$6.90) stays below it.
    expect(second.stdout).toMatch(/warning: the projected total \$\d+\.\d\d exceeds the budget of \$10\.00/);
    expect((await readRunState(run.statePath)).dcp.status).toBe("running");

    // More groups done, all but LEFT; then --budget below what one more interval and the termination would cost: stop now.
    finished.push(...(await finishGroups(queueUrl, GROUPS - 2 - LEFT)));
    const stop = await monitor("--budget", "2");
    expect(stop.code, stop.stderr).toBe(0);
    expect(stop.stdout).toMatch(/budget reached: spent \$\d+\.\d\d of the budget of \$2\.00/);
    expect(stop.stdout).toMatch(new RegExp(`stopped by the budget: ${LEFT} group\\(s\\) stay in the queue`));
    const state = await readRunState(run.statePath);
    expect(state.dcp).toMatchObject({ status: "finished", stoppedBy: "budget" });
    // Nothing left billing: no fleet, no alarms, the service at 0; the queue keeps exactly the groups not done.
    const ids = Object.keys((state.dcp.observations as { instances: Record<string, unknown> }).instances);
    expect(ids).toHaveLength(2);
    const instances = await ec2.send(new DescribeInstancesCommand({ InstanceIds: ids }));
    for (const i of (instances.Reservations ?? []).flatMap((r) => r.Instances ?? []))
      expect(i.State?.Name).toMatch(/shutting-down|terminated/);
    expect(await (await fleetProvider("spot-fleet", ctx)).describe(run.fleetId)).toBeUndefined();
    expect(await alarmNamesOf(run.app)).toEqual([]);
    const service = await ecs.send(
      new DescribeServicesCommand({ cluster: `${run.app}Cluster`, services: [`${run.app}Service`] }),
    );
    expect(service.services?.[0]?.desiredCount).toBe(0);
    await new Promise((r) => setTimeout(r, 1000)); // fauxqs: the received messages are deleted, none in flight
    const attributes = await sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: queueUrl,
        AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
      }),
    );
    expect(Number(attributes.Attributes!.ApproximateNumberOfMessages)).toBe(LEFT);
    expect(Number(attributes.Attributes!.ApproximateNumberOfMessagesNotVisible)).toBe(0);

    // Resume: a new fleet on the same queue, without --replace; workers and the monitor finish the rest.
    const start = await dcp([
      "start-cluster",
      fleetFile(app, "fleet.json"),
      "--wait-timeout",
      "5",
      "--poll-interval",
      "0.2",
    ]);
    const resumed = await readRunState(run.statePath);
    cleanups.push(async () => (await fleetProvider("spot-fleet", ctx)).cancel(resumed.dcp.fleetId));
    expect(start.code, start.stdout + start.stderr).toBe(0);
    expect(resumed.dcp.status).toBe("running");
    expect(resumed.dcp.fleetId).not.toBe(run.fleetId);
    expect(resumed.dcp.stoppedBy).toBeUndefined();
    agent = agentFor(app, { pollMs: 300, stopTimeoutSeconds: 5, extraEnv: { FAKE_CP_ARGV_FILE: app.argvFile } });
    // The lab raises the budget to resume (the config's $10 would stop this fleet too at $80/h).
    const watch = await dcp(["monitor", "--interval", "1", "--budget", "100"], proxy.env);
    await agent.stop();
    expect(watch.code, watch.stdout + watch.stderr).toBe(0);
    expect(watch.stdout).toMatch(new RegExp(`groups done: +${LEFT} of ${LEFT}\\b`));

    // Every group left in the queue ran exactly once, to the end; none of the finished ones ran again.
    const left = app.metadata.filter((m) => !finished.includes(m));
    expect(left).toHaveLength(LEFT);
    expect(cellprofilerRuns(app).map(groupArg).sort()).toEqual([...left].sort());
    const at = { s3: s3Client(ctx), bucket: app.bucket, appName: app.app };
    const attempts = await listAttempts(at, resumed.dcp.fleetId);
    expect(attempts.map((a) => a.outcome)).toEqual(Array.from({ length: LEFT }, () => "done"));
    const leftFolders = app.groups.filter((g, i) => left.includes(app.metadata[i]!)).map(folderOf);
    expect(attempts.map((a) => a.metadataId).sort()).toEqual(leftFolders.sort());
    // Nothing of the app is left billing or queued.
    expect(await everythingLeft(app, resumed.dcp.fleetId)).toEqual(NOTHING_OF_THE_APP);
  });
});
