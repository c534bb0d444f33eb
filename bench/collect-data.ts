/**
 * Synthetic CellProfiler output trees for `dcp collect`: one folder per group laid out as
 * make-jobs' analysis step names them (`<plate>/analysis/<plate>-<well>-<site>/`), each holding
 * Image.csv (one row per group) and one CSV per object (`objectRows` rows each), with `columns`
 * numeric measurement columns and no Metadata columns (collect adds them from the path).
 * Shared by bench/collect.bench.ts (2,000 groups, ~0.5 GB) and test/collect.test.ts (a few groups).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export const ANALYSIS_STRUCTURE = "Metadata_Plate/analysis/Metadata_Plate-Metadata_Well-Metadata_Site";
export const OBJECTS = ["Image", "Cells", "Nuclei", "Cytoplasm"] as const;

export interface CollectTreeOptions {
  plates: number;
  wells: number;
  sites: number;
  columns: number;
  objectRows: number;
}

export interface CollectTree {
  groups: Array<{ plate: string; well: string; site: string; dir: string }>;
  /** Data rows written per object, summed over every group. */
  rows: Record<string, number>;
  bytes: number;
}

/** A deterministic pool of number texts (CellProfiler writes floats like 123.4567), picked by an LCG. */
function numberPool(size: number): string[] {
  let seed = 12345;
  const pool: string[] = [];
  for (let i = 0; i < size; i++) {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    pool.push(((seed / 2147483648) * 1000).toFixed(4));
  }
  return pool;
}

export function wellName(index: number): string {
  return `${String.fromCharCode(65 + Math.floor(index / 10))}${String((index % 10) + 1).padStart(2, "0")}`;
}

export function writeCollectTree(root: string, options: CollectTreeOptions): CollectTree {
  const pool = numberPool(4096);
  let pick = 0;
  const features = Array.from({ length: options.columns }, (_, i) => `Feature_${String(i + 1).padStart(3, "0")}`);
  const objectHeader = `ImageNumber,ObjectNumber,${features.join(",")}\n`;
  const imageHeader = `ImageNumber,${features.join(",")}\n`;
  const row = (prefix: string): string => {
    let line = prefix;
    for (let c = 0; c < options.columns; c++) {
      line += `,${pool[pick]}`;
      pick = (pick + 7) % pool.length;
    }
    return `${line}\n`;
  };
  const tree: CollectTree = { groups: [], rows: Object.fromEntries(OBJECTS.map((o) => [o, 0])), bytes: 0 };
  for (let p = 0; p < options.plates; p++) {
    const plate = `Plate${p + 1}`;
    for (let w = 0; w < options.wells; w++) {
      const well = wellName(w);
      for (let s = 1; s <= options.sites; s++) {
        const site = String(s);
        const dir = join(root, plate, "analysis", `${plate}-${well}-${site}`);
        mkdirSync(dir, { recursive: true });
        const files: Record<string, string> = { Image: imageHeader + row("1") };
        for (const object of OBJECTS.slice(1)) {
          let text = objectHeader;
          for (let r = 1; r <= options.objectRows; r++) text += row(`1,${r}`);
          files[object] = text;
        }
        for (const [object, text] of Object.entries(files)) {
          writeFileSync(join(dir, `${object}.csv`), text);
          tree.bytes += Buffer.byteLength(text);
        }
        tree.rows.Image! += 1;
        for (const object of OBJECTS.slice(1)) tree.rows[object]! += options.objectRows;
        tree.groups.push({ plate, well, site, dir });
      }
    }
  }
  return tree;
}
