/** `dcp config schema`: the config file's JSON Schema, generated from the zod schema. */
import { writeFile } from "node:fs/promises";
import { configJsonSchemaText } from "../config/json-schema.js";

export async function runConfigSchema(output: string | undefined): Promise<void> {
  const text = configJsonSchemaText();
  if (output) {
    await writeFile(output, text);
    process.stderr.write(`wrote ${output}\n`);
  } else process.stdout.write(text);
}
