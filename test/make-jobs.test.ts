/**
 * `dcp make-jobs` end to end (the built CLI): its messages equal the ones run_batch_general.py
 * would have queued, field for field (fixtures written by hand from the original's code, see
 * test/fixtures/make-jobs/original/README.md), from-csv groups, the near-miss report, bad
 * arguments, and a flat memory profile at 345,600 groups.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CreateQueueCommand, ReceiveMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { describe, expect, it } from "vitest";
import { runDcpWithMaxRss } from "../bench/make-jobs-rss.js";
import { REPO_ROOT, emulatorEnv, runDcp, tempDir, uniqueAppName } from "./harness/dcp.js";

const FIXTURES = join(REPO_ROOT, "test/fixtures/make-jobs");
const ORIGINAL = join(FIXTURES, "original");
const SHARED = ["pipeline", "output", "input", "data_file", "output_structure"] as const;

type Message = Record<string, string>;

interface OriginalFixture {
  args: string[];
  count: number;
  messages?: Message[];
  first?: Message[];
  last?: Message[];
  at?: Record<string, Message>;
}

/** What DCP's submitJob sends for each group: the shared values, the group's own values over them. */
function expandJobFile(file: string): Message[] {
  const job = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown> & { groups: Message[] };
  const shared: Message = { output_structure: "" };
  for (const key of SHARED) if (typeof job[key] === "string") shared[key] = job[key] as string;
  return job.groups.map((group) => ({ ...shared, ...group }));
}

/** The original omits output_structure for illum, qc and assaydev; its submitJob and worker read that as "". */
function asSent(message: Message): Message {
  return { output_structure: "", ...message };
}

describe("make-jobs reproduces run_batch_general.py", () => {
  const fixtures = readdirSync(ORIGINAL).filter((f) => f.endsWith(".json"));
  it("has a fixture for every step", () => {
    const steps = new Set(
      fixtures.map((f) => (JSON.parse(readFileSync(join(ORIGINAL, f), "utf8")) as OriginalFixture).args[0]),
    );
    expect([...steps].sort()).toEqual([
      "analysis",
      "assaydev",
      "assaydev_persite",
      "illum",
      "qc",
      "qc_persite",
      "zproj",
    ]);
  });

  for (const name of fixtures) {
    it.concurrent(name, async ({ expect }) => {
      const fixture = JSON.parse(readFileSync(join(ORIGINAL, name), "utf8")) as OriginalFixture;
      const dir = tempDir("dcp-mj-");
      const result = await runDcp(["make-jobs", ...fixture.args], { cwd: dir });
      expect(result.stderr).toBe("");
      expect(result.code).toBe(0);
      const [step, identifier] = fixture.args;
      const file = join(dir, "files", `${identifier}_${step}.json`);
      expect(result.stdout).toContain(`wrote ${fixture.count} groups to files/${identifier}_${step}.json`);
      const sent = expandJobFile(file);
      expect(sent).toHaveLength(fixture.count);
      if (fixture.messages) expect(sent).toEqual(fixture.messages.map(asSent));
      if (fixture.first) expect(sent.slice(0, fixture.first.length)).toEqual(fixture.first.map(asSent));
      if (fixture.last) expect(sent.slice(-fixture.last.length)).toEqual(fixture.last.map(asSent));
      for (const [index, message] of Object.entries(fixture.at ?? {}))
        expect(sent[Number(index)]).toEqual(asSent(message));
      expect(new Set(sent.map((m) => m.Metadata)).size).toBe(fixture.count);
    });
  }
});

describe("make-jobs job file", () => {
  it("carries data_file per group only when plates differ, and names the original's queue", async () => {
    const dir = tempDir("dcp-mj-");
    const result = await runDcp(["make-jobs", "illum", "Proj", "B1", "P1,P2", "-o", "out/illum.json", "--json"], {
      cwd: dir,
    });
    expect(result.code).toBe(0);
    const summary = JSON.parse(result.stdout) as Record<string, unknown>;
    expect(summary).toMatchObject({
      file: "out/illum.json",
      groups: 2,
      step: "illum",
      plates: 2,
      originalQueue: "Proj_IllumQueue",
    });
    const job = JSON.parse(readFileSync(join(dir, "out/illum.json"), "utf8")) as Record<string, unknown>;
    expect(job.data_file).toBeUndefined();
    expect(job.groups).toEqual([
      { Metadata: "Metadata_Plate=P1", data_file: "projects/Proj/workspace/load_data_csv/B1/P1/load_data.csv" },
      { Metadata: "Metadata_Plate=P2", data_file: "projects/Proj/workspace/load_data_csv/B1/P2/load_data.csv" },
    ]);
    const single = await runDcp(["make-jobs", "illum", "Proj", "B1", "P1", "-o", "one.json"], { cwd: dir });
    expect(single.code).toBe(0);
    const one = JSON.parse(readFileSync(join(dir, "one.json"), "utf8")) as Record<string, unknown>;
    expect(one.data_file).toBe("projects/Proj/workspace/load_data_csv/B1/P1/load_data.csv");
    expect(one.groups).toEqual([{ Metadata: "Metadata_Plate=P1" }]);
  });

  it("streams 100 plates × 384 wells × 9 sites = 345,600 groups in flat memory", async () => {
    const dir = tempDir("dcp-mj-");
    const plates = Array.from({ length: 100 }, (_, i) => `Plate${i + 1}`).join(",");
    const small = await runDcpWithMaxRss(
      ["make-jobs", "analysis", "Proj", "B1", "Plate1", "--wells", "A01", "--sites", "1", "-o", "small.json"],
      dir,
    );
    const big = await runDcpWithMaxRss(["make-jobs", "analysis", "Proj", "B1", plates, "-o", "big.json"], dir);
    expect(big.stdout).toContain("analysis: 345600 groups (100 plates × 384 wells × 9 sites)");
    const text = readFileSync(join(dir, "big.json"), "utf8");
    expect(text.split("\n").filter((l) => l.startsWith('    {"Metadata"')).length).toBe(345_600);
    expect(text.slice(-300)).toContain(
      '{"Metadata":"Metadata_Plate=Plate100,Metadata_Well=P24,Metadata_Site=9","data_file":"projects/Proj/workspace/load_data_csv/B1/Plate100/load_data_with_illum.csv"}\n  ]\n}\n',
    );
    // Holding the groups (and their JSON text, 53 MB) would add well over 150 MB.
    expect(big.maxRssMb - small.maxRssMb).toBeLessThan(80);
  });
});

describe("make-jobs from-csv", () => {
  const csv = join(FIXTURES, "load_data.csv");
  const keys = [
    "--pipeline",
    "projects/P/workspace/pipelines/B1/analysis.cppipe",
    "--data-file",
    "projects/P/workspace/load_data_csv/B1/load_data.csv",
    "--output",
    "projects/P/workspace/analysis/B1",
  ];

  it("makes one group per distinct Plate,Well (12) and Plate,Well,Site (24) of a 3 plates × 4 wells × 2 sites CSV, in file order", async () => {
    const dir = tempDir("dcp-mj-");
    const wells = await runDcp(
      ["make-jobs", "from-csv", csv, "--group-by", "Metadata_Plate,Metadata_Well", ...keys, "-o", "wells.json"],
      { cwd: dir },
    );
    expect(wells.code).toBe(0);
    expect(wells.stdout).toContain("12 groups (one per distinct Metadata_Plate,Metadata_Well in 24 rows)");
    const wellGroups = expandJobFile(join(dir, "wells.json"));
    expect(wellGroups.map((g) => g.Metadata).slice(0, 5)).toEqual([
      "Metadata_Plate=BR001,Metadata_Well=A01",
      "Metadata_Plate=BR001,Metadata_Well=A02",
      "Metadata_Plate=BR001,Metadata_Well=B01",
      "Metadata_Plate=BR001,Metadata_Well=B02",
      "Metadata_Plate=BR002,Metadata_Well=A01",
    ]);
    expect(wellGroups[0]).toEqual({
      Metadata: "Metadata_Plate=BR001,Metadata_Well=A01",
      pipeline: "projects/P/workspace/pipelines/B1/analysis.cppipe",
      data_file: "projects/P/workspace/load_data_csv/B1/load_data.csv",
      input: "",
      output: "projects/P/workspace/analysis/B1",
      output_structure: "",
    });

    const sites = await runDcp(
      [
        "make-jobs",
        "from-csv",
        csv,
        "--group-by",
        "Plate,Well,Site",
        ...keys,
        "--output-structure",
        "Metadata_Plate/Metadata_Well-Metadata_Site",
        "-o",
        "sites.json",
        "--json",
      ],
      { cwd: dir },
    );
    expect(sites.code).toBe(0);
    expect(JSON.parse(sites.stdout)).toMatchObject({
      file: "sites.json",
      groups: 24,
      check: { checked: 24, matched: 24, unmatched: 0 },
    });
    const siteGroups = expandJobFile(join(dir, "sites.json"));
    expect(siteGroups).toHaveLength(24);
    expect(siteGroups[23]).toMatchObject({
      Metadata: "Metadata_Plate=BR003,Metadata_Well=B02,Metadata_Site=2",
      output_structure: "Metadata_Plate/Metadata_Well-Metadata_Site",
    });
  });

  it("writes the values CellProfiler compares: a CSV site 01 becomes Metadata_Site=1, and says so", async () => {
    const dir = tempDir("dcp-mj-");
    const result = await runDcp(
      [
        "make-jobs",
        "from-csv",
        join(FIXTURES, "load_data_unpadded_wells.csv"),
        "--group-by",
        "Plate,Well,Site",
        ...keys,
        "-o",
        "g.json",
      ],
      { cwd: dir },
    );
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`Metadata_Site: CellProfiler reads the CSV's "01" as 1`);
    expect(
      expandJobFile(join(dir, "g.json"))
        .map((g) => g.Metadata)
        .slice(0, 2),
    ).toEqual([
      "Metadata_Plate=BR001,Metadata_Well=A1,Metadata_Site=1",
      "Metadata_Plate=BR001,Metadata_Well=A1,Metadata_Site=2",
    ]);
  });

  it("refuses a grouping column the CSV lacks, naming the columns it has", async () => {
    const dir = tempDir("dcp-mj-");
    const result = await runDcp(["make-jobs", "from-csv", csv, "--group-by", "Plate,Row", ...keys], { cwd: dir });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(
      "Metadata_Row: is not a column of this CSV. Fix: group by columns it has (Metadata_Plate, Metadata_Well, Metadata_Site)",
    );
    expect(existsSync(join(dir, "files"))).toBe(false);
  });
});

describe("make-jobs --check-csv", () => {
  it("names the zero-padding near miss (A01 vs A1), counts it, gives three examples, and exits 2 without writing", async () => {
    const dir = tempDir("dcp-mj-");
    const args = [
      "make-jobs",
      "analysis",
      "Proj",
      "B1",
      "BR001",
      "--rows",
      "A-B",
      "--columns",
      "1-2",
      "--sites",
      "1-2",
      "--check-csv",
      join(FIXTURES, "load_data_unpadded_wells.csv"),
    ];
    const result = await runDcp(args, { cwd: dir });
    expect(result.code).toBe(2);
    expect(result.stdout).toContain("8 of 8 groups match no row of");
    expect(result.stdout).toContain("zero padding in Metadata_Well: 8 groups, e.g.");
    const examples = result.stdout
      .split("\n")
      .filter((l) => l.includes('~ CSV Metadata_Well="A1"') || l.includes('~ CSV Metadata_Well="A2"'));
    expect(examples).toHaveLength(3);
    expect(result.stderr).toMatch(
      /8 of 8 groups match no row .*Fix: the CSV's wells are not zero-padded: add --no-well-digit-pad, or pass --allow-missing/,
    );
    expect(existsSync(join(dir, "files"))).toBe(false);

    const allowed = await runDcp([...args, "--allow-missing", "--json"], { cwd: dir });
    expect(allowed.code).toBe(0);
    const summary = JSON.parse(allowed.stdout) as {
      groups: number;
      check: { unmatched: number; kinds: Array<{ kind: string; count: number }> };
    };
    expect(summary.groups).toBe(8);
    expect(summary.check.unmatched).toBe(8);
    expect(summary.check.kinds).toEqual([expect.objectContaining({ kind: "zero padding in Metadata_Well", count: 8 })]);
    expect(existsSync(join(dir, "files/Proj_analysis.json"))).toBe(true);
  });

  it("passes when every group has rows, with --no-well-digit-pad matching unpadded wells", async () => {
    const dir = tempDir("dcp-mj-");
    const result = await runDcp(
      [
        "make-jobs",
        "analysis",
        "Proj",
        "B1",
        "BR001",
        "--rows",
        "A-B",
        "--columns",
        "1-2",
        "--sites",
        "1-2",
        "--no-well-digit-pad",
        "--check-csv",
        join(FIXTURES, "load_data_unpadded_wells.csv"),
      ],
      { cwd: dir },
    );
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("all 8 groups match rows of");
  });

  it("reports a plate the CSVs do not have", async () => {
    const dir = tempDir("dcp-mj-");
    const result = await runDcp(
      [
        "make-jobs",
        "qc",
        "Proj",
        "B1",
        "BR001,BR009",
        "--rows",
        "A-B",
        "--columns",
        "1-2",
        "--check-csv",
        join(FIXTURES, "load_data.csv"),
      ],
      { cwd: dir },
    );
    expect(result.code).toBe(2);
    expect(result.stdout).toContain("4 of 8 groups match no row");
    expect(result.stdout).toContain("Metadata_Plate value in no CSV row: 4 groups");
  });
});

describe("make-jobs bad arguments exit 2 with one clear message", () => {
  const cases: Array<[string, string[], RegExp]> = [
    [
      "unknown step",
      ["segment", "P", "B", "P1"],
      /<step>: "segment" is not a step\. Fix: use one of zproj, illum, qc, qc_persite, assaydev, assaydev_persite, analysis/,
    ],
    [
      "empty plate list",
      ["qc", "P", "B", ""],
      /<plates>: is an empty plate list\. Fix: list plates separated by commas/,
    ],
    ["plate list with a hole", ["qc", "P", "B", "P1,,P2"], /<plates>: has an empty item/],
    [
      "plate format 100",
      ["qc", "P", "B", "P1", "--plate-format", "100"],
      /--plate-format: must be 96 or 384\. Fix: use --plate-format 96/,
    ],
    [
      "malformed row range",
      ["qc", "P", "B", "P1", "--rows", "A-"],
      /--rows: "A-" is not a row range; write it like A-H/,
    ],
    ["backwards column range", ["qc", "P", "B", "P1", "--columns", "12-1"], /--columns: "12-1" runs backwards/],
    ["non-numeric column", ["qc", "P", "B", "P1", "--columns", "1,x"], /--columns: "x" is not a column number/],
    ["malformed site range", ["analysis", "P", "B", "P1", "--sites", "1-a"], /--sites: "1-a" is not a number range/],
    [
      "unknown path style",
      ["qc", "P", "B", "P1", "--path-style", "gallery"],
      /--path-style: must be "default" or "cpg"/,
    ],
    ["well with a space", ["qc", "P", "B", "P1", "--wells", "A01, B02"], /--wells: " B02" is not a valid well/],
    [
      "from-csv without --group-by",
      ["from-csv", "x.csv", "--pipeline", "p", "--data-file", "d", "--output", "o"],
      /--group-by: is missing/,
    ],
    [
      "from-csv with a layout flag",
      [
        "from-csv",
        "x.csv",
        "--group-by",
        "Plate",
        "--rows",
        "A",
        "--pipeline",
        "p",
        "--data-file",
        "d",
        "--output",
        "o",
      ],
      /--rows: is not an option of from-csv/,
    ],
    [
      "from-csv missing file",
      ["from-csv", "nope.csv", "--group-by", "Plate", "--pipeline", "p", "--data-file", "d", "--output", "o"],
      /nope\.csv: file not found/,
    ],
  ];
  for (const [name, args, message] of cases) {
    it.concurrent(name, async ({ expect }) => {
      const dir = tempDir("dcp-mj-");
      const result = await runDcp(["make-jobs", ...args], { cwd: dir });
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(message);
      expect(result.stderr.trim().split("\n")).toHaveLength(1);
      expect(existsSync(join(dir, "files"))).toBe(false);
    });
  }
});

describe("make-jobs and dcp submit", () => {
  function writeConfig(dir: string, appName: string): void {
    mkdirSync(join(dir, "config"), { recursive: true });
    writeFileSync(join(dir, "config/config.json"), JSON.stringify({ APP_NAME: appName, AWS_REGION: "us-east-1" }));
  }

  it("dcp submit --dry-run accepts the file, groups with their own data_file included", async () => {
    const dir = tempDir("dcp-mj-");
    writeConfig(dir, uniqueAppName("MjDry"));
    expect((await runDcp(["make-jobs", "qc", "Proj", "B1", "P1,P2", "--plate-format", "96"], { cwd: dir })).code).toBe(
      0,
    );
    const dry = await runDcp(["submit", "files/Proj_qc.json", "--dry-run", "--json"], { cwd: dir });
    expect(dry.stderr).not.toMatch(/dcp:/);
    expect(dry.code).toBe(0);
    const summary = JSON.parse(dry.stdout) as { groups: number; groupsWithOverrides: number; firstBodies: unknown[] };
    expect(summary.groups).toBe(192);
    expect(summary.groupsWithOverrides).toBe(192);
    expect(summary.firstBodies[0]).toEqual({
      Metadata: "Metadata_Plate=P1,Metadata_Well=A01",
      pipeline: "projects/Proj/workspace/pipelines/B1/qc.cppipe",
      output: "projects/Proj/workspace/qc/B1/results",
      input: "projects/Proj/workspace/qc/B1/rules",
      data_file: "projects/Proj/workspace/load_data_csv/B1/P1/load_data.csv",
      output_structure: "",
    });
  });

  it("--submit sends every group to the configured queue, each with its plate's data_file", async () => {
    const dir = tempDir("dcp-mj-");
    const app = uniqueAppName("MjSub");
    writeConfig(dir, app);
    const sqs = new SQSClient({
      region: "us-east-1",
      endpoint: emulatorEnv().AWS_ENDPOINT_URL_SQS,
      useQueueUrlAsEndpoint: false,
    });
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: `${app}Queue` }));
    const result = await runDcp(
      ["make-jobs", "analysis", "Proj", "B1", "P1,P2", "--wells", "A01,B02", "--sites", "1-3", "--submit", "--json"],
      { cwd: dir },
    );
    expect(result.stderr).not.toMatch(/dcp:/);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ groups: 12, submitted: 12 });
    const bodies: Array<Record<string, string>> = [];
    for (let i = 0; i < 10 && bodies.length < 12; i++) {
      const { Messages = [] } = await sqs.send(
        new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
      );
      bodies.push(...Messages.map((m) => JSON.parse(m.Body!) as Record<string, string>));
    }
    expect(bodies).toHaveLength(12);
    const p2 = bodies.find((b) => b.Metadata === "Metadata_Plate=P2,Metadata_Well=B02,Metadata_Site=3");
    expect(p2).toEqual({
      Metadata: "Metadata_Plate=P2,Metadata_Well=B02,Metadata_Site=3",
      pipeline: "projects/Proj/workspace/pipelines/B1/analysis.cppipe",
      output: "projects/Proj/workspace/analysis/B1",
      input: "projects/Proj/workspace/qc/B1/rules",
      data_file: "projects/Proj/workspace/load_data_csv/B1/P2/load_data_with_illum.csv",
      output_structure: "Metadata_Plate/analysis/Metadata_Plate-Metadata_Well-Metadata_Site",
    });
  });

  it("--submit without a config fails before writing anything", async () => {
    const dir = tempDir("dcp-mj-");
    const result = await runDcp(["make-jobs", "illum", "Proj", "B1", "P1", "--submit"], { cwd: dir });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/config file not found/);
    expect(existsSync(join(dir, "files"))).toBe(false);
  });
});
