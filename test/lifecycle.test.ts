import { readFileSync } from "node:fs";
import { DeleteMessageBatchCommand, ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import { ListObjectsV2Command } from "@aws-sdk/client-s3";
import { describe, expect, it } from "vitest";
import { s3Client } from "../src/aws/s3.js";
import { DescribeServicesCommand } from "@aws-sdk/client-ecs";
import { NOTHING_LEFT, alarmNamesOf, configuredApp, ctx, ecs, fleetState, fleetWithState, leftovers, logLine, sqs, startDcp, submitGroups, type FleetApi } from "./monitor-helpers.js";

const MACHINES = 2;

/** Receives and deletes every message, as workers would. */
async function consumeAll(queueUrl: string, count: number): Promise<void> {
  let left = count;
  while (left > 0) {
    const { Messages = [] } = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
    if (!Messages.length) continue;
    await sqs.send(new DeleteMessageBatchCommand({ QueueUrl: queueUrl, Entries: Messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })) }));
    left -= Messages.length;
  }
}

describe.each<FleetApi>(["spot-fleet", "ec2-fleet"])("run lifecycle with %s", (fleetApi) => {
  it("setup, 20 groups, a fleet; monitor sees them done, tears everything down and exits 0", async () => {
    const base = await configuredApp(fleetApi, MACHINES, "Life");
    await submitGroups(base.app, 20);
    const run = await fleetWithState(base, MACHINES);

    expect(await fleetState(run)).toEqual({ state: "active", target: MACHINES });
    const { services = [] } = await ecs.send(new DescribeServicesCommand({ cluster: `${run.app}Cluster`, services: [`${run.app}Service`] }));
    expect(services[0]?.desiredCount).toBe(MACHINES * 2);
    expect(await alarmNamesOf(run.app)).toHaveLength(MACHINES);

    const monitor = startDcp(["--config", run.configPath, "monitor", "--interval", "1"], run.dir);
    await monitor.waitFor(/done 0\/20, in flight 0, pending 20/);
    await consumeAll(run.queueUrl, 20);
    await logLine(run.app, "job done");
    const { code } = await monitor.exited;
    const output = monitor.output();
    expect(code, output).toBe(0);
    expect(output).toMatch(/queue drained/);
    expect(output).toMatch(/groups done: +20 of 20/);
    expect(output).toMatch(/instance-hours/);

    expect(await leftovers(run)).toEqual(NOTHING_LEFT);
    const state = JSON.parse(readFileSync(run.statePath, "utf8"));
    expect(state.dcp.status).toBe("finished");
    expect(state.dcp.observations.summary).toMatchObject({ groupsDone: 20, groupsTotal: 20, deadLettered: 0 });
    const exported = await s3Client(ctx).send(new ListObjectsV2Command({ Bucket: run.bucket, Prefix: `exportedlogs/${run.app}` }));
    expect(exported.KeyCount ?? 0, output).toBeGreaterThan(0);
  });
});
