/**
 * make -C worker check  ->  npx vite-node scripts/worker-check/cli.ts [--dockerfile F] [--bases T]
 *   [--downloads DIR] [--official-node BIN]
 * Exit 0 when every check passes, 1 when one fails, 2 on a bad argument.
 */
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { runWorkerCheck } from "./check.js";

const root = fileURLToPath(new URL("../../", import.meta.url));
const flags = new Map<string, string>();
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i += 2) {
  const flag = argv[i] ?? "";
  const value = argv[i + 1];
  if (!["--dockerfile", "--bases", "--downloads", "--official-node"].includes(flag) || value === undefined) {
    process.stderr.write(
      `worker check: unknown argument ${flag}. Use --dockerfile, --bases, --downloads, --official-node <value>\n`,
    );
    process.exit(2);
  }
  flags.set(flag, value);
}
const path = (flag: string, fallback: string) => resolve(root, flags.get(flag) ?? fallback);

const result = await runWorkerCheck({
  root,
  dockerfile: path("--dockerfile", "worker/Dockerfile"),
  bases: path("--bases", "worker/bases.tsv"),
  downloads: path("--downloads", "worker/.downloads"),
  officialNode: flags.get("--official-node"),
});
for (const line of result.lines) process.stdout.write(`${line}\n`);
process.exitCode = result.ok ? 0 : 1;
