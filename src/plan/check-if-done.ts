/**
 * The CHECK_IF_DONE contract (DCP's, reference 5.x): a group is done when its output prefix holds at
 * least EXPECTED_NUMBER_FILES objects (at least one) of MIN_FILE_SIZE_BYTES or more whose key contains
 * NECESSARY_STRING. The worker applies it before running a task; `dcp retry --missing` applies it to a
 * whole job file from one listing of the output prefix. Pure.
 */
import type { Config } from "../config/schema.js";

export interface DoneRule {
  expectedFiles: number;
  minFileSizeBytes: number;
  necessaryString: string;
}

export function doneRule(
  config: Pick<Config, "EXPECTED_NUMBER_FILES" | "MIN_FILE_SIZE_BYTES" | "NECESSARY_STRING">,
): DoneRule {
  return {
    expectedFiles: config.EXPECTED_NUMBER_FILES,
    minFileSizeBytes: config.MIN_FILE_SIZE_BYTES,
    necessaryString: config.NECESSARY_STRING,
  };
}

export interface DoneVerdict {
  /** objects that count toward the rule */
  counted: number;
  /** how many must count (EXPECTED_NUMBER_FILES, at least 1) */
  needed: number;
  done: boolean;
}

/** The rule applied to the objects under one group's output prefix. */
export function checkIfDone(objects: Iterable<{ key: string; size: number }>, rule: DoneRule): DoneVerdict {
  let counted = 0;
  for (const o of objects) if (o.size >= rule.minFileSizeBytes && o.key.includes(rule.necessaryString)) counted++;
  const needed = Math.max(1, rule.expectedFiles);
  return { counted, needed, done: counted >= needed };
}

/**
 * The rule for many groups at once, from one listing of their common prefix: each object counts for
 * the group whose output prefix (ending in "/") it is under. Prefixes may nest (an output_structure
 * with "/"): an object counts for every group prefix it is under, as a listing per group would count it.
 */
export function checkGroupsDone(
  prefixes: Iterable<string>,
  objects: Iterable<{ key: string; size: number }>,
  rule: DoneRule,
): Map<string, DoneVerdict> {
  const under = new Map<string, Array<{ key: string; size: number }>>();
  for (const p of prefixes) under.set(p, []);
  for (const o of objects) {
    for (let i = o.key.indexOf("/"); i >= 0; i = o.key.indexOf("/", i + 1)) under.get(o.key.slice(0, i + 1))?.push(o);
  }
  return new Map([...under].map(([p, list]) => [p, checkIfDone(list, rule)]));
}
