/**
 * A DCP job file written as a stream of text chunks, so a million groups never sit in memory as
 * one array or one string. The shape is the original's (reference 3.1): the shared keys, then
 * `groups`, one `{"Metadata": "k=v,..."}` per line. A group may carry its own value of a shared key
 * beside `Metadata` (dcp make-jobs does this for `data_file`, which is per plate); `dcp submit`
 * honours such values, the original run.py ignores them.
 */

import type { SharedKey } from "../message.js";
import type { JobFileGroup, SharedValues } from "../job-file.js";

export type { SharedValues } from "../job-file.js";

/** A group make-jobs writes: job-file.ts's written form, with Metadata as DCP's "k=v,..." string. */
export type JobGroup = JobFileGroup<string>;

export interface JobFileHead {
  comment?: string;
  shared: SharedValues;
}

/** Key order of the shipped files/exampleJob.json. */
const HEAD_ORDER: readonly SharedKey[] = ["pipeline", "data_file", "input", "output", "output_structure"];

const CHUNK_CHARS = 1 << 16;

export function* jobFileChunks(head: JobFileHead, groups: Iterable<JobGroup>): Generator<string> {
  let text = "{\n";
  if (head.comment !== undefined) text += `  "_comment": ${JSON.stringify(head.comment)},\n`;
  for (const key of HEAD_ORDER) {
    const value = head.shared[key];
    if (value !== undefined) text += `  ${JSON.stringify(key)}: ${JSON.stringify(value)},\n`;
  }
  text += '  "groups": [';
  let first = true;
  for (const group of groups) {
    text += first ? "\n    " : ",\n    ";
    text += JSON.stringify(group);
    first = false;
    if (text.length >= CHUNK_CHARS) {
      yield text;
      text = "";
    }
  }
  yield `${text}${first ? "]" : "\n  ]"}\n}\n`;
}
