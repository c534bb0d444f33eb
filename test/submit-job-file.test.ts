/** Pure parts of submit: group and shared-value validation, whole-file rules, the streaming reader, batching. */
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { UserInputError } from "../src/errors.js";
import { MAX_BATCH_BYTES, packBatches, retryDelayMs } from "../src/plan/job-batch.js";
import {
  JobFileCheck,
  acceptedJobGroup,
  firstDuplicate,
  groupIdentity,
  groupMessage,
  parseGroup,
  parseSharedValue,
  type JobGroup,
} from "../src/plan/job-file.js";
import { checkJobFile, jobFileMessages, readJobFile, type CheckedJobFile } from "../src/submit/job-reader.js";
import { messageBody, type DcpMessage } from "../src/plan/message.js";
import { tempDir } from "./harness/dcp.js";

const F = "job.json";

function inputError(fn: () => unknown): UserInputError {
  try {
    fn();
  } catch (err) {
    if (err instanceof UserInputError) return err;
    throw err;
  }
  throw new Error("expected a UserInputError");
}

async function asyncInputError(promise: Promise<unknown>): Promise<UserInputError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (err instanceof UserInputError) return err;
  throw new Error(`expected a UserInputError, got ${String(err)}`);
}

const SHARED = { pipeline: "p.cppipe", data_file: "d.csv", input: "in/", output: "out/", output_structure: "" };

describe("parseGroup", () => {
  it("accepts DCP's two forms and ignores _comment keys", () => {
    expect(parseGroup({ Metadata: "Metadata_Plate=P1,Metadata_Well=A01", _comment: "x" }, 0, F)).toEqual({
      Metadata: "Metadata_Plate=P1,Metadata_Well=A01",
      overrides: {},
    });
    expect(parseGroup({ Metadata_Plate: "P1", Metadata_Well: "A01", _comment_2: 1 }, 0, F)).toEqual({
      Metadata: { Metadata_Plate: "P1", Metadata_Well: "A01" },
      overrides: {},
    });
    expect(parseGroup({ Metadata: { Metadata_Plate: "P1" } }, 0, F)).toEqual({
      Metadata: { Metadata_Plate: "P1" },
      overrides: {},
    });
  });

  it("gives for every accepted group what acceptedJobGroup (pass 2 of an unchanged file) gives", () => {
    const accepted = [
      { Metadata: "Metadata_Plate=P1,Metadata_Well=A01", _comment: "x" },
      { Metadata_Plate: "P1", Metadata_Well: "A01", _comment_2: 1 },
      { Metadata: { Metadata_Plate: "P1" }, output_structure: "Metadata_Plate" },
      { Metadata: "Metadata_Plate=P2", data_file: "P2/load_data.csv", output: "out/P2/", _comment: "own paths" },
    ];
    for (const raw of accepted) expect(acceptedJobGroup(raw)).toEqual(parseGroup(raw, 0, F));
  });

  it("takes a Metadata group's own shared values as overrides (the dcp extension)", () => {
    const group = parseGroup({ Metadata: "Metadata_Plate=P2", data_file: "P2/load_data.csv", output: "out/P2/" }, 4, F);
    expect(group.overrides).toEqual({ data_file: "P2/load_data.csv", output: "out/P2/" });
    expect(groupMessage(SHARED, group)).toEqual({
      ...SHARED,
      data_file: "P2/load_data.csv",
      output: "out/P2/",
      Metadata: "Metadata_Plate=P2",
    });
  });

  it('accepts spaces inside metadata values (CellProfiler splits -g only on "," and "=")', () => {
    expect(parseGroup({ Metadata: "Metadata_Plate=Plate 1,Metadata_Well=A01" }, 3, F).Metadata).toBe(
      "Metadata_Plate=Plate 1,Metadata_Well=A01",
    );
    expect(parseGroup({ Metadata_Plate: "Plate 1" }, 3, F).Metadata).toEqual({ Metadata_Plate: "Plate 1" });
  });

  it.each([
    [
      { Metadata: "Metadata_Plate=P1 ,Metadata_Well=A01" },
      "groups[3].Metadata",
      /contains a space at the start or end of the value "P1 "/,
      /remove it/,
    ],
    [{ Metadata: "Metadata_Plate" }, "groups[3].Metadata", /has no "="/, /Key=value/],
    [{ Metadata: "Metadata_Plate=P1,,Metadata_Well=A01" }, "groups[3].Metadata", /empty item/, /extra comma/],
    [{ Metadata: "=P1" }, "groups[3].Metadata", /no key/, /Key=value/],
    [{ Metadata: "" }, "groups[3].Metadata", /is empty/, /metadata/],
    [{ Metadata: 7 }, "groups[3].Metadata", /expected string/, /as a string/],
    [{ Metadata: "A=1", pipline: "x" }, "groups[3].pipline", /unknown key/, /did you mean "pipeline"/],
    [{ Metadata: "A=1", data_file: "" }, "groups[3].data_file", /is empty/, /LoadData/],
    [{ Metadata: { A: "1" }, output_structure: "" }, "groups[3].output_structure", /is empty/, /output_structure/],
    [{ Metadata_Site: 1 }, "groups[3].Metadata_Site", /expected a string, got a number/, /quote it: "1"/],
    [{ Metadata_Site: null }, "groups[3].Metadata_Site", /expected a string, got null/, /as a string/],
    [{ Metadata_Well: "A=01" }, "groups[3].Metadata_Well", /holds "," or "="/, /splits -g on "," and "="/],
    [{ Metadata: "Metadata_Plate=P=1" }, "groups[3].Metadata", /second "="/, /splits -g on "," and "="/],
    [{ Metadata_Well: " A01" }, "groups[3].Metadata_Well", /space at its start or end/, /remove it/],
    [{ "Metadata Well": "A01" }, "groups[3].Metadata Well", /holds a space/, /LoadData/],
    [{ Metadata_Well: "A01", output: "x" }, "groups[3].output", /is a shared key/, /\{"Metadata": /],
    [{ _comment: "only a comment" }, "groups[3]", /is empty/, /give it metadata/],
    [["Metadata_Plate=P1"], "groups[3]", /expected an object, got a list/, /write each group/],
  ])("rejects %j as %s", (raw, field, problem, fix) => {
    const err = inputError(() => parseGroup(raw, 3, F));
    expect(err.source).toBe(F);
    expect(err.field).toBe(field);
    expect(err.problem).toMatch(problem);
    expect(err.fix).toMatch(fix);
  });
});

describe("parseSharedValue", () => {
  it("accepts strings and rejects other types with a fix", () => {
    expect(parseSharedValue("input", "", F)).toBe("");
    const err = inputError(() => parseSharedValue("output", 3, F));
    expect([err.field, err.problem]).toEqual(["output", "expected string, received number"]);
    expect(err.fix).toMatch(/output prefix/);
    expect(inputError(() => parseSharedValue("pipeline", "", F)).problem).toBe("is empty");
  });
});

describe("groupIdentity", () => {
  it("is the same for the same pairs in any order or form, and differs with overrides", () => {
    const a: JobGroup = { Metadata: "A=1,B=2", overrides: {} };
    expect(groupIdentity(a)).toBe(groupIdentity({ Metadata: "B=2,A=1", overrides: {} }));
    expect(groupIdentity(a)).toBe(groupIdentity({ Metadata: { B: "2", A: "1" }, overrides: {} }));
    expect(groupIdentity(a)).not.toBe(groupIdentity({ Metadata: "A=1,B=3", overrides: {} }));
    expect(groupIdentity(a)).not.toBe(groupIdentity({ Metadata: "A=1,B=2", overrides: { data_file: "x.csv" } }));
  });
});

describe("messageBody", () => {
  it("is JSON.stringify of DCP's key order, whichever shared values came before", () => {
    const a = { pipeline: "p.cppipe", output: "out/", input: "in/", data_file: "d.csv", output_structure: "" };
    const b = { ...a, output: 'o "quoted" \\ ü/', output_structure: "Metadata_Plate" };
    const stringify = (m: DcpMessage) =>
      JSON.stringify({
        Metadata: m.Metadata,
        pipeline: m.pipeline,
        output: m.output,
        input: m.input,
        data_file: m.data_file,
        output_structure: m.output_structure,
      });
    const messages: DcpMessage[] = [
      { ...a, Metadata: "A=1" },
      { ...a, Metadata: "A=2" },
      { ...b, Metadata: { Metadata_Plate: "P1", Metadata_Well: "A01" } },
      { ...a, Metadata: "A=3" },
      { ...b, data_file: "other.csv", Metadata: "A=4" },
    ];
    for (const m of messages) expect(messageBody(m)).toBe(stringify(m));
  });
});

describe("firstDuplicate", () => {
  it("finds the earliest repeat and the position it repeats", () => {
    expect(firstDuplicate(new BigUint64Array([5n, 1n, 9n, 3n]))).toBeUndefined();
    expect(firstDuplicate(new BigUint64Array([5n, 1n, 9n, 1n, 5n]))).toEqual({ index: 3, first: 1 });
  });
});

describe("JobFileCheck", () => {
  function check(groups: unknown[], shared: Record<string, string> = SHARED) {
    const c = new JobFileCheck(F);
    groups.forEach((g, i) => c.add(parseGroup(g, i, F), i));
    return c.finish(shared, true);
  }

  it("counts and resolves the shared values (output_structure defaults to empty)", () => {
    const { output_structure: _omitted, ...withoutStructure } = SHARED;
    const summary = check([{ Metadata: "A=1" }, { Metadata: "A=2", data_file: "x.csv" }], withoutStructure);
    expect(summary).toMatchObject({ groups: 2, stringGroups: 2, dictGroups: 0, groupsWithOverrides: 1 });
    expect(summary.shared.output_structure).toBe("");
  });

  it("rejects duplicates, naming both groups", () => {
    const err = inputError(() =>
      check([{ Metadata: "A=1,B=1" }, { Metadata: "A=1,B=2" }, { Metadata: { B: "2", A: "1" } }], {
        ...SHARED,
        output_structure: "A-B",
      }),
    );
    expect([err.field, err.problem]).toEqual(["groups[2]", "is the same job as groups[1] (same metadata)"]);
  });

  it("needs every required key shared or in every group", () => {
    const { data_file: _omitted, ...noDataFile } = SHARED;
    expect(
      check(
        [
          { Metadata: "A=1", data_file: "a.csv" },
          { Metadata: "A=2", data_file: "b.csv" },
        ],
        noDataFile,
      ).groups,
    ).toBe(2);
    expect(inputError(() => check([{ Metadata: "A=1" }], noDataFile)).field).toBe("data_file");
    const err = inputError(() => check([{ Metadata: "A=1", data_file: "a.csv" }, { Metadata: "A=2" }], noDataFile));
    expect([err.field, err.problem]).toEqual([
      "groups[1]",
      'has no "data_file" and the file has no shared "data_file"',
    ]);
  });

  it("needs an output_structure for dict groups, shared or their own", () => {
    expect(inputError(() => check([{ Metadata: "A=1" }, { A: "2" }])).field).toBe("groups[1]");
    expect(check([{ Metadata: { A: "2" }, output_structure: "A" }]).dictGroups).toBe(1);
  });

  it("measures each message exactly against SQS's 262144-byte limit, shared values included", () => {
    const exact = (metaLength: number) => {
      const group = { Metadata: `A=${"x".repeat(metaLength)}` };
      return Buffer.byteLength(messageBody(groupMessage(SHARED, parseGroup(group, 0, F))));
    };
    const fits = 262_144 - exact(0);
    expect(exact(fits)).toBe(262_144);
    expect(check([{ Metadata: `A=${"x".repeat(fits)}` }]).groups).toBe(1);
    const err = inputError(() => check([{ Metadata: "A=1" }, { Metadata: `A=${"x".repeat(fits + 1)}` }]));
    expect([err.field, err.problem]).toEqual([
      "groups[1]",
      "its message would be 262145 bytes, over SQS's limit of 262144",
    ]);
    // A long shared value pushes every group over; an override replaces it.
    const longShared = { ...SHARED, input: "i".repeat(262_100) };
    expect(inputError(() => check([{ Metadata: "A=1" }], longShared)).field).toBe("groups[0]");
    expect(check([{ Metadata: "A=1", input: "in/" }], longShared).groups).toBe(1);
  });

  it("reports a missing or empty groups list", () => {
    expect(inputError(() => new JobFileCheck(F).finish(SHARED, false)).problem).toBe("is missing");
    expect(inputError(() => new JobFileCheck(F).finish(SHARED, true)).problem).toMatch(/is empty/);
  });
});

describe("streaming job file reader", () => {
  /** Pass 2's Metadata strings until it ends or stops, and the message it stopped with. */
  async function passTwo(job: CheckedJobFile): Promise<{ got: string[]; error: string | undefined }> {
    const got: string[] = [];
    try {
      for await (const m of jobFileMessages(job)) got.push(m.Metadata as string);
    } catch (err) {
      return { got, error: (err as Error).message };
    }
    return { got, error: undefined };
  }

  it("reads shared keys on both sides of groups, and yields DCP messages in order", async () => {
    const dir = tempDir();
    const file = join(dir, "job.json");
    writeFileSync(
      file,
      JSON.stringify({
        _comment: "x",
        pipeline: "p.cppipe",
        groups: [{ Metadata: "A=1" }, { A: "2" }],
        data_file: "d.csv",
        input: "in/",
        output: "out/",
        output_structure: "A",
      }),
    );
    const checked = await checkJobFile(file);
    expect(checked).toMatchObject({ groups: 2, shared: { ...SHARED, output_structure: "A" } });
    const messages = [];
    for await (const m of jobFileMessages(checked)) messages.push(m);
    expect(messages.map(messageBody)).toEqual([
      '{"Metadata":"A=1","pipeline":"p.cppipe","output":"out/","input":"in/","data_file":"d.csv","output_structure":"A"}',
      '{"Metadata":{"A":"2"},"pipeline":"p.cppipe","output":"out/","input":"in/","data_file":"d.csv","output_structure":"A"}',
    ]);
  });

  it("sends only what it checked: a group changed or added after the check stops pass 2 there", async () => {
    const file = join(tempDir(), "job.json");
    const job = (groups: string[]) =>
      JSON.stringify({ ...SHARED, groups: groups.map((m) => ({ Metadata: m })) }, null, 1);
    writeFileSync(file, job(["A=1", "A=2", "A=3"]));
    const checked = await checkJobFile(file);
    const read = () => passTwo(checked);
    expect(await read()).toEqual({ got: ["A=1", "A=2", "A=3"], error: undefined });
    writeFileSync(file, job(["A=1", "A=9", "A=3"]));
    expect(await read()).toEqual({
      got: ["A=1"],
      error: `${file} changed while it was being submitted (groups[1] differs from the checked file)`,
    });
    writeFileSync(file, job(["A=1", "A=2", "A=3", "A=4"]));
    expect(await read()).toMatchObject({
      got: ["A=1", "A=2", "A=3"],
      error: expect.stringMatching(/groups\[3\] differs/),
    });
    writeFileSync(file, job(["A=1", "A 2", "A=3"]));
    expect(await read()).toMatchObject({
      got: ["A=1"],
      error: expect.stringMatching(/groups\[1\] is no longer valid/),
    });
  });

  it("does not validate again what is byte-for-byte unchanged, and checks each group again after a change", async () => {
    const file = join(tempDir(), "job.json");
    // Over three 64 KiB blocks, so a change can come after blocks that are still unchanged.
    const metadata = Array.from({ length: 6000 }, (_, i) => `Metadata_Plate=P1,Metadata_Well=W${i}`);
    const write = (list: string[], indent = 1) =>
      writeFileSync(file, JSON.stringify({ ...SHARED, groups: list.map((m) => ({ Metadata: m })) }, null, indent));
    write(metadata);
    const checked = await checkJobFile(file);
    // Unchanged bytes: pass 2 trusts pass 1, so it never consults the groups' identity hashes.
    const noHashes = { ...checked, hashWords: new Uint32Array(checked.hashWords.length) };
    expect(await passTwo(noHashes)).toEqual({ got: metadata, error: undefined });
    // Re-indented: every block differs, so every group is checked again and found the same.
    write(metadata, 2);
    expect(await passTwo(checked)).toEqual({ got: metadata, error: undefined });
    expect((await passTwo(noHashes)).error).toMatch(/groups\[0\] differs from the checked file/);
    // A group far into the file changed: the groups before it are sent, then pass 2 stops there.
    write(metadata.map((m, i) => (i === 5000 ? "Metadata_Plate=P1,Metadata_Well=X" : m)));
    expect(await passTwo(checked)).toEqual({
      got: metadata.slice(0, 5000),
      error: `${file} changed while it was being submitted (groups[5000] differs from the checked file)`,
    });
  });

  it("reports invalid JSON with its line and column", async () => {
    const file = join(tempDir(), "bad.json");
    writeFileSync(file, '{\n  "pipeline": "p",\n  "groups": [1,, 2]\n}\n');
    const err = await asyncInputError(checkJobFile(file));
    expect(err.problem).toMatch(/^is not valid JSON at line 3, column 16/);
  });

  it("hands out groups while the file is still being written (it streams, it does not load the file)", async () => {
    const dir = tempDir();
    const fifo = join(dir, "job.fifo");
    await new Promise<void>((resolve, reject) =>
      spawn("mkfifo", [fifo]).on("exit", (code) =>
        code === 0 ? resolve() : reject(new Error(`mkfifo exited ${code}`)),
      ),
    );
    // The writer sends the head and one group, then waits for the reader's go before finishing.
    const writer = spawn(
      process.execPath,
      [
        "-e",
        `const fs=require("fs");const fd=fs.openSync(process.argv[1],"w");fs.writeSync(fd,'{"pipeline":"p","groups":[{"Metadata":"A=1"},');process.stdin.once("data",()=>{fs.writeSync(fd,'{"Metadata":"A=2"}]}');fs.closeSync(fd);});`,
        fifo,
      ],
      { stdio: ["pipe", "ignore", "inherit"] },
    );
    // A reader that waits for the whole file would never see group 0 before the go: unblock it after 10 s and fail.
    let blocked = false;
    const fallback = setTimeout(() => {
      blocked = true;
      writer.stdin.end("go\n");
    }, 10_000);
    const seen: string[] = [];
    for await (const entry of readJobFile(fifo)) {
      seen.push(
        entry.kind === "group" ? `group ${entry.index}` : entry.kind === "key" ? `key ${entry.key}` : entry.kind,
      );
      if (seen.length === 3 && !blocked) writer.stdin.end("go\n");
    }
    clearTimeout(fallback);
    expect(blocked).toBe(false);
    expect(seen).toEqual(["key pipeline", "groups", "group 0", "group 1"]);
  });
});

describe("packBatches", () => {
  const items = (sizes: number[]) => sizes.map((bytes, seq) => ({ seq, bytes }));
  const seqs = async (sizes: number[]) => {
    const out: number[][] = [];
    for await (const batch of packBatches(items(sizes))) out.push(batch.map((i) => i.seq));
    return out;
  };

  it("puts at most 10 messages in a batch, in order", async () => {
    const batches = await seqs(Array.from({ length: 23 }, () => 100));
    expect(batches.map((b) => b.length)).toEqual([10, 10, 3]);
    expect(batches.flat()).toEqual(Array.from({ length: 23 }, (_, i) => i));
  });

  it("keeps each batch's bodies within 256 KiB in all", async () => {
    const big = 100_000;
    expect(await seqs([big, big, MAX_BATCH_BYTES - 2 * big, 1])).toEqual([[0, 1, 2], [3]]);
    expect(await seqs([2 * big, big, 10])).toEqual([[0], [1, 2]]);
  });

  it("yields nothing for no input", async () => {
    expect(await seqs([])).toEqual([]);
  });
});

describe("retryDelayMs", () => {
  it("grows exponentially from the base, is capped, and uses jitter", () => {
    expect([1, 2, 3, 4].map((a) => retryDelayMs(a, 100, 10_000, () => 1))).toEqual([100, 200, 400, 800]);
    expect(retryDelayMs(20, 100, 10_000, () => 1)).toBe(10_000);
    expect(retryDelayMs(3, 100, 10_000, () => 0.5)).toBe(200);
  });
});
