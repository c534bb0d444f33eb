/**
 * Groups from a listing of output files. The worker writes each group's outputs under one folder
 * (`<output>/<output_structure with the group's values>/`), so a group is a folder: with a template,
 * the folder `depth` levels below the collected prefix; without one, every folder that directly
 * holds one of the wanted `<Object>.csv` files. Listings arrive in an order where everything below
 * one folder is contiguous (S3 lists keys in UTF-8 binary order; a depth-first walk of a local
 * folder does the same), so a group is complete, and handed on, as soon as the listing leaves its
 * folder: memory holds the open groups only, whatever the number of groups. Pure; no I/O.
 */
import type { PathTemplate } from "./path-metadata.js";

export interface ListedFile {
  /** Relative to the collected prefix, '/'-separated. */
  path: string;
  size: number;
}

export interface FoundGroup {
  /** The group's folder relative to the collected prefix ("" for the prefix itself). */
  dir: string;
  /** Metadata read from the folder's path (empty without a template). */
  metadata: Record<string, string>;
  /** Object name → its CSV, for the wanted objects present. */
  files: Map<string, ListedFile>;
}

/** How many folders that do not fit the template are kept for the report (all are counted). */
const UNMATCHED_KEPT = 20;

export class GroupFinder {
  private readonly open: FoundGroup[] = [];
  private readonly csvNames: Map<string, string>;
  readonly unmatched: string[] = [];
  unmatchedCount = 0;
  private lastUnmatched = "";

  constructor(
    objects: readonly string[],
    private readonly template?: PathTemplate,
  ) {
    this.csvNames = new Map(objects.map((o) => [`${o}.csv`, o]));
  }

  /** Takes the next listed file; returns the groups it completes (in listing order). */
  push(file: ListedFile): FoundGroup[] {
    const done = this.closeOutside(file.path);
    const slash = file.path.lastIndexOf("/");
    const dir = slash < 0 ? "" : file.path.slice(0, slash);
    const object = this.csvNames.get(file.path.slice(slash + 1));
    let key = dir;
    if (this.template) {
      const segments = file.path.split("/");
      if (segments.length <= this.template.depth) return done;
      key = segments.slice(0, this.template.depth).join("/");
    } else if (object === undefined) return done;
    this.touch(key, key === dir ? object : undefined, file);
    return done;
  }

  /** The groups still open when the listing ends. */
  end(): FoundGroup[] {
    return this.open.splice(0).reverse();
  }

  private touch(key: string, object: string | undefined, file: ListedFile): void {
    let group = this.open.at(-1);
    if (group?.dir !== key) {
      const metadata = this.template ? this.template.match(key) : {};
      if (!metadata) {
        if (key !== this.lastUnmatched) {
          this.unmatchedCount += 1;
          if (this.unmatched.length < UNMATCHED_KEPT) this.unmatched.push(key);
          this.lastUnmatched = key;
        }
        return;
      }
      group = { dir: key, metadata, files: new Map() };
      this.open.push(group);
    }
    if (object !== undefined) group.files.set(object, file);
  }

  private closeOutside(path: string): FoundGroup[] {
    const closed: FoundGroup[] = [];
    for (let top = this.open.at(-1); top; top = this.open.at(-1)) {
      if (top.dir === "" || path.startsWith(`${top.dir}/`)) break;
      closed.push(this.open.pop()!);
    }
    return closed;
  }
}
