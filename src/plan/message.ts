import { z } from "zod";

/**
 * The SQS message body, exactly as Distributed-CellProfiler's worker expects it (reference 3.2),
 * so a queue fed by dcp can be consumed by the original worker image and vice versa.
 * Key order matters for byte-for-byte compatibility: Metadata, pipeline, output, input,
 * data_file, output_structure.
 */

export const SHARED_KEYS = ["pipeline", "output", "input", "data_file", "output_structure"] as const;
export type SharedKey = (typeof SHARED_KEYS)[number];

/**
 * Message attribute carrying the receives a task already spent before the worker re-sent it at a
 * shutdown (the worker counts its attempts from it); `dcp retry` drops it so a retried task starts afresh.
 */
export const PRIOR_RECEIVES_ATTRIBUTE = "dcp-prior-receives";

/** SQS's limit on one message body (and on one SendMessageBatch call). */
export const MAX_MESSAGE_BYTES = 262_144;

/**
 * `k=v` pairs joined by commas, as `cellprofiler -g` takes them: CellProfiler splits on "," and "="
 * only, and dcp passes argv (never a shell string), so values may hold spaces; keys may not.
 */
export const METADATA_STRING = /^[^=,\s]+=[^,=]*(,[^=,\s]+=[^,=]*)*$/;

export const metadataString = z
  .string()
  .regex(METADATA_STRING, { error: 'expected "Key=value,Key=value" (no "," or "=" inside a value)' });

export const metadataDict = z.record(z.string(), z.union([z.string(), z.number()]).transform(String));

export interface DcpMessage {
  Metadata: string | Record<string, string>;
  pipeline: string;
  output: string;
  input: string;
  data_file: string;
  output_structure: string;
}

export const messageSchema = z.object({
  Metadata: z.union([metadataString, metadataDict]),
  pipeline: z.string().min(1),
  output: z.string(),
  input: z.string(),
  data_file: z.string().min(1),
  output_structure: z.string().default(""),
});

type SharedPart = Omit<DcpMessage, "Metadata">;
/** The body after Metadata for the last shared values seen: a job's groups mostly share them all. */
let lastShared: SharedPart | undefined;
let lastTail = "";

/**
 * Builds the body in DCP's key order: what JSON.stringify gives for the keys in that order, with the
 * part after Metadata reused while the shared values stay the same (half the time per message).
 */
export function messageBody(message: DcpMessage): string {
  const s = lastShared;
  if (
    !s ||
    s.pipeline !== message.pipeline ||
    s.output !== message.output ||
    s.input !== message.input ||
    s.data_file !== message.data_file ||
    s.output_structure !== message.output_structure
  ) {
    lastShared = {
      pipeline: message.pipeline,
      output: message.output,
      input: message.input,
      data_file: message.data_file,
      output_structure: message.output_structure,
    };
    lastTail = JSON.stringify(lastShared).slice(1);
  }
  return `{"Metadata":${JSON.stringify(message.Metadata)},${lastTail}`;
}

/** Splits "Metadata_Plate=P1,Metadata_Well=A01" into ordered pairs. */
export function parseMetadataString(metadata: string): Array<[string, string]> {
  return metadata.split(",").map((pair) => {
    const i = pair.indexOf("=");
    return [pair.slice(0, i), pair.slice(i + 1)] as [string, string];
  });
}
