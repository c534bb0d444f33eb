/**
 * Every flag value is checked here, while commander parses the line (`Option.argParser`), with one
 * message shape: `dcp <command>: --flag: <problem>. Fix: <fix>` (a UserInputError, exit 2). Plain
 * checks only: `dcp --help` must load neither zod nor the SDK (test/startup.test.ts).
 *
 * Commander applies a parser to values typed on the line, not to defaults: give defaults already
 * parsed (e.g. `60`, not `"60"`).
 */
import { UserInputError } from "../errors.js";

/** Where a flag belongs: `monitor`, `make-jobs from-csv`... (named in the message). */
export interface FlagOf {
  command: string;
  flag: string;
}

function flagError(where: FlagOf, problem: string, fix: string): UserInputError {
  return new UserInputError(`dcp ${where.command}`, where.flag, problem, fix);
}

export interface NumberRule {
  min?: number;
  max?: number;
  /** The fix, e.g. "pass a number of seconds, e.g. --interval 60" (default: "pass e.g. <flag> <example>"). */
  fix?: string;
  example?: string;
}

function plural(n: number, unit: string | undefined): string {
  if (!unit) return String(n);
  return `${n} ${n === 1 ? unit : `${unit}s`}`;
}

function numberParser(where: FlagOf, rule: NumberRule, kind: { integer: boolean; unit?: string; expected: string }) {
  const fix = rule.fix ?? `pass e.g. ${where.flag} ${rule.example ?? rule.min ?? 1}`;
  return (value: string): number => {
    const n = value.trim() === "" ? NaN : Number(value);
    if (!Number.isFinite(n) || (kind.integer && !Number.isInteger(n)))
      throw flagError(where, `${kind.expected}, got ${JSON.stringify(value)}`, fix);
    if (rule.min !== undefined && n < rule.min)
      throw flagError(where, `must be at least ${plural(rule.min, kind.unit)}`, fix);
    if (rule.max !== undefined && n > rule.max)
      throw flagError(where, `must be at most ${plural(rule.max, kind.unit)}`, fix);
    return n;
  };
}

/** A number of seconds (fractions allowed), within [min, max]. */
export function secondsFlag(where: FlagOf, rule: NumberRule = {}): (value: string) => number {
  return numberParser(where, rule, { integer: false, unit: "second", expected: "expected a number of seconds" });
}

/** `--seconds-per-group`: how long one group takes on one job loop (estimate, start-cluster). */
export function secondsPerGroupFlag(command: string): (value: string) => number {
  return secondsFlag(
    { command, flag: "--seconds-per-group" },
    { min: 1, fix: "pass a positive number of seconds, e.g. --seconds-per-group 600" },
  );
}

/** A positive amount of US dollars. */
export function usdFlag(where: FlagOf): (value: string) => number {
  return numberParser(
    where,
    { min: 0.01, fix: `pass a number of dollars, e.g. ${where.flag} 250` },
    { integer: false, expected: "expected a number of US dollars" },
  );
}

/** A whole number within [min, max] (min defaults to 1). */
export function integerFlag(where: FlagOf, rule: NumberRule = {}): (value: string) => number {
  return numberParser(where, { min: 1, ...rule }, { integer: true, expected: "expected a whole number" });
}

/** One of `choices` (as typed: strings); the message lists them. */
export function choiceFlag<T extends string>(where: FlagOf, choices: readonly T[], fix?: string): (value: string) => T {
  const shown = choices.map((c) => (/^\d+$/.test(c) ? c : JSON.stringify(c)));
  const list = shown.length > 1 ? `${shown.slice(0, -1).join(", ")} or ${shown.at(-1)}` : (shown[0] ?? "");
  return (value: string): T => {
    if ((choices as readonly string[]).includes(value)) return value as T;
    throw flagError(where, `must be ${list}`, fix ?? `use ${where.flag} ${choices[0]}`);
  };
}

const DURATION_UNITS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** A duration such as 30s, 90m, 12h, 7d or 2w, as milliseconds. */
export function durationFlag(where: FlagOf, example = "7d"): (value: string) => number {
  return (value: string): number => {
    const m = /^(\d+(?:\.\d+)?)([smhdw])$/i.exec(value.trim());
    if (!m)
      throw flagError(
        where,
        `expected a duration, got ${JSON.stringify(value)}`,
        `pass e.g. ${where.flag} ${example} (s, m, h, d or w)`,
      );
    return Number(m[1]) * DURATION_UNITS[m[2]!.toLowerCase()]!;
  };
}
