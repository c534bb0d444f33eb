/**
 * Names a worker derives from one message (reference 3.3), fixed: `output_structure` tokens are
 * replaced as whole `Metadata_X` words (so Metadata_Plate never eats Metadata_PlateID), every
 * group key stays in `-g`, and nothing a task names can leave the output prefix. Pure; no I/O.
 */
import { parseMetadataString } from "../plan/message.js";

/** A message field that cannot be run: the task is bad input, not a transient failure. */
export class TaskInputError extends Error {
  constructor(
    readonly field: string,
    problem: string,
  ) {
    super(`${field}: ${problem}`);
    this.name = "TaskInputError";
  }
}

export interface TaskNames {
  /** Ordered group pairs, as CellProfiler's `-g` receives them. */
  group: Array<[string, string]>;
  /** `k=v,k=v`: one argv element, never parsed by a shell. */
  groupArg: string;
  /** The folder of this group under `output` (DCP's metadataID), and the log stream's name. */
  metadataId: string;
  /** `<output>/<metadataId>/`: every object the task writes starts with it. */
  outputPrefix: string;
  logStream: string;
}

const TOKEN = /Metadata_\w+/g;

export function groupPairs(metadata: string | Record<string, string>): Array<[string, string]> {
  const pairs = typeof metadata === "string" ? parseMetadataString(metadata) : Object.entries(metadata);
  for (const [key, value] of pairs) {
    // CellProfiler splits -g on ',' and '=' with no escaping, so such values cannot be passed.
    if (/[,=]/.test(value) || /[,=\s]/.test(key) || !key) {
      throw new TaskInputError(
        `Metadata.${key}`,
        `"${key}=${value}" cannot be passed to CellProfiler's -g (keys and values may not contain ',' or '=')`,
      );
    }
    if (value.includes("\0") || key.includes("\0"))
      throw new TaskInputError(`Metadata.${key}`, "contains a NUL character");
  }
  if (!pairs.length) throw new TaskInputError("Metadata", "names no group keys");
  return pairs;
}

/** Replaces each whole `Metadata_X` token by its value; unknown tokens stay as written. */
export function applyOutputStructure(
  template: string,
  group: ReadonlyArray<[string, string]>,
): { id: string; unknown: string[] } {
  const values = new Map(group);
  const unknown: string[] = [];
  const id = template.replace(TOKEN, (token) => {
    const value = values.get(token);
    if (value === undefined) unknown.push(token);
    return value ?? token;
  });
  return { id, unknown };
}

/** A relative path that stays below its parent: no absolute start, no `.`/`..`/empty segments. */
export function assertContainedPath(path: string, field: string, allowEmpty = false): void {
  if (path === "" && allowEmpty) return;
  if (path.includes("\0")) throw new TaskInputError(field, "contains a NUL character");
  if (path.startsWith("/") || /^[A-Za-z]:[\\/]/.test(path) || path.includes("\\")) {
    throw new TaskInputError(field, `"${path}" must be a relative path (no leading '/', no '\\')`);
  }
  const segments = path.replace(/\/+$/, "").split("/");
  if (segments.some((s) => s === "" || s === "." || s === "..")) {
    throw new TaskInputError(
      field,
      `"${path}" would leave its folder ('..', '.' or empty path segments are not allowed)`,
    );
  }
}

export interface NamingInput {
  Metadata: string | Record<string, string>;
  output: string;
  output_structure: string;
}

export function deriveNames(message: NamingInput): TaskNames & { warnings: string[] } {
  const group = groupPairs(message.Metadata);
  const warnings: string[] = [];
  let metadataId: string;
  if (message.output_structure) {
    const { id, unknown } = applyOutputStructure(message.output_structure, group);
    for (const token of unknown)
      warnings.push(
        `output_structure names ${token}, which this group's Metadata does not have; it stays in the folder name as written`,
      );
    metadataId = id;
  } else {
    metadataId = group.map(([, v]) => v).join("-");
  }
  assertContainedPath(metadataId, "output_structure (with this group's values)");
  assertContainedPath(message.output, "output", true);
  const output = message.output.replace(/\/+$/, "");
  return {
    group,
    groupArg: group.map(([k, v]) => `${k}=${v}`).join(","),
    metadataId,
    outputPrefix: `${output ? `${output}/` : ""}${metadataId}/`,
    // CloudWatch stream names: 1-512 characters, no ':' or '*'.
    logStream: metadataId.replace(/[:*]/g, "_").slice(0, 512),
    warnings,
  };
}

/** Numbers compare as numbers ("01" equals "1"), as CellProfiler's LoadData typing does. */
export function sameMetadataValue(cell: string, wanted: string): boolean {
  if (cell === wanted) return true;
  const numeric = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
  return numeric.test(cell.trim()) && numeric.test(wanted.trim()) && Number(cell) === Number(wanted);
}
