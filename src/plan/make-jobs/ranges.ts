import { z } from "zod";

/**
 * Plate-layout lists as the user types them: comma-separated items, where rows, columns and sites
 * may also be inclusive ranges ("A-H", "1-12", "1-9"). run_batch_general.py only split on commas,
 * so `--rows A-H` became one row called "A-H"; dcp expands it.
 */

type Parsed<T> = { ok: true; values: T[] } | { ok: false; problem: string };

/** A metadata value must survive `cellprofiler -g K=V,K=V` (no "," "=" or whitespace). */
const METADATA_VALUE = /^[^=,\s]+$/;

function items(text: string): string[] {
  return text.split(",");
}

const EMPTY_ITEM = "has an empty item (two commas in a row, or a trailing comma)";

function checkItem(item: string, what: string): string | undefined {
  if (!METADATA_VALUE.test(item)) return `"${item}" is not a valid ${what}: it may not contain spaces, "=" or ","`;
  return undefined;
}

function noDuplicates<T>(values: T[], label: (v: T) => string): string | undefined {
  const seen = new Set<string>();
  for (const v of values) {
    const key = label(v);
    if (seen.has(key)) return `"${key}" is listed twice`;
    seen.add(key);
  }
  return undefined;
}

/** Bijective base 26: A=1 ... Z=26, AA=27 ... AF=32 (1536-well plates). */
function rowIndex(letters: string): number {
  let n = 0;
  for (const ch of letters.toUpperCase()) n = n * 26 + (ch.charCodeAt(0) - 64);
  return n;
}

function rowLetters(index: number, lower: boolean): string {
  let out = "";
  for (let n = index; n > 0; n = Math.floor((n - 1) / 26)) out = String.fromCharCode(65 + ((n - 1) % 26)) + out;
  return lower ? out.toLowerCase() : out;
}

const ROW = /^[A-Za-z]+$/;
const RANGE = /^([^-]+)-([^-]+)$/;
const DIGITS = /^\d+$/;

type ItemResult<T> = { values: T[] } | { problem: string };

/** Splits on commas; each item expands to values or gives the one problem; duplicates are refused. */
function parseList<T>(text: string, item: (item: string) => ItemResult<T>): Parsed<T> {
  const values: T[] = [];
  for (const part of items(text)) {
    if (part === "") return { ok: false, problem: EMPTY_ITEM };
    const result = item(part);
    if ("problem" in result) return { ok: false, problem: result.problem };
    values.push(...result.values);
  }
  const dup = noDuplicates(values, String);
  return dup ? { ok: false, problem: dup } : { ok: true, values };
}

function rowItem(item: string): ItemResult<string> {
  const range = RANGE.exec(item);
  if (range) {
    const [, from = "", to = ""] = range;
    const sameCase = (from === from.toUpperCase()) === (to === to.toUpperCase());
    if (!ROW.test(from) || !ROW.test(to) || !sameCase)
      return { problem: `"${item}" is not a row range; write it like A-H` };
    const start = rowIndex(from);
    const end = rowIndex(to);
    if (start > end) return { problem: `"${item}" runs backwards; write it like A-H` };
    const values: string[] = [];
    for (let i = start; i <= end; i++) values.push(rowLetters(i, from !== from.toUpperCase()));
    return { values };
  }
  if (!ROW.test(item))
    return {
      problem: item.includes("-")
        ? `"${item}" is not a row range; write it like A-H`
        : `"${item}" is not a row; rows are letters (A, B, ... AF)`,
    };
  return { values: [item] };
}

/** "1-12" → 1..12; undefined when the item is not a range. */
function numberRange(item: string, example: string): ItemResult<number> | undefined {
  const range = RANGE.exec(item);
  if (!range && !item.includes("-")) return undefined;
  const [, from = "", to = ""] = range ?? [];
  if (!DIGITS.test(from) || !DIGITS.test(to))
    return { problem: `"${item}" is not a number range; write it like ${example}` };
  const start = Number(from);
  const end = Number(to);
  if (start > end) return { problem: `"${item}" runs backwards; write it like ${example}` };
  if (end - start > 100_000) return { problem: `"${item}" is too long a range` };
  return { values: Array.from({ length: end - start + 1 }, (_, i) => start + i) };
}

export function parseRows(text: string): Parsed<string> {
  return parseList(text, rowItem);
}

/** Columns are numbers: the original formats them with `int(col):02d` (or `:01d`). */
export function parseColumns(text: string): Parsed<number> {
  return parseList(text, (item) => {
    const range = numberRange(item, "1-12");
    if (range) return range;
    return DIGITS.test(item)
      ? { values: [Number(item)] }
      : { problem: `"${item}" is not a column number; write columns like 1,2,3 or 1-12` };
  });
}

/** Sites are used verbatim, as the original's `str(site)` does; ranges give plain numbers. */
export function parseSites(text: string): Parsed<string> {
  return parseList(text, (item) => {
    const range = numberRange(item, "1-9");
    if (range) return "problem" in range ? range : { values: range.values.map(String) };
    const bad = checkItem(item, "site");
    return bad ? { problem: bad } : { values: [item] };
  });
}

/** Explicit wells and plates are used verbatim (no padding is added, as in the original). */
export function parseNames(text: string, what: string): Parsed<string> {
  return parseList(text, (item) => {
    const bad = checkItem(item, what);
    return bad ? { problem: bad } : { values: [item] };
  });
}

/** A zod schema from one of the parsers above: the parser's problem becomes the issue message. */
export function listSchema<T>(parse: (text: string) => Parsed<T>) {
  return z.string().transform((text, ctx) => {
    const parsed = parse(text);
    if (parsed.ok) return parsed.values;
    ctx.addIssue({ code: "custom", message: parsed.problem });
    return z.NEVER;
  });
}
