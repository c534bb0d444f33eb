/**
 * `dcp collect` through the built CLI, on a local folder and on S3 (moto): row counts equal the
 * sum of the per-group rows, Metadata_Plate/Well/Site on every row, a group with a missing file and
 * one with a header-only file reported, a real type conflict reported (and an all-null column
 * not), bad input refused with exit 2.
 */
import { CreateBucketCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { DuckDBInstance } from "@duckdb/node-api";
import { mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ANALYSIS_STRUCTURE, writeCollectTree, type CollectTree } from "../bench/collect-data.js";
import { s3Client } from "../src/aws/s3.js";
import { runDcp, tempDir } from "./harness/dcp.js";

let dir: string;
let tree: CollectTree;
const expected: Record<string, number> = {};

beforeAll(() => {
  dir = tempDir("dcp-collect-");
  tree = writeCollectTree(join(dir, "analysis"), { plates: 2, wells: 2, sites: 2, columns: 5, objectRows: 3 });
  const [, missing, headerOnly, conflict, narrow, allNull] = tree.groups.map((g) => g.dir);
  rmSync(join(missing!, "Cytoplasm.csv"));
  writeFileSync(join(headerOnly!, "Nuclei.csv"), "ImageNumber,ObjectNumber,Feature_001,Extra\n");
  writeFileSync(join(conflict!, "Cells.csv"), "ImageNumber,ObjectNumber,Feature_001\n1,1,abc\n1,2,4.5\n1,3,7\n");
  writeFileSync(join(narrow!, "Image.csv"), "ImageNumber,Feature_001\n1,2.5\n");
  writeFileSync(join(allNull!, "Nuclei.csv"), "ImageNumber,ObjectNumber,Feature_002\n1,1,\n1,2,\n");
  Object.assign(expected, tree.rows);
  expected.Cytoplasm! -= 3;
  expected.Nuclei! -= 3 + 1;
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function query(sql: string): Promise<Record<string, unknown>[]> {
  const instance = await DuckDBInstance.create(":memory:");
  const connection = await instance.connect();
  try {
    return (await connection.runAndReadAll(sql)).getRowObjectsJS();
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

interface Report {
  groups: number;
  objects: Record<string, { rows: number; table?: string }>;
  missing: { count: number; groups: Array<{ group: string; objects: string[] }> };
  empty: { count: number; files: Array<{ group: string; object: string; reason: string }> };
  conflicts: Array<{ object: string; column: string; kinds: Array<{ kind: string; groups: number }> }>;
}

async function checkCollated(out: string, report: Report, sourcePrefix: string): Promise<void> {
  expect(report.groups).toBe(8);
  for (const object of ["Image", "Cells", "Nuclei", "Cytoplasm"]) {
    const table = join(out, `${object}.parquet`);
    expect(report.objects[object]!.rows).toBe(expected[object]);
    const [counts] = await query(
      `SELECT count(*) AS n, count(*) FILTER (WHERE Metadata_Plate IS NULL OR Metadata_Well IS NULL OR Metadata_Site IS NULL) AS unlabelled, ` +
        `count(*) FILTER (WHERE NOT starts_with(Metadata_dcp_source, '${sourcePrefix}') OR NOT ends_with(Metadata_dcp_source, '/${object}.csv')) AS foreign FROM '${table}'`,
    );
    expect(counts).toEqual({ n: BigInt(expected[object]!), unlabelled: 0n, foreign: 0n });
  }
  const [a01] = await query(
    `SELECT Metadata_Plate, Metadata_Well, Metadata_Site, count(*) AS n FROM '${join(out, "Cells.parquet")}' WHERE Metadata_Plate = 'Plate1' AND Metadata_Well = 'A01' AND Metadata_Site = 1 GROUP BY ALL`,
  );
  expect(a01).toEqual({ Metadata_Plate: "Plate1", Metadata_Well: "A01", Metadata_Site: 1n, n: 3n });
  // A group without a column gets nulls; the conflicting column is kept as text, the others typed.
  const types = await query(
    `SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM '${join(out, "Cells.parquet")}')`,
  );
  const typeOf = Object.fromEntries(types.map((r) => [r.column_name, r.column_type]));
  expect(typeOf).toMatchObject({ Feature_001: "VARCHAR", Feature_002: "DOUBLE", ImageNumber: "BIGINT" });
  const [narrow] = await query(
    `SELECT count(*) FILTER (WHERE Feature_002 IS NULL) AS nulls FROM '${join(out, "Image.parquet")}' WHERE Metadata_Well = 'A01' AND Metadata_Site = 1 AND Metadata_Plate = 'Plate2'`,
  );
  expect(narrow).toEqual({ nulls: 1n });

  expect(report.missing.count).toBe(1);
  expect(report.missing.groups).toEqual([{ group: "Plate1/analysis/Plate1-A01-2", objects: ["Cytoplasm"] }]);
  expect(report.empty.files).toEqual([
    { group: "Plate1/analysis/Plate1-A02-1", object: "Nuclei", reason: "header only" },
  ]);
  expect(report.conflicts.map((c) => `${c.object}.${c.column}`)).toEqual(["Cells.Feature_001"]);
  expect(report.conflicts[0]!.kinds).toContainEqual({ kind: "text", groups: 1, examples: expect.anything() });
}

describe("dcp collect", () => {
  it("collates a local folder into one Parquet table per object, with the report", async () => {
    const out = join(dir, "collated");
    const result = await runDcp(
      ["collect", join(dir, "analysis"), "-o", out, "--metadata-from-path", ANALYSIS_STRUCTURE, "--json"],
      { cwd: dir },
    );
    expect(result.stderr).toContain("type conflict: Cells.Feature_001");
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout) as Report;
    expect(JSON.parse(readFileSync(join(out, "collect-report.json"), "utf8"))).toEqual(report);
    await checkCollated(out, report, join(dir, "analysis"));
  });

  it("collates the same outputs from S3 through a bounded spool", async () => {
    const bucket = `collect-${process.pid}-${Date.now()}`;
    const s3 = s3Client({ region: "us-east-1", profile: undefined });
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const root = join(dir, "analysis");
    const files = (function* walk(d: string): Generator<string> {
      for (const name of readdirSync(d)) {
        const path = join(d, name);
        if (statSync(path).isDirectory()) yield* walk(path);
        else yield path;
      }
    })(root);
    for (const file of files)
      await s3.send(
        new PutObjectCommand({ Bucket: bucket, Key: `out/B1/${relative(root, file)}`, Body: readFileSync(file) }),
      );
    const out = join(dir, "collated-s3");
    const result = await runDcp(
      [
        "collect",
        `s3://${bucket}/out/B1`,
        "-o",
        out,
        "--metadata-from-path",
        ANALYSIS_STRUCTURE,
        "--json",
        "--concurrency",
        "4",
      ],
      { cwd: dir },
    );
    expect(result.stderr).not.toMatch(/dcp: /);
    expect(result.code).toBe(0);
    await checkCollated(out, JSON.parse(result.stdout) as Report, `s3://${bucket}/out/B1/`);
  });

  it("writes CSV with --format csv, keeps a CSV's own Metadata values, and never reads its output folder back", async () => {
    const root = join(dir, "own-metadata");
    for (const [site, header, row] of [
      ["1", "ImageNumber,Metadata_Plate,Metadata_Well,Metadata_Site,Count_Cells", "1,P9,B07,1,10"],
      ["2", "ImageNumber,Count_Cells", "1,12"],
    ] as const) {
      mkdirSync(join(root, "P9", "analysis", `P9-B07-${site}`), { recursive: true });
      writeFileSync(join(root, "P9", "analysis", `P9-B07-${site}`, "Image.csv"), `${header}\n${row}\n`);
    }
    const args = ["collect", ".", "-o", "collated", "--objects", "Image", "--format", "csv"];
    for (let run = 0; run < 2; run++) {
      const result = await runDcp([...args, "--metadata-from-path", ANALYSIS_STRUCTURE], { cwd: root });
      expect(result.code, result.stderr).toBe(0);
    }
    const lines = readFileSync(join(root, "collated", "Image.csv"), "utf8")
      .trim()
      .split("\n");
    expect(lines[0]).toBe("Metadata_Plate,Metadata_Well,Metadata_Site,ImageNumber,Count_Cells,Metadata_dcp_source");
    expect(lines.slice(1).map((l) => l.split(",").slice(0, 5).join(","))).toEqual(["P9,B07,1,1,10", "P9,B07,2,1,12"]);
  });

  it("refuses bad input with exit 2 and one line, writing nothing", async () => {
    const cases: Array<[string[], RegExp]> = [
      [["collect", join(dir, "nope"), "-o", "x"], /nope: does not exist/],
      [["collect", join(dir, "analysis"), "-o", "x", "--format", "xml"], /--format: "xml" is not a format/],
      [["collect", join(dir, "analysis"), "-o", "x", "--objects", ","], /--objects: names no object/],
      [["collect", join(dir, "analysis"), "-o", "x", "--metadata-from-path", "plates"], /names no Metadata_ token/],
      [["collect", join(dir, "analysis"), "-o", "x", "--objects", "Mitochondria"], /holds no group folder/],
      [["collect", "s3://no-such-bucket-for-collect/x", "-o", "x"], /does not exist/],
    ];
    for (const [args, message] of cases) {
      const result = await runDcp(args, { cwd: dir });
      expect(result.code, result.stderr).toBe(2);
      expect(
        result.stderr
          .trim()
          .split("\n")
          .filter((l) => l.startsWith("dcp:")),
      ).toHaveLength(1);
      expect(result.stderr).toMatch(message);
    }
    expect(readdirSync(dir)).not.toContain("x");
  });
});
