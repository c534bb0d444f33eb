/**
 * Task fields are untrusted input. Group values with `;`, `$(...)`, backticks, spaces, quotes and
 * `../` must reach CellProfiler verbatim, as argv elements, and never run; nothing may be written
 * outside the output prefix, and a `../` that output_structure would put into the path is bad input.
 */
import { PutObjectCommand, ListObjectsV2Command } from "@aws-sdk/client-s3";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { stringifyCsv } from "../src/worker/datafile.js";
import { cellprofilerRuns, queueCounts, receiveAll, runWorkerToEnd, s3, scenario, send } from "./worker-helpers.js";

describe("dcp worker with hostile group values", () => {
  it("passes them verbatim as argv, executes nothing, writes only under the output prefix", async () => {
    const s = await scenario({ retries: 1 });
    const marker = (name: string) => join(s.dir, name);
    const group = {
      Metadata_Plate: `P1;touch ${marker("pwned-semicolon")};echo`,
      Metadata_Well: `$(touch ${marker("pwned-subshell")})`,
      Metadata_Site: `\`touch ${marker("pwned-backtick")}\` 'single' "double" ../../up`,
    };
    const csv = stringifyCsv({
      header: ["FileName_DNA", "PathName_DNA", "Metadata_Plate", "Metadata_Well", "Metadata_Site"],
      rows: [
        [
          "AS_09125_050116030001_D03f00d0.tif",
          "images",
          group.Metadata_Plate,
          group.Metadata_Well,
          group.Metadata_Site,
        ],
      ],
    });
    await s3.send(new PutObjectCommand({ Bucket: s.bucket, Key: "workspace/hostile.csv", Body: csv }));
    const base = {
      pipeline: "workspace/ExampleHuman_LoadData.cppipe",
      output: "out",
      input: "ExampleHuman",
      data_file: "workspace/hostile.csv",
    };
    // Runs: the values used in the output path hold no '..'; Metadata_Site (with ../) only goes to -g.
    await send(s, JSON.stringify({ Metadata: group, ...base, output_structure: "Metadata_Plate/Metadata_Well" }));
    // Rejected: output_structure would put '../../up' into the output path.
    await send(s, JSON.stringify({ Metadata: group, ...base, output_structure: "Metadata_Well/Metadata_Site" }));
    // Rejected: an absolute or escaping output prefix.
    await send(
      s,
      JSON.stringify({ Metadata: group, ...base, output: "../elsewhere", output_structure: "Metadata_Plate" }),
    );

    const run = await runWorkerToEnd(s);
    expect(run.code, run.output).toBe(0);

    const runs = cellprofilerRuns(s);
    expect(runs).toHaveLength(1);
    const argv = runs[0]!;
    expect(argv[argv.indexOf("-g") + 1]).toBe(
      `Metadata_Plate=${group.Metadata_Plate},Metadata_Well=${group.Metadata_Well},Metadata_Site=${group.Metadata_Site}`,
    );
    for (const name of ["pwned-semicolon", "pwned-subshell", "pwned-backtick"])
      expect(existsSync(marker(name)), name).toBe(false);
    expect(readdirSync(s.dir).filter((f) => f.startsWith("pwned"))).toEqual([]);

    const keys = ((await s3.send(new ListObjectsV2Command({ Bucket: s.bucket }))).Contents ?? []).map((o) => o.Key!);
    const outputs = keys.filter((k) => !k.startsWith("workspace/"));
    const prefix = `out/${group.Metadata_Plate}/${group.Metadata_Well}/`;
    expect(outputs.sort()).toEqual([`${prefix}Experiment.csv`, `${prefix}Image.csv`, `${prefix}Nuclei.csv`]);

    expect(run.output).toContain("would leave its folder");
    expect(run.output).toMatch(/bad message .*output: "\.\.\/elsewhere" would leave its folder/);
    expect((await receiveAll(s.deadLetterUrl)).length).toBe(2);
    expect(await queueCounts(s.queueUrl)).toEqual({ visible: 0, inFlight: 0 });
  });
});
