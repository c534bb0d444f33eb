/**
 * Issue 14: `dcp estimate` through the built CLI (`make build` first): prices served per zone and type by
 * the realism proxy, bad input exits 2 with one message, and without EC2 it names the missing figures.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DescribeSubnetsCommand } from "@aws-sdk/client-ec2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runDcp } from "./harness/dcp.js";
import { startRealismProxy, type RealismProxy } from "./harness/realism-proxy.js";
import { tempDir } from "./harness/dcp.js";
import { ec2 } from "./monitor-helpers.js";
import { FLEET_FILE } from "./real-aws-helpers.js";

let proxy: RealismProxy;
let dir: string;
let zone: string;
const files = { config: "", job: "", fleet: "" };

beforeAll(async () => {
  const subnet = (await ec2.send(new DescribeSubnetsCommand({}))).Subnets![0]!;
  zone = subnet.AvailabilityZone!;
  proxy = await startRealismProxy({
    spotPrices: [
      { zone, instanceType: "m5.xlarge", price: 0.05 },
      { zone: "elsewhere-1z", instanceType: "m5.xlarge", price: 0.001 },
      { zone, instanceType: "c5.xlarge", price: 0.08 },
    ],
  });
  dir = tempDir("dcp-estimate-");
  mkdirSync(join(dir, "config"), { recursive: true });
  files.config = join(dir, "config", "config.json");
  writeFileSync(
    files.config,
    JSON.stringify({
      APP_NAME: "EstimateApp",
      AWS_BUCKET: "estimate-bucket",
      CLUSTER_MACHINES: 10,
      TASKS_PER_MACHINE: 1,
      DOCKER_CORES: 4,
      MACHINE_TYPE: ["m5.xlarge", "c5.xlarge"],
      ASSIGN_IP: false,
      CREATE_DASHBOARD: false,
    }),
  );
  files.job = join(dir, "job.json");
  const groups = Array.from({ length: 400 }, (_, i) => ({ Metadata: `Metadata_Plate=P${i % 4},Metadata_Well=W${i}` }));
  writeFileSync(
    files.job,
    JSON.stringify({
      pipeline: "p.cppipe",
      data_file: "d.csv",
      input: "",
      output: "out",
      output_structure: "",
      groups,
    }),
  );
  const fleet = JSON.parse(readFileSync(FLEET_FILE, "utf8"));
  fleet.LaunchSpecifications[0].NetworkInterfaces[0].SubnetId = subnet.SubnetId;
  files.fleet = join(dir, "fleet.json");
  writeFileSync(files.fleet, JSON.stringify(fleet));
});
afterAll(async () => proxy?.stop());

const estimate = (args: string[], env: Record<string, string> = proxy.env) =>
  runDcp(["--config", files.config, "estimate", files.job, files.fleet, ...args], { cwd: dir, env });

describe("dcp estimate", () => {
  it("prices the run with the cheapest type in the fleet's zones, with each line's unit price and source", async () => {
    const r = await estimate(["--seconds-per-group", "600", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    // --json: the estimate as JSON on stdout, the lines on stderr
    const text = r.stderr;
    expect(text).toMatch(/400 groups x 600 s per group/);
    expect(text).toMatch(new RegExp(`\\$0\\.0500/h \\(m5\\.xlarge in ${zone}, the cheapest\\)`));
    expect(text).toMatch(/\[DescribeSpotPriceHistory, /);
    expect(text).toMatch(/EBS gp3 .*\[price table \d{4}-\d\d-\d\d\]/);
    expect(text).toMatch(/total\s+\$\d+\.\d\d \(range /);
    expect(text).toMatch(/c5\.xlarge/);
    const e = JSON.parse(r.stdout);
    // 400 groups x 600 s on 40 loops: 100 min of tasks
    expect(e.shape.busyInstanceHours).toBeCloseTo((400 * 600) / 4 / 3600);
    expect(e.likely).toEqual({ type: "m5.xlarge", zone, price: 0.05 });
    expect(e.lines[0].usd).toBeCloseTo(e.shape.instanceHours * 0.05);
    expect(e.range.high).toBeGreaterThan(e.range.low);
  });

  it.each([
    [["--seconds-per-group", "-5"], /--seconds-per-group: must be at least 1 second/],
    [[], /--seconds-per-group: is needed/],
  ])("bad flags %j exit 2 with one message", async (args, message) => {
    const r = await estimate(args as string[]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
  });

  it("a missing job file and an unknown instance type exit 2 with one message", async () => {
    const missing = await runDcp(
      ["--config", files.config, "estimate", join(dir, "nope.json"), files.fleet, "--seconds-per-group", "60"],
      { cwd: dir, env: proxy.env },
    );
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/nope\.json/);
    const config = join(dir, "config", "bad-type.json");
    writeFileSync(
      config,
      JSON.stringify({ APP_NAME: "EstimateApp", AWS_BUCKET: "estimate-bucket", MACHINE_TYPE: ["m5.enormous"] }),
    );
    const unknown = await runDcp(
      ["--config", config, "estimate", files.job, files.fleet, "--seconds-per-group", "60"],
      { cwd: dir, env: proxy.env },
    );
    expect(unknown.code, unknown.stdout).toBe(2);
    expect(unknown.stderr).toMatch(/MACHINE_TYPE: m5\.enormous is not an instance type/);
    expect(unknown.stderr.trim().split("\n")).toHaveLength(1);
  });

  it("without access to EC2 it says which figures are missing", async () => {
    const r = await estimate(["--seconds-per-group", "600"], {
      ...proxy.env,
      AWS_ENDPOINT_URL: "http://127.0.0.1:9",
      AWS_MAX_ATTEMPTS: "1",
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/total\s+unknown/);
    expect(r.stdout).toMatch(/missing: spot prices of m5\.xlarge, c5\.xlarge: DescribeSpotPriceHistory failed/);
    expect(r.stdout).toMatch(/EBS gp3\s+\$/);
  });
});
