/** `dcp config schema`: the config file's JSON Schema, generated from the zod schema. */
import { configJsonSchemaText } from "../config/json-schema.js";
import { printOrWrite } from "../io/print-or-write.js";

export async function runConfigSchema(output: string | undefined): Promise<void> {
  await printOrWrite(configJsonSchemaText(), output);
}
