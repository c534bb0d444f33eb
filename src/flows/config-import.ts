/**
 * `dcp config import config.py`: converts a DCP config.py (config/import.ts) and writes the JSON
 * config. Nothing is written when anything cannot be converted or the output exists (without --force).
 */
import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname, relative, sep } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { DEFAULT_CONFIG_PATH } from "../config/defaults.js";
import { convertDcpConfig } from "../config/import.js";
import { UserInputError } from "../errors.js";
import { Output } from "../ui/output.js";

export interface ConfigImportOptions {
  source: string;
  output: string;
  force: boolean;
  json: boolean;
}

/** dcp's folder: the shipped JSON Schema is config/config.schema.json in it. */
const PACKAGE_ROOT = fileURLToPath(new URL("../../", import.meta.url));
const SCHEMA_PATH = `${PACKAGE_ROOT}config/config.schema.json`;

/** "$schema" of a written config: relative inside dcp's folder (it moves with a clone), else a file URL. */
export function schemaReference(output: string): string {
  const fromPackage = relative(PACKAGE_ROOT, output);
  if (fromPackage.startsWith("..") || fromPackage.startsWith(sep)) return pathToFileURL(SCHEMA_PATH).href;
  const path = relative(dirname(output), SCHEMA_PATH).split(sep).join("/");
  return path.startsWith(".") ? path : `./${path}`;
}

export async function runConfigImport(options: ConfigImportOptions): Promise<void> {
  let text: string;
  try {
    text = await readFile(options.source, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UserInputError(
      options.source,
      undefined,
      code === "ENOENT" ? "file not found" : `cannot be read (${code ?? String(err)})`,
      "give the path of your DCP config.py",
    );
  }
  const { settings, notes } = convertDcpConfig(text, options.source);
  if (existsSync(options.output) && !options.force) {
    throw new UserInputError(
      options.output,
      undefined,
      "already exists; nothing was written",
      "pass --force to replace it, or -o another path",
    );
  }
  const document = { $schema: schemaReference(options.output), ...settings };
  await mkdir(dirname(options.output), { recursive: true });
  await writeFile(options.output, `${JSON.stringify(document, null, 2)}\n`);

  const out = new Output({ json: options.json });
  for (const note of notes) out.line(`note: ${note}`);
  const show =
    options.output === DEFAULT_CONFIG_PATH ? "dcp config show" : `dcp --config ${options.output} config show`;
  out.line(
    `wrote ${options.output}: ${Object.keys(settings).length} settings from ${options.source}. Check it with: ${show}`,
  );
  out.result({ output: options.output, source: options.source, settings, notes });
}
