/**
 * Starts the local AWS emulators the behaviour tests talk to over HTTP, on free 127.0.0.1 ports:
 * moto in server mode for everything but SQS (AWS_ENDPOINT_URL), and fauxqs for SQS
 * (AWS_ENDPOINT_URL_SQS), because moto's SQS costs O(queue depth) per send.
 * The SDK reads both variables itself, so dcp's code has no test-only endpoint plumbing.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";

export interface Emulators {
  motoUrl: string;
  sqsUrl: string;
  env: Record<string, string>;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** moto_server from PATH, else the project-local one `make moto` (scripts/ensure-moto.sh) installs. */
function motoServerCommand(): string {
  const local = fileURLToPath(new URL("../../.venv-moto/bin/moto_server", import.meta.url));
  for (const command of ["moto_server", local]) {
    const found = spawnSync(command, ["--help"], { stdio: "ignore" });
    if (!found.error && found.status === 0) return command;
  }
  throw new Error("moto_server was not found. The tests need moto in server mode: run `make moto` (or make test)");
}

async function waitForHttp(url: string, timeoutMs: number, child?: ChildProcess): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    if (child && child.exitCode !== null) throw new Error(`emulator at ${url} exited with code ${child.exitCode}`);
    try {
      const response = await fetch(url);
      await response.arrayBuffer();
      return;
    } catch (err) {
      lastError = err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`emulator at ${url} did not answer within ${timeoutMs} ms: ${String(lastError)}`);
}

export const EMULATOR_CREDENTIALS = {
  AWS_ACCESS_KEY_ID: "testing",
  AWS_SECRET_ACCESS_KEY: "testing",
  AWS_REGION: "us-east-1",
  AWS_DEFAULT_REGION: "us-east-1",
};

export async function startEmulators(): Promise<Emulators> {
  const motoPort = await freePort();
  const moto = spawn(motoServerCommand(), ["-H", "127.0.0.1", "-p", String(motoPort)], {
    stdio: ["ignore", "ignore", "pipe"],
    // AWS managed policies (Spot Fleet tagging, ECS container instance) exist, so roles can attach them.
    env: { ...process.env, ...EMULATOR_CREDENTIALS, MOTO_IAM_LOAD_MANAGED_POLICIES: "true" },
  });
  let motoStderr = "";
  moto.stderr?.on("data", (chunk: Buffer) => {
    motoStderr = (motoStderr + chunk.toString()).slice(-4000);
  });
  const motoUrl = `http://127.0.0.1:${motoPort}`;
  try {
    await waitForHttp(`${motoUrl}/moto-api/`, 30_000, moto);
  } catch (err) {
    moto.kill("SIGKILL");
    throw new Error(`${(err as Error).message}\nmoto_server said:\n${motoStderr}`);
  }

  // buildApp + listen rather than startFauxqs, which binds every interface; tests need loopback only.
  const { buildApp } = await import("fauxqs");
  const fauxqs = buildApp({ logger: false });
  const sqsUrl = await fauxqs.listen({ port: 0, host: "127.0.0.1" });

  const env = {
    ...EMULATOR_CREDENTIALS,
    AWS_ENDPOINT_URL: motoUrl,
    AWS_ENDPOINT_URL_SQS: sqsUrl,
  };
  return {
    motoUrl,
    sqsUrl,
    env,
    async stop() {
      await fauxqs.close();
      moto.kill("SIGTERM");
    },
  };
}
