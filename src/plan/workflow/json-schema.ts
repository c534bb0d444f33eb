/**
 * config/workflow.schema.json, generated from the workflow file's zod schema (as the config's is):
 * `dcp workflow schema -o config/workflow.schema.json` writes it; a test fails when it is out of date.
 * A workflow file with "$schema": "../config/workflow.schema.json" gets completion and checks in editors.
 */
import { z } from "zod";
import { workflowSchema } from "./file.js";

export const WORKFLOW_SCHEMA_FILE = "config/workflow.schema.json";

export function workflowJsonSchemaText(): string {
  const generated = z.toJSONSchema(workflowSchema, { io: "input", target: "draft-7", unrepresentable: "any" });
  const { $schema, ...rest } = generated as Record<string, unknown>;
  return `${JSON.stringify({ $schema, title: "dcp workflow file", ...rest }, null, 2)}\n`;
}
