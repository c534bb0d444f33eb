/** Pure parts of make-jobs: paths, ranges, LoadData typing, CSV matching and near misses, the streamed job file. */
import { describe, expect, it } from "vitest";
import { UserInputError } from "../src/errors.js";
import {
  cellProfilerText,
  isWellColumnName,
  loadDataType,
  pythonFloatText,
} from "../src/plan/make-jobs/cellprofiler-values.js";
import { CsvGroupCollector } from "../src/plan/make-jobs/csv-groups.js";
import { GroupMatcher, differenceKinds, formatMatchReport } from "../src/plan/make-jobs/csv-match.js";
import { csvJobGroups, parseFromCsvOptions } from "../src/plan/make-jobs/from-csv.js";
import { jobFileChunks } from "../src/plan/make-jobs/job-file-writer.js";
import { layoutGroups, parseLayoutOptions, planLayout } from "../src/plan/make-jobs/layout.js";
import { posixJoin } from "../src/plan/make-jobs/paths.js";
import { parseColumns, parseRows, parseSites } from "../src/plan/make-jobs/ranges.js";

function csvGroups(keys: string[], rows: string[][], header = keys) {
  const collector = new CsvGroupCollector("load_data.csv", keys);
  expect(collector.header(header)).toEqual([]);
  for (const row of rows) collector.add(row);
  return collector.finish();
}

describe("paths", () => {
  it("joins like Python's posixpath.join", () => {
    expect(posixJoin("id", "", "workspace")).toBe("id/workspace");
    expect(posixJoin("projects", "id", "")).toBe("projects/id/");
    expect(posixJoin("", "Batch_data_illum.h5")).toBe("Batch_data_illum.h5");
    expect(posixJoin("a/", "b")).toBe("a/b");
    expect(posixJoin("a", "/abs", "c")).toBe("/abs/c");
  });
});

describe("ranges", () => {
  it("expands row, column and site ranges and keeps lists in order", () => {
    expect(parseRows("A-H")).toEqual({ ok: true, values: ["A", "B", "C", "D", "E", "F", "G", "H"] });
    expect(parseRows("P,A-B")).toEqual({ ok: true, values: ["P", "A", "B"] });
    expect(parseRows("a-c")).toEqual({ ok: true, values: ["a", "b", "c"] });
    const rows1536 = parseRows("A-AF");
    expect(rows1536.ok && rows1536.values.length).toBe(32);
    expect(rows1536.ok && rows1536.values.slice(-3)).toEqual(["AD", "AE", "AF"]);
    expect(parseColumns("1-3,10,01")).toEqual({ ok: false, problem: '"1" is listed twice' });
    expect(parseColumns("1-3,10")).toEqual({ ok: true, values: [1, 2, 3, 10] });
    expect(parseSites("1-3")).toEqual({ ok: true, values: ["1", "2", "3"] });
    expect(parseSites("01,02")).toEqual({ ok: true, values: ["01", "02"] });
  });

  it("refuses malformed and backwards ranges", () => {
    for (const text of ["A-", "-B", "A-1", "A-b", "A-B-C", "H-A", "A,,B", "A1"])
      expect(parseRows(text).ok, text).toBe(false);
    for (const text of ["1-", "12-1", "1-x", "x", "1,,2", ""]) expect(parseColumns(text).ok, text).toBe(false);
    for (const text of ["1-", "3-1", "a b", "1=2"]) expect(parseSites(text).ok, text).toBe(false);
  });
});

describe("layout plan", () => {
  const options = (input: Record<string, unknown>) =>
    parseLayoutOptions({ identifier: "Proj", batch: "B1", plates: "P1", ...input });

  it("counts what it yields, per step granularity", () => {
    for (const [step, count] of [
      ["illum", 2],
      ["qc", 2 * 96],
      ["assaydev_persite", 2 * 96 * 9],
      ["analysis", 2 * 96 * 9],
    ] as const) {
      const plan = planLayout(options({ step, plates: "P1,P2", plateFormat: "96" }));
      expect(plan.groupCount).toBe(count);
      let yielded = 0;
      for (const _ of layoutGroups(plan)) yielded += 1;
      expect(yielded).toBe(count);
    }
  });

  it("pads wells with 02d, or not at all, as the original formats int(col)", () => {
    const padded = planLayout(options({ step: "qc", rows: "A", columns: "1,9,10,100" }));
    expect(padded.wells).toEqual(["A01", "A09", "A10", "A100"]);
    const unpadded = planLayout(options({ step: "qc", rows: "A", columns: "1,10", wellDigitPad: false }));
    expect(unpadded.wells).toEqual(["A1", "A10"]);
  });

  it("warns about flags a step does not use, and about the Gallery layout's missing batch folder", () => {
    expect(planLayout(options({ step: "illum", wells: "A01" })).warnings).toEqual([
      "illum makes one group per plate; --wells ignored",
    ]);
    expect(planLayout(options({ step: "qc", sites: "1" })).warnings[0]).toMatch(/--sites ignored/);
    const cpg = planLayout(options({ step: "illum", pathStyle: "cpg", source: "s4", useBatch: true }));
    expect(cpg.shared.pipeline).toBe("Batch_data_illum.h5");
    expect(cpg.warnings[0]).toMatch(/--batchfile-path/);
    expect(planLayout(options({ step: "qc", useBatch: true, pipeline: "x.cppipe" })).warnings).toEqual([
      "--use-batch: the batch file is both pipeline and data file; --pipeline ignored",
    ]);
    expect(planLayout(options({ step: "qc", batchfileName: "b.h5" })).warnings).toEqual([
      "--batchfile-name ignored without --use-batch",
    ]);
  });

  it("names the flag in errors", () => {
    expect(() => options({ step: "qc", rows: "Z-A" })).toThrow(/make-jobs: --rows: "Z-A" runs backwards/);
    expect(() => options({ step: "qc", plateFormat: "1536" })).toThrow(UserInputError);
    expect(() => options({ step: "qc", plates: "P 1" })).toThrow(/<plates>: "P 1" is not a valid plate name/);
  });
});

describe("CellProfiler's LoadData typing", () => {
  it("types a cell as Python's int/float would", () => {
    expect(loadDataType("01")).toBe("integer");
    expect(loadDataType(" 7 ")).toBe("integer");
    expect(loadDataType("-3")).toBe("integer");
    expect(loadDataType("2147483648")).toBe("text");
    expect(loadDataType("1.5")).toBe("float");
    expect(loadDataType("1e3")).toBe("float");
    expect(loadDataType("nan")).toBe("float");
    expect(loadDataType("A01")).toBe("text");
    expect(loadDataType("")).toBe("text");
  });

  it("compares str() of the typed value", () => {
    expect(cellProfilerText("01", "integer")).toBe("1");
    expect(cellProfilerText(" 7 ", "integer")).toBe("7");
    expect(cellProfilerText("1", "float")).toBe("1.0");
    expect(cellProfilerText("1.50", "float")).toBe("1.5");
    expect(cellProfilerText("A01", "text")).toBe("A01");
    expect(pythonFloatText(1e16)).toBe("1e+16");
    expect(pythonFloatText(123456.789)).toBe("123456.789");
    expect(pythonFloatText(0.0001)).toBe("0.0001");
    expect(pythonFloatText(0.00001)).toBe("1e-05");
    expect(pythonFloatText(-2.5e-7)).toBe("-2.5e-07");
  });

  it("types a column over the whole file, and keeps well-column names as text", () => {
    const groups = csvGroups(
      ["Metadata_Site", "Metadata_Col"],
      [
        ["01", "01"],
        ["2", "02"],
        ["2.5", "03"],
      ],
    );
    expect(groups.types).toEqual(["float", "text"]);
    expect([...groups.groups.values()].map((g) => g.values)).toEqual([
      ["1.0", "01"],
      ["2.0", "02"],
      ["2.5", "03"],
    ]);
    expect(isWellColumnName("Metadata_WellColumn")).toBe(true);
    expect(isWellColumnName("Metadata_Well")).toBe(false);
  });

  it("synthesizes Metadata_Well from row and column text when the CSV has no well column", () => {
    const groups = csvGroups(
      ["Metadata_Plate", "Metadata_Well"],
      [
        ["P1", "B", "03"],
        ["P1", "B", "3"],
      ],
      ["Metadata_Plate", "Metadata_Row", "Metadata_Col"],
    );
    expect([...groups.groups.values()].map((g) => g.values)).toEqual([
      ["P1", "B03"],
      ["P1", "B3"],
    ]);
    const collector = new CsvGroupCollector("x.csv", ["Metadata_Well"]);
    expect(collector.header(["Metadata_Row"])).toEqual(["Metadata_Well"]);
  });

  it("merges combinations that CellProfiler cannot tell apart, summing their rows", () => {
    const groups = csvGroups(
      ["Metadata_Plate", "Metadata_Site"],
      [
        ["P1", "1"],
        ["P1", "01"],
        ["P1", "2"],
      ],
    );
    expect([...groups.groups.values()].map((g) => [g.values.join(","), g.rows])).toEqual([
      ["P1,1", 2],
      ["P1,2", 1],
    ]);
    expect(groups.reinterpreted[1]).toEqual({ raw: "01", text: "1", count: 1 });
  });
});

describe("near misses", () => {
  it("names the kind of difference", () => {
    expect(differenceKinds("A1", "A01")).toEqual(["zero padding"]);
    expect(differenceKinds("01", "1")).toEqual(["zero padding"]);
    expect(differenceKinds("a01", "A01")).toEqual(["case"]);
    expect(differenceKinds("a1", "A01")).toEqual(["case", "zero padding"]);
    expect(differenceKinds("A01", "A01 ")).toEqual(["stray spaces"]);
  });

  it("counts unmatched groups per kind with three examples, and explains CellProfiler's reading of 01", () => {
    const keys = ["Metadata_Plate", "Metadata_Well", "Metadata_Site"];
    const rows: string[][] = [];
    for (const well of ["A01", "A02", "B01", "B02"]) for (const site of ["01", "02"]) rows.push(["P1", well, site]);
    const matcher = new GroupMatcher(keys, [csvGroups(keys, rows)]);
    expect(matcher.check("Metadata_Plate=P1,Metadata_Well=A01,Metadata_Site=1")).toBe(true);
    for (const well of ["A01", "A02", "B01", "B02"])
      matcher.check(`Metadata_Plate=P1,Metadata_Well=${well},Metadata_Site=02`);
    matcher.check("Metadata_Plate=P9,Metadata_Well=A01,Metadata_Site=1");
    matcher.check("Metadata_Plate=P1,Metadata_Well=A01");
    const report = matcher.report();
    expect(report).toMatchObject({ checked: 7, matched: 1, unmatched: 6 });
    expect(report.kinds.map((k) => [k.kind, k.count, k.examples.length])).toEqual([
      ["zero padding in Metadata_Site", 4, 3],
      ["Metadata_Plate value in no CSV row", 1, 1],
      ["keys differ from the CSV columns Metadata_Plate,Metadata_Well,Metadata_Site", 1, 1],
    ]);
    expect(report.kinds[0]!.examples[0]).toEqual({
      group: "Metadata_Plate=P1,Metadata_Well=A01,Metadata_Site=02",
      csv: 'Metadata_Site="2" (the CSV says "02", which CellProfiler reads as 2)',
    });
    expect(formatMatchReport(report)[0]).toBe("6 of 7 groups match no row of load_data.csv");
  });
});

describe("from-csv", () => {
  it("prefixes Metadata_ to bare column names and requires the shared keys", () => {
    const parsed = parseFromCsvOptions({
      csv: "x.csv",
      groupBy: "Plate,Metadata_Well",
      pipeline: "p",
      dataFile: "d",
      output: "o",
    });
    expect(parsed.groupBy).toEqual(["Metadata_Plate", "Metadata_Well"]);
    expect(() => parseFromCsvOptions({ csv: "x.csv", groupBy: "Plate", dataFile: "d", output: "o" })).toThrow(
      /--pipeline: is missing/,
    );
    expect(() =>
      parseFromCsvOptions({ csv: "x.csv", groupBy: "Plate,Plate", pipeline: "p", dataFile: "d", output: "o" }),
    ).toThrow(/--group-by: names a column twice/);
  });

  it("refuses values cellprofiler -g cannot carry", () => {
    const groups = csvGroups(["Metadata_Plate"], [["Plate=1"]]);
    expect(() => csvJobGroups(groups)).toThrow(
      /load_data.csv: Metadata_Plate: the value "Plate=1" cannot be passed to cellprofiler -g/,
    );
    expect(csvJobGroups(csvGroups(["Metadata_Plate"], [["Plate 1"]]))).toEqual([
      { Metadata: "Metadata_Plate=Plate 1" },
    ]);
  });
});

describe("streamed job file", () => {
  it("is valid JSON with or without groups, shared keys in the example file's order", () => {
    const head = { comment: "c", shared: { output: "o", pipeline: "p", input: "i" } };
    const text = [
      ...jobFileChunks(head, [
        { Metadata: "Metadata_Plate=P1", data_file: "d1" },
        { Metadata: "Metadata_Plate=P2", data_file: "d2" },
      ]),
    ].join("");
    expect(Object.keys(JSON.parse(text) as object)).toEqual(["_comment", "pipeline", "input", "output", "groups"]);
    expect((JSON.parse(text) as { groups: unknown[] }).groups).toHaveLength(2);
    expect(JSON.parse([...jobFileChunks(head, [])].join(""))).toMatchObject({ groups: [] });
  });

  it("yields bounded chunks for a large layout", () => {
    const plan = planLayout(
      parseLayoutOptions({ step: "analysis", identifier: "Proj", batch: "B1", plates: "P1,P2,P3" }),
    );
    let chunks = 0;
    let longest = 0;
    for (const chunk of jobFileChunks({ shared: plan.shared }, layoutGroups(plan))) {
      chunks += 1;
      longest = Math.max(longest, chunk.length);
    }
    expect(chunks).toBeGreaterThan(20);
    expect(longest).toBeLessThan(70_000);
  });
});
