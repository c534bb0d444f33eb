/**
 * `dcp config import`: a DCP config.py becomes a dcp config.json. The Python is read by the small
 * reader in plan/config-py.ts (it never runs Python); the result must pass the config schema.
 * Anything that cannot be converted is reported with its line number, all in one message, and the
 * caller writes nothing.
 */
import { UserInputError } from "../errors.js";
import { readPythonConfig, type PyValue } from "../plan/config-py.js";
import { closestKey, issueToInputError } from "../validation.js";
import { CONFIG_HINTS, checkAcrossKeys } from "./load.js";
import { CONFIG_KEYS, configSchema, resolveDerived } from "./schema.js";

export interface ImportedConfig {
  /** The config object in config.py's order, values in their JSON types. */
  settings: Record<string, unknown>;
  /** What the import decided on the user's behalf (left-out names, DCP fallbacks...). */
  notes: string[];
}

/**
 * DCP's run.py gave these defaults to a config.py that does not set them (run.py:14-24); they
 * differ from dcp's own defaults, so an older config.py keeps behaving as it did under DCP.
 */
const RUN_PY_FALLBACKS: Record<string, PyValue> = {
  JOB_RETRIES: 10,
  CREATE_DASHBOARD: false,
  CLEAN_DASHBOARD: false,
};

/** Names DCP read but dcp replaces: REQUIREMENTS_FILE (deprecated) overrode REQUIREMENTS when set. */
const DEPRECATED = "REQUIREMENTS_FILE";

function isUnset(value: PyValue): boolean {
  return value === null || value === false || (typeof value === "string" && /^(false)?$/i.test(value.trim()));
}

export function convertDcpConfig(text: string, file: string): ImportedConfig {
  const { assignments, problems } = readPythonConfig(text);
  const notes: string[] = [];
  const raw: Record<string, PyValue> = {};
  const lineOf = new Map<string, number>();

  for (const { name, value, line } of assignments.values()) {
    if (CONFIG_KEYS.includes(name)) {
      raw[name] = value;
      lineOf.set(name, line);
    } else if (name === DEPRECATED) {
      if (isUnset(value)) notes.push(`line ${line}: ${name} is not set; left out`);
      else notes.push(`line ${line}: ${name} (deprecated) becomes REQUIREMENTS, as DCP did`);
    } else {
      const suggestion = /^[A-Z0-9_]+$/.test(name) ? closestKey(name, CONFIG_KEYS) : undefined;
      if (suggestion) problems.push({ line, reason: `${name} is not a dcp setting; did you mean ${suggestion}?` });
      else notes.push(`line ${line}: ${name} is not a dcp setting (used only to build other values); left out`);
    }
  }
  const requirementsFile = assignments.get(DEPRECATED);
  if (requirementsFile && !isUnset(requirementsFile.value)) {
    raw.REQUIREMENTS = requirementsFile.value;
    lineOf.set("REQUIREMENTS", requirementsFile.line);
  }

  if (problems.length > 0) {
    problems.sort((a, b) => a.line - b.line);
    const list = problems.map((p) => `line ${p.line}: ${p.reason}`).join("; ");
    const count = problems.length === 1 ? "1 line" : `${problems.length} lines`;
    throw new UserInputError(
      file,
      undefined,
      `${count} cannot be converted (${list})`,
      "replace them with plain values (strings, numbers, True/False, lists, or names assigned above), then import again; nothing was written",
    );
  }

  for (const [key, value] of Object.entries(RUN_PY_FALLBACKS)) {
    if (!(key in raw)) {
      raw[key] = value;
      notes.push(`${key} is not set: ${JSON.stringify(value)}, DCP's default for a config.py without it`);
    }
  }

  const result = configSchema.safeParse(raw);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const err = issueToInputError(file, issue, CONFIG_HINTS, CONFIG_KEYS);
    const key = typeof issue.path[0] === "string" ? issue.path[0] : undefined;
    const line = key ? lineOf.get(key) : undefined;
    throw new UserInputError(file, line ? `line ${line}: ${err.field}` : err.field, err.problem, err.fix);
  }

  try {
    checkAcrossKeys(resolveDerived(result.data), file);
  } catch (err) {
    const e = err as UserInputError;
    const line = e.field ? lineOf.get(e.field) : undefined;
    throw new UserInputError(file, line ? `line ${line}: ${e.field}` : e.field, e.problem, e.fix);
  }
  const parsed = result.data as Record<string, unknown>;
  const settings: Record<string, unknown> = {};
  for (const key of Object.keys(raw)) settings[key] = parsed[key];
  if (settings.AUTO_MONITOR === true) {
    notes.push(
      "AUTO_MONITOR is kept, but dcp has no Lambda auto-monitor: run `dcp monitor` (in tmux) after start-cluster",
    );
  }
  if (typeof settings.MACHINE_PRICE === "number") {
    notes.push(
      `MACHINE_PRICE ${settings.MACHINE_PRICE} is kept as a maximum spot price; set it to null to pay the current spot price (capped at on-demand), as AWS recommends`,
    );
  }
  return { settings, notes };
}
