/**
 * What glibc and libstdc++ symbol versions an ELF file needs, read with Debian's binutils:
 * `readelf -V` lists the versions the file requires (its .gnu.version_r section), `objdump -T` names
 * the dynamic symbols bound to each. A binary runs on a base only when every GLIBC_x it needs is at
 * most the base's glibc and every GLIBCXX_x at most its libstdc++'s newest GLIBCXX.
 */
import { execFile } from "node:child_process";
import { open, stat } from "node:fs/promises";
import { promisify } from "node:util";

const run = promisify(execFile);
const MAX_OUTPUT = 256 * 1024 * 1024;

export type Family = "GLIBC" | "GLIBCXX";

export interface VersionNeeds {
  /** Newest version needed per family (e.g. { GLIBC: "2.28", GLIBCXX: "3.4.21" }). */
  newest: Partial<Record<Family, string>>;
  /** Symbols bound to each needed version, e.g. "GLIBC_2.28" -> ["fcntl64"]. */
  symbols: Map<string, string[]>;
}

/** Compares dotted versions numerically: -1, 0 or 1. */
export function compareVersions(a: string, b: string): number {
  const x = a.split(".").map(Number);
  const y = b.split(".").map(Number);
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}

export async function isElf(file: string): Promise<boolean> {
  const handle = await open(file, "r");
  try {
    const { buffer, bytesRead } = await handle.read(Buffer.alloc(4), 0, 4, 0);
    return bytesRead === 4 && buffer[0] === 0x7f && buffer.toString("latin1", 1, 4) === "ELF";
  } finally {
    await handle.close();
  }
}

/** The tools this check needs, or a message saying how to get them. */
export async function binutilsMissing(): Promise<string | undefined> {
  for (const tool of ["objdump", "readelf"]) {
    try {
      await run(tool, ["--version"]);
    } catch {
      return `${tool} is not installed: install Debian's binutils (apt-get install binutils), then run make -C worker check again`;
    }
  }
  return undefined;
}

/** Version names listed in `readelf -V`'s "Version needs" section. */
export function parseVersionNeeds(readelfOutput: string): Set<string> {
  const needed = new Set<string>();
  let inNeeds = false;
  for (const line of readelfOutput.split("\n")) {
    if (/^Version needs section/.test(line)) inNeeds = true;
    else if (/^Version (symbols|definition) section/.test(line)) inNeeds = false;
    else if (inNeeds) {
      const m = /Name: (\S+)\s+Flags/.exec(line);
      if (m?.[1]) needed.add(m[1]);
    }
  }
  return needed;
}

/** Symbols per version from `objdump -T` ("... (GLIBC_2.28) fcntl64"). */
export function parseDynamicSymbols(objdumpOutput: string): Map<string, string[]> {
  const symbols = new Map<string, string[]>();
  for (const line of objdumpOutput.split("\n")) {
    const m = /\(?\b((?:GLIBC|GLIBCXX)_\d+(?:\.\d+)*)\)?\s+(\S+)\s*$/.exec(line);
    if (!m?.[1] || !m[2]) continue;
    const list = symbols.get(m[1]) ?? [];
    if (!list.includes(m[2])) list.push(m[2]);
    symbols.set(m[1], list);
  }
  return symbols;
}

export function summarizeNeeds(needed: Set<string>, symbols: Map<string, string[]>): VersionNeeds {
  const newest: VersionNeeds["newest"] = {};
  const bound = new Map<string, string[]>();
  for (const name of needed) {
    const m = /^(GLIBC|GLIBCXX)_(\d+(?:\.\d+)*)$/.exec(name);
    if (!m) continue;
    const family = m[1] as Family;
    const version = m[2] as string;
    const current = newest[family];
    if (!current || compareVersions(version, current) > 0) newest[family] = version;
    bound.set(name, symbols.get(name) ?? []);
  }
  return { newest, symbols: bound };
}

const cache = new Map<string, Promise<VersionNeeds>>();

/** The versions `file` needs; read once per file and modification time (Node's binary is 100 MB). */
export async function versionNeeds(file: string): Promise<VersionNeeds> {
  const key = `${file}@${(await stat(file)).mtimeMs}`;
  let needs = cache.get(key);
  if (!needs) {
    needs = Promise.all([
      run("readelf", ["-V", "--wide", file], { maxBuffer: MAX_OUTPUT }),
      run("objdump", ["-T", file], { maxBuffer: MAX_OUTPUT }),
    ]).then(([readelf, objdump]) =>
      summarizeNeeds(parseVersionNeeds(readelf.stdout), parseDynamicSymbols(objdump.stdout)),
    );
    cache.set(key, needs);
  }
  return needs;
}

/** Needed versions newer than `limit` in one family, newest first, each with up to 3 symbols. */
export function tooNew(needs: VersionNeeds, family: Family, limit: string): { version: string; symbols: string[] }[] {
  const out: { version: string; symbols: string[] }[] = [];
  for (const [name, symbols] of needs.symbols) {
    const version = name.slice(family.length + 1);
    if (!name.startsWith(`${family}_`) || !/^\d/.test(version)) continue;
    if (compareVersions(version, limit) > 0) out.push({ version: name, symbols: symbols.slice(0, 3) });
  }
  return out.sort((a, b) => compareVersions(b.version.replace(/^\D+/, ""), a.version.replace(/^\D+/, "")));
}
