// ESLint flat config. The import boundaries here are the layering rules of docs/ARCHITECTURE.md,
// enforced rather than only written down (test/lint-boundaries.test.ts proves each one fires).
import js from "@eslint/js";
import tseslint from "typescript-eslint";

const fsModules = ["fs", "fs/promises", "node:fs", "node:fs/promises"];
const noImport = (groups, message) => ({ group: groups, message });
// The SDK's values come through src/aws/sdk.ts (`require`: Node 20 compiles an imported CommonJS SDK
// package three times over); its types through `import type`, which costs nothing at run time.
const sdkValues = {
  ...noImport(
    ["@aws-sdk/*"],
    'take the SDK\'s values from src/aws/sdk.ts (sdk("@aws-sdk/...")); `import type` is fine.',
  ),
  allowTypeImports: true,
};

export default tseslint.config(
  { ignores: ["dist/**", "node_modules/**", "coverage/**", "test/fixtures/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "no-constant-condition": ["error", { checkLoops: false }],
    },
  },
  {
    // Everywhere in src/ (the blocks below repeat it: a later block's patterns replace these).
    files: ["src/**/*.ts"],
    rules: { "@typescript-eslint/no-restricted-imports": ["error", { patterns: [sdkValues] }] },
  },
  {
    // plan/ is pure: no AWS, no file I/O, no orchestration.
    files: ["src/plan/**/*.ts"],
    rules: {
      "@typescript-eslint/no-restricted-imports": [
        "error",
        {
          paths: fsModules.map((name) => ({
            name,
            message: "plan/ is pure: read files in a flow and pass the text in.",
          })),
          patterns: [
            {
              ...noImport(
                ["**/aws/*", "@aws-sdk/*"],
                "plan/ is pure: call AWS from a flow or an adapter in src/aws/ (SDK types are fine).",
              ),
              allowTypeImports: true,
            },
            noImport(["**/flows/*", "**/commands/*"], "plan/ is pure: it is called by flows, it never calls them."),
          ],
        },
      ],
    },
  },
  {
    // commands stay thin: flows load lazily (await import()) so `dcp --help` loads neither zod nor the SDK.
    files: ["src/commands/**/*.ts"],
    rules: {
      "@typescript-eslint/no-restricted-imports": [
        "error",
        {
          patterns: [
            noImport(["**/flows/*"], 'commands import flows only lazily: use `await import("../flows/x.js")`.'),
            noImport(["**/aws/*", "@aws-sdk/*"], "commands do not call AWS: a flow does."),
          ],
        },
      ],
    },
  },
  {
    // A flow never imports another flow: what two flows share lives in run/, plan/ or an engine module.
    files: ["src/flows/**/*.ts"],
    rules: {
      "@typescript-eslint/no-restricted-imports": [
        "error",
        {
          patterns: [
            noImport(
              ["./*", "../flows/*"],
              "a flow imports no other flow: move the shared part to src/run/ or src/plan/.",
            ),
            sdkValues,
          ],
        },
      ],
    },
  },
  {
    // aws/ adapters are leaves below the flows.
    files: ["src/aws/**/*.ts"],
    rules: {
      "@typescript-eslint/no-restricted-imports": [
        "error",
        {
          patterns: [
            noImport(
              ["**/flows/*", "**/commands/*", "**/run/*"],
              "aws/ adapters never import flows, commands or run/.",
            ),
            sdkValues,
          ],
        },
      ],
    },
  },
  {
    files: ["scripts/**/*.mjs", "*.js"],
    languageOptions: { globals: { process: "readonly", console: "readonly" } },
  },
  {
    files: ["test/**/*.ts", "bench/**/*.ts", "demo/**/*.ts"],
    rules: {
      "@typescript-eslint/no-non-null-assertion": "off",
      "@typescript-eslint/no-explicit-any": "off",
    },
  },
);
