import Assembler from "stream-json/assembler.js";
import { parseFile } from "stream-json/file/parser.js";
import { verifyFile } from "stream-json/file/verifier.js";
import { OperationalError, UserInputError } from "../errors.js";
import type { DcpMessage } from "./message.js";
import { JobFileCheck, describeType, groupMessage, isCommentKey, isSharedKey, parseGroup, parseSharedValue, unknownTopLevelKey, type JobFileSummary, type SharedValues } from "./job-file.js";

/**
 * Streaming reader of DCP job files. The file is tokenised by stream-json and only one group is
 * materialised at a time, so memory stays flat for a million groups. Two passes:
 * `checkJobFile` validates everything and counts (shared keys may come after `groups`);
 * `jobFileMessages` reads again and yields one DcpMessage per group.
 */

export type JobFileEntry =
  | { kind: "key"; key: string; value: unknown }
  | { kind: "groups" }
  | { kind: "group"; index: number; value: unknown };

const JOB_FILE_FIX = 'make it a JSON object: {"pipeline": "...", "data_file": "...", "input": "...", "output": "...", "groups": [...]}';

/** Top-level keys (values assembled) and the elements of `groups` (one at a time), in file order. */
export async function* readJobFile(file: string): AsyncGenerator<JobFileEntry> {
  const asm = new Assembler();
  let target: { key: string } | { index: number } | undefined;
  let state: "start" | "key" | "value" | "groups" | "end" = "start";
  let key = "";
  let index = 0;
  let tokens = 0;
  const seen = new Set<string>();
  try {
    for await (const token of parseFile({ streamValues: false })(file)) {
      tokens += 1;
      if (target) {
        asm.consume(token);
        if (asm.done) {
          yield "key" in target ? { kind: "key", key: target.key, value: asm.current } : { kind: "group", index: target.index, value: asm.current };
          target = undefined;
        }
        continue;
      }
      switch (state) {
        case "start":
          if (token.name !== "startObject") throw new UserInputError(file, undefined, `must be a JSON object, but it starts with ${tokenKind(token.name)}`, JOB_FILE_FIX);
          state = "key";
          break;
        case "key":
          if (token.name === "endObject") {
            state = "end";
            break;
          }
          if (token.name !== "keyValue") break;
          key = token.value;
          if (seen.has(key) && !isCommentKey(key)) throw new UserInputError(file, key, "appears twice", "keep one of the two values");
          seen.add(key);
          state = "value";
          break;
        case "value":
          if (key === "groups" && token.name === "startArray") {
            state = "groups";
            yield { kind: "groups" };
            break;
          }
          state = "key";
          target = { key };
          asm.consume(token);
          if (asm.done) {
            yield { kind: "key", key, value: asm.current };
            target = undefined;
          }
          break;
        case "groups":
          if (token.name === "endArray") {
            state = "key";
            break;
          }
          target = { index: index++ };
          asm.consume(token);
          if (asm.done) {
            yield { kind: "group", index: target.index, value: asm.current };
            target = undefined;
          }
          break;
        case "end":
          break;
      }
    }
  } catch (err) {
    if (err instanceof UserInputError) throw err;
    throw await readError(file, err as Error);
  }
  if (tokens === 0) throw new UserInputError(file, undefined, "is empty", JOB_FILE_FIX);
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
  if (code) return new UserInputError(file, undefined, `cannot be read (${code})`, "check the path and permissions of the job file");
  let where = "";
  try {
    await verifyFile(file);
  } catch (verr) {
    const { line, pos } = verr as { line?: number; pos?: number };
    if (line !== undefined) where = ` at line ${line}, column ${pos ?? 0}`;
  }
  const detail = err.message.replace(/^(Parser|Verifier) (cannot parse input: |has )?/, "");
  return new UserInputError(file, undefined, `is not valid JSON${where} (${detail})`, "make the job file valid JSON (no trailing commas, double-quoted keys and strings, one top-level object)");
}

export interface CheckedJobFile extends JobFileSummary {
  file: string;
}

/** Pass 1: validates the whole file (throws one UserInputError) and counts its groups. */
export async function checkJobFile(file: string, onProgress?: (groups: number) => void): Promise<CheckedJobFile> {
  const check = new JobFileCheck(file);
  const shared: SharedValues = {};
  let groupsKey = false;
  for await (const entry of readJobFile(file)) {
    if (entry.kind === "group") {
      check.add(parseGroup(entry.value, entry.index, file), entry.index);
      if (onProgress && entry.index % 10_000 === 9_999) onProgress(entry.index + 1);
    } else if (entry.kind === "groups") {
      groupsKey = true;
    } else if (entry.key === "groups") {
      throw new UserInputError(file, "groups", `expected a list, got ${describeType(entry.value)}`, 'write "groups": [{"Metadata": "Metadata_Plate=Plate1,Metadata_Well=A01"}, ...]');
    } else if (isSharedKey(entry.key)) {
      shared[entry.key] = parseSharedValue(entry.key, entry.value, file);
    } else if (!isCommentKey(entry.key)) {
      throw unknownTopLevelKey(entry.key, file);
    }
  }
  return { file, ...check.finish(shared, groupsKey) };
}

/** Pass 2: one DcpMessage per group of a file `checkJobFile` accepted, in file order. */
export async function* jobFileMessages(job: CheckedJobFile): AsyncGenerator<DcpMessage> {
  let count = 0;
  for await (const entry of readJobFile(job.file)) {
    if (entry.kind !== "group") continue;
    yield groupMessage(job.shared, parseGroup(entry.value, entry.index, job.file));
    count += 1;
  }
  if (count !== job.groups) throw new OperationalError(`${job.file} changed while it was being submitted (${job.groups} groups when checked, ${count} when sent)`);
}
