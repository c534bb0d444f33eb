import { z } from "zod";
import { UserInputError } from "../errors.js";
import { issueToInputError, type FixHints } from "../validation.js";
import {
  MAX_MESSAGE_BYTES,
  SHARED_KEYS,
  messageBody,
  parseMetadataString,
  type DcpMessage,
  type SharedKey,
} from "./message.js";

/**
 * DCP job files (reference 3.1), validated one group at a time so a million-group file is never
 * held in memory: `parseSharedValue` and `parseGroup` check single values, `JobFileCheck` keeps
 * only what whole-file rules need (a 64-bit hash per group for duplicates, a few maxima per
 * combination of overridden keys for message sizes) and decides at the end.
 *
 * Extension over DCP: a `{"Metadata": ...}` group may carry its own values of the shared keys
 * (`{"Metadata": "...", "data_file": "..."}`), which override the file's shared values for that
 * group only (`dcp make-jobs` writes such files). DCP's submitJob ignores them.
 */

/** Keys DCP ignores anywhere in a job file: `_comment`, `_comment1`, `_comment_plates`... */
export function isCommentKey(key: string): boolean {
  return key.startsWith("_comment");
}

export const JOB_FILE_KEYS = [...SHARED_KEYS, "groups"] as const;
export const REQUIRED_SHARED_KEYS = [
  "pipeline",
  "data_file",
  "input",
  "output",
] as const satisfies readonly SharedKey[];

export type SharedValues = Partial<Record<SharedKey, string>>;

const METADATA_EXAMPLE = '"Metadata_Plate=Plate1,Metadata_Well=A01,Metadata_Site=1"';

const SHARED_HINTS: FixHints = {
  pipeline:
    'set it to the S3 key of the .cppipe (or .h5 batch file) in WORKSPACE_BUCKET, e.g. "projects/analysis.cppipe"',
  data_file:
    'set it to the S3 key of the LoadData .csv, batch .h5 or file list .txt in WORKSPACE_BUCKET, e.g. "projects/load_data.csv"',
  input: 'set it to the input folder under the bucket mount as a string, e.g. "projects/input/"',
  output: 'set it to the output prefix in DESTINATION_BUCKET as a string, e.g. "projects/output/"',
  output_structure: 'use a string such as "Metadata_Plate-Metadata_Well-Metadata_Site", or "" for the default',
  groups: `list one object per job, e.g. [{"Metadata": ${METADATA_EXAMPLE}}]`,
};

/** Values of the shared keys: plain strings; pipeline and data_file may not be empty. */
const sharedValueSchemas: Record<SharedKey, z.ZodType<string>> = {
  pipeline: z.string().min(1, { error: "is empty" }),
  data_file: z.string().min(1, { error: "is empty" }),
  input: z.string(),
  output: z.string(),
  output_structure: z.string(),
};

export function isSharedKey(key: string): key is SharedKey {
  return (SHARED_KEYS as readonly string[]).includes(key);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A zod issue that carries its own fix (params.fix), for rules whose fix depends on the problem. */
function customIssue(ctx: z.RefinementCtx, message: string, fix: string, path: PropertyKey[] = []): void {
  ctx.addIssue({ code: "custom", message, params: { fix }, path });
}

/** CellProfiler splits `-g` on "," and "=" only (dcp passes argv, never a shell string), so values may hold spaces. */
const SPLIT_CHARS_FIX = 'rename the value in the LoadData CSV: CellProfiler splits -g on "," and "="';
const STRAY_SPACE_FIX = "remove it: CellProfiler would look for the value with that space and find no image set";

/** One `Key=value` list, DCP's string form. Specific problems get specific fixes. */
const metadataStringSchema = z.string().superRefine((value, ctx) => {
  if (value === "") return customIssue(ctx, "is empty", `write the group's metadata, e.g. ${METADATA_EXAMPLE}`);
  for (const pair of value.split(",")) {
    if (pair === "") return customIssue(ctx, `has an empty item ("${clip(value)}")`, "remove the extra comma");
    const eq = pair.indexOf("=");
    if (eq < 0)
      return customIssue(
        ctx,
        `item "${clip(pair)}" has no "="`,
        `write each item as Key=value, e.g. ${METADATA_EXAMPLE}`,
      );
    if (eq === 0)
      return customIssue(
        ctx,
        `item "${clip(pair)}" has no key before "="`,
        `write each item as Key=value, e.g. ${METADATA_EXAMPLE}`,
      );
    const key = pair.slice(0, eq);
    const item = pair.slice(eq + 1);
    if (/\s/.test(key))
      return customIssue(
        ctx,
        `contains a space in the key "${clip(key)}" ("${clip(value)}")`,
        "remove the space: metadata names hold none (values may)",
      );
    if (item.includes("=")) return customIssue(ctx, `item "${clip(pair)}" holds a second "="`, SPLIT_CHARS_FIX);
    if (item !== item.trim())
      return customIssue(ctx, `contains a space at the start or end of the value "${clip(item)}"`, STRAY_SPACE_FIX);
  }
});

const metadataKeySchema = z.string().superRefine((key, ctx) => {
  if (key === "" || /[\s,=]/.test(key))
    customIssue(
      ctx,
      `key "${clip(key)}" holds a space, "," or "=" (or is empty)`,
      "use metadata names as in the LoadData CSV, e.g. Metadata_Plate",
    );
  else if (isSharedKey(key) || key === "groups")
    customIssue(
      ctx,
      `"${key}" is a shared key, not metadata`,
      `to give this group its own ${key}, write the group as {"Metadata": ${METADATA_EXAMPLE}, "${key}": "..."}`,
    );
});

const metadataValueSchema = z
  .unknown()
  .superRefine((value, ctx) => {
    if (typeof value !== "string") {
      const fix =
        typeof value === "number"
          ? `quote it: "${value}" (DCP's worker fails on numbers in dict metadata)`
          : 'write the value as a string, e.g. "A01"';
      return customIssue(ctx, `expected a string, got ${describeType(value)}`, fix);
    }
    if (/[,=]/.test(value)) customIssue(ctx, `value "${clip(value)}" holds "," or "="`, SPLIT_CHARS_FIX);
    else if (value !== value.trim())
      customIssue(ctx, `value "${clip(value)}" holds a space at its start or end`, STRAY_SPACE_FIX);
  })
  .transform((value) => value as string);

/** A print-groups style dict: {"Metadata_Plate": "P1", "Metadata_Well": "A01"}. */
const metadataDictSchema = z
  .record(metadataKeySchema, metadataValueSchema)
  .refine((dict) => Object.keys(dict).length > 0, { error: "is empty" });

const overrideShape = Object.fromEntries(SHARED_KEYS.map((key) => [key, sharedValueSchemas[key].optional()])) as Record<
  SharedKey,
  z.ZodOptional<z.ZodType<string>>
>;

const stringGroupSchema = z.strictObject({ Metadata: metadataStringSchema, ...overrideShape });
const dictInGroupSchema = z.strictObject({ Metadata: metadataDictSchema, ...overrideShape });

const GROUP_HINTS: FixHints = {
  ...SHARED_HINTS,
  Metadata: `write "Metadata" as a string like ${METADATA_EXAMPLE} or as a dict of strings`,
};
const GROUP_KEYS = ["Metadata", ...SHARED_KEYS];

/** One validated group: its Metadata and the shared values it overrides (the dcp extension). */
/** One group of a job file, parsed: its Metadata and the shared keys it sets for itself. */
export interface JobGroup {
  Metadata: string | Record<string, string>;
  overrides: SharedValues;
}

/**
 * The same group as written in the file: Metadata with its overrides inline beside it (DCP's
 * shape, e.g. `{"Metadata": "...", "data_file": "..."}`); `make-jobs` writes this form.
 */
export type JobFileGroup<M extends JobGroup["Metadata"] = JobGroup["Metadata"]> = { Metadata: M } & SharedValues;

function withoutComments(value: Record<string, unknown>): Record<string, unknown> {
  let out: Record<string, unknown> | undefined;
  for (const key of Object.keys(value)) {
    if (!isCommentKey(key)) continue;
    out ??= { ...value };
    delete out[key];
  }
  return out ?? value;
}

/** Turns the first issue of a failed parse into the user's error, prefixed by where the value sits. */
export function schemaError(
  file: string,
  prefix: readonly PropertyKey[],
  error: z.ZodError,
  hints: FixHints,
  knownKeys: readonly string[],
): UserInputError {
  let issue = error.issues[0]!;
  // A record key's problem comes wrapped ("Invalid key in record"): report the key's own issue.
  if (issue.code === "invalid_key" && issue.issues[0]) issue = { ...issue.issues[0], path: issue.path } as typeof issue;
  const located = { ...issue, path: [...prefix, ...issue.path] } as typeof issue;
  const base = issueToInputError(file, located, hints, knownKeys);
  const fix = issue.code === "custom" ? (issue.params as { fix?: string } | undefined)?.fix : undefined;
  return fix ? new UserInputError(file, base.field, base.problem, fix) : base;
}

/** Validates one top-level shared value (`pipeline`, `input`...). */
export function parseSharedValue(key: SharedKey, value: unknown, file: string): string {
  const result = sharedValueSchemas[key].safeParse(value);
  if (!result.success) throw schemaError(file, [key], result.error, SHARED_HINTS, JOB_FILE_KEYS);
  return result.data;
}

/** The error for a top-level key that is neither shared, `groups` nor a comment. */
export function unknownTopLevelKey(key: string, file: string): UserInputError {
  const known = z.strictObject({}).safeParse({ [key]: null });
  return schemaError(file, [], known.error!, SHARED_HINTS, JOB_FILE_KEYS);
}

/** Validates one element of `groups` (index is its position, for error messages). */
export function parseGroup(raw: unknown, index: number, file: string): JobGroup {
  const where = ["groups", index];
  if (!isPlainObject(raw)) {
    throw new UserInputError(
      file,
      `groups[${index}]`,
      `expected an object, got ${describeType(raw)}`,
      `write each group as {"Metadata": ${METADATA_EXAMPLE}} or {"Metadata_Plate": "Plate1", ...}`,
    );
  }
  const group = withoutComments(raw);
  if ("Metadata" in group) {
    const schema = isPlainObject(group.Metadata) ? dictInGroupSchema : stringGroupSchema;
    const result = schema.safeParse(group);
    if (!result.success) throw schemaError(file, where, result.error, GROUP_HINTS, GROUP_KEYS);
    const { Metadata, ...overrides } = result.data;
    if (isPlainObject(Metadata) && overrides.output_structure === "") {
      throw new UserInputError(
        file,
        `groups[${index}].output_structure`,
        "is empty, but this group's Metadata is a dict",
        'set it, e.g. "Metadata_Plate/Metadata_Well": DCP\'s worker needs an output_structure for dict metadata',
      );
    }
    return { Metadata, overrides: overrides as SharedValues };
  }
  if (Object.keys(group).length === 0) {
    throw new UserInputError(
      file,
      `groups[${index}]`,
      "is empty",
      `give it metadata, e.g. {"Metadata": ${METADATA_EXAMPLE}}, or remove it`,
    );
  }
  const result = metadataDictSchema.safeParse(group);
  if (!result.success) throw schemaError(file, where, result.error, GROUP_HINTS, GROUP_KEYS);
  return { Metadata: result.data, overrides: {} };
}

/**
 * The JobGroup `parseGroup` returns for `raw`, for a value it has already accepted (so pass 2 of a
 * file whose bytes are unchanged need not validate again): comment keys dropped, Metadata apart.
 */
export function acceptedJobGroup(raw: Record<string, unknown>): JobGroup {
  const group = withoutComments(raw);
  if (!("Metadata" in group)) return { Metadata: group as Record<string, string>, overrides: {} };
  const { Metadata, ...overrides } = group;
  return { Metadata: Metadata as JobGroup["Metadata"], overrides: overrides as SharedValues };
}

export function isDictMetadata(group: Pick<JobGroup, "Metadata">): group is { Metadata: Record<string, string> } {
  return typeof group.Metadata !== "string";
}

/** The message for a group: its overrides over the file's shared values (all present after `JobFileCheck.finish`). */
export function groupMessage(shared: Required<SharedValues>, group: JobGroup): DcpMessage {
  const own = group.overrides;
  // Spelled out rather than spread: one object shape for every message, and several times faster.
  return {
    Metadata: group.Metadata,
    pipeline: own.pipeline ?? shared.pipeline,
    output: own.output ?? shared.output,
    input: own.input ?? shared.input,
    data_file: own.data_file ?? shared.data_file,
    output_structure: own.output_structure ?? shared.output_structure,
  };
}

/**
 * What makes two groups the same job: the same metadata pairs (in any order, string or dict form)
 * and the same overrides. Used for duplicate detection.
 */
export function groupIdentity(group: JobGroup): string {
  const pairs =
    typeof group.Metadata === "string" ? parseMetadataString(group.Metadata) : Object.entries(group.Metadata);
  const metadata = pairs
    .map(([k, v]) => `${k}=${v}`)
    .sort()
    .join(",");
  const overrides = Object.keys(group.overrides).length
    ? Object.entries(group.overrides)
        .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
        .sort()
        .join(",")
    : "";
  return `${metadata}\n${overrides}`;
}

/**
 * A 64-bit hash of `text` (two multiplicative 32-bit lanes, cyrb53's mixing) written as the two
 * little-endian halves of slot `slot` of a BigUint64Array seen as `words`. No allocation per group;
 * for a million groups the chance that two different groups share a hash is about 3e-8.
 */
export function writeHash64(text: string, words: Uint32Array, slot: number): void {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  words[slot * 2] = h1 >>> 0;
  words[slot * 2 + 1] = h2 >>> 0;
}

/** UTF-8 bytes of a value as it appears inside the JSON body. */
function jsonBytes(value: string): number {
  return Buffer.byteLength(JSON.stringify(value));
}

const EMPTY_SHARED: Required<SharedValues> = {
  pipeline: "",
  output: "",
  input: "",
  data_file: "",
  output_structure: "",
};
/** Bytes of a body whose Metadata and shared values are all "": the keys and punctuation. */
const BODY_FRAME_BYTES =
  Buffer.byteLength(messageBody({ ...EMPTY_SHARED, Metadata: "" })) - 2 * (SHARED_KEYS.length + 1);

/** Body bytes of a group's message with the shared values it does not override left empty. */
function partialBodyBytes(group: JobGroup): number {
  let bytes = BODY_FRAME_BYTES + Buffer.byteLength(JSON.stringify(group.Metadata)) + 2 * SHARED_KEYS.length;
  for (const value of Object.values(group.overrides)) if (value !== undefined) bytes += jsonBytes(value) - 2;
  return bytes;
}

/** Bit i set: the group overrides SHARED_KEYS[i]. */
function overrideMask(group: JobGroup): number {
  let mask = 0;
  for (let i = 0; i < SHARED_KEYS.length; i++) if (group.overrides[SHARED_KEYS[i]!] !== undefined) mask |= 1 << i;
  return mask;
}

interface MaskStats {
  firstIndex: number;
  /** Body bytes with the non-overridden shared values left empty: the rest adds the same to every group of this mask. */
  maxPartialBytes: number;
  maxIndex: number;
  firstDictIndex: number;
}

export interface JobFileSummary {
  groups: number;
  shared: Required<SharedValues>;
  /** How many groups carry their own values of shared keys (the dcp extension). */
  groupsWithOverrides: number;
  stringGroups: number;
  dictGroups: number;
  /** Groups whose metadata values hold a space: dcp's worker passes them intact; DCP's splits its command on spaces. */
  groupsWithSpaces: number;
  /** The groups' identity hashes as pairs of 32-bit words (`writeHash64`), to check that pass 2 reads what pass 1 checked. */
  hashWords: Uint32Array;
}

/** Whole-file rules over a stream of groups, in compact memory (8 bytes per group, 16 while checking duplicates). */
export class JobFileCheck {
  private count = 0;
  private hashes = new BigUint64Array(1024);
  private words = new Uint32Array(this.hashes.buffer);
  private readonly masks = new Map<number, MaskStats>();
  private dictGroups = 0;
  private withOverrides = 0;
  private withSpaces = 0;

  constructor(private readonly file: string) {}

  get groups(): number {
    return this.count;
  }

  add(group: JobGroup, index: number): void {
    if (index !== this.count) throw new Error(`groups must be added in order (got ${index}, expected ${this.count})`);
    if (this.count === this.hashes.length) {
      const grown = new BigUint64Array(this.hashes.length * 2);
      grown.set(this.hashes);
      this.hashes = grown;
      this.words = new Uint32Array(grown.buffer);
    }
    writeHash64(groupIdentity(group), this.words, this.count);
    this.count += 1;

    const mask = overrideMask(group);
    if (mask) this.withOverrides += 1;
    const dict = isDictMetadata(group);
    if (dict) this.dictGroups += 1;
    const metadata = group.Metadata;
    if (typeof metadata === "string" ? metadata.includes(" ") : Object.values(metadata).some((v) => v.includes(" ")))
      this.withSpaces += 1;
    const partial = partialBodyBytes(group);
    const stats = this.masks.get(mask);
    if (!stats) {
      const needsShared = dict && group.overrides.output_structure === undefined;
      this.masks.set(mask, {
        firstIndex: index,
        maxPartialBytes: partial,
        maxIndex: index,
        firstDictIndex: needsShared ? index : -1,
      });
      return;
    }
    if (partial > stats.maxPartialBytes) {
      stats.maxPartialBytes = partial;
      stats.maxIndex = index;
    }
    if (dict && stats.firstDictIndex < 0 && group.overrides.output_structure === undefined)
      stats.firstDictIndex = index;
  }

  /** Applies the rules that need the whole file; returns the resolved shared values. Throws the first problem. */
  finish(shared: SharedValues, groupsKeyPresent: boolean): JobFileSummary {
    const file = this.file;
    if (!groupsKeyPresent)
      throw new UserInputError(
        file,
        "groups",
        "is missing",
        `add "groups": [{"Metadata": ${METADATA_EXAMPLE}}, ...], one object per job`,
      );
    if (this.count === 0)
      throw new UserInputError(
        file,
        "groups",
        "is empty: there is nothing to submit",
        `add one object per job, e.g. {"Metadata": ${METADATA_EXAMPLE}}`,
      );

    for (const key of REQUIRED_SHARED_KEYS) {
      if (shared[key] !== undefined) continue;
      const bit = 1 << SHARED_KEYS.indexOf(key);
      const lacking = [...this.masks.entries()].filter(([mask]) => !(mask & bit)).map(([, s]) => s.firstIndex);
      if (lacking.length === this.masks.size)
        throw new UserInputError(file, key, "is missing", `add "${key}" to the job file: ${SHARED_HINTS[key]}`);
      if (lacking.length) {
        throw new UserInputError(
          file,
          `groups[${Math.min(...lacking)}]`,
          `has no "${key}" and the file has no shared "${key}"`,
          `add a shared "${key}" to the job file, or give every group its own`,
        );
      }
    }
    const resolved = { ...EMPTY_SHARED, ...shared } as Required<SharedValues>;

    if (resolved.output_structure === "") {
      const dictIndexes = [...this.masks.values()].map((s) => s.firstDictIndex).filter((i) => i >= 0);
      if (dictIndexes.length) {
        throw new UserInputError(
          file,
          `groups[${Math.min(...dictIndexes)}]`,
          "is a dict of metadata, which needs an output_structure, and the file has none",
          'add "output_structure", e.g. "Metadata_Plate/Metadata_Well-Metadata_Site" (DCP\'s worker refuses dict groups without it)',
        );
      }
    }

    for (const [mask, stats] of this.masks) {
      let bytes = stats.maxPartialBytes;
      SHARED_KEYS.forEach((key, i) => {
        if (!(mask & (1 << i))) bytes += jsonBytes(resolved[key]) - 2;
      });
      if (bytes > MAX_MESSAGE_BYTES) {
        throw new UserInputError(
          file,
          `groups[${stats.maxIndex}]`,
          `its message would be ${bytes} bytes, over SQS's limit of ${MAX_MESSAGE_BYTES}`,
          "shorten its Metadata or the shared paths (a job this large is usually a mistake in the job file)",
        );
      }
    }

    const duplicate = firstDuplicate(this.hashes.subarray(0, this.count));
    if (duplicate) {
      throw new UserInputError(
        file,
        `groups[${duplicate.index}]`,
        `is the same job as groups[${duplicate.first}] (same metadata)`,
        "remove one of them: each group must be submitted once",
      );
    }
    return {
      groups: this.count,
      shared: resolved,
      groupsWithOverrides: this.withOverrides,
      dictGroups: this.dictGroups,
      groupsWithSpaces: this.withSpaces,
      stringGroups: this.count - this.dictGroups,
      hashWords: this.words.subarray(0, this.count * 2),
    };
  }
}

/** True when `group` hashes to slot `index` of `hashWords`: the same job as the one checked there. */
export function sameGroupAsChecked(group: JobGroup, index: number, hashWords: Uint32Array): boolean {
  const probe = new Uint32Array(2);
  writeHash64(groupIdentity(group), probe, 0);
  return probe[0] === hashWords[index * 2] && probe[1] === hashWords[index * 2 + 1];
}

/** The first position whose hash appeared earlier, and that earlier position. Sorts a copy: O(n log n), 8 bytes per group. */
export function firstDuplicate(hashes: BigUint64Array): { index: number; first: number } | undefined {
  const sorted = hashes.slice().sort();
  const repeated = new Set<bigint>();
  for (let i = 1; i < sorted.length; i++) if (sorted[i] === sorted[i - 1]) repeated.add(sorted[i]!);
  if (!repeated.size) return undefined;
  const seen = new Map<bigint, number>();
  for (let i = 0; i < hashes.length; i++) {
    const h = hashes[i]!;
    if (!repeated.has(h)) continue;
    const first = seen.get(h);
    if (first !== undefined) return { index: i, first };
    seen.set(h, i);
  }
  return undefined;
}

export function describeType(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "an object";
  if (typeof value === "string") return `a string ("${clip(value)}")`;
  return `${typeof value === "number" ? "a number" : typeof value} (${String(value)})`;
}

function clip(text: string, max = 60): string {
  return text.length > max ? `${text.slice(0, max)}...` : text;
}
