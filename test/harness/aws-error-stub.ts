/**
 * A tiny local AWS endpoint that answers every call with one error, in the wire format of the
 * caller's protocol: the AWS JSON 1.0 protocol of SQS (with the `x-amzn-query-error` header of
 * awsQueryCompatible services) or the Query protocol's XML (EC2, CloudWatch...). It stands in for
 * the AWS failures the emulators cannot produce: an expired session and AccessDenied.
 * (The real-AWS "realism proxy" may absorb this later.)
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface StubError {
  status: number;
  /** The JSON protocol's __type shape name, e.g. "com.amazon.coral.service#ExpiredTokenException". */
  jsonType: string;
  /** The Query protocol code, also sent as x-amzn-query-error, e.g. "ExpiredToken". */
  queryCode: string;
  message: string;
}

export const STUB_ERRORS = {
  expiredToken: {
    status: 400,
    jsonType: "com.amazon.coral.service#ExpiredTokenException",
    queryCode: "ExpiredToken",
    message: "The security token included in the request is expired",
  },
  accessDenied: {
    status: 400,
    jsonType: "com.amazon.coral.service#AccessDeniedException",
    queryCode: "AccessDenied",
    message:
      "User: arn:aws:iam::123456789012:user/alice is not authorized to perform: sqs:getqueueurl on resource: " +
      "arn:aws:sqs:us-east-1:123456789012:Stub_DeadMessages because no identity-based policy allows the sqs:getqueueurl action",
  },
} satisfies Record<string, StubError>;

export interface AwsErrorStub {
  url: string;
  /** The operations called, in order (X-Amz-Target for JSON, Action for Query). */
  calls: string[];
  close(): Promise<void>;
}

function respond(req: IncomingMessage, body: string, res: ServerResponse, error: StubError, calls: string[]): void {
  const requestId = "00000000-0000-0000-0000-000000000000";
  const json = /json/.test(req.headers["content-type"] ?? "");
  if (json) {
    calls.push(
      String(req.headers["x-amz-target"] ?? "")
        .split(".")
        .pop() ?? "",
    );
    res.writeHead(error.status, {
      "content-type": "application/x-amz-json-1.0",
      "x-amzn-requestid": requestId,
      "x-amzn-query-error": `${error.queryCode};Sender`,
    });
    res.end(JSON.stringify({ __type: error.jsonType, message: error.message }));
    return;
  }
  calls.push(new URLSearchParams(body).get("Action") ?? "");
  res.writeHead(error.status, { "content-type": "text/xml", "x-amzn-requestid": requestId });
  res.end(
    `<?xml version="1.0" encoding="UTF-8"?>\n<ErrorResponse><Error><Type>Sender</Type><Code>${error.queryCode}</Code>` +
      `<Message>${error.message}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`,
  );
}

export async function startAwsErrorStub(error: StubError): Promise<AwsErrorStub> {
  const calls: string[] = [];
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk: Buffer) => (body += chunk.toString()));
    req.on("end", () => respond(req, body, res, error, calls));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
