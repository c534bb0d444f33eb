import { readFileSync, writeFileSync } from "node:fs";
import { DeleteMessageBatchCommand, ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import { ListObjectsV2Command } from "@aws-sdk/client-s3";
import { describe, expect, it } from "vitest";
import { s3Client } from "../src/aws/s3.js";
import { findQueueUrl } from "../src/aws/sqs.js";
import { join } from "node:path";
import { ListDashboardsCommand } from "@aws-sdk/client-cloudwatch";
import { DescribeLaunchTemplatesCommand } from "@aws-sdk/client-ec2";
import { DescribeServicesCommand } from "@aws-sdk/client-ecs";
import { REPO_ROOT, runDcp } from "./harness/dcp.js";
import {
  NOTHING_LEFT,
  alarmNamesOf,
  configuredApp,
  ctx,
  cw,
  ec2,
  ecs,
  fleetState,
  leftovers,
  logLine,
  sqs,
  startDcp,
  type FleetApi,
  type TestRun,
} from "./monitor-helpers.js";

const MACHINES = 2;

/** Receives and deletes every message, as workers would. */
async function consumeAll(queueUrl: string, count: number): Promise<void> {
  let left = count;
  while (left > 0) {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
    );
    if (!Messages.length) continue;
    await sqs.send(
      new DeleteMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: Messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })),
      }),
    );
    left -= Messages.length;
  }
}

describe.each<FleetApi>(["spot-fleet", "ec2-fleet"])("run lifecycle with %s", (fleetApi) => {
  it("setup, 20 groups, a fleet; monitor sees them done, tears everything down and exits 0", async () => {
    const base = await configuredApp(fleetApi, MACHINES, "Life", { CREATE_DASHBOARD: true });
    const jobFile = join(base.dir, "files", "job.json");
    const groups = Array.from({ length: 20 }, (_, i) => ({ Metadata: `Metadata_Plate=P1,Metadata_Well=W${i}` }));
    writeFileSync(
      jobFile,
      JSON.stringify({
        pipeline: "p.cppipe",
        data_file: "load.csv",
        input: "in/",
        output: "out/",
        output_structure: "",
        groups,
      }),
    );
    const submitted = await runDcp(["--config", base.configPath, "submit", jobFile], { cwd: base.dir });
    expect(submitted.code, submitted.stderr).toBe(0);
    const queueUrl = (await findQueueUrl(sqs, `${base.app}Queue`))!;
    const fleetFile = join(REPO_ROOT, "test/fixtures/fleets/dcp-original.json");
    const started = await runDcp(
      [
        "--config",
        base.configPath,
        "start-cluster",
        fleetFile,
        "--wait-timeout",
        "30",
        "--poll-interval",
        "0.2",
        "--json",
      ],
      { cwd: base.dir },
    );
    expect(started.code, started.stderr).toBe(0);
    const statePath = join(base.dir, "files", `${base.app}SpotFleetRequestId.json`);
    const written = JSON.parse(readFileSync(statePath, "utf8"));
    expect(written).toMatchObject({
      MONITOR_APP_NAME: base.app,
      MONITOR_QUEUE_NAME: `${base.app}Queue`,
      dcp: { fleetApi, status: "running" },
    });
    const run: TestRun = {
      ...base,
      statePath,
      queueUrl,
      fleetId: written.dcp.fleetId,
      launchTemplateId: written.dcp.launchTemplateId,
    };

    expect(await fleetState(run)).toEqual({ state: "active", target: MACHINES });
    const { services = [] } = await ecs.send(
      new DescribeServicesCommand({ cluster: `${run.app}Cluster`, services: [`${run.app}Service`] }),
    );
    expect(services[0]?.desiredCount).toBe(MACHINES * 2);
    expect(await alarmNamesOf(run.app)).toHaveLength(MACHINES);

    if (fleetApi === "ec2-fleet") {
      const templates = await ec2.send(
        new DescribeLaunchTemplatesCommand({ LaunchTemplateIds: [run.launchTemplateId!] }),
      );
      expect(templates.LaunchTemplates).toHaveLength(1);
    }

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
    const exported = await s3Client(ctx).send(
      new ListObjectsV2Command({ Bucket: run.bucket, Prefix: `exportedlogs/${run.app}` }),
    );
    expect(exported.KeyCount ?? 0, output).toBeGreaterThan(0);
    const dashboards = await cw.send(new ListDashboardsCommand({ DashboardNamePrefix: run.app }));
    expect(dashboards.DashboardEntries ?? []).toEqual([]);
    if (fleetApi === "ec2-fleet") {
      expect(run.launchTemplateId).toBeDefined();
      // AWS answers NotFound for a deleted template; the emulator an empty list.
      const templates = await ec2
        .send(new DescribeLaunchTemplatesCommand({ LaunchTemplateIds: [run.launchTemplateId!] }))
        .catch(() => ({ LaunchTemplates: [] }));
      expect(templates.LaunchTemplates ?? []).toEqual([]);
    }
  });
});
