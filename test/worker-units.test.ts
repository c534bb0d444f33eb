/** Unit tests of the worker's pure parts, and of running the fake-cellprofiler TEST DOUBLE directly. */
import { mkdtempSync, readFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { UserInputError } from "../src/errors.js";
import { parseConfig } from "../src/config/load.js";
import { cellprofilerArgs, readDoneFile, runCellProfiler } from "../src/worker/cellprofiler.js";
import { containerSetupPlan } from "../src/worker/container.js";
import {
  dataFileKind,
  groupRows,
  parseCsv,
  planCsvDownloads,
  planFileListDownloads,
  stringifyCsv,
} from "../src/worker/datafile.js";
import { TaskInputError, deriveNames, sameMetadataValue } from "../src/worker/naming.js";
import { configInputFromEnv } from "../src/worker/settings.js";
import { SpotWatcher } from "../src/worker/spot.js";
import { parseTaskBody } from "../src/worker/task.js";
import { parseUploadFlags } from "../src/worker/upload-flags.js";
import { freePort } from "./harness/emulators.js";
import { EXAMPLE, FAKE_CELLPROFILER } from "./worker-helpers.js";

describe("deriveNames (reference 3.3, fixed)", () => {
  it("substitutes whole Metadata_X tokens only: Metadata_Plate does not eat Metadata_PlateID", () => {
    const names = deriveNames({
      Metadata: "Metadata_Plate=P1,Metadata_PlateID=77,Metadata_Well=A01",
      output: "out/",
      output_structure: "Metadata_PlateID/Metadata_Plate-Metadata_Well",
    });
    expect(names.metadataId).toBe("77/P1-A01");
    expect(names.outputPrefix).toBe("out/77/P1-A01/");
    expect(names.groupArg).toBe("Metadata_Plate=P1,Metadata_PlateID=77,Metadata_Well=A01");
  });

  it("keeps every dict key in -g, even keys output_structure does not use (DCP dropped them)", () => {
    const names = deriveNames({
      Metadata: { Metadata_Plate: "P1", Metadata_Well: "A01", Metadata_Site: "3" },
      output: "o",
      output_structure: "Metadata_Plate",
    });
    expect(names.groupArg).toBe("Metadata_Plate=P1,Metadata_Well=A01,Metadata_Site=3");
    expect(names.metadataId).toBe("P1");
  });

  it("joins the values with '-' without output_structure, and warns about unknown tokens", () => {
    expect(
      deriveNames({ Metadata: "Metadata_Plate=P1,Metadata_Well=A01", output: "", output_structure: "" }).outputPrefix,
    ).toBe("P1-A01/");
    expect(
      deriveNames({ Metadata: "Metadata_Plate=P1", output: "o", output_structure: "Metadata_Plate/Metadata_Batch" })
        .warnings[0],
    ).toContain("Metadata_Batch");
  });

  it.each([
    [{ Metadata: "Metadata_Plate=..", output: "o", output_structure: "Metadata_Plate" }, "would leave its folder"],
    [
      { Metadata: { Metadata_Plate: "a/../../b" }, output: "o", output_structure: "Metadata_Plate" },
      "would leave its folder",
    ],
    [
      { Metadata: { Metadata_Plate: "/etc" }, output: "o", output_structure: "Metadata_Plate" },
      "must be a relative path",
    ],
    [{ Metadata: "Metadata_Plate=P1", output: "/abs", output_structure: "" }, "must be a relative path"],
    [{ Metadata: "Metadata_Plate=P1", output: "a/../..", output_structure: "" }, "would leave its folder"],
    [
      { Metadata: { Metadata_Plate: "a,b" }, output: "o", output_structure: "" },
      "cannot be passed to CellProfiler's -g",
    ],
    [
      { Metadata: { Metadata_Plate: "a=b" }, output: "o", output_structure: "" },
      "cannot be passed to CellProfiler's -g",
    ],
  ])("rejects %j as bad input", (message, problem) => {
    expect(() => deriveNames(message)).toThrow(TaskInputError);
    expect(() => deriveNames(message)).toThrow(problem);
  });

  it("makes a CloudWatch-safe stream name", () => {
    expect(deriveNames({ Metadata: { Metadata_Plate: "a:b*c" }, output: "o", output_structure: "" }).logStream).toBe(
      "a_b_c",
    );
  });

  it("compares numeric-looking values as numbers, others as strings", () => {
    expect(sameMetadataValue("01", "1")).toBe(true);
    expect(sameMetadataValue("1.0", "1")).toBe(true);
    expect(sameMetadataValue("A01", "A1")).toBe(false);
  });
});

describe("parseTaskBody", () => {
  it("names the broken field", () => {
    expect(() => parseTaskBody("{")).toThrow("body: is not JSON");
    expect(() =>
      parseTaskBody(JSON.stringify({ Metadata: "Metadata_Plate=P1", pipeline: "p", output: "o", input: "i" })),
    ).toThrow(/^data_file/);
    expect(
      parseTaskBody(
        JSON.stringify({ Metadata: { Metadata_Site: 3 }, pipeline: "p", output: "o", input: "i", data_file: "d.csv" }),
      ).Metadata,
    ).toEqual({ Metadata_Site: "3" });
  });
});

describe("download-mode data files", () => {
  const layout = { mountRoot: "/home/ubuntu/bucket", localRoot: "/work/t1/bucket", input: "proj/in" };
  const table = parseCsv(
    "FileName_DNA,PathName_DNA,FileName_Illum,PathName_Illum,Metadata_Plate,Metadata_Site\n" +
      "a.tif,/home/ubuntu/bucket/proj/images,P1_Illum.npy,/home/ubuntu/bucket/proj/illum,P1,01\n" +
      "b.tif,images,P1_Illum.npy,/home/ubuntu/bucket/proj/illum,P1,2\n",
    "load.csv",
  );

  it("keeps the group's rows (numbers as numbers) and names their images", () => {
    const rows = groupRows(
      table,
      [
        ["Metadata_Plate", "P1"],
        ["Metadata_Site", "1"],
      ],
      "load.csv",
    );
    expect(rows.rows).toHaveLength(1);
    const plan = planCsvDownloads(rows, layout, "load.csv");
    expect(plan.downloads).toEqual([
      { key: "proj/images/a.tif", file: "/work/t1/bucket/proj/images/a.tif" },
      { key: "proj/illum/P1_Illum.npy", file: "/work/t1/bucket/proj/illum/P1_Illum.npy" },
    ]);
    expect(stringifyCsv(plan.table)).toContain(
      "a.tif,/work/t1/bucket/proj/images,P1_Illum.npy,/work/t1/bucket/proj/illum,P1,01",
    );
  });

  it("resolves relative PathNames under the input folder (CellProfiler's -i)", () => {
    const plan = planCsvDownloads(groupRows(table, [["Metadata_Site", "2"]], "load.csv"), layout, "load.csv");
    expect(plan.downloads.map((d) => d.key)).toEqual(["proj/in/images/b.tif", "proj/illum/P1_Illum.npy"]);
  });

  it("fails clearly on a missing group column, no matching row, or a path outside the mount root", () => {
    expect(() => groupRows(table, [["Metadata_Well", "A01"]], "load.csv")).toThrow("has no column Metadata_Well");
    expect(() => groupRows(table, [["Metadata_Plate", "P9"]], "load.csv")).toThrow(
      "no row matches the group Metadata_Plate=P9",
    );
    const outside = parseCsv("FileName_DNA,PathName_DNA\na.tif,/mnt/other\n", "x.csv");
    expect(() => planCsvDownloads(outside, layout, "x.csv")).toThrow("is not under the mount root /home/ubuntu/bucket");
    const escaping = parseCsv("FileName_DNA,PathName_DNA\na.tif,../../../etc\n", "x.csv");
    expect(() => planCsvDownloads(escaping, layout, "x.csv")).toThrow("would leave its folder");
  });

  it("trims and rewrites file lists (DCP kept the newline and the mount path)", () => {
    const plan = planFileListDownloads(
      "/home/ubuntu/bucket/p/a.tif\r\nfile:///home/ubuntu/bucket/p/b.tif\n\ns3://other/c.tif\n",
      layout,
      "list.txt",
    );
    expect(plan.downloads.map((d) => d.key)).toEqual(["p/a.tif", "p/b.tif"]);
    expect(plan.text).toBe("/work/t1/bucket/p/a.tif\nfile:///work/t1/bucket/p/b.tif\ns3://other/c.tif\n");
    expect(() => planFileListDownloads("relative/a.tif\n", layout, "list.txt")).toThrow("list.txt line 1");
  });

  it("knows the three data file kinds", () => {
    expect(["a.csv", "b.TXT", "Batch_data.h5"].map(dataFileKind)).toEqual(["csv", "txt", "h5"]);
    expect(() => dataFileKind("a.xlsx")).toThrow("is not a LoadData .csv");
  });
});

describe("UPLOAD_FLAGS", () => {
  it("maps aws s3 flags to PutObject parameters", () => {
    expect(parseUploadFlags("--acl bucket-owner-full-control --metadata-directive REPLACE --sse", "c.json")).toEqual({
      ACL: "bucket-owner-full-control",
      ServerSideEncryption: "AES256",
    });
    expect(parseUploadFlags("--storage-class=INTELLIGENT_TIERING --sse aws:kms --sse-kms-key-id k1", "c.json")).toEqual(
      { StorageClass: "INTELLIGENT_TIERING", ServerSideEncryption: "aws:kms", SSEKMSKeyId: "k1" },
    );
    expect(parseUploadFlags(null, "c.json")).toEqual({});
  });

  it("refuses what it cannot honour, as a config error naming UPLOAD_FLAGS", () => {
    expect(() => parseUploadFlags("--exclude *.png", "c.json")).toThrow(UserInputError);
    expect(() => parseUploadFlags("--exclude *.png", "c.json")).toThrow(
      /^c\.json: UPLOAD_FLAGS: "--exclude" is not supported/,
    );
    expect(() => parseUploadFlags("--acl world", "environment")).toThrow("--acl world is not one of");
  });
});

describe("settings from the task definition's environment", () => {
  it("parses DCP's strings through the config schema", () => {
    const config = parseConfig(
      configInputFromEnv({
        APP_NAME: "Proj",
        DOCKER_CORES: "2",
        DOWNLOAD_FILES: "True",
        CHECK_IF_DONE_BOOL: "False",
        UPLOAD_FLAGS: "False",
        NECESSARY_STRING: "",
        SECONDS_TO_START: "0",
        AWS_PROFILE: "ignored",
        HOME: "/root",
      }),
      "environment",
    );
    expect(config).toMatchObject({
      APP_NAME: "Proj",
      DOCKER_CORES: 2,
      DOWNLOAD_FILES: true,
      CHECK_IF_DONE_BOOL: false,
      UPLOAD_FLAGS: null,
      NECESSARY_STRING: "",
      SECONDS_TO_START: 0,
      SQS_QUEUE_NAME: "ProjQueue",
      AWS_PROFILE: "default",
    });
  });

  it("reports a bad variable as one clear error", () => {
    expect(() => parseConfig(configInputFromEnv({ DOCKER_CORES: "four" }), "environment")).toThrow(
      /^environment: DOCKER_CORES: /,
    );
  });
});

describe("running CellProfiler (the TEST DOUBLE)", () => {
  const dir = () => mkdtempSync(join(tmpdir(), "dcp-cp-"));
  const run = (d: string, group: string) =>
    cellprofilerArgs({
      pipeline: join(EXAMPLE, "ExampleHuman_LoadData.cppipe"),
      input: EXAMPLE,
      output: join(d, "out"),
      doneFile: join(d, "done"),
      dataFile: join(EXAMPLE, "load_data.csv"),
      dataKind: "csv",
      group,
      pluginsDirectory: "/plugins",
      alwaysContinue: true,
      tempDirectory: join(d, "tmp"),
    });

  it("builds DCP's command line as argv", () => {
    expect(run("/d", "Metadata_Plate=P1")).toEqual([
      "-c",
      "-r",
      "-p",
      join(EXAMPLE, "ExampleHuman_LoadData.cppipe"),
      "-i",
      EXAMPLE,
      "-o",
      "/d/out",
      "-d",
      "/d/done",
      `--data-file=${join(EXAMPLE, "load_data.csv")}`,
      "-g",
      "Metadata_Plate=P1",
      "--plugins-directory=/plugins",
      "--always-continue",
      "-t",
      "/d/tmp",
    ]);
  });

  it("streams its lines, and a matching group ends Complete with the three CSVs", async () => {
    const d = dir();
    const lines: string[] = [];
    const status = await runCellProfiler(
      FAKE_CELLPROFILER,
      run(d, "Metadata_Plate=AS_09125_050116030001,Metadata_Well=D03,Metadata_Site=2"),
      (l) => lines.push(l),
      new AbortController().signal,
    );
    expect(status).toEqual({ code: 0, signal: null, stopped: false });
    expect(lines[0]).toContain("TEST DOUBLE");
    expect(await readDoneFile(join(d, "done"))).toBe("Complete");
    expect(readFileSync(join(d, "out/Image.csv"), "utf8")).toContain(",2,3");
  });

  it("a group key the data has not, or no matching row: exit 1 and no done file, as CellProfiler", async () => {
    for (const group of ["Metadata_Batch=1", "Metadata_Plate=nope,Metadata_Well=D03,Metadata_Site=1"]) {
      const d = dir();
      const status = await runCellProfiler(FAKE_CELLPROFILER, run(d, group), () => {}, new AbortController().signal);
      expect(status.code).toBe(1);
      expect(existsSync(join(d, "done"))).toBe(false);
    }
  });

  it("a hung CellProfiler that ignores SIGTERM is killed with SIGKILL", async () => {
    const d = dir();
    process.env.FAKE_CP_HANG = "ignore-sigterm";
    const stop = new AbortController();
    const lines: string[] = [];
    const running = runCellProfiler(
      FAKE_CELLPROFILER,
      run(d, "Metadata_Plate=AS_09125_050116030001,Metadata_Well=D03,Metadata_Site=1"),
      (l) => {
        lines.push(l);
        if (l.includes("hanging")) stop.abort();
      },
      stop.signal,
      300,
    );
    delete process.env.FAKE_CP_HANG;
    const status = await running;
    expect(status).toEqual({ code: null, signal: "SIGKILL", stopped: true });
    expect(lines).toContain("TEST DOUBLE: ignoring SIGTERM");
  });
});

describe("spot watcher", () => {
  it("switches itself off where no metadata service answers", async () => {
    const port = await freePort();
    const messages: string[] = [];
    const notices: unknown[] = [];
    const watcher = new SpotWatcher(
      `http://127.0.0.1:${port}`,
      50,
      (n) => notices.push(n),
      (t) => messages.push(t),
    );
    watcher.start();
    await expect.poll(() => messages.length).toBe(1);
    expect(messages[0]).toContain("not watching for spot interruption notices");
    expect(notices).toEqual([]);
  });
});

describe("container setup (the image's entrypoint logic)", () => {
  const facts = { pluginsHaveActiveFolder: true, python: "python3.8" };
  const config = (values: Record<string, unknown>) =>
    parseConfig({ APP_NAME: "Proj", AWS_BUCKET: "lab-bucket", SOURCE_BUCKET: "lab-images", ...values }, "environment");

  it("mount mode mounts SOURCE_BUCKET read-only at MOUNT_ROOT; download mode does not mount", () => {
    expect(containerSetupPlan(config({ DOWNLOAD_FILES: "False" }), facts)).toEqual([
      {
        label: "mount s3://lab-images read-only at /home/ubuntu/bucket",
        command: "mount-s3",
        // Mountpoint detects the bucket's region itself: no --region, no AWS_REGION (issue 10, item 7).
        args: ["--read-only", "lab-images", "/home/ubuntu/bucket"],
        mkdir: "/home/ubuntu/bucket",
        unsetEnv: ["AWS_REGION", "AWS_DEFAULT_REGION"],
      },
    ]);
    expect(containerSetupPlan(config({ DOWNLOAD_FILES: "True" }), facts)).toEqual([]);
  });

  it("plugins: fetch, check out PLUGINS_COMMIT, install requirements, all inside the plugins folder", () => {
    const steps = containerSetupPlan(
      config({
        DOWNLOAD_FILES: true,
        USE_PLUGINS: "True",
        UPDATE_PLUGINS: "True",
        PLUGINS_COMMIT: "v4.2.8",
        INSTALL_REQUIREMENTS: "True",
        REQUIREMENTS: "cellpose stardist",
      }),
      facts,
    );
    expect(steps.map((s) => [s.command, ...s.args, s.cwd ?? ""])).toEqual([
      ["git", "-C", "/home/ubuntu/CellProfiler-plugins", "fetch", "--all", "--tags", "--prune", ""],
      ["git", "-C", "/home/ubuntu/CellProfiler-plugins", "checkout", "v4.2.8", ""],
      ["python3.8", "-m", "pip", "install", "-e", ".", "cellpose", "stardist", "/home/ubuntu/CellProfiler-plugins"],
    ]);
  });

  it("UPDATE_PLUGINS without a commit pulls; the old layout installs from the REQUIREMENTS file; nothing without USE_PLUGINS", () => {
    const update = containerSetupPlan(config({ DOWNLOAD_FILES: true, USE_PLUGINS: true, UPDATE_PLUGINS: true }), facts);
    expect(update.map((s) => s.args.slice(2).join(" "))).toEqual(["fetch --all --tags --prune", "pull --ff-only"]);
    const old = containerSetupPlan(
      config({ DOWNLOAD_FILES: true, USE_PLUGINS: true, INSTALL_REQUIREMENTS: true, REQUIREMENTS: "requirements.txt" }),
      { ...facts, pluginsHaveActiveFolder: false },
    );
    expect(old.map((s) => s.args.join(" "))).toEqual(["-m pip install -r requirements.txt"]);
    expect(
      containerSetupPlan(config({ DOWNLOAD_FILES: true, UPDATE_PLUGINS: true, INSTALL_REQUIREMENTS: true }), facts),
    ).toEqual([]);
  });
});
