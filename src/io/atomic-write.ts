/**
 * The one write-then-rename of dcp: a file is written under a temporary name next to its target
 * and renamed over it at the end (rename is atomic within a file system), so a crash, Ctrl-C or
 * failed download never leaves half a file where a whole one is expected. On failure the
 * temporary file is removed and the error rethrown.
 */
import { randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdir, rename, rm, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";

/** A temporary name next to `file`, unique per process and call. */
export function tempPathFor(file: string): string {
  return `${file}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
}

/** Creates `file`'s folder, runs `write(tempPath)`, then renames the temporary file over `file`. */
export async function writeAtomically(file: string, write: (tempPath: string) => Promise<unknown>): Promise<void> {
  await mkdir(dirname(file) || ".", { recursive: true });
  const temp = tempPathFor(file);
  try {
    await write(temp);
    await rename(temp, file);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
}

export interface AtomicWriteOptions {
  /** File mode of a new file (default 0o666 minus the umask). */
  mode?: number;
  /** Stops a streamed write; the temporary file is removed. */
  signal?: AbortSignal;
}

/** Writes text, bytes, or a stream / iterable of chunks to `file` atomically. */
export async function writeFileAtomic(
  file: string,
  data:
    string | Uint8Array | NodeJS.ReadableStream | Iterable<string | Uint8Array> | AsyncIterable<string | Uint8Array>,
  options: AtomicWriteOptions = {},
): Promise<void> {
  const mode = options.mode === undefined ? {} : { mode: options.mode };
  await writeAtomically(file, async (temp) => {
    if (typeof data === "string" || data instanceof Uint8Array) {
      await writeFile(temp, data, { ...mode, signal: options.signal });
      return;
    }
    const source = data instanceof Readable ? data : Readable.from(data as Iterable<string | Uint8Array>);
    await pipeline(source, createWriteStream(temp, mode), { signal: options.signal });
  });
}
