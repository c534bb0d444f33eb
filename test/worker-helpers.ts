/**
 * Shared set-up for the worker's behaviour tests: a queue and its dead-letter queue created with the
 * SDK (short visibility), a bucket holding the ExampleHuman pipeline and LoadData CSV, a log group,
 * and `dcp worker` started as a child process with settings from the environment only (its cwd has
 * no config file), CellProfiler being test/fixtures/fake-cellprofiler, a TEST DOUBLE.
 */
import { CreateLogGroupCommand, GetLogEventsCommand } from "@aws-sdk/client-cloudwatch-logs";
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from "@aws-sdk/client-s3";
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  type Message,
} from "@aws-sdk/client-sqs";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { logsClient } from "../src/aws/logs.js";
import { s3Client } from "../src/aws/s3.js";
import { sqsClient } from "../src/aws/sqs.js";
import { messageBody, type DcpMessage } from "../src/plan/message.js";
import { DCP_BIN, REPO_ROOT, emulatorEnv, tempDir, uniqueAppName } from "./harness/dcp.js";

export const FIXTURES = join(REPO_ROOT, "test/fixtures");
export const FAKE_CELLPROFILER = join(FIXTURES, "fake-cellprofiler");
export const EXAMPLE = join(FIXTURES, "ExampleHuman");
export const PLATE = "AS_09125_050116030001";

const ctx = { region: "us-east-1", profile: undefined };
export const sqs = sqsClient(ctx);
export const s3 = s3Client(ctx);
export const logs = logsClient(ctx);

export interface Scenario {
  app: string;
  bucket: string;
  queueUrl: string;
  deadLetterUrl: string;
  logGroup: string;
  /** A fresh folder with no config file: the worker's cwd and WORK_DIR parent. */
  dir: string;
  argvFile: string;
  env: Record<string, string>;
}

export async function scenario(
  options: { visibility?: number; retries?: number; env?: Record<string, string> } = {},
): Promise<Scenario> {
  const app = uniqueAppName("W");
  const bucket = app.toLowerCase();
  const dead = await sqs.send(new CreateQueueCommand({ QueueName: `${app}_Dead` }));
  const { Attributes } = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: dead.QueueUrl, AttributeNames: ["QueueArn"] }),
  );
  const queue = await sqs.send(
    new CreateQueueCommand({
      QueueName: `${app}Queue`,
      Attributes: {
        VisibilityTimeout: String(options.visibility ?? 60),
        RedrivePolicy: JSON.stringify({
          deadLetterTargetArn: Attributes!.QueueArn,
          maxReceiveCount: options.retries ?? 3,
        }),
      },
    }),
  );
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  for (const name of ["ExampleHuman_LoadData.cppipe", "load_data.csv"]) {
    await s3.send(
      new PutObjectCommand({ Bucket: bucket, Key: `workspace/${name}`, Body: readFileSync(join(EXAMPLE, name)) }),
    );
  }
  await logs.send(new CreateLogGroupCommand({ logGroupName: app }));
  const dir = tempDir("dcp-worker-test-");
  const argvFile = join(dir, "argv.jsonl");
  const env: Record<string, string> = {
    APP_NAME: app,
    SQS_QUEUE_URL: queue.QueueUrl!,
    AWS_BUCKET: bucket,
    SOURCE_BUCKET: bucket,
    WORKSPACE_BUCKET: bucket,
    DESTINATION_BUCKET: bucket,
    LOG_GROUP_NAME: app,
    DOCKER_CORES: "1",
    SECONDS_TO_START: "0",
    CHECK_IF_DONE_BOOL: "False",
    DOWNLOAD_FILES: "False",
    CELLPROFILER_COMMAND: FAKE_CELLPROFILER,
    MOUNT_ROOT: FIXTURES,
    WORK_DIR: join(dir, "work"),
    WORKER_POLL_SECONDS: "1",
    WORKER_IDLE_POLLS: "2",
    SPOT_NOTICE_URL: "False",
    FAKE_CP_ARGV_FILE: argvFile,
    ...options.env,
  };
  return { app, bucket, queueUrl: queue.QueueUrl!, deadLetterUrl: dead.QueueUrl!, logGroup: app, dir, argvFile, env };
}

/** A DCP message for one ExampleHuman site; the images are read under MOUNT_ROOT/ExampleHuman. */
export function exampleMessage(site: string, overrides: Partial<DcpMessage> = {}): DcpMessage {
  return {
    Metadata: `Metadata_Plate=${PLATE},Metadata_Well=D03,Metadata_Site=${site}`,
    pipeline: "workspace/ExampleHuman_LoadData.cppipe",
    output: "results",
    input: "ExampleHuman",
    data_file: "workspace/load_data.csv",
    output_structure: "Metadata_Plate-Metadata_Well-Metadata_Site",
    ...overrides,
  };
}

export async function send(s: Scenario, message: DcpMessage | string): Promise<void> {
  await sqs.send(
    new SendMessageCommand({
      QueueUrl: s.queueUrl,
      MessageBody: typeof message === "string" ? message : messageBody(message),
    }),
  );
}

export interface RunningWorker {
  child: ChildProcess;
  output: () => string;
  /** Resolves when `text` appears in the worker's output. */
  waitFor: (text: string | RegExp) => Promise<void>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function startWorker(s: Scenario, env: Record<string, string> = {}, args: string[] = []): RunningWorker {
  const child = spawn(process.execPath, [DCP_BIN, "worker", ...args], {
    cwd: s.dir,
    env: { ...process.env, ...emulatorEnv(), CI: "true", ...s.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const waiters: Array<{ test: (o: string) => boolean; resolve: () => void }> = [];
  const onData = (chunk: Buffer) => {
    output += chunk.toString();
    for (const w of [...waiters]) {
      if (!w.test(output)) continue;
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve();
    }
  };
  child.stdout!.on("data", onData);
  child.stderr!.on("data", onData);
  const killer = setTimeout(() => child.kill("SIGKILL"), 100_000);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on("close", (code, signal) => {
      clearTimeout(killer);
      resolve({ code, signal });
    }),
  );
  return {
    child,
    output: () => output,
    waitFor: (text) =>
      new Promise<void>((resolve, reject) => {
        const test = (o: string) => (typeof text === "string" ? o.includes(text) : text.test(o));
        if (test(output)) return resolve();
        waiters.push({ test, resolve });
        void exited.then(() =>
          test(output) ? resolve() : reject(new Error(`worker exited before printing ${String(text)}:\n${output}`)),
        );
      }),
    exited,
  };
}

/** Runs a worker until it stops by itself (the queue stayed empty). */
export async function runWorkerToEnd(s: Scenario, env: Record<string, string> = {}, args: string[] = []) {
  const worker = startWorker(s, env, args);
  const result = await worker.exited;
  return { ...result, output: worker.output() };
}

export async function listKeys(bucket: string, prefix: string): Promise<string[]> {
  const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
  return (page.Contents ?? []).map((o) => o.Key!).sort();
}

export async function getText(bucket: string, key: string): Promise<string> {
  const { Body } = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Body!.transformToString();
}

export async function receiveAll(url: string, waitSeconds = 0): Promise<Message[]> {
  const { Messages = [] } = await sqs.send(
    new ReceiveMessageCommand({
      QueueUrl: url,
      MaxNumberOfMessages: 10,
      WaitTimeSeconds: waitSeconds,
      MessageSystemAttributeNames: ["ApproximateReceiveCount"],
      MessageAttributeNames: ["All"],
    }),
  );
  return Messages;
}

export async function queueCounts(url: string): Promise<{ visible: number; inFlight: number }> {
  const { Attributes = {} } = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: url,
      AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    }),
  );
  return {
    visible: Number(Attributes.ApproximateNumberOfMessages),
    inFlight: Number(Attributes.ApproximateNumberOfMessagesNotVisible),
  };
}

/** Each CellProfiler run's argv, as the test double recorded it. */
export function cellprofilerRuns(s: Scenario): string[][] {
  if (!existsSync(s.argvFile)) return [];
  return readFileSync(s.argvFile, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as string[]);
}

export async function logStreamText(group: string, stream: string): Promise<string> {
  const { events = [] } = await logs.send(
    new GetLogEventsCommand({ logGroupName: group, logStreamName: stream, startFromHead: true }),
  );
  return events.map((e) => e.message).join("\n");
}
