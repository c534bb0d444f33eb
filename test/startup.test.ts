/**
 * Start-up cost without timing anything: every module `dcp` resolves is recorded by a Node
 * resolution hook (`node --import test/fixtures/startup/record-imports.mjs`), and the test asserts
 * what `--help` and each command load. `dcp --help` must not load the AWS SDK or zod; a command
 * loads only the AWS clients it uses. (bench/startup.bench.ts measures the time.)
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { REPO_ROOT, runDcp, tempDir, uniqueAppName, type DcpResult } from "./harness/dcp.js";

const HOOK = join(REPO_ROOT, "test/fixtures/startup/record-imports.mjs");

async function runRecorded(args: string[], cwd?: string): Promise<{ result: DcpResult; modules: string[] }> {
  const log = join(tempDir("dcp-imports-"), "modules.txt");
  const result = await runDcp(args, { cwd, env: { NODE_OPTIONS: `--import=${HOOK}`, DCP_IMPORT_LOG: log } });
  const modules = existsSync(log) ? [...new Set(readFileSync(log, "utf8").split("\n").filter(Boolean))] : [];
  return { result, modules };
}

const awsPackages = (modules: string[]) =>
  [
    ...new Set(
      modules.map((m) => /\/node_modules\/(@aws-sdk\/[^/]+)\//.exec(m)?.[1]).filter((p): p is string => Boolean(p)),
    ),
  ].sort();
const heavy = (modules: string[]) =>
  modules.filter((m) => /\/node_modules\/(@aws-sdk|@smithy|zod|ora|stream-json|csv-parse|sqs-consumer)\//.test(m));

/** Command paths listed under "Commands:" in a help text ("help" itself left out). */
function commandsIn(help: string): string[] {
  const section = help.split(/\nCommands:\n/)[1]?.split(/\n\n/)[0] ?? "";
  return section
    .split("\n")
    .map((line) => /^ {2}([a-z][a-z-]*)/.exec(line)?.[1])
    .filter((name): name is string => Boolean(name) && name !== "help");
}

describe("start-up", () => {
  it("records what a command loads (the hook works: validating a config loads zod)", async () => {
    const { result, modules } = await runRecorded([
      "config",
      "validate",
      join(REPO_ROOT, "config/config.example.json"),
    ]);
    expect(result.code, result.stderr).toBe(0);
    expect(modules.some((m) => m.endsWith("/dist/cli.js"))).toBe(true);
    expect(modules.some((m) => /\/node_modules\/zod\//.test(m))).toBe(true);
    // Reading a config needs no AWS client.
    expect(awsPackages(modules)).toEqual([]);
  });

  it("`dcp --help` and every `dcp <command> --help` load neither the AWS SDK nor zod", async () => {
    const top = await runRecorded(["--help"]);
    expect(top.result.code).toBe(0);
    expect(heavy(top.modules)).toEqual([]);
    const queue = commandsIn(top.result.stdout).map((c) => [c]);
    expect(queue.length).toBeGreaterThanOrEqual(8);
    const seen: string[] = [];
    while (queue.length) {
      const path = queue.shift()!;
      seen.push(path.join(" "));
      const { result, modules } = await runRecorded([...path, "--help"]);
      expect(result.code, `${path.join(" ")} --help: ${result.stderr}`).toBe(0);
      expect(heavy(modules), `dcp ${path.join(" ")} --help loads`).toEqual([]);
      for (const sub of commandsIn(result.stdout)) queue.push([...path, sub]);
    }
    expect(seen).toEqual(
      expect.arrayContaining([
        "config",
        "config import",
        "config show",
        "config validate",
        "config schema",
        "setup",
        "submit",
      ]),
    );
  });

  it("`dcp setup` loads only the SQS, ECS, CloudWatch Logs and STS (the credentials check) clients", async () => {
    const dir = tempDir();
    const app = uniqueAppName("Startup");
    const config = join(dir, "config.json");
    writeFileSync(
      config,
      JSON.stringify({ APP_NAME: app, ECS_CLUSTER: `${app}Cluster`, SQS_DEAD_LETTER_QUEUE: `${app}Dead` }),
    );
    const { result, modules } = await runRecorded(["--config", config, "setup"], dir);
    expect(result.code, result.stderr).toBe(0);
    const clients = awsPackages(modules).filter((p) => p.startsWith("@aws-sdk/client-"));
    expect(clients).toEqual([
      "@aws-sdk/client-cloudwatch-logs",
      "@aws-sdk/client-ecs",
      "@aws-sdk/client-sqs",
      "@aws-sdk/client-sts",
    ]);
  });
});
