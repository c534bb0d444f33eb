/**
 * `dcp worker --self-test` through the built CLI, with CellProfiler being the TEST DOUBLE
 * test/fixtures/fake-cellprofiler (the real one is not installable here), and `dcp worker` with no
 * settings at all. Needs `make build`.
 */
import { chmodSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { delimiter, join } from "node:path";
import { describe, expect, it } from "vitest";
import { runDcp, tempDir } from "./harness/dcp.js";
import { FAKE_CELLPROFILER } from "./worker-helpers.js";

/** The settings a worker could otherwise pick up from the test process: none. */
const NO_SETTINGS = { APP_NAME: undefined, SQS_QUEUE_URL: undefined, CELLPROFILER_COMMAND: undefined };

describe("dcp worker --self-test (CellProfiler = the TEST DOUBLE)", () => {
  it("passes with the double, says it used the double, and needs no AWS and no settings", async () => {
    const cwd = tempDir(); // no config file here
    const r = await runDcp(["worker", "--self-test"], {
      cwd,
      env: { ...NO_SETTINGS, CELLPROFILER_COMMAND: FAKE_CELLPROFILER, AWS_ENDPOINT_URL: "http://127.0.0.1:9" },
    });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const lines = r.stdout.split("\n");
    expect(lines).toContainEqual(
      expect.stringMatching(
        /^✔ .*fake-cellprofiler --version: TEST DOUBLE fake-cellprofiler \(not CellProfiler\) \(\d+\.\d s\)$/,
      ),
    );
    expect(lines).toContain("  this is the TEST DOUBLE fake-cellprofiler, not CellProfiler");
    expect(lines).toContainEqual(expect.stringMatching(/^– mount-s3 not checked/));
    expect(lines).toContainEqual(
      expect.stringMatching(/^✔ analysis of ExampleHuman: exit code 0, done file "Complete" \(\d+\.\d s\)$/),
    );
    expect(lines).toContainEqual(expect.stringMatching(/^✔ Image\.csv: 1 row\(s\), expected 1 \(/));
    expect(lines).toContainEqual(expect.stringMatching(/^✔ Nuclei\.csv: 3 nuclei \(/));
    expect(r.stdout).toMatch(/self-test passed in \d+\.\d s WITH THE TEST DOUBLE, not CellProfiler/);
    // The worker's own argument list: LoadData CSV, the group, a temporary folder.
    expect(r.stdout).toMatch(
      / -c -r -p \S+\/ExampleHuman_LoadData\.cppipe -i \S+ -o \S+ -d \S+ --data-file=\S+\/load_data\.csv -g Metadata_Plate=AS_09125_050116030001,Metadata_Well=D03,Metadata_Site=1 -t /,
    );
  });

  it("fails (exit 1) when CellProfiler fails, showing CellProfiler's error lines", async () => {
    const r = await runDcp(["worker", "--self-test"], {
      cwd: tempDir(),
      env: { ...NO_SETTINGS, CELLPROFILER_COMMAND: FAKE_CELLPROFILER, FAKE_CP_POISON: "AS_09125_050116030001" },
    });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^✖ analysis of ExampleHuman: CellProfiler exited with code 255 \(the run failed\) \(/m);
    expect(r.stdout).toContain("CellProfiler's last 2 lines:");
    expect(r.stdout).toMatch(
      /│ Error: simulated poison group Metadata_Plate=AS_09125_050116030001,.* \(FAKE_CP_POISON\)/,
    );
    expect(r.stdout).toContain("– output CSVs not checked: the analysis did not finish");
    expect(r.stdout).toMatch(/self-test FAILED: 1 step\(s\) failed .*; CellProfiler here is the TEST DOUBLE/);
  });

  it("--container also runs mount-s3 --version and reports /dev/fuse (privileged needed for mount mode)", async () => {
    // A stand-in mount-s3 on PATH (Mountpoint is not installed here); a missing one fails the step.
    const bin = tempDir("dcp-fake-mount-s3-");
    writeFileSync(join(bin, "mount-s3"), "#!/bin/sh\necho 'mount-s3 1.21.0 (TEST STAND-IN, not Mountpoint)'\n");
    chmodSync(join(bin, "mount-s3"), 0o755);
    const env = { ...NO_SETTINGS, CELLPROFILER_COMMAND: FAKE_CELLPROFILER };
    const ok = await runDcp(["worker", "--container", "--self-test"], {
      cwd: tempDir(),
      env: { ...env, PATH: `${bin}${delimiter}${process.env.PATH ?? ""}` },
    });
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/^✔ mount-s3 --version: mount-s3 1\.21\.0 \(TEST STAND-IN, not Mountpoint\) \(/m);
    expect(ok.stdout).toMatch(
      /^[✔–] \/dev\/fuse is (present|absent): mount mode .* needs the container run privileged/m,
    );

    const missing = await runDcp(["worker", "--container", "--self-test"], {
      cwd: tempDir(),
      env: { ...env, PATH: "/usr/bin:/bin" },
    });
    expect(missing.code).toBe(1);
    expect(missing.stdout).toMatch(/^✖ mount-s3 --version could not run \(ENOENT\)/m);
  });
});

describe("dcp worker with no settings", () => {
  it("no config file and neither APP_NAME nor SQS_QUEUE_URL: one clear line, exit 2, no AWS request", async () => {
    let requests = 0;
    const server = createServer((_req, res) => {
      requests++;
      res.writeHead(500).end();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const r = await runDcp(["worker"], {
        cwd: tempDir(),
        env: { ...NO_SETTINGS, AWS_ENDPOINT_URL: endpoint, AWS_ENDPOINT_URL_SQS: endpoint },
      });
      expect(r.code).toBe(2);
      expect(r.stdout).toBe("");
      expect(r.stderr.trim().split("\n")).toEqual([
        "dcp: config/config.json: dcp worker has no settings: this config file does not exist and neither APP_NAME nor SQS_QUEUE_URL is set in the environment. " +
          "Fix: run it where config/config.json is (or pass --config <file>), or set APP_NAME (and SQS_QUEUE_URL) as the task definition does; `dcp worker --self-test` needs neither",
      ]);
      expect(requests).toBe(0);
    } finally {
      server.close();
    }
  });
});
