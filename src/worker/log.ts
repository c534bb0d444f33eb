/**
 * Worker logging: every line goes to stdout with a timestamp (the container's awslogs stream,
 * LOG_GROUP_NAME_perInstance) and, for a task, to its own CloudWatch stream in LOG_GROUP_NAME named
 * by the metadata id (reference 5.6), batched into few PutLogEvents calls. Nothing here ever
 * prints the environment or credentials; only the worker's own decisions and CellProfiler's output.
 */
import type { CloudWatchLogsClient, InputLogEvent } from "@aws-sdk/client-cloudwatch-logs";
import { ensureLogStream, putLogEvents } from "../aws/logs.js";
import { timestamp } from "../ui/output.js";

export type LineSink = (line: string) => void;

const stdoutSink: LineSink = (line) => process.stdout.write(`${line}\n`);

/** Plain timestamped lines on stdout, tagged with the job loop. */
export class WorkerLog {
  constructor(
    readonly tag: string,
    private readonly sink: LineSink = stdoutSink,
  ) {}

  line(text: string): void {
    for (const part of text.split(/\r?\n/)) this.sink(`${timestamp()} [${this.tag}] ${part}`);
  }

  child(tag: string): WorkerLog {
    return new WorkerLog(`${this.tag}] [${tag}`, this.sink);
  }
}

const FLUSH_EVERY_MS = 2_000;
const FLUSH_AT_EVENTS = 1_000;

/** One task's log: stdout lines plus its CloudWatch stream. */
export class TaskLog {
  private events: InputLogEvent[] = [];
  private timer: NodeJS.Timeout | undefined;
  private sending: Promise<void> = Promise.resolve();
  private cloudWatch: boolean;

  constructor(
    private readonly out: WorkerLog,
    private readonly client: CloudWatchLogsClient | undefined,
    private readonly group: string,
    private readonly stream: string,
  ) {
    this.cloudWatch = Boolean(client);
  }

  /** Creates the stream in the background; lines logged meanwhile are buffered and sent once it exists. */
  open(): void {
    if (!this.client) return;
    const client = this.client;
    this.sending = ensureLogStream(client, this.group, this.stream).then(
      () => {
        this.timer = setInterval(() => void this.flush(), FLUSH_EVERY_MS);
        this.timer.unref();
      },
      (err: unknown) => {
        this.cloudWatch = false;
        this.events = [];
        this.out.line(
          `warning: cannot write CloudWatch log stream ${this.group}/${this.stream} (${describeError(err)}); this task logs to stdout only. Run dcp setup to create the log group.`,
        );
      },
    );
  }

  line(text: string): void {
    this.out.line(text);
    if (!this.cloudWatch) return;
    const now = Date.now();
    for (const part of text.split(/\r?\n/)) this.events.push({ timestamp: now, message: part });
    if (this.events.length >= FLUSH_AT_EVENTS) this.flush();
  }

  /** Sends what is buffered; calls are serialized so events stay in order. */
  flush(): Promise<void> {
    if (!this.cloudWatch || !this.client || !this.events.length) return this.sending;
    const batch = this.events;
    this.events = [];
    const client = this.client;
    this.sending = this.sending.then(() =>
      putLogEvents(client, this.group, this.stream, batch).catch((err: unknown) => {
        this.out.line(`warning: ${batch.length} log lines not sent to CloudWatch (${describeError(err)})`);
      }),
    );
    return this.sending;
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.flush();
  }
}

export function describeError(err: unknown): string {
  const e = err as { name?: string; message?: string };
  const message = e?.message ?? String(err);
  return e?.name && e.name !== "Error" && !message.includes(e.name) ? `${e.name}: ${message}` : message;
}
