/**
 * The regions the installed AWS SDK knows: the partitions data (partitions.json) the SDK resolves
 * endpoints with, read as a file from @aws-sdk/core, so checking a region loads no SDK module
 * (`dcp config validate` and `dcp --help` stay SDK-free, test/startup.test.ts).
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const PARTITIONS_FILE = "node_modules/@aws-sdk/core/dist-es/submodules/client/util-endpoints/lib/aws/partitions.js";

interface PartitionsInfo {
  partitions: { id: string; regions: Record<string, unknown> }[];
}

let cached: ReadonlySet<string> | null | undefined;

/** Looks for the file the way Node resolves a package: node_modules of this folder, then of each parent. */
function findPartitionsFile(): string | undefined {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, PARTITIONS_FILE);
    if (existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

/**
 * Every region of every partition (aws, aws-cn, aws-us-gov...), without the partitions' global
 * pseudo-regions (aws-global...); undefined when the SDK's data cannot be read (then no check).
 */
export function knownRegions(): ReadonlySet<string> | undefined {
  if (cached !== undefined) return cached ?? undefined;
  cached = null;
  const file = findPartitionsFile();
  if (!file) return undefined;
  try {
    const text = readFileSync(file, "utf8");
    const json = text.slice(text.indexOf("{"), text.lastIndexOf("}") + 1);
    const info = JSON.parse(json) as PartitionsInfo;
    const regions = info.partitions.flatMap((p) => Object.keys(p.regions)).filter((r) => !r.endsWith("-global"));
    if (regions.length) cached = new Set(regions);
  } catch {
    // an SDK release with another layout: skip the check rather than refuse every region
  }
  return cached ?? undefined;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++)
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    previous = current;
  }
  return previous[b.length]!;
}

/** The known region closest to `region` (edit distance), e.g. "eu-west-1" for "eu-wset-1". */
export function closestRegion(region: string, regions: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of regions) {
    const d = editDistance(region.toLowerCase(), candidate);
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  return best;
}
