import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import Assembler from "stream-json/assembler.js";
import { jsonParser, type Token } from "stream-json/parser.js";
import { verifyFile } from "stream-json/file/verifier.js";
import { OperationalError, UserInputError } from "../errors.js";
import type { DcpMessage } from "../plan/message.js";
import {
  JobFileCheck,
  acceptedJobGroup,
  describeType,
  groupMessage,
  isCommentKey,
  isSharedKey,
  parseGroup,
  parseSharedValue,
  sameGroupAsChecked,
  unknownTopLevelKey,
  type JobFileSummary,
  type JobGroup,
  type SharedValues,
} from "../plan/job-file.js";

/**
 * Streaming reader of DCP job files. The file is tokenised by stream-json and only one group is
 * materialised at a time, so memory stays flat for a million groups. Two passes:
 * `checkJobFile` validates everything and counts (shared keys may come after `groups`);
 * `jobFileMessages` reads again and yields one DcpMessage per group.
 */

export type JobFileEntry =
  { kind: "key"; key: string; value: unknown } | { kind: "groups" } | { kind: "group"; index: number; value: unknown };

const JOB_FILE_FIX =
  'make it a JSON object: {"pipeline": "...", "data_file": "...", "input": "...", "output": "...", "groups": [...]}';

/** Turns parser tokens into entries, synchronously; `entries` fills up until taken. */
class JobTokenReader {
  readonly entries: JobFileEntry[] = [];
  tokens = 0;
  private readonly asm = new Assembler();
  private target: { key: string } | { index: number } | undefined;
  private state: "start" | "key" | "value" | "groups" | "end" = "start";
  private key = "";
  private index = 0;
  private readonly seen = new Set<string>();

  constructor(private readonly file: string) {}

  take(): JobFileEntry[] {
    return this.entries.splice(0);
  }

  consume(tokens: readonly Token[]): void {
    this.tokens += tokens.length;
    for (const token of tokens) this.token(token);
  }

  private emitAssembled(): void {
    const target = this.target!;
    const value = this.asm.current;
    this.entries.push(
      "key" in target ? { kind: "key", key: target.key, value } : { kind: "group", index: target.index, value },
    );
    this.target = undefined;
  }

  private startValue(target: { key: string } | { index: number }, token: Token): void {
    this.target = target;
    this.asm.consume(token);
    if (this.asm.done) this.emitAssembled();
  }

  private token(token: Token): void {
    if (this.target) {
      this.asm.consume(token);
      if (this.asm.done) this.emitAssembled();
      return;
    }
    switch (this.state) {
      case "start":
        if (token.name !== "startObject")
          throw new UserInputError(
            this.file,
            undefined,
            `must be a JSON object, but it starts with ${tokenKind(token.name)}`,
            JOB_FILE_FIX,
          );
        this.state = "key";
        return;
      case "key":
        if (token.name === "endObject") this.state = "end";
        if (token.name !== "keyValue") return;
        this.key = token.value;
        if (this.seen.has(this.key) && !isCommentKey(this.key))
          throw new UserInputError(this.file, this.key, "appears twice", "keep one of the two values");
        this.seen.add(this.key);
        this.state = "value";
        return;
      case "value":
        if (this.key === "groups" && token.name === "startArray") {
          this.state = "groups";
          this.entries.push({ kind: "groups" });
          return;
        }
        this.state = "key";
        this.startValue({ key: this.key }, token);
        return;
      case "groups":
        if (token.name === "endArray") this.state = "key";
        else this.startValue({ index: this.index++ }, token);
        return;
      case "end":
        return;
    }
  }
}

type TokenBatch = { values: Token[] };
/** stream-chain's "no value" marker; passing it flushes the parser (stream-json's documented protocol). */
const NONE = Symbol.for("object-stream.none");

/**
 * The entries of a job file, one array per block read (64 KiB): top-level keys with their values
 * and the elements of `groups`, in file order. The tokenizer is driven synchronously per block
 * (stream-json's bare `jsonParser`), which is several times faster than one await per token.
 * `onBlock` sees each block's text before its entries are parsed.
 */
export async function* readJobFileBlocks(
  file: string,
  onBlock?: (text: string, index: number) => void,
): AsyncGenerator<JobFileEntry[]> {
  const reader = new JobTokenReader(file);
  const parse = jsonParser({ streamValues: false }) as unknown as (text: string | symbol) => TokenBatch | symbol;
  const feed = (text: string | symbol) => {
    const out = parse(text);
    if (out !== NONE) reader.consume((out as TokenBatch).values);
  };
  try {
    let block = 0;
    for await (const chunk of createReadStream(file, { encoding: "utf8", highWaterMark: 1 << 16 })) {
      onBlock?.(chunk as string, block);
      feed(block === 0 ? (chunk as string).replace(/^\uFEFF/, "") : (chunk as string));
      block += 1;
      if (reader.entries.length) yield reader.take();
    }
    feed(NONE);
  } catch (err) {
    if (err instanceof UserInputError) throw err;
    if (reader.tokens === 0 && !(err as NodeJS.ErrnoException).code && (await isBlank(file)))
      throw new UserInputError(file, undefined, "is empty", JOB_FILE_FIX);
    throw await readError(file, err as Error);
  }
  if (reader.entries.length) yield reader.take();
  if (reader.tokens === 0) throw new UserInputError(file, undefined, "is empty", JOB_FILE_FIX);
}

/** Top-level keys (values assembled) and the elements of `groups` (one at a time), in file order. */
export async function* readJobFile(file: string): AsyncGenerator<JobFileEntry> {
  for await (const block of readJobFileBlocks(file)) yield* block;
}

async function isBlank(file: string): Promise<boolean> {
  const { size } = await stat(file);
  return size <= 65_536 && (await readFile(file, "utf8")).replace(/^\uFEFF/, "").trim() === "";
}

function tokenKind(name: string): string {
  if (name === "startArray") return "a list";
  if (name.startsWith("string")) return "a string";
  if (name.startsWith("number")) return "a number";
  return "a literal";
}

/** A read or parse failure as the user's error: file not found, or invalid JSON with line and column. */
async function readError(file: string, err: Error): Promise<Error> {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === "ENOENT") return new UserInputError(file, undefined, "file not found", "check the path of the job file");
  if (code)
    return new UserInputError(
      file,
      undefined,
      `cannot be read (${code})`,
      "check the path and permissions of the job file",
    );
  let where = "";
  try {
    await verifyFile(file);
  } catch (verr) {
    const { line, pos } = verr as { line?: number; pos?: number };
    if (line !== undefined) where = ` at line ${line}, column ${pos ?? 0}`;
  }
  const detail = err.message.replace(/^(Parser|Verifier) (cannot parse input: |has )?/, "");
  return new UserInputError(
    file,
    undefined,
    `is not valid JSON${where} (${detail})`,
    "make the job file valid JSON (no trailing commas, double-quoted keys and strings, one top-level object)",
  );
}

export interface CheckedJobFile extends JobFileSummary {
  file: string;
  /** SHA-256 of each block pass 1 read: pass 2 skips validating what is byte-for-byte unchanged. */
  blockDigests: string[];
}

function blockDigest(text: string): string {
  return createHash("sha256").update(text).digest("base64");
}

/** Pass 1: validates the whole file (throws one UserInputError) and counts its groups. */
export async function checkJobFile(file: string, onProgress?: (groups: number) => void): Promise<CheckedJobFile> {
  const check = new JobFileCheck(file);
  const shared: SharedValues = {};
  let groupsKey = false;
  const blockDigests: string[] = [];
  for await (const block of readJobFileBlocks(file, (text) => blockDigests.push(blockDigest(text)))) {
    for (const entry of block) {
      if (entry.kind === "group") {
        check.add(parseGroup(entry.value, entry.index, file), entry.index);
        if (onProgress && entry.index % 10_000 === 9_999) onProgress(entry.index + 1);
      } else if (entry.kind === "groups") {
        groupsKey = true;
      } else if (entry.key === "groups") {
        throw new UserInputError(
          file,
          "groups",
          `expected a list, got ${describeType(entry.value)}`,
          'write "groups": [{"Metadata": "Metadata_Plate=Plate1,Metadata_Well=A01"}, ...]',
        );
      } else if (isSharedKey(entry.key)) {
        shared[entry.key] = parseSharedValue(entry.key, entry.value, file);
      } else if (!isCommentKey(entry.key)) {
        throw unknownTopLevelKey(entry.key, file);
      }
    }
  }
  return { file, blockDigests, ...check.finish(shared, groupsKey) };
}

/**
 * Pass 2: one DcpMessage per group of a file `checkJobFile` accepted, in file order. While every
 * block read so far is byte-for-byte the one pass 1 checked, groups are taken as they are; after a
 * difference, each group is validated again and must be the job pass 1 counted at its place.
 */
export async function* jobFileMessages(job: CheckedJobFile): AsyncGenerator<DcpMessage> {
  const changed = (detail: string) =>
    new OperationalError(`${job.file} changed while it was being submitted (${detail})`);
  let unchanged = true;
  // A group is yielded only once the block that completes it is read, so `unchanged` covers all its bytes.
  const onBlock = (text: string, index: number) => {
    unchanged &&= job.blockDigests[index] === blockDigest(text);
  };
  let count = 0;
  for await (const block of readJobFileBlocks(job.file, onBlock)) {
    for (const entry of block) {
      if (entry.kind !== "group") continue;
      if (entry.index >= job.groups) throw changed(`groups[${entry.index}] differs from the checked file`);
      yield groupMessage(
        job.shared,
        unchanged ? acceptedJobGroup(entry.value as Record<string, unknown>) : checkedAgain(entry.value, entry.index),
      );
      count += 1;
    }
  }
  if (count !== job.groups) throw changed(`${job.groups} groups when checked, ${count} when sent`);

  function checkedAgain(value: unknown, index: number): JobGroup {
    let group: JobGroup;
    try {
      group = parseGroup(value, index, job.file);
    } catch {
      throw changed(`groups[${index}] is no longer valid`);
    }
    // Only what pass 1 checked is sent: the same group at the same place.
    if (!sameGroupAsChecked(group, index, job.hashWords))
      throw changed(`groups[${index}] differs from the checked file`);
    return group;
  }
}
