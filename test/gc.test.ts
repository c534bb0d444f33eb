/**
 * Issue 13 acceptance, `dcp gc` (built CLI, emulators; CellProfiler is the TEST DOUBLE
 * test/fixtures/fake-cellprofiler):
 * - `dcp monitor` killed with SIGKILL during a run: after the heartbeat timeout, `dcp gc --dry-run`
 *   lists the run's resources as unattended; `dcp gc --include-running --yes` removes them (the
 *   dead-letter queue and the log groups kept); a second gc finds nothing.
 * - two apps, one finished and one running (fresh heartbeat), seen from a folder with no state file:
 *   gc removes the finished one only.
 * Every gc here names its apps (--app): other tests share the emulators, and gc looks at the region.
 */
import { DescribeLogGroupsCommand } from "@aws-sdk/client-cloudwatch-logs";
import {
  CancelSpotFleetRequestsCommand,
  CreateFleetCommand,
  CreateLaunchTemplateCommand,
  RequestSpotFleetCommand,
} from "@aws-sdk/client-ec2";
import { afterAll, describe, expect, it } from "vitest";
import { logsClient } from "../src/aws/logs.js";
import { s3Client, putText } from "../src/aws/s3.js";
import { findQueueUrl } from "../src/aws/sqs.js";
import { observe } from "../src/plan/monitor-decisions.js";
import { runLedgerKeys, type Heartbeat } from "../src/plan/ledger.js";
import { appNames, fleetTags, tagList, workerTags } from "../src/plan/names.js";
import { readRunState } from "../src/state/run-state.js";
import { emulatorEnv, runDcp, tempDir, uniqueAppName } from "./harness/dcp.js";
import type { EcsAgent } from "./harness/ecs-agent.js";
import { startDcp } from "./harness/process.js";
import { AMI, ctx, ec2, sqs } from "./monitor-helpers.js";
import {
  NOTHING_OF_THE_APP,
  agentFor,
  everythingLeft,
  launchTemplatesOf,
  liveFleetsOf,
  realApp,
  startRun,
  until,
  type RealApp,
} from "./real-aws-helpers.js";

interface GcJson {
  toDelete: number;
  apps: {
    app: string;
    verdict: string;
    remove: boolean;
    held?: string;
    resources: { kind: string; id: string; action: string }[];
  }[];
  removed: { app: string; removed: { kind: string; outcome: string }[] }[];
}

const gc = async (app: RealApp | string[], args: string[], cwd?: string) => {
  const started = Date.now();
  const names = Array.isArray(app) ? app : [app.app];
  const result = await runDcp(["gc", ...names.flatMap((a) => ["--app", a]), "--json", ...args], {
    cwd: cwd ?? (Array.isArray(app) ? tempDir() : app.dir),
    env: { AWS_REGION: "us-east-1" },
    timeoutMs: 90_000,
  });
  const said = `$ dcp gc ${args.join(" ")} → ${result.code}\n${result.stdout}${result.stderr}`;
  console.info(`[gc] dcp gc ${args.join(" ")}: ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return { ...result, said, json: (result.stdout.trim() ? JSON.parse(result.stdout) : undefined) as GcJson };
};

async function logGroupsOf(app: string): Promise<string[]> {
  const out = await logsClient(ctx).send(new DescribeLogGroupsCommand({ logGroupNamePrefix: app }));
  return (out.logGroups ?? []).map((g) => g.logGroupName!).sort();
}

let agent: EcsAgent | undefined;
afterAll(async () => {
  await agent?.stop();
});

describe.concurrent("dcp gc", () => {
  it("a run whose monitor was SIGKILLed: listed as unattended, removed with --include-running (DLQ and logs kept), then nothing", async () => {
    // The heartbeat timeout's floor: 1.2 s (MONITOR_HEARTBEAT_TIMEOUT_MINUTES), so 3 polls of 1 s: 3 s.
    const app = await realApp({ groups: 6, machines: 1, extra: { MONITOR_HEARTBEAT_TIMEOUT_MINUTES: 0.02 } });
    const fleetId = await startRun(app);
    const log: string[] = [];
    agent = agentFor(app, {
      tasksPerInstance: 1,
      pollMs: 500,
      stopTimeoutSeconds: 2,
      extraEnv: { FAKE_CP_ARGV_FILE: app.argvFile, FAKE_CP_SLEEP_MS: "5000", WORKER_IDLE_POLLS: "100000" },
      log: (line) => log.push(line),
    });
    const monitor = startDcp(
      ["monitor", "--interval", "1"],
      app.dir,
      { ...process.env, ...emulatorEnv() },
      "monitor",
      (l) => log.push(l),
    );
    // The monitor has polled (observations saved) and a worker runs: kill the monitor as a crash would.
    await until(
      async () =>
        Boolean((await readRunState(app.statePath)).dcp.observations) &&
        agent!.events.some((e) => e.kind === "started"),
      "the monitor's first reading and a worker",
      30_000,
    );
    monitor.kill("SIGKILL");
    expect((await monitor.closed).signal).toBe("SIGKILL");
    await agent.stop();
    const heartbeatTimeout = ["--heartbeat-timeout", "1s"];
    await new Promise((r) => setTimeout(r, 3_500)); // past the heartbeat timeout (3 polls of 1 s)
    // Both only read: side by side.
    const [status, dry] = await Promise.all([
      runDcp(["status"], { cwd: app.dir }),
      gc(app, ["--dry-run", ...heartbeatTimeout]),
    ]);
    expect(status.stdout + status.stderr).toMatch(/UNATTENDED and billing/);
    expect(dry.code, `${dry.said}\n${log.slice(-30).join("\n")}`).toBe(0);
    const listed = dry.json.apps.find((a) => a.app === app.app)!;
    expect(listed.verdict, dry.said).toBe("unattended");
    expect(listed.remove).toBe(false);
    expect(listed.held).toMatch(/--include-running/);
    const kinds = new Set(listed.resources.map((r) => r.kind));
    for (const kind of ["fleet", "instance", "queue", "dead-letter-queue", "service", "task-definition", "cluster"])
      expect(kinds, dry.said).toContain(kind);
    expect(dry.stderr).toMatch(/\[unattended\]/);
    expect(await everythingLeft(app, fleetId)).not.toEqual(NOTHING_OF_THE_APP);

    const removal = await gc(app, ["--include-running", "--yes"]);
    expect(removal.code, removal.said).toBe(0);
    expect(removal.json.apps[0]!.verdict).toBe("unattended");
    expect(await everythingLeft(app, fleetId), removal.said).toEqual(NOTHING_OF_THE_APP);
    expect(await findQueueUrl(sqs, `${app.app}_Dead`), "the DLQ is kept").toBeDefined();
    expect(await logGroupsOf(app.app)).toEqual([app.app, `${app.app}_perInstance`]);
    expect((await readRunState(app.statePath)).dcp.status, "torn down through its state file").toBe("finished");

    const again = await gc(app, ["--include-running", "--yes"]);
    expect(again.code, again.said).toBe(0);
    expect(again.json.toDelete, again.said).toBe(0);
    expect(again.json.removed).toEqual([]);
    expect(again.stderr).toMatch(/nothing to delete/);
  });

  it("two apps, one finished and one running (fresh heartbeat), and a leaked EC2 Fleet, from a folder without state files: the running one stays", async () => {
    const finished = await realApp({ machines: 1 });
    const running = await realApp({ machines: 1 });
    const setups = await Promise.all([finished, running].map((a) => runDcp(["setup"], { cwd: a.dir })));
    expect(setups.map((r) => r.code)).toEqual([0, 0]);
    // The running app: a fleet tagged as start-cluster tags it, and its monitor's heartbeat, just written.
    const fleetId = await taggedFleet(running.app);
    const s3 = s3Client(ctx);
    await putText(s3, running.bucket, runLedgerKeys(running.app, fleetId).heartbeat, heartbeat(fleetId));
    // The finished app: setup's resources are left, and its ledger holds a summary (written at teardown).
    await putText(s3, finished.bucket, runLedgerKeys(finished.app, "sfr-old").summary, "{}");
    await putText(s3, finished.bucket, `dcp-runs/${finished.app}/current.json`, currentPointer("sfr-old"));
    // A leaked EC2 Fleet with its launch template, tagged, and nothing else of its app: no state.
    const leaked = uniqueAppName("Leak");
    const leak = await taggedEc2Fleet(leaked);
    const apps = [finished.app, running.app, leaked];
    const elsewhere = tempDir("dcp-gc-elsewhere-");
    // No config and no state file here: gc finds each ledger through the task definition's AWS_BUCKET.
    const removal = await gc(apps, ["--yes", "--include-dlq"], elsewhere);
    expect(removal.code, removal.said).toBe(0);
    const verdicts = Object.fromEntries(removal.json.apps.map((a) => [a.app, [a.verdict, a.remove]]));
    expect(verdicts, removal.said).toEqual({
      [finished.app]: ["finished", true],
      [running.app]: ["running", false],
      [leaked]: ["no-state", true],
    });
    expect(await liveFleetsOf(leaked), removal.said).toEqual([]);
    expect(await launchTemplatesOf(leaked), removal.said).toEqual([]);
    const leakedKinds = removal.json.apps.find((a) => a.app === leaked)!.resources.map((r) => r.kind);
    expect(new Set(leakedKinds)).toEqual(new Set(["fleet", "instance", "launch-template"]));
    expect(leak.fleetId).toMatch(/^fleet-/);
    expect(await findQueueUrl(sqs, `${finished.app}Queue`)).toBeUndefined();
    expect(await findQueueUrl(sqs, `${finished.app}_Dead`), "--include-dlq").toBeUndefined();
    expect(await logGroupsOf(finished.app), "log groups kept").toHaveLength(2);
    expect(await liveFleetsOf(running.app), "the running app is untouched").toEqual([fleetId]);

    const again = await gc(apps, ["--yes", "--include-dlq"], elsewhere);
    expect(again.json.toDelete, again.said).toBe(0);
    await ec2.send(new CancelSpotFleetRequestsCommand({ SpotFleetRequestIds: [fleetId], TerminateInstances: true }));
  });
});

/** A one-instance EC2 Fleet and its launch template, tagged as start-cluster tags them. */
async function taggedEc2Fleet(app: string): Promise<{ fleetId: string; launchTemplateId: string }> {
  const lt = await ec2.send(
    new CreateLaunchTemplateCommand({
      LaunchTemplateName: appNames(app).launchTemplate,
      LaunchTemplateData: {
        ImageId: AMI,
        InstanceType: "m5.xlarge",
        TagSpecifications: [{ ResourceType: "instance", Tags: workerTags(app) }],
      },
      TagSpecifications: [{ ResourceType: "launch-template", Tags: tagList(app) }],
    }),
  );
  const launchTemplateId = lt.LaunchTemplate!.LaunchTemplateId!;
  const out = await ec2.send(
    new CreateFleetCommand({
      Type: "maintain",
      TargetCapacitySpecification: { TotalTargetCapacity: 1, DefaultTargetCapacityType: "spot" },
      LaunchTemplateConfigs: [
        { LaunchTemplateSpecification: { LaunchTemplateId: launchTemplateId, Version: "$Latest" } },
      ],
      TagSpecifications: [{ ResourceType: "fleet", Tags: fleetTags(app) }],
    }),
  );
  return { fleetId: out.FleetId!, launchTemplateId };
}

/** A one-instance Spot Fleet tagged with the app, fleet and instances, as start-cluster tags them. */
async function taggedFleet(app: string): Promise<string> {
  const out = await ec2.send(
    new RequestSpotFleetCommand({
      SpotFleetRequestConfig: {
        IamFleetRole: "arn:aws:iam::123456789012:role/fleet",
        TargetCapacity: 1,
        AllocationStrategy: "lowestPrice",
        LaunchSpecifications: [
          {
            ImageId: AMI,
            InstanceType: "m5.xlarge",
            TagSpecifications: [{ ResourceType: "instance", Tags: workerTags(app) }],
          },
        ],
        TagSpecifications: [{ ResourceType: "spot-fleet-request", Tags: fleetTags(app) }],
      },
    }),
  );
  return out.SpotFleetRequestId!;
}

function currentPointer(runId: string): string {
  return JSON.stringify({ version: 1, runId, startedAt: new Date(Date.now() - 3_600_000).toISOString() });
}

function heartbeat(runId: string): string {
  const at = Date.now();
  const beat: Heartbeat = {
    version: 1,
    runId,
    at: new Date(at).toISOString(),
    pollSeconds: 60,
    phase: "running",
    host: "laptop",
    pid: 1,
    fleetApi: "spot-fleet",
    fleetLabel: "Spot Fleet",
    startedAt: at - 60_000,
    observations: observe(undefined, { at, visible: 1, inFlight: 0, dlq: 0, live: [] }),
  };
  return JSON.stringify(beat);
}
