/**
 * `make -C worker check` (scripts/worker-check): the worker Dockerfile's static rules, and the glibc /
 * GLIBCXX needs of the native binaries it ships, read from the ELF files with binutils, against
 * worker/bases.tsv. No Docker here: the official Node 20 binary is stood in for by this machine's own
 * Node 20 (which needs GLIBC_2.28), so the fixture Dockerfile that copies it onto CellProfiler 4.2.8
 * (glibc 2.27) must fail, naming the binary and the symbol version.
 */
import { execFile } from "node:child_process";
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { runWorkerCheck, type CheckOptions } from "../scripts/worker-check/check.js";
import { parseDockerfile, staticFindings } from "../scripts/worker-check/dockerfile.js";
import { REPO_ROOT, tempDir } from "./harness/dcp.js";

const FIXTURE = join(REPO_ROOT, "test/fixtures/worker/Dockerfile.node20-on-4.2.8");
const options = (over: Partial<CheckOptions> = {}): CheckOptions => ({
  root: REPO_ROOT,
  dockerfile: join(REPO_ROOT, "worker/Dockerfile"),
  bases: join(REPO_ROOT, "worker/bases.tsv"),
  downloads: join(REPO_ROOT, "worker/.downloads-absent"),
  officialNode: process.execPath,
  ...over,
});
const hostNodeMajor = Number(process.versions.node.split(".")[0]);
const run = promisify(execFile);

describe("make -C worker check", () => {
  it("passes on the committed Dockerfile, and says what it could not inspect here", async () => {
    const result = await runWorkerCheck(options());
    expect(result.lines.filter((l) => l.startsWith("✖"))).toEqual([]);
    expect(result.ok).toBe(true);
    const text = result.lines.join("\n");
    expect(text).toContain("node-v20.18.2-linux-x64-glibc-217.tar.xz (line");
    expect(text).toContain("sha256sum -c with a pinned SHA-256");
    expect(text).toContain("gpgv with a pinned key fingerprint");
    expect(text).toContain("checked out at a pinned commit");
    expect(text).toMatch(/– node from node-v20\.18\.2-linux-x64-glibc-217\.tar\.xz .*not inspected here/);
    expect(text).toMatch(/– mount-s3 from mount-s3-1\.21\.0-x86_64\.deb .*not inspected here/);
    expect(text).toMatch(/✔ \/opt\/dcp\/node_modules: no native module in the \d+ production packages/);
  });

  it.runIf(hostNodeMajor === 20)(
    "fails on the fixture (node:20's binary on the 4.2.8 base), naming the binary and GLIBC_2.28",
    async () => {
      const result = await runWorkerCheck(options({ dockerfile: FIXTURE }));
      expect(result.ok).toBe(false);
      const failures = result.lines.filter((l) => l.startsWith("✖"));
      expect(failures).toHaveLength(1);
      expect(failures[0]).toMatch(
        /^✖ \/usr\/local\/bin\/node \(the official Node 20 binary of node:20-bookworm-slim, .*\) needs GLIBC_2\.28 \(\S+.*\) but cellprofiler\/cellprofiler:4\.2\.8 \(Ubuntu 18\.04\) has glibc 2\.27$/,
      );
    },
  );

  it("checks GLIBCXX too: a base whose libstdc++ stops below what the Node binary needs fails", async () => {
    const dir = tempDir("dcp-worker-check-");
    const table = readFileSync(join(REPO_ROOT, "worker/bases.tsv"), "utf8").replace(
      /^cellprofiler\/cellprofiler:4\.2\.8\t.*$/m,
      "cellprofiler/cellprofiler:4.2.8\tExample old-libstdc++\t2.99\t3.4.19\t3.8\tfixture row (not a real base)",
    );
    writeFileSync(join(dir, "bases.tsv"), table);
    const result = await runWorkerCheck(options({ dockerfile: FIXTURE, bases: join(dir, "bases.tsv") }));
    const failures = result.lines.filter((l) => l.startsWith("✖"));
    expect(failures.length).toBeGreaterThan(0);
    expect(failures.every((l) => /needs GLIBCXX_3\.4\.\d+ .*has libstdc\+\+ up to GLIBCXX 3\.4\.19$/.test(l))).toBe(
      true,
    );
  });

  it("finds native modules among node_modules' production packages and checks each", async () => {
    const root = tempDir("dcp-worker-check-root-");
    writeFileSync(
      join(root, "package-lock.json"),
      JSON.stringify({
        packages: {
          "": { name: "x" },
          "node_modules/native-thing": { version: "1.0.0" },
          "node_modules/dev-only": { version: "1.0.0", dev: true },
        },
      }),
    );
    // A native module: any small ELF of this machine (Debian 12 binaries need glibc newer than 2.27).
    for (const pkg of ["native-thing", "dev-only"]) {
      mkdirSync(join(root, `node_modules/${pkg}/build/Release`), { recursive: true });
      copyFileSync("/usr/bin/true", join(root, `node_modules/${pkg}/build/Release/addon.node`));
      writeFileSync(join(root, `node_modules/${pkg}/index.js`), "module.exports = 1;\n");
    }
    const result = await runWorkerCheck(options({ root }));
    const modules = result.lines.filter((l) => l.includes("/opt/dcp/node_modules"));
    expect(modules.some((l) => l.includes("native-thing/build/Release/addon.node"))).toBe(true);
    expect(modules.some((l) => l.includes("dev-only"))).toBe(false); // dev packages are not in the image
  });

  it("inspects the Node tarball and the Mountpoint .deb when make -C worker fetch left copies (SHA-256 first)", async () => {
    // Stand-ins built here (no internet): archives laid out like the real ones, holding a small ELF of
    // this machine (Debian 12's /usr/bin/true needs a glibc newer than 2.27).
    const dir = tempDir("dcp-worker-fetch-");
    const downloads = join(dir, "downloads");
    const dist = "node-v20.18.2-linux-x64-glibc-217";
    mkdirSync(join(dir, `${dist}/bin`), { recursive: true });
    mkdirSync(downloads);
    copyFileSync("/usr/bin/true", join(dir, `${dist}/bin/node`));
    await run("tar", ["-cJf", join(downloads, `${dist}.tar.xz`), "-C", dir, dist]);
    const pkg = join(dir, "deb");
    mkdirSync(join(pkg, "DEBIAN"), { recursive: true });
    mkdirSync(join(pkg, "opt/aws/mountpoint-s3/bin"), { recursive: true });
    writeFileSync(
      join(pkg, "DEBIAN/control"),
      "Package: mount-s3\nVersion: 1.21.0\nArchitecture: amd64\nMaintainer: test <test@example.com>\nDescription: TEST STAND-IN, not Mountpoint\n",
    );
    copyFileSync("/usr/bin/true", join(pkg, "opt/aws/mountpoint-s3/bin/mount-s3"));
    await run("dpkg-deb", ["--build", "--root-owner-group", pkg, join(downloads, "mount-s3-1.21.0-x86_64.deb")]);

    // The Dockerfile's pinned SHA-256 is the real tarball's: the stand-in does not match, so it is not inspected.
    const mismatch = await runWorkerCheck(options({ downloads }));
    expect(mismatch.lines).toContainEqual(
      expect.stringMatching(
        new RegExp(`^– ${dist}\\.tar\\.xz: the copy in .* has SHA-256 [0-9a-f]{64}, not the Dockerfile's 51d7eb3a`),
      ),
    );
    expect(mismatch.lines).toContainEqual(
      expect.stringMatching(/^✖ mount-s3 from mount-s3-1\.21\.0-x86_64\.deb .* needs GLIBC_2\.\d+ .* has glibc 2\.27$/),
    );

    // A Dockerfile pinning the stand-in's SHA-256: the binary inside is read and checked.
    const sum = (await run("sha256sum", [join(downloads, `${dist}.tar.xz`)])).stdout.slice(0, 64);
    const dockerfile = join(dir, "Dockerfile");
    writeFileSync(
      dockerfile,
      readFileSync(join(REPO_ROOT, "worker/Dockerfile"), "utf8").replace(
        /^ARG NODE_SHA256=\w+$/m,
        `ARG NODE_SHA256=${sum}`,
      ),
    );
    const pinned = await runWorkerCheck(options({ downloads, dockerfile }));
    expect(pinned.lines).toContainEqual(
      expect.stringMatching(
        new RegExp(
          `^✖ node from ${dist}\\.tar\\.xz \\(SHA-256 matches the Dockerfile, line \\d+\\) needs GLIBC_2\\.\\d+ .* has glibc 2\\.27$`,
        ),
      ),
    );
  });

  it("reports each static rule it breaks: tag, latest, unverified downloads, shell form, secrets, the base guard", () => {
    const bad = [
      "ARG CELLPROFILER_IMAGE=cellprofiler/cellprofiler",
      "FROM node AS build",
      "FROM ubuntu:latest AS other",
      "FROM ${CELLPROFILER_IMAGE}",
      "RUN apt-get update && apt-get install -y curl",
      "ENV AWS_SECRET_ACCESS_KEY=abc",
      "RUN curl -fsSL -o /tmp/x.tar.gz https://example.com/x.tar.gz && tar xzf /tmp/x.tar.gz",
      "RUN git clone https://github.com/CellProfiler/CellProfiler-plugins.git /p && git -C /p checkout master",
      "RUN pip install numpy",
      "ADD https://example.com/y.deb /tmp/",
      "COPY config/config.json /etc/dcp.json",
      "ENTRYPOINT dcp worker --container",
    ].join("\n");
    const failures = staticFindings(parseDockerfile(bad), ["cellprofiler/cellprofiler:4.2.8"])
      .filter((f) => !f.ok)
      .map((f) => f.text);
    const expected = [
      /FROM node \(line 2\) has no tag/,
      /FROM ubuntu:latest \(line 3\) uses latest/,
      /FROM cellprofiler\/cellprofiler \(line 4\) has no tag/,
      /default base cellprofiler\/cellprofiler is not in worker\/bases\.tsv/,
      /first RUN must be worker\/check-base\.sh/,
      /x\.tar\.gz \(line 7\) downloaded without a pinned checksum/,
      /git clone .*CellProfiler-plugins\.git \(line 8\) without checking out a pinned 40-hex commit/,
      /pip install \(line 9\) without --require-hashes/,
      /ADD of a URL \(line 10\) without --checksum/,
      /ENV AWS_SECRET_ACCESS_KEY \(line 6\) bakes a secret-looking value/,
      /COPY config\/config\.json \(line 11\) copies a credentials-like file/,
      /ENTRYPOINT dcp worker --container \(line 12\): use the exec form/,
    ];
    for (const pattern of expected)
      expect(
        failures.some((f) => pattern.test(f)),
        String(pattern),
      ).toBe(true);
    expect(failures).toHaveLength(expected.length); // apt-get's "curl" package is not a download
  });
});

describe("worker/check-base.sh (the image build's first step, run here with this machine as the base)", () => {
  const table = (row: string) => {
    const dir = tempDir("dcp-check-base-");
    const file = join(dir, "bases.tsv");
    writeFileSync(file, `# test\nimage\tdistribution\tglibc\tglibcxx\tpython\tstatus\n${row}\n`);
    return file;
  };
  const checkBase = async (image: string, file: string) => {
    try {
      const { stdout, stderr } = await run("sh", [join(REPO_ROOT, "worker/check-base.sh"), image, file]);
      return { code: 0, out: stdout + stderr };
    } catch (err) {
      const e = err as { code: number; stdout: string; stderr: string };
      return { code: e.code, out: e.stdout + e.stderr };
    }
  };

  it("stops the build for a base not in the table, listing the supported ones", async () => {
    const r = await checkBase("someone/cellprofiler:9", join(REPO_ROOT, "worker/bases.tsv"));
    expect(r.code).toBe(1);
    expect(r.out).toContain("base image 'someone/cellprofiler:9' is not in worker/bases.tsv");
    expect(r.out).toContain("cellprofiler/cellprofiler:4.2.8 (Ubuntu 18.04)");
  });

  it("stops it when the real glibc is older than the table says, and passes when it is newer", async () => {
    const tooNew = await checkBase("x/y:1", table("x/y:1\tTest\t9.99\t3.4.19\t3.8\ttest"));
    expect(tooNew.code).toBe(1);
    expect(tooNew.out).toMatch(/worker\/bases\.tsv says glibc 9\.99 for x\/y:1, but the image has \d+\.\d+/);
    const older = await checkBase("x/y:1", table("x/y:1\tTest\t2.17\t3.4.19\tunconfirmed\ttest"));
    expect(older.code).toBe(0);
    expect(older.out).toMatch(/has glibc \d+\.\d+, newer than worker\/bases\.tsv's 2\.17/);
  });
});
