/**
 * `dcp doctor` against moto: a healthy account and files (all ✔ or "!", exit 0), then one broken thing at a
 * time (issue 12's list): each is reported with its fix, exit 1, and the doctor only ever read (every
 * recorded AWS call is a Get/Describe/List/Head). The Spot vCPU quota, which moto's Service Quotas does not
 * know, is served by a tiny local stub reached through AWS_ENDPOINT_URL_SERVICE_QUOTAS.
 */
import { createServer, type Server } from "node:http";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CreateSecurityGroupCommand, CreateSubnetCommand, CreateVpcCommand, EC2Client } from "@aws-sdk/client-ec2";
import { CreateRoleCommand, IAMClient } from "@aws-sdk/client-iam";
import { CreateBucketCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { beforeAll, afterAll, describe, expect, it } from "vitest";
import { driftOf, readRecordedCalls } from "./harness/iam-drift.js";
import { runDcp, tempDir, uniqueAppName, type DcpResult } from "./harness/dcp.js";

const REGION = "us-east-1";
const ec2 = new EC2Client({ region: REGION });
const ec2West = new EC2Client({ region: "us-west-2" });
const s3 = new S3Client({ region: REGION, forcePathStyle: true });
const iam = new IAMClient({ region: REGION });

const app = uniqueAppName("Doc");
const dir = tempDir("dcp-doctor-");
const bucket = app.toLowerCase();
const recordFile = join(dir, "calls.tsv");
let subnet = "";
let group = "";
let foreignGroup = "";
let westSubnet = "";
let taskRoleArn = "";
let fleetRoleArn = "";
let profileArn = "";
let quotaStub: Server | undefined;
let quotaUrl = "";

const MOUNT = "/home/ubuntu/bucket";
const CSV = [
  "FileName_DNA,PathName_DNA,Metadata_Plate,Metadata_Well,Metadata_Site",
  `a1.tif,${MOUNT}/proj/images,P1,D03,1`,
  `a2.tif,${MOUNT}/proj/images,P1,D03,2`,
  `b1.tif,${MOUNT}/proj/images,P1,D04,1`,
].join("\n");

function writeJson(name: string, value: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, JSON.stringify(value, null, 2));
  return path;
}

function config(overrides: Record<string, unknown> = {}): string {
  return writeJson(`config-${Math.random().toString(36).slice(2, 8)}.json`, {
    APP_NAME: app,
    AWS_REGION: REGION,
    AWS_BUCKET: bucket,
    ECS_CLUSTER: `${app}Cluster`,
    MACHINE_TYPE: ["m5.xlarge"],
    CLUSTER_MACHINES: 2,
    MEMORY: 7000,
    DOCKER_CORES: 2,
    TASK_ROLE_ARN: taskRoleArn,
    ...overrides,
  });
}

function fleet(overrides: Record<string, unknown> = {}, spec: Record<string, unknown> = {}): string {
  return writeJson(`fleet-${Math.random().toString(36).slice(2, 8)}.json`, {
    IamFleetRole: fleetRoleArn,
    AllocationStrategy: "priceCapacityOptimized",
    Type: "maintain",
    LaunchSpecifications: [
      {
        ImageId: "auto",
        IamInstanceProfile: { Arn: profileArn },
        NetworkInterfaces: [{ DeviceIndex: 0, SubnetId: subnet, Groups: [group], AssociatePublicIpAddress: true }],
        ...spec,
      },
    ],
    ...overrides,
  });
}

function job(overrides: Record<string, unknown> = {}, groups = ["Metadata_Plate=P1,Metadata_Well=D03"]): string {
  return writeJson(`job-${Math.random().toString(36).slice(2, 8)}.json`, {
    pipeline: "proj/analysis.cppipe",
    data_file: "proj/load_data.csv",
    input: "proj/images",
    output: "proj/out",
    output_structure: "",
    groups: groups.map((Metadata) => ({ Metadata })),
    ...overrides,
  });
}

async function doctor(args: string[], env: Record<string, string> = {}): Promise<DcpResult> {
  return runDcp(args[0] === "--config" ? [args[0], args[1]!, "doctor", ...args.slice(2)] : ["doctor", ...args], {
    cwd: dir,
    env: { DCP_RECORD_CALLS: recordFile, ...env },
  });
}

beforeAll(async () => {
  mkdirSync(join(dir, "files"), { recursive: true });
  const vpc = (await ec2.send(new CreateVpcCommand({ CidrBlock: "10.20.0.0/16" }))).Vpc!.VpcId!;
  subnet = (
    await ec2.send(new CreateSubnetCommand({ VpcId: vpc, CidrBlock: "10.20.1.0/24", AvailabilityZone: "us-east-1a" }))
  ).Subnet!.SubnetId!;
  group = (await ec2.send(new CreateSecurityGroupCommand({ GroupName: `${app}sg`, Description: "dcp", VpcId: vpc })))
    .GroupId!;
  const otherVpc = (await ec2.send(new CreateVpcCommand({ CidrBlock: "10.30.0.0/16" }))).Vpc!.VpcId!;
  foreignGroup = (
    await ec2.send(new CreateSecurityGroupCommand({ GroupName: `${app}other`, Description: "dcp", VpcId: otherVpc }))
  ).GroupId!;
  const westVpc = (await ec2West.send(new CreateVpcCommand({ CidrBlock: "10.40.0.0/16" }))).Vpc!.VpcId!;
  westSubnet = (
    await ec2West.send(
      new CreateSubnetCommand({ VpcId: westVpc, CidrBlock: "10.40.1.0/24", AvailabilityZone: "us-west-2a" }),
    )
  ).Subnet!.SubnetId!;

  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  const put = (Key: string, Body: string) => s3.send(new PutObjectCommand({ Bucket: bucket, Key, Body }));
  await Promise.all([
    put("proj/analysis.cppipe", "CellProfiler Pipeline"),
    put("proj/load_data.csv", CSV),
    ...["a1.tif", "a2.tif", "b1.tif"].map((f) => put(`proj/images/${f}`, "tif")),
  ]);

  // The roles, as a user makes them: `dcp iam create`.
  const created = await runDcp(["--config", config({ TASK_ROLE_ARN: null }), "iam", "create", "--json"], {
    cwd: dir,
    env: { DCP_RECORD_CALLS: recordFile },
  });
  expect(created.code, created.stderr).toBe(0);
  const summary = JSON.parse(created.stdout) as {
    taskRoleArn: string;
    fleetRoleArn: string;
    instanceProfileArn: string;
  };
  ({ taskRoleArn, fleetRoleArn, instanceProfileArn: profileArn } = summary);

  quotaStub = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      res.setHeader("content-type", "application/x-amz-json-1.1");
      res.end(JSON.stringify({ Quota: { QuotaCode: "L-34B43A08", ServiceCode: "ec2", Value: 4 } }));
    });
  });
  await new Promise<void>((resolve) => quotaStub!.listen(0, "127.0.0.1", resolve));
  const address = quotaStub.address();
  quotaUrl = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
});

afterAll(async () => {
  await new Promise((resolve) => quotaStub?.close(resolve));
});

function failures(result: DcpResult): string[] {
  return result.stdout.split("\n").filter((l) => / ✖ /.test(l));
}

describe("dcp doctor", () => {
  it("a healthy setup reports ✔ or '!' lines only, and exits 0", async () => {
    const result = await doctor(["--config", config(), job(), fleet()]);
    expect(failures(result), result.stdout + result.stderr).toEqual([]);
    expect(result.code).toBe(0);
    for (const subject of [
      "credentials",
      "task role",
      "fleet role",
      "instance profile",
      "subnets",
      "security groups",
      "AMI",
      "MACHINE_TYPE",
      "MEMORY and CPU_SHARES",
      `bucket ${bucket}`,
      "pipeline",
      "data_file",
      "LoadData rows",
      "images",
    ])
      expect(result.stdout, subject).toMatch(new RegExp(`✔ ${subject}`));
    // moto cannot answer these: said plainly, not passed.
    expect(result.stdout).toMatch(/! Spot vCPU quota: could not check/);
    expect(result.stdout).toMatch(/! worker image \S+: could not check: not on ECR/);
    expect(result.stdout).toMatch(/! your permissions: could not/);
    expect(result.stdout).toMatch(/PathName under MOUNT_ROOT \/home\/ubuntu\/bucket → s3:\/\//);
  });

  /**
   * Four doctor runs hold the fifteen broken things of the acceptance list, arranged so that none hides
   * another (each run has one subnet, VPC and bucket layout); every case is then asserted on its own.
   */
  const runs = new Map<string, Promise<DcpResult>>();
  async function brokenRun(name: "fleet" | "roles" | "job" | "data"): Promise<DcpResult> {
    if (!runs.has(name)) runs.set(name, arrange(name));
    return runs.get(name)!;
  }
  const trust = (service: string) =>
    JSON.stringify({
      Version: "2012-10-17",
      Statement: [{ Effect: "Allow", Principal: { Service: service }, Action: "sts:AssumeRole" }],
    });
  async function arrange(name: "fleet" | "roles" | "job" | "data"): Promise<DcpResult> {
    if (name === "fleet")
      return doctor([
        "--config",
        config({ MACHINE_TYPE: ["m5.xlarge", "mac1.metal"], MEMORY: 64000 }),
        fleet(
          { IamFleetRole: `arn:aws:iam::123456789012:role/${app}Nope` },
          {
            ImageId: "ami-0123456789abcdef0",
            IamInstanceProfile: { Arn: `arn:aws:iam::123456789012:instance-profile/${app}NoProfile` },
            NetworkInterfaces: [{ DeviceIndex: 0, SubnetId: subnet, Groups: [foreignGroup] }],
          },
        ),
      ]);
    if (name === "roles") {
      await iam.send(
        new CreateRoleCommand({ RoleName: `${app}Ec2Trust`, AssumeRolePolicyDocument: trust("ec2.amazonaws.com") }),
      );
      await iam.send(
        new CreateRoleCommand({
          RoleName: `${app}BareTask`,
          AssumeRolePolicyDocument: trust("ecs-tasks.amazonaws.com"),
        }),
      );
      return doctor([
        "--config",
        config({ TASK_ROLE_ARN: `arn:aws:iam::123456789012:role/${app}BareTask` }),
        fleet(
          { IamFleetRole: `arn:aws:iam::123456789012:role/${app}Ec2Trust` },
          { NetworkInterfaces: [{ DeviceIndex: 0, SubnetId: westSubnet, Groups: [group] }] },
        ),
      ]);
    }
    if (name === "job")
      return doctor(
        [
          "--config",
          config({ AWS_BUCKET: `${bucket}-missing`, SOURCE_BUCKET: bucket, CLUSTER_MACHINES: 3 }),
          job({ pipeline: "proj/none.cppipe" }, [
            "Metadata_Plate=P9,Metadata_Well=D03",
            "Metadata_Plate=P1,Metadata_Well=D3",
            "Metadata_Plate=P1,Metadata_Well=D04",
          ]),
        ],
        { AWS_ENDPOINT_URL_SERVICE_QUOTAS: quotaUrl },
      );
    return doctor([
      "--config",
      config({ DOCKERHUB_TAG: "123456789012.dkr.ecr.us-east-1.amazonaws.com/dcp-nope:1" }),
      job({ data_file: "proj/none.csv" }),
    ]);
  }

  const broken: Array<[string, "fleet" | "roles" | "job" | "data", RegExp, RegExp]> = [
    ["missing fleet role", "fleet", /✖ fleet role \S+Nope: does not exist/, /dcp iam create/],
    [
      "fleet role without the spotfleet trust",
      "roles",
      /✖ fleet role \S+Ec2Trust: is not trusted by spotfleet.amazonaws.com/,
      /update-assume-role-policy/,
    ],
    ["instance profile missing", "fleet", /✖ instance profile \S+NoProfile: does not exist/, /dcp iam create/],
    ["task role without SQS", "roles", /✖ task role \S+BareTask: cannot sqs:ReceiveMessage/, /dcp iam policy worker/],
    [
      "subnet from another region",
      "roles",
      /✖ subnets in \S+: subnet-\S+ not found in us-east-1/,
      /use subnets of us-east-1/,
    ],
    [
      "security group from another VPC",
      "fleet",
      /✖ security groups in \S+: sg-\S+ is in vpc-\S+, not in the subnets' VPC/,
      /describe-security-groups/,
    ],
    ["AMI that does not exist", "fleet", /✖ AMI in \S+: ami-0123456789abcdef0 does not exist/, /"ImageId": "auto"/],
    [
      "instance type not offered",
      "fleet",
      /✖ MACHINE_TYPE: mac1.metal not offered in us-east-1a/,
      /describe-instance-type-offerings/,
    ],
    [
      "vCPU quota smaller than the fleet",
      "job",
      /✖ Spot vCPU quota: the fleet needs up to 12 vCPUs \(3 × 4\), the account's quota L-34B43A08 is 4/,
      /request-service-quota-increase .* --desired-value 12/,
    ],
    [
      "bucket missing",
      "job",
      /✖ bucket \S+-missing \(AWS_BUCKET, DESTINATION_BUCKET\): does not exist/,
      /aws s3 mb s3:\/\//,
    ],
    ["pipeline missing", "job", /✖ pipeline proj\/none.cppipe: not found/, /fix "pipeline" in/],
    ["data file missing", "data", /✖ data_file proj\/none.csv: not found/, /fix "data_file" in/],
    [
      "worker image missing from ECR",
      "data",
      /✖ worker image \S+dcp-nope:1: not found in ECR repository dcp-nope/,
      /docker push|fix DOCKERHUB_TAG/,
    ],
    [
      "group with no LoadData rows",
      "job",
      /✖ group Metadata_Plate=P9,Metadata_Well=D03: no LoadData row/,
      /fix the group's Metadata/,
    ],
    [
      "01/1 near-miss",
      "job",
      /✖ group Metadata_Plate=P1,Metadata_Well=D3: no LoadData row .* near miss: the data file has Metadata_Plate=P1,Metadata_Well=D03/,
      /Metadata_Well=D03\) in/,
    ],
    [
      "MEMORY larger than the machine",
      "fleet",
      /✖ MEMORY and CPU_SHARES: do not fit: 1 × \(MEMORY 64000 MiB/,
      /lower MEMORY/,
    ],
  ];

  it.concurrent.each(broken)("%s: reported with its fix, exit 1", async (_name, run, problem, fix) => {
    const result = await brokenRun(run);
    const lines = result.stdout.split("\n");
    const line = lines.findIndex((l) => problem.test(l));
    expect(line, result.stdout + result.stderr).toBeGreaterThanOrEqual(0);
    expect(lines[line + 1] ?? "", "the fix follows the problem").toMatch(/^\s+Fix: /);
    expect(lines[line + 1]).toMatch(fix);
    expect(result.code).toBe(1);
  });

  it("bad input exits 2 before any AWS call", async () => {
    const notJson = join(dir, "broken.json");
    writeFileSync(notJson, "{ nope");
    const result = await doctor(["--config", config(), notJson], { DCP_RECORD_CALLS: join(dir, "none.tsv") });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/broken.json: is not valid JSON/);
    expect(readRecordedCalls(join(dir, "none.tsv"))).toEqual([]);
  });

  it("only ever read: every call the doctor made is a Get, Describe, List or Head, and is in its IAM policy", () => {
    const calls = readRecordedCalls(recordFile).filter((c) => c.command === "doctor");
    expect(calls.length).toBeGreaterThan(10);
    expect(calls.filter((c) => !/^(Get|Describe|List|Head)/.test(c.operation))).toEqual([]);
    expect(driftOf(readRecordedCalls(recordFile))).toEqual([]);
  });
});
