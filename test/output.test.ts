/** The plain (non-TTY) output of a step: timestamped start/progress/end lines, none said twice. */
import { PassThrough } from "node:stream";
import { expect, it } from "vitest";
import { Output } from "../src/ui/output.js";

function plain(): { output: Output; lines: () => string[] } {
  const stream = new PassThrough();
  let text = "";
  stream.on("data", (chunk: Buffer) => (text += chunk.toString()));
  const output = new Output({ stream: stream as unknown as NodeJS.WriteStream, plain: true });
  return {
    output,
    lines: () =>
      text
        .split("\n")
        .filter(Boolean)
        .map((l) => l.replace(/^\S+ /, "")),
  };
}

it("prints a step's progress and its end, but not an end that repeats the last progress line", async () => {
  const same = plain();
  await same.output.step(
    "Collecting",
    async (h) => h.update("8 groups"),
    () => "8 groups",
  );
  expect(same.lines()).toEqual(["Collecting: 8 groups"]);

  const different = plain();
  await different.output.step(
    "Collecting",
    async (h) => {
      h.update("4 groups");
      h.update("4 groups");
    },
    () => "8 groups",
  );
  expect(different.lines()).toEqual(["Collecting: 4 groups", "Collecting: 8 groups"]);

  const failing = plain();
  await expect(failing.output.step("Reading", async () => Promise.reject(new Error("no")))).rejects.toThrow("no");
  expect(failing.lines()).toEqual(["Reading: failed"]);
});
