/**
 * The lease on a received message: while a task runs, its visibility is extended well before it
 * expires (every third of the queue's visibility timeout), so a long job never runs twice and
 * SQS_MESSAGE_VISIBILITY can stay short. stop() waits for an extension still in flight, so a
 * release or delete that follows can never be undone by a late heartbeat.
 */
import type { SQSClient } from "@aws-sdk/client-sqs";
import { setMessageVisibility } from "../aws/sqs.js";
import { describeError } from "./log.js";

export class Lease {
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> = Promise.resolve();
  private stopped = false;
  extensions = 0;

  constructor(
    private readonly sqs: SQSClient,
    private readonly queueUrl: string,
    private readonly receiptHandle: string,
    /** Each extension makes the message invisible for this many more seconds. */
    private readonly visibilitySeconds: number,
    private readonly warn: (text: string) => void,
  ) {}

  start(): this {
    const everyMs = Math.max(500, (this.visibilitySeconds * 1000) / 3);
    this.timer = setInterval(() => {
      if (this.stopped) return;
      this.inFlight = this.inFlight.then(() => this.extend());
    }, everyMs);
    return this;
  }

  private async extend(): Promise<void> {
    if (this.stopped) return;
    try {
      await setMessageVisibility(this.sqs, this.queueUrl, this.receiptHandle, this.visibilitySeconds);
      this.extensions += 1;
    } catch (err) {
      this.warn(
        `could not extend the message's visibility (${describeError(err)}); another worker may pick the task up`,
      );
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.inFlight;
  }
}
