// Prints vitest's totals as one plain "N passed, N failed" line, which CI tooling reads
// whatever the test runner; exits non-zero when the report is missing or holds no test.
import { readFileSync } from "node:fs";

const file = process.argv[2] ?? ".vitest-report.json";
let report;
try {
  report = JSON.parse(readFileSync(file, "utf8"));
} catch (err) {
  console.error(`test summary: cannot read ${file}: ${err.message}`);
  process.exit(1);
}
const { numPassedTests = 0, numFailedTests = 0, numPendingTests = 0, numTotalTests = 0 } = report;
console.log(`tests: ${numPassedTests} passed, ${numFailedTests} failed, ${numPendingTests} skipped`);
if (numTotalTests === 0) {
  console.error("test summary: no test ran");
  process.exit(1);
}
