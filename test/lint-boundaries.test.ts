/**
 * The layer rules of docs/ARCHITECTURE.md are enforced by ESLint (eslint.config.js); this proves each
 * rule fires on a fixture, so a config change cannot silently turn one off.
 */
import { ESLint } from "eslint";
import { describe, expect, it } from "vitest";

const eslint = new ESLint({ cwd: new URL("..", import.meta.url).pathname });

async function boundaryErrors(filePath: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath });
  return (result?.messages ?? [])
    .filter((m) => m.ruleId === "@typescript-eslint/no-restricted-imports")
    .map((m) => m.message);
}

describe("import boundaries", () => {
  it("plan/ may not read files", async () => {
    const errors = await boundaryErrors("src/plan/fixture.ts", 'import { readFile } from "node:fs/promises";\n');
    expect(errors.join("\n")).toMatch(/plan\/ is pure: read files in a flow/);
    expect(await boundaryErrors("src/plan/fixture.ts", 'import { readFileSync } from "fs";\n')).toHaveLength(1);
  });

  it("plan/ may not import an AWS adapter or the SDK at run time (SDK types are fine)", async () => {
    expect(await boundaryErrors("src/plan/fixture.ts", 'import { sqsClient } from "../aws/sqs.js";\n')).toHaveLength(1);
    expect(
      await boundaryErrors("src/plan/fixture.ts", 'import { SQSClient } from "@aws-sdk/client-sqs";\n'),
    ).toHaveLength(1);
    expect(
      await boundaryErrors("src/plan/fixture.ts", 'import type { SQSClient } from "@aws-sdk/client-sqs";\n'),
    ).toHaveLength(0);
  });

  it("a flow imports no other flow; commands import flows only lazily", async () => {
    expect(await boundaryErrors("src/flows/fixture.ts", 'import { tearDown } from "./teardown.js";\n')).toHaveLength(1);
    expect(
      await boundaryErrors("src/commands/fixture.ts", 'import { runSetup } from "../flows/setup.js";\n'),
    ).toHaveLength(1);
    const lazy = 'export async function f() {\n  return import("../flows/setup.js");\n}\n';
    expect(await boundaryErrors("src/commands/fixture.ts", lazy)).toHaveLength(0);
  });

  it("the SDK's values come through src/aws/sdk.ts everywhere in src/ (types through import type)", async () => {
    const value = 'import { ECSClient } from "@aws-sdk/client-ecs";\n';
    for (const file of ["src/aws/fixture.ts", "src/run/fixture.ts", "src/flows/fixture.ts", "src/worker/fixture.ts"])
      expect((await boundaryErrors(file, value)).join("\n"), file).toMatch(/from src\/aws\/sdk\.ts/);
    expect(
      await boundaryErrors("src/aws/fixture.ts", 'import type { ECSClient } from "@aws-sdk/client-ecs";\n'),
    ).toHaveLength(0);
  });

  it("the code as committed has no boundary violation", async () => {
    const results = await eslint.lintFiles(["src/**/*.ts"]);
    const violations = results.flatMap((r) =>
      r.messages
        .filter((m) => m.ruleId === "@typescript-eslint/no-restricted-imports")
        .map((m) => `${r.filePath}:${m.line}`),
    );
    expect(violations).toEqual([]);
  });
});
