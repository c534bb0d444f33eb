/**
 * `dcp worker` end to end against the emulators, with the fake-cellprofiler TEST DOUBLE:
 * the success path, CHECK_IF_DONE, malformed bodies, failures reaching the DLQ, download mode.
 */
import { GetObjectAclCommand, HeadObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { SendMessageCommand } from "@aws-sdk/client-sqs";
import { messageBody } from "../src/plan/message.js";
import { PRIOR_RECEIVES_ATTRIBUTE } from "../src/plan/message.js";
import {
  EXAMPLE,
  PLATE,
  cellprofilerRuns,
  exampleMessage,
  getText,
  listKeys,
  logStreamText,
  queueCounts,
  receiveAll,
  runWorkerToEnd,
  s3,
  scenario,
  send,
  sqs,
} from "./worker-helpers.js";

describe.concurrent("dcp worker", () => {
  it("runs a group, uploads its outputs under <output>/<metadata id>/, deletes the message, logs to the group's stream", async () => {
    const s = await scenario();
    await send(s, exampleMessage("1"));
    await send(
      s,
      exampleMessage("2", { output: "results/", output_structure: "Metadata_Plate/Metadata_Well/site_Metadata_Site" }),
    );
    const run = await runWorkerToEnd(s);
    expect(run.code, run.output).toBe(0);
    if (process.env.SHOW_WORKER_OUTPUT) console.log(run.output);

    expect(await listKeys(s.bucket, "results/")).toEqual([
      `results/${PLATE}-D03-1/Experiment.csv`,
      `results/${PLATE}-D03-1/Image.csv`,
      `results/${PLATE}-D03-1/Nuclei.csv`,
      `results/${PLATE}/D03/site_2/Experiment.csv`,
      `results/${PLATE}/D03/site_2/Image.csv`,
      `results/${PLATE}/D03/site_2/Nuclei.csv`,
    ]);
    // The double kept only this group's CSV row.
    expect(await getText(s.bucket, `results/${PLATE}-D03-1/Image.csv`)).toBe(
      `ImageNumber,Metadata_Plate,Metadata_Well,Metadata_Site,Count_Nuclei\n1,${PLATE},D03,1,3\n`,
    );
    expect(await queueCounts(s.queueUrl)).toEqual({ visible: 0, inFlight: 0 });
    expect(await receiveAll(s.deadLetterUrl)).toEqual([]);

    const runs = cellprofilerRuns(s);
    expect(runs).toHaveLength(2);
    const argv = runs.find((a) => a.includes(`Metadata_Plate=${PLATE},Metadata_Well=D03,Metadata_Site=1`))!;
    expect(argv.slice(0, 2)).toEqual(["-c", "-r"]);
    expect(argv[argv.indexOf("-i") + 1]).toBe(join(EXAMPLE));
    expect(argv.some((a) => a.startsWith("--data-file="))).toBe(true);
    expect(argv[argv.indexOf("-t") + 1]!.startsWith(join(s.env.WORK_DIR!, "task-"))).toBe(true);

    const stream = await logStreamText(s.logGroup, `${PLATE}-D03-1`);
    expect(stream).toContain("TEST DOUBLE fake-cellprofiler");
    expect(stream).toContain("message deleted");
    expect(stream).not.toMatch(/testing|AWS_SECRET/); // the emulator credentials never reach the log
    expect(run.output).toContain(`[loop 1] [${PLATE}-D03-1]`);
    expect(readdirSync(s.env.WORK_DIR!)).toEqual([]); // local files removed
  });

  it("a re-sent task whose earlier receives already reach JOB_RETRIES goes to the DLQ without running", async () => {
    const s = await scenario({ retries: 2 });
    const body = messageBody(exampleMessage("1"));
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: s.queueUrl,
        MessageBody: body,
        MessageAttributes: { [PRIOR_RECEIVES_ATTRIBUTE]: { DataType: "Number", StringValue: "2" } },
      }),
    );
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: s.queueUrl,
        MessageBody: messageBody(exampleMessage("2")),
        MessageAttributes: { [PRIOR_RECEIVES_ATTRIBUTE]: { DataType: "Number", StringValue: "1" } },
      }),
    );
    const run = await runWorkerToEnd(s);
    expect(run.code, run.output).toBe(0);
    expect(run.output).toContain("3 receives exceed JOB_RETRIES (2): moved to the dead-letter queue");
    expect(run.output).toContain("(attempt 2 of 2)"); // site 2: one earlier receive + this one
    expect(cellprofilerRuns(s).map((a) => a[a.indexOf("-g") + 1])).toEqual([
      `Metadata_Plate=${PLATE},Metadata_Well=D03,Metadata_Site=2`,
    ]);
    const dead = await receiveAll(s.deadLetterUrl);
    expect(dead.map((m) => m.Body)).toEqual([body]);
  });

  it("uploads a large output as a multipart upload, with UPLOAD_FLAGS applied, and checks its size", async () => {
    const s = await scenario({
      env: { FAKE_CP_BIG_FILE_MB: "9", UPLOAD_FLAGS: "--acl public-read --metadata-directive REPLACE" },
    });
    await send(s, exampleMessage("1"));
    const run = await runWorkerToEnd(s);
    expect(run.code, run.output).toBe(0);
    const head = await s3.send(new HeadObjectCommand({ Bucket: s.bucket, Key: `results/${PLATE}-D03-1/Big.bin` }));
    expect(head.ContentLength).toBe(9 * 1024 * 1024);
    expect(head.ETag).toMatch(/-2"$/); // two 8 MiB-bounded parts
    for (const key of [`results/${PLATE}-D03-1/Big.bin`, `results/${PLATE}-D03-1/Image.csv`]) {
      const { Grants = [] } = await s3.send(new GetObjectAclCommand({ Bucket: s.bucket, Key: key }));
      expect(
        Grants.some((g) => g.Grantee?.URI?.endsWith("/global/AllUsers") && g.Permission === "READ"),
        key,
      ).toBe(true);
    }
    expect(run.output).toContain("uploaded 4 files");
  });

  it("refuses an UPLOAD_FLAGS it cannot honour at start, before taking any task", async () => {
    const s = await scenario({ env: { UPLOAD_FLAGS: "--exclude *.png" } });
    await send(s, exampleMessage("1"));
    const run = await runWorkerToEnd(s);
    expect(run.code).toBe(2);
    expect(run.output).toContain('environment: UPLOAD_FLAGS: "--exclude" is not supported');
    expect(await queueCounts(s.queueUrl)).toEqual({ visible: 1, inFlight: 0 });
  });

  it("stops at start, touching no task, when CellProfiler or the mount root is missing", async () => {
    const s = await scenario();
    await send(s, exampleMessage("1"));
    const noCommand = await runWorkerToEnd(s, { CELLPROFILER_COMMAND: "no-such-cellprofiler" });
    expect(noCommand.code).toBe(1);
    expect(noCommand.output).toContain("CELLPROFILER_COMMAND no-such-cellprofiler is not an executable on PATH");
    const noMount = await runWorkerToEnd(s, { MOUNT_ROOT: join(s.dir, "not-mounted") });
    expect(noMount.code).toBe(1);
    expect(noMount.output).toContain("not-mounted does not exist: mount SOURCE_BUCKET there");
    expect(await queueCounts(s.queueUrl)).toEqual({ visible: 1, inFlight: 0 });
  });

  it("reads a config file when there is one (a workstation), finding the queue by name", async () => {
    const s = await scenario();
    const config = {
      APP_NAME: s.app,
      AWS_BUCKET: s.bucket,
      LOG_GROUP_NAME: s.logGroup,
      DOCKER_CORES: 1,
      SECONDS_TO_START: 0,
      CELLPROFILER_COMMAND: s.env.CELLPROFILER_COMMAND,
      MOUNT_ROOT: s.env.MOUNT_ROOT,
      WORK_DIR: s.env.WORK_DIR,
      WORKER_POLL_SECONDS: 1,
      WORKER_IDLE_POLLS: 1,
      SPOT_NOTICE_URL: null,
    };
    mkdirSync(join(s.dir, "config"));
    writeFileSync(join(s.dir, "config/config.json"), JSON.stringify(config));
    await send(s, exampleMessage("1"));
    // SQS_QUEUE_URL and the rest of the environment are ignored when the config file exists.
    const run = await runWorkerToEnd(s, { SQS_QUEUE_URL: "http://127.0.0.1:9/not-used", DOCKER_CORES: "bad" });
    expect(run.code, run.output).toBe(0);
    expect(run.output).toContain("settings from config/config.json");
    expect(await listKeys(s.bucket, `results/${PLATE}-D03-1/`)).toHaveLength(3);
  });

  it("CHECK_IF_DONE skips a group whose outputs are already there, without running CellProfiler", async () => {
    const s = await scenario({
      env: {
        CHECK_IF_DONE_BOOL: "True",
        EXPECTED_NUMBER_FILES: "2",
        MIN_FILE_SIZE_BYTES: "2",
        NECESSARY_STRING: ".csv",
      },
    });
    const prefix = `results/${PLATE}-D03-1/`;
    await s3.send(new PutObjectCommand({ Bucket: s.bucket, Key: `${prefix}Image.csv`, Body: "done" }));
    await s3.send(new PutObjectCommand({ Bucket: s.bucket, Key: `${prefix}Cells.csv`, Body: "done" }));
    await s3.send(new PutObjectCommand({ Bucket: s.bucket, Key: `results/${PLATE}-D03-2/Image.csv`, Body: "done" }));
    await s3.send(new PutObjectCommand({ Bucket: s.bucket, Key: `results/${PLATE}-D03-2/tiny.csv`, Body: "x" })); // below MIN_FILE_SIZE_BYTES
    await send(s, exampleMessage("1"));
    await send(s, exampleMessage("2"));
    const run = await runWorkerToEnd(s);
    expect(run.code, run.output).toBe(0);
    const runs = cellprofilerRuns(s);
    expect(runs).toHaveLength(1); // only site 2, which had 1 countable file of 2
    expect(runs[0]!.join(" ")).toContain("Metadata_Site=2");
    expect(run.output).toMatch(/CHECK_IF_DONE: 2 files .* skipped/);
    expect(await queueCounts(s.queueUrl)).toEqual({ visible: 0, inFlight: 0 });
  });

  it("a malformed body is logged and left for the DLQ while the worker goes on", async () => {
    const s = await scenario({ retries: 1 });
    await send(s, "this is not JSON");
    await send(s, JSON.stringify({ Metadata: "Metadata_Plate=P1", pipeline: "p.cppipe" })); // fields missing
    await send(s, exampleMessage("1"));
    const run = await runWorkerToEnd(s);
    expect(run.code, run.output).toBe(0);
    expect(run.output).toContain("body: is not JSON");
    expect(run.output).toMatch(/bad message .*output/);
    expect(await listKeys(s.bucket, `results/${PLATE}-D03-1/`)).toHaveLength(3);
    const dead = await receiveAll(s.deadLetterUrl);
    expect(dead.map((m) => m.Body).sort()).toEqual([
      "this is not JSON",
      JSON.stringify({ Metadata: "Metadata_Plate=P1", pipeline: "p.cppipe" }),
    ]);
  });

  it("a failing group is released at once and reaches the DLQ after exactly JOB_RETRIES receives", async () => {
    const s = await scenario({ retries: 2, env: { FAKE_CP_POISON: "Metadata_Site=2" } });
    await send(s, exampleMessage("2"));
    await send(s, exampleMessage("1"));
    const run = await runWorkerToEnd(s);
    expect(run.code, run.output).toBe(0);
    const runs = cellprofilerRuns(s).map((a) => a[a.indexOf("-g") + 1]);
    expect(runs.filter((g) => g!.endsWith("Site=2"))).toHaveLength(2);
    expect(runs.filter((g) => g!.endsWith("Site=1"))).toHaveLength(1);
    expect(run.output).toContain(
      `task ${PLATE}-D03-2 FAILED: CellProfiler exited with code 255 (the run failed) and its done file reads "Failure"`,
    );
    const dead = await receiveAll(s.deadLetterUrl);
    expect(dead).toHaveLength(1);
    expect(JSON.parse(dead[0]!.Body!).Metadata).toContain("Metadata_Site=2");
    expect(await queueCounts(s.queueUrl)).toEqual({ visible: 0, inFlight: 0 });
    expect(await listKeys(s.bucket, `results/${PLATE}-D03-2/`)).toEqual([]);
    expect(readdirSync(s.env.WORK_DIR!)).toEqual([]);
  });

  it.each([
    [
      "a crash (exit 1, no done file)",
      { FAKE_CP_CRASH: "1" },
      {},
      "CellProfiler exited with code 1, without a done file",
    ],
    ["an out-of-memory kill (137)", { FAKE_CP_OOM: "1" }, {}, "exited with code 137 (killed, usually out of memory"],
    ["a missing pipeline", {}, { pipeline: "workspace/missing.cppipe" }, "the pipeline s3://"],
  ])("releases the message after %s and says why", async (_label, env: Record<string, string>, override, cause) => {
    const s = await scenario({ retries: 1, env });
    await send(s, exampleMessage("1", override));
    const run = await runWorkerToEnd(s);
    expect(run.code, run.output).toBe(0);
    expect(run.output).toContain(cause);
    expect(await receiveAll(s.deadLetterUrl)).toHaveLength(1);
  });

  it("download mode with a .txt file list: downloads each listed image and hands CellProfiler the rewritten list", async () => {
    const s = await scenario({ env: { DOWNLOAD_FILES: "True", MOUNT_ROOT: "/home/ubuntu/bucket" } });
    const names = readdirSync(join(EXAMPLE, "images"));
    for (const name of names)
      await s3.send(
        new PutObjectCommand({
          Bucket: s.bucket,
          Key: `plate1/${name}`,
          Body: readFileSync(join(EXAMPLE, "images", name)),
        }),
      );
    const list = names.map((n) => `/home/ubuntu/bucket/plate1/${n}`).join("\r\n") + "\r\n";
    await s3.send(new PutObjectCommand({ Bucket: s.bucket, Key: "workspace/files.txt", Body: list }));
    await send(s, exampleMessage("1", { data_file: "workspace/files.txt", input: "plate1" }));
    const run = await runWorkerToEnd(s);
    expect(run.code, run.output).toBe(0);
    expect(run.output).toContain("DOWNLOAD_FILES: downloaded 3 files");
    const argv = cellprofilerRuns(s)[0]!;
    expect(argv.find((a) => a.startsWith("--file-list="))).toMatch(/files\.txt$/);
    expect(argv.some((a) => a.startsWith("--data-file"))).toBe(false);
    expect(await listKeys(s.bucket, `results/${PLATE}-D03-1/`)).toHaveLength(3);
  });

  it("download mode: fetches only this group's images, rewrites the CSV, and -i points at the local copy", async () => {
    const s = await scenario({ env: { DOWNLOAD_FILES: "True", MOUNT_ROOT: "/home/ubuntu/bucket" } });
    for (const name of readdirSync(join(EXAMPLE, "images"))) {
      await s3.send(
        new PutObjectCommand({
          Bucket: s.bucket,
          Key: `ExampleHuman/images/${name}`,
          Body: readFileSync(join(EXAMPLE, "images", name)),
        }),
      );
    }
    // An absolute PathName under the mount root, as real LoadData CSVs have, for site 2.
    const csv = readFileSync(join(EXAMPLE, "load_data.csv"), "utf8").replace(
      /images(,AS_09125_050116030001_D03f00d[12].tif|,AS_09125_050116030001,D03,2)/g,
      "/home/ubuntu/bucket/ExampleHuman/images$1",
    );
    await s3.send(new PutObjectCommand({ Bucket: s.bucket, Key: "workspace/load_data.csv", Body: csv }));
    await send(s, exampleMessage("2"));
    await send(s, exampleMessage("1", { input: "missing-folder" }));
    const run = await runWorkerToEnd(s, {}, []);
    expect(run.code, run.output).toBe(0);
    expect(run.output).toContain("DOWNLOAD_FILES: 1 rows of workspace/load_data.csv belong to this group");
    expect(run.output).toContain("DOWNLOAD_FILES: downloaded 3 files");
    expect(await listKeys(s.bucket, `results/${PLATE}-D03-2/`)).toHaveLength(3);
    // Site 1's relative PathNames resolve under input "missing-folder", which the bucket lacks: a plain failure.
    expect(run.output).toContain("missing input: s3://");
    expect(existsSync(s.env.WORK_DIR!) && readdirSync(s.env.WORK_DIR!)).toEqual([]);
  });
});
