/**
 * Issue 14 on the emulator: the cost `dcp monitor` reports at the end of a run equals moto's own launch
 * and termination times of the fleet's instances x the spot prices the realism proxy serves for their
 * zone and type, computed here by the test (EC2 bills Linux spot instances per second, at least 60 s).
 */
import { DescribeInstancesCommand, DescribeSubnetsCommand } from "@aws-sdk/client-ec2";
import { afterAll, describe, expect, it } from "vitest";
import { readRunState } from "../src/state/run-state.js";
import { runDcp } from "./harness/dcp.js";
import { startRealismProxy, type RealismProxy, type SpotPrice } from "./harness/realism-proxy.js";
import { AMI, configuredApp, ec2, fleetWithState } from "./monitor-helpers.js";

const proxies: RealismProxy[] = [];
afterAll(async () => Promise.all(proxies.map((p) => p.stop())));

/** USD the test expects: each instance's billed seconds x the served price of its zone and type. */
async function billedByMoto(instanceIds: string[], prices: SpotPrice[]): Promise<number> {
  const out = await ec2.send(new DescribeInstancesCommand({ InstanceIds: instanceIds }));
  let usd = 0;
  for (const i of (out.Reservations ?? []).flatMap((r) => r.Instances ?? [])) {
    const ended = /\((\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d) (GMT|UTC)\)/.exec(i.StateTransitionReason ?? "");
    expect(ended, `${i.InstanceId} ${i.State?.Name} ${i.StateTransitionReason}`).not.toBeNull();
    const seconds = (Date.parse(`${ended![1]}T${ended![2]}Z`) - i.LaunchTime!.getTime()) / 1000;
    const price = prices.find((p) => p.zone === i.Placement?.AvailabilityZone && p.instanceType === i.InstanceType);
    expect(price, `${i.InstanceType} in ${i.Placement?.AvailabilityZone}`).toBeDefined();
    usd += (Math.max(60, seconds) / 3600) * price!.price;
  }
  return usd;
}

describe("dcp monitor: cost", () => {
  it("reports at the end moto's launch-to-termination times x the served price of each zone and type", async () => {
    const subnets = (await ec2.send(new DescribeSubnetsCommand({}))).Subnets!;
    const [a, b] = [subnets[0]!, subnets.find((s) => s.AvailabilityZone !== subnets[0]!.AvailabilityZone)!];
    const prices: SpotPrice[] = [
      { zone: a.AvailabilityZone!, instanceType: "m5.xlarge", price: 36 },
      { zone: b.AvailabilityZone!, instanceType: "c5.large", price: 72 },
      // decoys: the other zone of each type
      { zone: b.AvailabilityZone!, instanceType: "m5.xlarge", price: 1000 },
      { zone: a.AvailabilityZone!, instanceType: "c5.large", price: 2000 },
    ];
    const proxy = await startRealismProxy({ spotPrices: prices });
    proxies.push(proxy);
    const base = await configuredApp("spot-fleet", 2, "Cost");
    const run = await fleetWithState(base, 2, {
      AllocationStrategy: "diversified",
      LaunchSpecifications: [
        { ImageId: AMI, InstanceType: "m5.xlarge", SubnetId: a.SubnetId! },
        { ImageId: AMI, InstanceType: "c5.large", SubnetId: b.SubnetId! },
      ],
    });
    const result = await runDcp(["--config", run.configPath, "monitor", "--interval", "1", "--json"], {
      cwd: run.dir,
      env: proxy.env,
    });
    expect(result.code, result.stderr).toBe(0);
    const summary = JSON.parse(result.stdout) as { estimatedCostUsd: number };
    const observations = (await readRunState(run.statePath)).dcp.observations as {
      instances: Record<string, { type: string }>;
      cost?: { spentUsd?: number };
    };
    const ids = Object.keys(observations.instances);
    expect(
      Object.values(observations.instances)
        .map((i) => i.type)
        .sort(),
    ).toEqual(["c5.large", "m5.xlarge"]);
    expect(summary.estimatedCostUsd).toBeCloseTo(await billedByMoto(ids, prices), 3);
    // The monitor's own running figure was there before the teardown.
    expect(observations.cost?.spentUsd).toBeGreaterThan(0);
  });
});
