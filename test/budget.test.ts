/**
 * Issue 14, the budget on the emulator (the built CLI, spot prices served by the realism proxy; the
 * groups' progress is made by the test deleting messages, as workers would): BUDGET_USD below the
 * projection -> one warning; spend about to reach the budget (--budget) -> fleet and service to 0,
 * alarms and fleet removed, the queue keeps exactly the groups not done, the state file says "budget";
 * then `dcp start-cluster` starts a new fleet on the same queue without --replace.
 */
import { copyFileSync } from "node:fs";
import { join } from "node:path";
import { DescribeInstancesCommand } from "@aws-sdk/client-ec2";
import { DescribeServicesCommand } from "@aws-sdk/client-ecs";
import { DeleteMessageCommand, GetQueueAttributesCommand, ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import { afterAll, describe, expect, it } from "vitest";
import { fleetProvider } from "../src/fleet/registry.js";
import { readRunState } from "../src/state/run-state.js";
import { REPO_ROOT, runDcp } from "./harness/dcp.js";
import { startRealismProxy } from "./harness/realism-proxy.js";
import { alarmNamesOf, configuredApp, ctx, ec2, ecs, fleetWithState, sqs, submitGroups } from "./monitor-helpers.js";

const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const c of cleanups) await c().catch(() => undefined);
});

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
    const base = await configuredApp("spot-fleet", 2, "Budget", { BUDGET_USD: 10 });
    const queueUrl = await submitGroups(base.app, 500);
    const run = await fleetWithState(base, 2);
    const monitor = (...args: string[]) =>
      runDcp(["--config", run.configPath, "monitor", "--once", "--interval", "5", ...args], {
        cwd: run.dir,
        env: proxy.env,
      });

    // Reading 1, then two groups done (as workers would), reading 2: a rate, so a projection.
    expect((await monitor()).code).toBe(0);
    const got = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 2 }));
    for (const m of got.Messages ?? [])
      await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: m.ReceiptHandle! }));
    const second = await monitor();
    expect(second.code, second.stderr).toBe(0);
    // 2 machines x $80/h (EC2's 60 s minimum: ~$2.67 spent), 498 groups left at 2 groups per reading: far above
    // $10 however fast the readings come, while spent + one interval + termination (~$6.90) stays below it.
    expect(second.stdout).toMatch(/warning: the projected total \$\d+\.\d\d exceeds the budget of \$10\.00/);
    expect((await readRunState(run.statePath)).dcp.status).toBe("running");

    // --budget below what one more interval and the termination would cost: stop now.
    const stop = await monitor("--budget", "2");
    expect(stop.code, stop.stderr).toBe(0);
    expect(stop.stdout).toMatch(/budget reached: spent \$\d+\.\d\d of the budget of \$2\.00/);
    expect(stop.stdout).toMatch(/stopped by the budget: 498 group\(s\) stay in the queue/);
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
    await new Promise((r) => setTimeout(r, 1000)); // fauxqs: the two received messages are deleted, none in flight
    const attributes = await sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: queueUrl,
        AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
      }),
    );
    expect(Number(attributes.Attributes!.ApproximateNumberOfMessages)).toBe(498);
    expect(Number(attributes.Attributes!.ApproximateNumberOfMessagesNotVisible)).toBe(0);

    // Resume: a new fleet on the same queue, without --replace.
    const fleetFile = join(run.dir, "files", "fleet.json");
    copyFileSync(join(REPO_ROOT, "test/fixtures/fleets/dcp-original.json"), fleetFile);
    const start = await runDcp(
      ["--config", run.configPath, "start-cluster", fleetFile, "--wait-timeout", "5", "--poll-interval", "0.2"],
      { cwd: run.dir },
    );
    const resumed = await readRunState(run.statePath);
    cleanups.push(async () => (await fleetProvider("spot-fleet", ctx)).cancel(resumed.dcp.fleetId));
    expect(start.code, start.stdout + start.stderr).toBe(0);
    expect(resumed.dcp.status).toBe("running");
    expect(resumed.dcp.fleetId).not.toBe(run.fleetId);
    expect(resumed.dcp.stoppedBy).toBeUndefined();
  });
});
