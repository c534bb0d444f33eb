/**
 * The CellProfiler example every emulator run uses (test/fixtures/ExampleHuman: three images, one per
 * channel, and its LoadData pipeline): the images copied where a worker's bucket mount would show them,
 * and LoadData CSVs whose every row names those three images. Used by the tests, the demo and benches.
 */
import { copyFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT } from "./process.js";

export const EXAMPLE_DIR = join(REPO_ROOT, "test/fixtures/ExampleHuman");
export const EXAMPLE_PIPELINE = join(EXAMPLE_DIR, "ExampleHuman_LoadData.cppipe");
export const EXAMPLE_IMAGES = [
  "AS_09125_050116030001_D03f00d0.tif",
  "AS_09125_050116030001_D03f00d1.tif",
  "AS_09125_050116030001_D03f00d2.tif",
] as const;
export const EXAMPLE_CHANNELS = ["DNA", "PH3", "cellbody"] as const;

/** Copies the example's images to `<mountRoot>/images/` (the folder a container mounts the bucket on). */
export function mountExampleImages(mountRoot: string): void {
  mkdirSync(join(mountRoot, "images"), { recursive: true });
  for (const image of EXAMPLE_IMAGES)
    copyFileSync(join(EXAMPLE_DIR, "images", image), join(mountRoot, "images", image));
}

/**
 * A LoadData CSV: FileName_/PathName_ columns of the three channels, then the metadata columns; one row per
 * entry of `rows` (its metadata values in the columns' order), every row naming the images under `images/`.
 */
export function exampleLoadData(metadataColumns: readonly string[], rows: ReadonlyArray<readonly unknown[]>): string {
  const header = [...EXAMPLE_CHANNELS.flatMap((c) => [`FileName_${c}`, `PathName_${c}`]), ...metadataColumns];
  const lines = rows.map((values) =>
    [...EXAMPLE_IMAGES.flatMap((image) => [image, "images"]), ...values.map(String)].join(","),
  );
  return `${[header.join(","), ...lines].join("\n")}\n`;
}
