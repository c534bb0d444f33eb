/** The flags of `dcp collect`, checked before anything is read or downloaded. Pure; no I/O. */
import { UserInputError } from "../../errors.js";
import { compileTemplate, type PathTemplate } from "./path-metadata.js";

export const DEFAULT_OBJECTS = ["Image", "Cells", "Nuclei", "Cytoplasm"] as const;
export const FORMATS = ["parquet", "csv"] as const;
export type OutputFormat = (typeof FORMATS)[number];

export type CollectSource = { kind: "local"; path: string } | { kind: "s3"; bucket: string; prefix: string };

export interface CollectFlags {
  out?: string;
  objects?: string;
  format?: string;
  metadataFromPath?: string;
  concurrency?: string;
}

export interface CollectPlan {
  source: CollectSource;
  out: string;
  objects: string[];
  format: OutputFormat;
  template: PathTemplate | undefined;
  concurrency: number;
}

const bad = (field: string, problem: string, fix: string) => new UserInputError("command line", field, problem, fix);

/** `s3://bucket/prefix` or a local folder path (existence is checked by the flow). */
export function parseSource(text: string): CollectSource {
  if (!/^s3:\/\//i.test(text)) {
    if (!text.trim())
      throw bad("<source>", "is empty", "name a local folder or an s3://bucket/prefix of the step's outputs");
    return { kind: "local", path: text };
  }
  const rest = text.slice("s3://".length);
  const slash = rest.indexOf("/");
  const bucket = slash < 0 ? rest : rest.slice(0, slash);
  // Bucket naming rules: 3-63 characters of lowercase letters, digits, '.' and '-'.
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket))
    throw bad("<source>", `"${text}" does not start with a valid bucket name`, "write it as s3://bucket/prefix");
  const prefix = slash < 0 ? "" : rest.slice(slash + 1).replace(/\/+$/, "");
  return { kind: "s3", bucket, prefix: prefix ? `${prefix}/` : "" };
}

export function parseObjects(text: string | undefined): string[] {
  if (text === undefined) return [...DEFAULT_OBJECTS];
  const names = text
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  const fix = "list CellProfiler object names, e.g. --objects Image,Cells,Nuclei,Cytoplasm";
  if (!names.length) throw bad("--objects", "names no object", fix);
  const wrong = names.find((n) => !/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/.test(n) || n.toLowerCase().endsWith(".csv"));
  if (wrong !== undefined) throw bad("--objects", `"${wrong}" is not an object name`, fix);
  return [...new Set(names)];
}

export function parseFormat(text: string | undefined): OutputFormat {
  const format = (text ?? "parquet").toLowerCase();
  if ((FORMATS as readonly string[]).includes(format)) return format as OutputFormat;
  throw bad("--format", `"${text}" is not a format`, "use --format parquet (default) or --format csv");
}

export function parseCollectFlags(sourceText: string, flags: CollectFlags): CollectPlan {
  const source = parseSource(sourceText);
  if (!flags.out?.trim())
    throw bad("-o", "is missing", "name the folder for the collated tables, e.g. -o collated/Batch1");
  const concurrency = Number(flags.concurrency ?? 16);
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64)
    throw bad("--concurrency", `"${flags.concurrency}" is not a whole number from 1 to 64`, "e.g. --concurrency 16");
  return {
    source,
    out: flags.out,
    objects: parseObjects(flags.objects),
    format: parseFormat(flags.format),
    template: flags.metadataFromPath === undefined ? undefined : compileTemplate(flags.metadataFromPath),
    concurrency,
  };
}
