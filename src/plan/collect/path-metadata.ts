/**
 * Metadata from a group's folder: the job's `output_structure` (e.g.
 * "Metadata_Plate/analysis/Metadata_Plate-Metadata_Well-Metadata_Site") read backwards. The worker
 * replaces each whole `Metadata_X` token by the group's value (src/worker/naming.ts); here each
 * token becomes a capture that cannot cross a '/', and a token used twice must repeat its value.
 * Pure; no I/O.
 */
import { UserInputError } from "../../errors.js";

const TOKEN = /Metadata_\w+/g;

export interface PathTemplate {
  text: string;
  /** Folder levels of a group below the collected prefix. */
  depth: number;
  /** Metadata column names, in order of first appearance. */
  keys: string[];
  /** The metadata of a group folder (relative, '/'-separated), or undefined when it does not fit. */
  match(dir: string): Record<string, string> | undefined;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

export function compileTemplate(text: string, field = "--metadata-from-path"): PathTemplate {
  const trimmed = text.trim().replace(/\/+$/, "");
  const fail = (problem: string): never => {
    throw new UserInputError(
      "command line",
      field,
      `"${text}" ${problem}`,
      'pass the job\'s output_structure, e.g. "Metadata_Plate/analysis/Metadata_Plate-Metadata_Well-Metadata_Site"',
    );
  };
  if (!trimmed) fail("is empty");
  if (trimmed.startsWith("/") || trimmed.split("/").some((s) => s === "" || s === "." || s === ".."))
    fail("must be a relative path without empty, '.' or '..' segments");
  const keys: string[] = [];
  let pattern = "";
  let last = 0;
  for (const match of trimmed.matchAll(TOKEN)) {
    pattern += escapeRegExp(trimmed.slice(last, match.index));
    const index = keys.indexOf(match[0]);
    if (index >= 0) pattern += `\\k<g${index}>`;
    else {
      pattern += `(?<g${keys.length}>[^/]+?)`;
      keys.push(match[0]);
    }
    last = match.index + match[0].length;
  }
  pattern += escapeRegExp(trimmed.slice(last));
  if (!keys.length) fail("names no Metadata_ token");
  const regex = new RegExp(`^${pattern}$`);
  return {
    text: trimmed,
    depth: trimmed.split("/").length,
    keys,
    match(dir) {
      const groups = regex.exec(dir)?.groups;
      if (!groups) return undefined;
      return Object.fromEntries(keys.map((key, i) => [key, groups[`g${i}`]!]));
    },
  };
}
