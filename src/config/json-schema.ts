/**
 * config/config.schema.json, generated from the zod schema so the two never disagree:
 * `dcp config schema -o config/config.schema.json` writes it, and a test fails when the committed
 * file is out of date. Editors (VS Code, JetBrains, vim with a JSON language server) read it
 * through the config's "$schema" key to complete keys, show their descriptions and flag mistakes.
 */
import { z } from "zod";
import { configSchema, configShape } from "./schema.js";

export const SCHEMA_FILE = "config/config.schema.json";

export function configJsonSchema(): Record<string, unknown> {
  const generated = z.toJSONSchema(configSchema, { io: "input", target: "draft-7", unrepresentable: "any" }) as Record<
    string,
    unknown
  >;
  const properties = generated.properties as Record<string, Record<string, unknown>>;
  // zod leaves out the default of a key whose schema transforms its input (DCP's 'True'/'False'
  // strings, a single MACHINE_TYPE string): add every default so editors can show it.
  for (const [key, schema] of Object.entries(configShape)) {
    const property = properties[key];
    if (property && schema instanceof z.ZodDefault && property.default === undefined) {
      property.default = schema.def.defaultValue;
    }
  }
  const { $schema, ...rest } = generated;
  return {
    $schema,
    title: "dcp config file",
    description:
      "Settings of a dcp run. The keys are Distributed-CellProfiler's config.py settings (same names and defaults) plus dcp's own; run `dcp config show` to see the resolved values.",
    ...rest,
  };
}

/** The file's exact text: stable key order, two-space indent, final newline. */
export function configJsonSchemaText(): string {
  return `${JSON.stringify(configJsonSchema(), null, 2)}\n`;
}
