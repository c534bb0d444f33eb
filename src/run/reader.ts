/** One reading of a run: its queue, dead-letter queue, fleet and running instances. */
import { describeLiveInstances } from "../aws/ec2.js";
import { findQueueUrl, queueActivityIfExists } from "../aws/sqs.js";
import type { Reading } from "../plan/monitor-decisions.js";
import type { RunState } from "../state/run-state.js";
import type { RunClients } from "./clients.js";

/** What a reading needs to know of a run: its queues and fleet (a state file, or dcp status's run.json). */
export interface ReadableRun {
  MONITOR_QUEUE_NAME: string;
  dcp: Pick<RunState["dcp"], "fleetId" | "deadLetterQueueName">;
}

/** Queue URLs are looked up once and again only when a queue seems gone. */
export class RunReader {
  private queueUrl: string | undefined;
  private dlqUrl: string | undefined;
  /** set once the job queue was found missing (someone deleted it): the run counts as drained */
  queueMissing = false;

  constructor(
    private readonly clients: Pick<RunClients, "sqs" | "ec2" | "fleet">,
    private readonly state: ReadableRun,
  ) {}

  private async depth(
    name: string,
    cached: string | undefined,
    remember: (url: string | undefined) => void,
  ): Promise<{ visible: number; inFlight: number } | undefined> {
    const url = cached ?? (await findQueueUrl(this.clients.sqs, name));
    remember(url);
    if (!url) return undefined;
    const a = await queueActivityIfExists(this.clients.sqs, url);
    if (!a) {
      remember(undefined);
      return undefined;
    }
    // Delayed messages are waiting work: count them as visible so the run is not torn down under them.
    return { visible: a.visible + a.delayed, inFlight: a.inFlight };
  }

  /**
   * One reading: 2 SQS calls, 2 fleet calls and 1 DescribeInstances per 200 instances, whatever
   * happened since the last one.
   */
  async read(now: () => number = Date.now): Promise<Reading> {
    const { fleet, ec2 } = this.clients;
    const fleetId = this.state.dcp.fleetId;
    const [queue, dlq, status] = await Promise.all([
      this.depth(this.state.MONITOR_QUEUE_NAME, this.queueUrl, (u) => (this.queueUrl = u)),
      this.depth(this.state.dcp.deadLetterQueueName, this.dlqUrl, (u) => (this.dlqUrl = u)),
      // A start that never learned its fleet id has no fleet to read.
      fleetId ? fleet.describe(fleetId) : undefined,
    ]);
    this.queueMissing = queue === undefined;
    const ids = status ? await fleet.activeInstances(fleetId) : [];
    const live = ids.length ? await describeLiveInstances(ec2, ids) : [];
    return {
      at: now(),
      visible: queue?.visible ?? 0,
      inFlight: queue?.inFlight ?? 0,
      dlq: dlq ? dlq.visible + dlq.inFlight : 0,
      ...(status ? { fleet: { target: status.target, fulfilled: status.fulfilled, state: status.state } } : {}),
      live,
    };
  }
}
