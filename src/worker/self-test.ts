/**
 * `dcp worker --self-test` (the image: `docker run --rm TAG --self-test`): proves, without AWS and
 * without settings, that this machine or image can do a worker's job before a fleet is paid for:
 *  1. `cellprofiler --version` (CELLPROFILER_COMMAND) runs; the test double says it is one;
 *  2. with --container: `mount-s3 --version` runs, and whether /dev/fuse exists is reported (mount
 *     mode needs the container privileged; nothing is mounted here);
 *  3. one real group of the bundled ExampleHuman example (worker/selftest/) is analysed with the
 *     argument list the worker builds for a task, and the done file and output CSVs are checked
 *     (Image.csv one row, Nuclei.csv at least one).
 * Each step prints ✔ or ✖ with its time; the result passes only when every step passed.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parse } from "csv-parse/sync";
import { cellprofilerArgs, describeExit, findExecutable, readDoneFile, runCellProfiler } from "./cellprofiler.js";

/** The example the image ships (worker/selftest/ExampleHuman), found from this module's place in dist/ or src/. */
export const SELF_TEST_DATA = fileURLToPath(new URL("../../worker/selftest/ExampleHuman/", import.meta.url));
const PIPELINE = "ExampleHuman_LoadData.cppipe";
const IMAGES = [
  "AS_09125_050116030001_D03f00d0.tif",
  "AS_09125_050116030001_D03f00d1.tif",
  "AS_09125_050116030001_D03f00d2.tif",
];
const CHANNELS = ["DNA", "PH3", "cellbody"];
const METADATA = { Metadata_Plate: "AS_09125_050116030001", Metadata_Well: "D03", Metadata_Site: "1" };
/** CellProfiler's lines shown when the analysis fails. */
const ERROR_LINES = 40;
const VERSION_TIMEOUT_MS = 120_000;

export interface SelfTestOptions {
  /** Inside the worker image (`dcp worker --container --self-test`): also check Mountpoint and FUSE. */
  container: boolean;
  env?: NodeJS.ProcessEnv;
  write?: (line: string) => void;
  /** The ExampleHuman folder (tests). */
  dataDir?: string;
}

export interface SelfTestResult {
  passed: boolean;
  usedTestDouble: boolean;
}

interface Captured {
  code: number | null;
  output: string[];
  error?: string;
}

function capture(command: string, args: string[], timeoutMs: number): Promise<Captured> {
  return new Promise((resolve) => {
    const output: string[] = [];
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
    // Our own timer, not spawn's `timeout` option: that one outlives a failed spawn (ENOENT) and keeps
    // the process alive until it fires.
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    timer.unref();
    for (const stream of [child.stdout, child.stderr])
      stream.on("data", (chunk: Buffer) => output.push(...chunk.toString("utf8").split(/\r?\n/).filter(Boolean)));
    child.on("error", (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve({ code: null, output, error: err.code ?? err.message });
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

/** Data rows of a CSV file (header excluded), or a reason it cannot be read. */
async function csvRows(file: string): Promise<number | string> {
  try {
    const records = parse(await readFile(file, "utf8"), { bom: true, skip_empty_lines: true }) as unknown[];
    return Math.max(0, records.length - 1);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "ENOENT" ? "missing" : `unreadable (${(err as Error).message})`;
  }
}

export async function runSelfTest(options: SelfTestOptions): Promise<SelfTestResult> {
  const env = options.env ?? process.env;
  const write = options.write ?? ((line: string) => process.stdout.write(`${line}\n`));
  const dataDir = options.dataDir ?? SELF_TEST_DATA;
  const started = Date.now();
  let failures = 0;
  let usedTestDouble = false;
  const seconds = (since: number) => `${((Date.now() - since) / 1000).toFixed(1)} s`;
  const step = (ok: boolean, text: string, since: number) => {
    if (!ok) failures++;
    write(`${ok ? "✔" : "✖"} ${text} (${seconds(since)})`);
  };
  const note = (text: string) => write(`  ${text}`);

  write(`dcp worker self-test${options.container ? " (container)" : ""}: no AWS call, no settings needed`);

  // 1. CellProfiler answers.
  const command = env.CELLPROFILER_COMMAND || "cellprofiler";
  let t = Date.now();
  const executable = findExecutable(command, env.PATH ?? "");
  if (!executable) {
    step(
      false,
      `cellprofiler: ${command} is not an executable${command.includes("/") ? "" : " on PATH"} (set CELLPROFILER_COMMAND)`,
      t,
    );
  } else {
    const version = await capture(executable, ["--version"], VERSION_TIMEOUT_MS);
    usedTestDouble = version.output.some((l) => l.includes("TEST DOUBLE"));
    const last = version.output.at(-1) ?? "(no output)";
    if (version.code === 0) step(true, `${command} --version: ${last}`, t);
    else {
      step(
        false,
        `${command} --version ${version.error ? `could not run (${version.error})` : `exited with code ${version.code}`}`,
        t,
      );
      for (const line of version.output.slice(-ERROR_LINES)) note(`│ ${line}`);
    }
    if (usedTestDouble) note("this is the TEST DOUBLE fake-cellprofiler, not CellProfiler");
  }

  // 2. Mountpoint and FUSE, in the image only: nothing is mounted here.
  if (options.container) {
    t = Date.now();
    const mount = await capture("mount-s3", ["--version"], VERSION_TIMEOUT_MS);
    if (mount.code === 0) step(true, `mount-s3 --version: ${mount.output.at(-1) ?? ""}`, t);
    else {
      step(
        false,
        `mount-s3 --version ${mount.error ? `could not run (${mount.error})` : `exited with code ${mount.code}`}`,
        t,
      );
      for (const line of mount.output.slice(-ERROR_LINES)) note(`│ ${line}`);
    }
    const fuse = existsSync("/dev/fuse");
    write(
      `${fuse ? "✔" : "–"} /dev/fuse ${fuse ? "is present" : "is absent"}: mount mode (DOWNLOAD_FILES false) needs the container ` +
        `run privileged (docker run --privileged; dcp setup's task definition is), download mode does not; nothing is mounted by the self-test`,
    );
  } else {
    write(
      "– mount-s3 not checked: only the image's `dcp worker --container` mounts SOURCE_BUCKET (run --container --self-test there)",
    );
  }

  // 3. One real group of ExampleHuman, as a task runs it.
  t = Date.now();
  const work = await mkdtemp(join(tmpdir(), "dcp-self-test-"));
  try {
    const input = join(work, "input");
    const output = join(work, "output");
    const doneFile = join(work, "done.txt");
    await cp(dataDir, input, { recursive: true });
    await Promise.all([mkdir(output), mkdir(join(work, "tmp"))]);
    const images = join(input, "images");
    const header = [...CHANNELS.flatMap((c) => [`FileName_${c}`, `PathName_${c}`]), ...Object.keys(METADATA)];
    const row = [...IMAGES.flatMap((file) => [file, images]), ...Object.values(METADATA)];
    const dataFile = join(work, "load_data.csv");
    await writeFile(dataFile, `${header.join(",")}\n${row.join(",")}\n`);
    const group = Object.entries(METADATA)
      .map(([k, v]) => `${k}=${v}`)
      .join(",");
    const args = cellprofilerArgs({
      pipeline: join(input, PIPELINE),
      input,
      output,
      doneFile,
      dataFile,
      dataKind: "csv",
      group,
      alwaysContinue: false,
      tempDirectory: join(work, "tmp"),
    });
    write(`  running ExampleHuman, one group (${group}), 3 images: ${command} ${args.join(" ")}`);
    const lines: string[] = [];
    let status;
    try {
      status = executable
        ? await runCellProfiler(executable, args, (l) => lines.push(l), new AbortController().signal)
        : undefined;
    } catch (err) {
      lines.push((err as Error).message);
    }
    const done = await readDoneFile(doneFile);
    const ran = status?.code === 0 && done === "Complete";
    const why = !executable
      ? "no CellProfiler to run"
      : !status
        ? "could not start"
        : status.code !== 0
          ? `CellProfiler ${describeExit(status)}`
          : `the done file reads ${done === undefined ? "nothing (none written)" : JSON.stringify(done)}, not "Complete"`;
    step(ran, `analysis of ExampleHuman: ${ran ? 'exit code 0, done file "Complete"' : why}`, t);
    if (!ran && lines.length) {
      note(`CellProfiler's last ${Math.min(lines.length, ERROR_LINES)} lines:`);
      for (const line of lines.slice(-ERROR_LINES)) note(`│ ${line}`);
    }
    if (ran) {
      t = Date.now();
      const image = await csvRows(join(output, "Image.csv"));
      step(image === 1, `Image.csv: ${typeof image === "number" ? `${image} row(s), expected 1` : image}`, t);
      t = Date.now();
      const nuclei = await csvRows(join(output, "Nuclei.csv"));
      step(
        typeof nuclei === "number" && nuclei > 0,
        `Nuclei.csv: ${typeof nuclei === "number" ? `${nuclei} nuclei` : nuclei}`,
        t,
      );
    } else write("– output CSVs not checked: the analysis did not finish");
  } finally {
    await rm(work, { recursive: true, force: true });
  }

  const passed = failures === 0;
  write(
    passed
      ? `self-test passed in ${seconds(started)}${usedTestDouble ? " WITH THE TEST DOUBLE, not CellProfiler: it proves dcp's side only" : ""}`
      : `self-test FAILED: ${failures} step(s) failed (${seconds(started)})${usedTestDouble ? "; CellProfiler here is the TEST DOUBLE" : ""}`,
  );
  return { passed, usedTestDouble };
}
