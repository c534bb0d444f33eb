/** The pure parts of `dcp collect`: path metadata, group finding, column unification, CSV records, flags, SQL. */
import { describe, expect, it } from "vitest";
import { headerColumns, splitCsv } from "../src/plan/collect/csv-records.js";
import { GroupFinder, type FoundGroup } from "../src/plan/collect/groups.js";
import { parseCollectFlags, parseObjects, parseSource } from "../src/plan/collect/options.js";
import { compileTemplate } from "../src/plan/collect/path-metadata.js";
import { ColumnUnifier, kindOfText, kindOfTextCounts, unifiedType } from "../src/plan/collect/schema.js";
import { ident, literal, loadPartSql, writeFinalSql } from "../src/plan/collect/sql.js";
import { UserInputError } from "../src/errors.js";

const ANALYSIS = "Metadata_Plate/analysis/Metadata_Plate-Metadata_Well-Metadata_Site";

describe("path metadata", () => {
  it("reads the analysis output_structure back, with a repeated token that must repeat its value", () => {
    const t = compileTemplate(ANALYSIS);
    expect(t.depth).toBe(3);
    expect(t.keys).toEqual(["Metadata_Plate", "Metadata_Well", "Metadata_Site"]);
    expect(t.match("BR-1/analysis/BR-1-A01-2")).toEqual({
      Metadata_Plate: "BR-1",
      Metadata_Well: "A01",
      Metadata_Site: "2",
    });
    expect(t.match("P1/analysis/P2-A01-1")).toBeUndefined();
    expect(t.match("P1/illum/P1-A01-1")).toBeUndefined();
  });

  it("refuses templates without tokens or with escaping segments", () => {
    expect(() => compileTemplate("plates/x")).toThrow(UserInputError);
    expect(() => compileTemplate("../Metadata_Plate")).toThrow(/relative path/);
    expect(() => compileTemplate("")).toThrow(/empty/);
  });
});

function collect(finder: GroupFinder, paths: string[]): FoundGroup[] {
  const groups = paths.flatMap((path) => finder.push({ path, size: 10 }));
  return groups.concat(finder.end());
}

describe("group finder", () => {
  it("closes a group when the listing leaves its folder, and sees a group without any wanted CSV", () => {
    const finder = new GroupFinder(["Image", "Cells"], compileTemplate(ANALYSIS));
    const groups = collect(finder, [
      "P1/analysis/P1-A01-1/Cells.csv",
      "P1/analysis/P1-A01-1/Image.csv",
      "P1/analysis/P1-A01-1/outlines/x.png",
      "P1/analysis/P1-A01-2/overlay.png",
      "P1/analysis/P1-A01-3/Image.csv",
      "P1/illum/P1_IllumDNA.npy",
      "P1/other/thing/Image.csv",
    ]);
    expect(groups.map((g) => [g.dir, [...g.files.keys()].sort()])).toEqual([
      ["P1/analysis/P1-A01-1", ["Cells", "Image"]],
      ["P1/analysis/P1-A01-2", []],
      ["P1/analysis/P1-A01-3", ["Image"]],
    ]);
    expect(groups[0]!.metadata).toEqual({ Metadata_Plate: "P1", Metadata_Well: "A01", Metadata_Site: "1" });
    expect(finder.unmatched).toEqual(["P1/other/thing"]);
  });

  it("without a template, every folder holding a wanted CSV is a group, nested ones too", () => {
    const finder = new GroupFinder(["Image"]);
    const groups = collect(finder, ["Image.csv", "a/Image.csv", "a/b/Image.csv", "a/c.txt", "b/notes.csv"]);
    expect(groups.map((g) => g.dir).sort()).toEqual(["", "a", "a/b"]);
  });
});

describe("column unification", () => {
  it("integers and numbers widen to DOUBLE; text with numbers is a conflict kept as text", () => {
    expect(unifiedType(["integer"])).toBe("BIGINT");
    expect(unifiedType(["integer", "number"])).toBe("DOUBLE");
    expect(unifiedType(["text"])).toBe("VARCHAR");
    expect(unifiedType([])).toBe("VARCHAR");
    expect(unifiedType(["other:DATE"])).toBe("DATE");
    expect(unifiedType(["number", "text"])).toBeUndefined();
    expect(unifiedType(["other:BOOLEAN", "integer"])).toBeUndefined();
  });

  it("empty files and all-null columns give no evidence, so they never make a conflict", () => {
    expect(kindOfTextCounts({ nonNull: 0, numeric: 0, integer: 0 })).toBeUndefined();
    expect(kindOfTextCounts({ nonNull: 3, numeric: 3, integer: 3 })).toBe("integer");
    expect(kindOfTextCounts({ nonNull: 3, numeric: 3, integer: 1 })).toBe("number");
    expect(kindOfTextCounts({ nonNull: 3, numeric: 2, integer: 0 })).toBe("text");
    expect(kindOfText("01")).toBe("integer");
    expect(kindOfText("A01")).toBe("text");
    expect(kindOfText("nan")).toBe("number");

    const u = new ColumnUnifier();
    u.column("Empty");
    u.add("Area", "number", "g1");
    u.add("Area", "integer", "g2");
    u.add("Name", "number", "g1");
    u.add("Name", "text", "g3", "abc");
    const { columns, conflicts } = u.decide();
    expect(columns).toEqual([
      { name: "Empty", type: "VARCHAR" },
      { name: "Area", type: "DOUBLE" },
      { name: "Name", type: "VARCHAR" },
    ]);
    expect(conflicts).toHaveLength(1);
    expect(conflicts[0]!.column).toBe("Name");
    expect(conflicts[0]!.kinds).toContainEqual({ kind: "text", groups: 1, examples: [{ group: "g3", value: "abc" }] });
  });
});

describe("CSV records", () => {
  it("splits header and records, keeping quoted newlines inside a record and dropping CRs", () => {
    const split = splitCsv(Buffer.from('A,"B,1"\r\n1,"x\ny"\r\n2,z\r\n\r\n'))!;
    expect(split.header).toBe('A,"B,1"');
    expect(split.records.map(String)).toEqual(['1,"x\ny"', "2,z"]);
    expect(headerColumns(split.header)).toEqual(["A", "B,1"]);
    expect(splitCsv(Buffer.from("A,B\n"))!.records).toEqual([]);
    expect(splitCsv(Buffer.alloc(0))).toBeUndefined();
  });
});

describe("flags", () => {
  it("parses sources, objects and formats, and refuses bad ones with exit 2", () => {
    expect(parseSource("s3://bucket/a/b/")).toEqual({ kind: "s3", bucket: "bucket", prefix: "a/b/" });
    expect(parseSource("s3://bucket")).toEqual({ kind: "s3", bucket: "bucket", prefix: "" });
    expect(parseSource("./out")).toEqual({ kind: "local", path: "./out" });
    expect(() => parseSource("s3://Bad_Bucket/x")).toThrow(UserInputError);
    expect(parseObjects(undefined)).toEqual(["Image", "Cells", "Nuclei", "Cytoplasm"]);
    expect(() => parseObjects(" , ")).toThrow(/names no object/);
    expect(() => parseObjects("Cells.csv")).toThrow(/not an object name/);
    expect(() => parseCollectFlags("x", { out: "o", format: "xml" })).toThrow(/--format/);
    expect(() => parseCollectFlags("x", {})).toThrow(/-o: is missing/);
  });
});

describe("SQL", () => {
  it("quotes every identifier and literal", () => {
    expect(ident('a"b')).toBe('"a""b"');
    expect(literal("it's")).toBe("'it''s'");
    const sql = loadPartSql(
      ["/tmp/x'y.csv"],
      new Set(["Metadata_Plate"]),
      ["Metadata_Plate", "Metadata_Well"],
      [{ source: "s3://b/k", metadata: { Metadata_Plate: "P1", Metadata_Well: "A01" } }],
      "part_Cells_0",
    );
    expect(sql).toContain("'/tmp/x''y.csv'");
    expect(sql).toContain(
      `COALESCE(CAST(b."Metadata_Plate" AS VARCHAR), ['P1'][b."__dcp_group" + 1]) AS "Metadata_Plate"`,
    );
    expect(sql).toContain(`b.* EXCLUDE ("Metadata_Plate")`);
    expect(writeFinalSql(["p0", "p1"], [{ name: "A", type: "DOUBLE" }], "out.parquet", "parquet")).toContain(
      'SELECT * FROM "p0" UNION ALL BY NAME SELECT * FROM "p1"',
    );
  });
});

describe("DuckDB stays out of the worker", () => {
  it("no module the worker can load (statically or lazily) imports src/collect/ or @duckdb", async () => {
    const { readFileSync, readdirSync } = await import("node:fs");
    const { dirname, join, resolve } = await import("node:path");
    const src = resolve(import.meta.dirname, "../src");
    const seen = new Set<string>();
    const reached: string[] = [];
    const visit = (file: string): void => {
      if (seen.has(file)) return;
      seen.add(file);
      const text = readFileSync(file, "utf8");
      for (const [, spec] of text.matchAll(/(?:from|import\()\s*"([^"]+)"/g)) {
        if (spec!.startsWith("@duckdb")) reached.push(`${file} -> ${spec}`);
        if (!spec!.startsWith(".")) continue;
        const target = resolve(dirname(file), spec!.replace(/\.js$/, ".ts"));
        if (target.startsWith(join(src, "collect"))) reached.push(`${file} -> ${spec}`);
        visit(target);
      }
    };
    for (const name of readdirSync(join(src, "worker"))) visit(join(src, "worker", name));
    visit(join(src, "commands", "worker.ts"));
    expect(seen.size).toBeGreaterThan(10);
    expect(reached).toEqual([]);
  });
});
