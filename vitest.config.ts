import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/harness/global-setup.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: "forks",
    // Two test files at a time. Vitest's default outside watch mode is one fork per core minus one, which
    // is a single fork on CI's 2 cores; the behaviour tests spend much of their time waiting on child
    // processes (CLI, workers, monitors) and the emulators, so a second file overlaps that waiting. Every
    // test names its own app (uniqueAppName) and region-wide readers (gc) filter by app, so files do not
    // see each other's resources.
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
  },
});
