/**
 * A generated text (a JSON Schema) on stdout, or written to `output` atomically with one line on stderr
 * saying so: `dcp config schema` and `dcp workflow schema`.
 */
import { writeFileAtomic } from "./atomic-write.js";

export async function printOrWrite(text: string, output: string | undefined): Promise<void> {
  if (output) {
    await writeFileAtomic(output, text);
    process.stderr.write(`wrote ${output}\n`);
  } else process.stdout.write(text);
}
