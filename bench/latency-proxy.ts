/**
 * A small local HTTP proxy for benchmarks and wire-level tests: forwards every request to `target`
 * after `delayMs` (a stand-in for the round trip to a real AWS endpoint), and optionally lets a
 * caller rewrite a request body and its response (to make SQS report some batch entries failed).
 */
import { Agent, createServer, request, type IncomingHttpHeaders, type IncomingMessage } from "node:http";

export interface Exchange {
  /** The X-Amz-Target header, e.g. "AmazonSQS.SendMessageBatch". */
  target: string | undefined;
  body: Buffer;
}

export interface Intercept {
  /** Body to forward instead of the original. */
  body?: Buffer;
  /** Rewrites the upstream response body before the client sees it. */
  response?: (body: Buffer) => Buffer;
  /** Answers with this body (HTTP 200, JSON) without forwarding anything. */
  reply?: Buffer;
}

export interface ProxyOptions {
  target: string;
  delayMs?: number;
  intercept?: (exchange: Exchange) => Intercept | undefined;
}

export interface Proxy {
  url: string;
  /** Requests forwarded so far. */
  readonly requests: number;
  close(): Promise<void>;
}

function readBody(stream: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on("data", (c: Buffer) => chunks.push(c));
    stream.on("end", () => resolve(Buffer.concat(chunks)));
    stream.on("error", reject);
  });
}

function withLength(headers: IncomingHttpHeaders, length: number): IncomingHttpHeaders {
  const out: IncomingHttpHeaders = { ...headers, "content-length": String(length) };
  delete out["transfer-encoding"];
  return out;
}

export async function startProxy(options: ProxyOptions): Promise<Proxy> {
  const upstream = new URL(options.target);
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  let requests = 0;
  const server = createServer(async (req, res) => {
    try {
      const original = await readBody(req);
      const target = req.headers["x-amz-target"];
      const change = options.intercept?.({ target: Array.isArray(target) ? target[0] : target, body: original });
      const body = change?.body ?? original;
      if (options.delayMs) await new Promise((r) => setTimeout(r, options.delayMs));
      if (change?.reply) {
        res.writeHead(200, {
          "content-type": "application/x-amz-json-1.0",
          "content-length": String(change.reply.length),
        });
        res.end(change.reply);
        return;
      }
      requests += 1;
      const upstreamRes = await new Promise<IncomingMessage>((resolve, reject) => {
        const out = request(
          {
            agent,
            host: upstream.hostname,
            port: upstream.port,
            method: req.method,
            path: req.url,
            headers: withLength({ ...req.headers, host: upstream.host }, body.length),
          },
          resolve,
        );
        out.on("error", reject);
        out.end(body);
      });
      const answer = await readBody(upstreamRes);
      const finalBody = change?.response ? change.response(answer) : answer;
      res.writeHead(upstreamRes.statusCode ?? 502, withLength(upstreamRes.headers, finalBody.length));
      res.end(finalBody);
    } catch (err) {
      res.writeHead(502, { "content-type": "text/plain" });
      res.end(String(err));
    }
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    get requests() {
      return requests;
    },
    close: () =>
      new Promise<void>((resolve) => {
        agent.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
