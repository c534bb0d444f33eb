import { expect, it } from "vitest";
import { wrapWords } from "../src/plan/wrap.js";

it("wraps at the last space within the width, with a hanging indent, keeping padded columns", () => {
  const line = `  ${"EBS gp3".padEnd(16)} $0.0048  60 GB x 0.74 instance-h x $0.08/GB-month  [price table 2026-11-30]`;
  const lines = wrapWords(line, 19);
  expect(lines).toEqual([
    "  EBS gp3          $0.0048  60 GB x 0.74 instance-h x $0.08/GB-month  [price",
    "                   table 2026-11-30]",
  ]);
  for (const l of lines) expect(l.length).toBeLessThan(80);
  expect(wrapWords("short", 4)).toEqual(["short"]);
  // A word longer than the width stays whole, on a line of its own.
  expect(wrapWords(`  ${"x".repeat(90)} end`, 4)).toEqual([`  ${"x".repeat(90)}`, "    end"]);
});
