/**
 * Issue 14, the tail on the emulator: `dcp monitor --once` (the built CLI) terminates the machines that
 * have no task in flight, as the workers' open-task records in the run ledger say, once nothing has
 * been visible on two readings; it lowers the fleet target with them and keeps the busy machine.
 */
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { DescribeInstancesCommand } from "@aws-sdk/client-ec2";
import { ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import { describe, expect, it } from "vitest";
import { s3Client } from "../src/aws/s3.js";
import { fleetProvider } from "../src/fleet/registry.js";
import { attemptId, openKey } from "../src/plan/ledger.js";
import { readRunState } from "../src/state/run-state.js";
import { runDcp } from "./harness/dcp.js";
import { configuredApp, ctx, ec2, fleetState, fleetWithState, sqs, submitGroups } from "./monitor-helpers.js";

async function states(ids: string[]): Promise<Record<string, string>> {
  const out = await ec2.send(new DescribeInstancesCommand({ InstanceIds: ids }));
  return Object.fromEntries(
    (out.Reservations ?? []).flatMap((r) => r.Instances ?? []).map((i) => [i.InstanceId!, i.State?.Name ?? "?"]),
  );
}

describe("dcp monitor: the tail", () => {
  it("terminates the instances with no task in flight and lowers the target; the busy one stays", async () => {
    const base = await configuredApp("spot-fleet", 3, "Tail");
    await submitGroups(base.app, 2);
    const run = await fleetWithState(base, 3);
    const received = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: run.queueUrl,
        MaxNumberOfMessages: 10,
        VisibilityTimeout: 600,
        WaitTimeSeconds: 1,
      }),
    );
    expect(received.Messages).toHaveLength(2);
    const [busy, ...idle] = (await (await fleetProvider("spot-fleet", ctx)).activeInstances(run.fleetId)).sort();
    // Both tasks run on `busy`: its worker wrote one open record per task (plan/ledger.ts).
    for (const n of [1, 2])
      await s3Client(ctx).send(
        new PutObjectCommand({
          Bucket: run.bucket,
          Key: openKey(run.app, run.fleetId, busy!, attemptId(Date.now() + n, `w${n}`)),
          Body: "{}",
        }),
      );
    const first = await runDcp(["--config", run.configPath, "monitor", "--once"], { cwd: run.dir });
    expect(first.code, first.stderr).toBe(0);
    // First reading: DCP's downscale (2 in flight on 3 machines: target 2), the queue quiet for the first time.
    expect(Object.values(await states([busy!, ...idle]))).toEqual(["running", "running", "running"]);
    const second = await runDcp(["--config", run.configPath, "monitor", "--once"], { cwd: run.dir });
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout + second.stderr).toMatch(
      /tail: terminated 2 instance\(s\) with no task in flight.*fleet target 2 -> 1/,
    );
    const after = await states([busy!, ...idle]);
    expect(after[busy!]).toBe("running");
    for (const id of idle) expect(after[id]).toMatch(/shutting-down|terminated/);
    expect((await fleetState(run)).target).toBe(1);
    const observations = (await readRunState(run.statePath)).dcp.observations as { downscales: { reason: string }[] };
    expect(observations.downscales.at(-1)).toMatchObject({ reason: "tail", from: 2, to: 1 });
  });
});
