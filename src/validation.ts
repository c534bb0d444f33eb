import { readFile } from "node:fs/promises";
import type { z } from "zod";
import { UserInputError, formatPath } from "./errors.js";

/**
 * Shared validation plumbing: every file dcp reads goes through a schema, and the first problem
 * becomes one UserInputError naming the file, the field and the fix.
 */

export type FixHints = Record<string, string>;

export async function readJsonFile(
  file: string,
  what: string,
  missing: { problem: string; fix: string } = { problem: "file not found", fix: `check the path of the ${what}` },
): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const problem = code === "ENOENT" ? missing.problem : `cannot be read (${code ?? String(err)})`;
    throw new UserInputError(
      file,
      undefined,
      problem,
      code === "ENOENT" ? missing.fix : `check the path of the ${what}`,
    );
  }
  return parseJsonText(text, file, what);
}

export function parseJsonText(text: string, file: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    const message = (err as Error).message;
    const position = /position (\d+)/.exec(message);
    let where = "";
    if (position?.[1]) {
      const offset = Number(position[1]);
      const before = text.slice(0, offset);
      const line = before.split("\n").length;
      const column = offset - before.lastIndexOf("\n");
      where = ` at line ${line}, column ${column}`;
    }
    throw new UserInputError(
      file,
      undefined,
      `is not valid JSON${where} (${message.replace(/^JSON\.parse: /, "")})`,
      `make the ${what} valid JSON (no trailing commas, double-quoted keys and strings)`,
    );
  }
}

/** Closest known key by edit distance, to suggest a fix for a misspelled key. */
export function closestKey(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of known) {
    const d = editDistance(key.toUpperCase(), candidate.toUpperCase());
    if (d < bestDistance) {
      bestDistance = d;
      best = candidate;
    }
  }
  return bestDistance <= Math.max(2, Math.floor(key.length / 3)) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const current = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1));
      previous = current;
    }
  }
  return row[b.length]!;
}

type Issue = z.core.$ZodIssue;

/** Turns the first schema issue into the one error the user sees. */
export function issueToInputError(
  file: string,
  issue: Issue,
  hints: FixHints = {},
  knownKeys: readonly string[] = [],
): UserInputError {
  const path = formatPath(issue.path);
  if (issue.code === "unrecognized_keys") {
    const key = issue.keys[0] ?? "";
    const field = issue.path.length ? `${path}.${key}` : key;
    const suggestion = closestKey(key, knownKeys);
    const fix = suggestion
      ? `did you mean "${suggestion}"? Rename or remove it`
      : "remove it, or check its spelling against the documentation";
    return new UserInputError(file, field, "unknown key", fix);
  }
  const lastKey = [...issue.path].reverse().find((p) => typeof p === "string") as string | undefined;
  const hint = hints[path] ?? (lastKey ? hints[lastKey] : undefined);
  const missing = issue.code === "invalid_type" && /received undefined/.test(issue.message);
  const problem = missing ? "is missing" : issue.message.replace(/^Invalid input: /, "");
  const fix = hint ?? (missing ? "add it" : "correct the value");
  return new UserInputError(file, path, problem, fix);
}

export function parseWithSchema<S extends z.ZodType>(
  schema: S,
  value: unknown,
  file: string,
  hints: FixHints = {},
  knownKeys: readonly string[] = [],
): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  throw issueToInputError(file, issue, hints, knownKeys);
}
