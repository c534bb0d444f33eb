/**
 * `make -C worker check`: the worker Dockerfile's rules (dockerfile.ts) and the glibc/GLIBCXX needs of
 * every native binary it ships, against each base of worker/bases.tsv. What this machine cannot fetch
 * (no internet) is inspected when a copy is in worker/.downloads (`make -C worker fetch`), and otherwise
 * reported as checked only by the image build (`RUN node --version`, `mount-s3 --version`).
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { createReadStream, existsSync } from "node:fs";
import { lstat, mkdtemp, readdir, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { promisify } from "node:util";
import { describeBase, parseBases, type Base } from "./bases.js";
import { parseDockerfile, shippedBinaries, staticFindings, type Shipped } from "./dockerfile.js";
import { binutilsMissing, isElf, tooNew, versionNeeds } from "./elf.js";

const run = promisify(execFile);

export interface CheckOptions {
  dockerfile: string;
  bases: string;
  /** Repository root: package-lock.json and node_modules (the production packages the image ships). */
  root: string;
  /** Where `make -C worker fetch` puts Node's tarball and Mountpoint's .deb. */
  downloads: string;
  /** A Node binary standing in for an official Node image's (default: this machine's, when the major matches). */
  officialNode?: string | undefined;
}

export interface CheckResult {
  ok: boolean;
  lines: string[];
}

interface Candidate {
  label: string;
  file: string;
}

async function sha256(file: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/**
 * ELF files of the production packages in node_modules (from package-lock.json: entries not marked dev
 * or optional; the image installs with --omit=dev --omit=optional, which keeps DuckDB, dcp collect's
 * optional engine, out of it).
 */
async function nativeModules(root: string): Promise<{ packages: number; files: string[] }> {
  const lock = JSON.parse(await readFile(join(root, "package-lock.json"), "utf8")) as {
    packages?: Record<string, { dev?: boolean; devOptional?: boolean; optional?: boolean }>;
  };
  const dirs = Object.entries(lock.packages ?? {})
    .filter(([key, meta]) => key.startsWith("node_modules/") && !meta.dev && !meta.devOptional && !meta.optional)
    .map(([key]) => join(root, key));
  const files: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        if (entry.name !== "node_modules") await walk(path); // nested packages have their own lock entries
      } else if (entry.isFile() && !/\.(js|cjs|mjs|ts|map|json|md|txt)$/i.test(entry.name)) {
        if ((await stat(path)).size >= 64 && (await isElf(path))) files.push(path);
      }
    }
  };
  for (const dir of dirs) await walk(dir);
  return { packages: dirs.length, files };
}

export async function runWorkerCheck(options: CheckOptions): Promise<CheckResult> {
  const lines: string[] = [];
  let ok = true;
  const say = (line: string) => lines.push(line);
  const mark = (pass: boolean, text: string) => {
    if (!pass) ok = false;
    say(`${pass ? "✔" : "✖"} ${text}`);
  };

  const bases = parseBases(await readFile(options.bases, "utf8"), relative(options.root, options.bases));
  const file = parseDockerfile(await readFile(options.dockerfile, "utf8"));
  say(
    `worker check: ${relative(options.root, options.dockerfile)} against ${relative(options.root, options.bases)} (${bases.length} bases)`,
  );

  for (const f of staticFindings(
    file,
    bases.map((b) => b.image),
  ))
    mark(f.ok, f.text);

  const missing = await binutilsMissing();
  if (missing) {
    mark(false, missing);
    return { ok, lines };
  }
  const checkable = bases.filter((b) => b.glibc);
  say(`native binaries in the image, against ${bases.map(describeBase).join("; ")}`);
  for (const b of bases.filter((x) => !x.glibc))
    say(
      `  ${b.image}: glibc unconfirmed in the table, so not checked here; its image build runs node --version and mount-s3 --version`,
    );

  const work = await mkdtemp(join(tmpdir(), "dcp-worker-check-"));
  try {
    for (const item of shippedBinaries(file)) {
      if (item.kind === "node-modules") {
        const { packages, files } = await nativeModules(options.root);
        if (!files.length) {
          mark(
            true,
            `${item.path}: no native module in the ${packages} production packages of node_modules (checked here)`,
          );
          continue;
        }
        for (const f of files)
          await inspect({ label: `${item.path} ${relative(join(options.root, "node_modules"), f)}`, file: f });
        continue;
      }
      const candidate = await locate(item, options, work);
      if (typeof candidate === "string") say(`– ${candidate}`);
      else await inspect(candidate);
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  say(ok ? "worker check passed" : "worker check FAILED");
  return { ok, lines };

  async function inspect(candidate: Candidate): Promise<void> {
    const needs = await versionNeeds(candidate.file);
    const needText = `GLIBC_${needs.newest.GLIBC ?? "(none)"}, GLIBCXX_${needs.newest.GLIBCXX ?? "(none)"}`;
    const problems: string[] = [];
    for (const base of checkable) problems.push(...violations(needs, base));
    if (problems.length) for (const p of problems) mark(false, `${candidate.label} needs ${p}`);
    else
      mark(true, `${candidate.label}: needs at most ${needText}, within ${checkable.map((b) => b.image).join(", ")}`);
  }
}

function violations(needs: Awaited<ReturnType<typeof versionNeeds>>, base: Base): string[] {
  const out: string[] = [];
  const limits = [
    ["GLIBC", base.glibc, "glibc"],
    ["GLIBCXX", base.glibcxx, "libstdc++ up to GLIBCXX"],
  ] as const;
  for (const [family, limit, what] of limits) {
    if (!limit) continue;
    for (const { version, symbols } of tooNew(needs, family, limit))
      out.push(
        `${version}${symbols.length ? ` (${symbols.join(", ")})` : ""} but ${base.image} (${base.distribution}) has ${what} ${limit}`,
      );
  }
  return out;
}

/** A local copy of a shipped binary to inspect, or why there is none here. */
async function locate(
  item: Exclude<Shipped, { kind: "node-modules" }>,
  options: CheckOptions,
  work: string,
): Promise<Candidate | string> {
  if (item.kind === "official-node") {
    const standIn =
      options.officialNode ??
      (Number(process.versions.node.split(".")[0]) === item.major ? process.execPath : undefined);
    if (!standIn)
      return `${item.path} (Node ${item.major} from ${item.image}, line ${item.line}): not inspected, no Node ${item.major} binary here to stand in for it`;
    return {
      label: `${item.path} (the official Node ${item.major} binary of ${item.image}, line ${item.line}; inspected: ${standIn}, an official-style Node ${item.major} build)`,
      file: standIn,
    };
  }
  const local = join(options.downloads, item.file);
  const buildOnly =
    item.kind === "node-tarball"
      ? "the image build's `RUN node --version` fails on a glibc mismatch"
      : `the image build's \`${item.path} --version\` fails on a glibc mismatch`;
  if (!existsSync(local))
    return `${item.path} from ${item.file} (line ${item.line}): not inspected here (no copy in ${relative(options.root, options.downloads)}/; make -C worker fetch downloads it); ${buildOnly}`;
  if (item.kind === "node-tarball") {
    const actual = await sha256(local);
    if (item.sha256 && actual !== item.sha256)
      return `${item.file}: the copy in ${relative(options.root, options.downloads)}/ has SHA-256 ${actual}, not the Dockerfile's ${item.sha256}; not inspected`;
    await run("tar", ["-xJf", local, "-C", work, item.member]);
    return {
      label: `node from ${item.file} (SHA-256 ${item.sha256 ? "matches the Dockerfile" : "not pinned"}, line ${item.line})`,
      file: join(work, item.member),
    };
  }
  const dir = join(work, item.file);
  await run("dpkg-deb", ["-x", local, dir]);
  const found = (await readdir(dir, { recursive: true })).map((p) => join(dir, String(p)));
  for (const path of found) {
    if (path.endsWith(`/bin/${item.path}`) && (await lstat(path)).isFile())
      // a symlink may point outside
      return {
        label: `${item.path} from ${item.file} (line ${item.line}; its signature is checked by the image build)`,
        file: path,
      };
  }
  return `${item.file}: no bin/${item.path} inside; not inspected`;
}
