/**
 * `dcp failures`: every group that failed (its latest attempt in the run ledger failed, none done
 * since) or sits in the dead-letter queue, by cause class and by plate/well, with the last lines of
 * its failed attempt and its CloudWatch log stream. The dead-letter queue is read whole and left as
 * it was (src/run/queue-reading.ts); only the failing groups' attempt records are read.
 */
import { writeFile } from "node:fs/promises";
import type { Config } from "../config/schema.js";
import { awsContext } from "../aws/context.js";
import { Interrupted } from "../errors.js";
import {
  NO_RECORD,
  NO_RECORD_TEXT,
  byPlate,
  countByCause,
  failuresCsv,
  plateOf,
  wellOf,
  type FailedGroup,
  type FailureDetail,
} from "../plan/failures.js";
import {
  deadLetterUrl,
  failureClients,
  failureDetails,
  joinFailures,
  ledgerRunId,
  ledgerWhere,
  runAttempts,
} from "../run/failures.js";
import { withQueueHeld, type QueueReading } from "../run/queue-reading.js";
import { interruptOnSignals } from "../signals.js";
import type { Output } from "../ui/output.js";

export interface FailuresOptions {
  csv?: string | undefined;
  /** A run id (the fleet request id); default: the app's current run. */
  run?: string | undefined;
}

const SHOWN_LINES = 5;

export async function runFailures(config: Config, options: FailuresOptions, output: Output): Promise<void> {
  const clients = failureClients(config, awsContext(config));
  const signals = interruptOnSignals({
    onFirst: () => output.warn("interrupted: making the messages read visible again (Ctrl-C again to quit at once)"),
  });
  try {
    const runId = await ledgerRunId(clients, options.run);
    const attempts = await runAttempts(clients, runId);
    const dlqUrl = await deadLetterUrl(clients, config);
    let reading: QueueReading | undefined;
    const groups = dlqUrl
      ? await withQueueHeld(clients.sqs, dlqUrl, { signal: signals.signal, warn: (t) => output.warn(t) }, async (r) => {
          reading = r;
          return joinFailures(attempts, r);
        })
      : joinFailures(attempts, undefined);
    if (signals.signal.aborted) throw new Interrupted("interrupted while reading the dead-letter queue");
    const details = await failureDetails(clients, config, runId, groups);
    report(config, output, { runId, attempts: attempts.length, dlqUrl, reading, groups, details });
    if (options.csv) {
      await writeFile(options.csv, failuresCsv(groups, details));
      output.line(`wrote ${groups.length} rows to ${options.csv}`);
    }
  } finally {
    signals.dispose();
  }
}

interface Findings {
  runId: string | undefined;
  attempts: number;
  dlqUrl: string | undefined;
  reading: QueueReading | undefined;
  groups: FailedGroup[];
  details: Map<string, FailureDetail>;
}

function report(config: Config, output: Output, f: Findings): void {
  const { groups, details, reading } = f;
  output.line(
    f.runId
      ? `run ${f.runId}: ${f.attempts} attempts in the ledger (${ledgerWhere(config, f.runId)})`
      : `no run ledger under ${ledgerWhere(config, undefined)}: showing the dead-letter queue only`,
  );
  if (!f.dlqUrl) output.line(`dead-letter queue ${config.SQS_DEAD_LETTER_QUEUE}: does not exist`);
  else if (reading) {
    output.line(
      `dead-letter queue ${config.SQS_DEAD_LETTER_QUEUE}: ${reading.messages.length} messages read and left in place${reading.partial ? " (reading stopped early: the list is partial)" : ""}`,
    );
    if (reading.before.inFlight)
      output.warn(
        `${reading.before.inFlight} dead-letter messages were in flight (someone else is reading the queue) and could not be read`,
      );
    if (reading.notReleased)
      output.warn(
        `${reading.notReleased} messages could not be made visible again; they come back within ${reading.holdSeconds} s`,
      );
  }
  if (!groups.length) output.line("no failed groups");
  else
    output.line(
      `${groups.length} failed groups: ${countByCause(groups)
        .map(([c, n]) => `${c} ${n}`)
        .join(", ")}`,
    );
  let cause: string | undefined;
  for (const g of groups) {
    if (g.cause !== cause) {
      cause = g.cause;
      output.line("");
      output.line(`${cause === NO_RECORD ? NO_RECORD_TEXT : cause}:`);
    }
    const d = details.get(g.metadataId);
    const where = [
      g.dlqMessageIds.length ? "in the dead-letter queue" : "failed, retries left",
      `${g.attempts} attempt${g.attempts === 1 ? "" : "s"}`,
      ...(g.doneSince ? ["done since"] : []),
    ].join(", ");
    output.line(`  ${g.metadataId}  ${g.metadata.map(([k, v]) => `${k}=${v}`).join(",")}  (${where})`);
    if (d?.message ?? g.problem) output.line(`    ${d?.message ?? g.problem}`);
    if (d?.logStream) output.line(`    log: ${d.logGroup ?? config.LOG_GROUP_NAME} / ${d.logStream}`);
    for (const line of d?.lastLines.slice(-SHOWN_LINES) ?? []) output.line(`    | ${line}`);
  }
  const plates = byPlate(groups);
  if (plates.some(([p]) => p)) {
    output.line("");
    output.line("by plate:");
    for (const [plate, wells] of plates) output.line(`  ${plate || "(no plate)"}: ${wells.join(", ")}`);
  }
  output.result({
    appName: config.APP_NAME,
    runId: f.runId ?? null,
    ledger: ledgerWhere(config, f.runId),
    deadLetterQueue: config.SQS_DEAD_LETTER_QUEUE,
    deadLetterMessages: reading?.messages.length ?? 0,
    partial: reading?.partial ?? false,
    byCause: Object.fromEntries(countByCause(groups)),
    groups: groups.map((g) => {
      const d = details.get(g.metadataId);
      return {
        metadataId: g.metadataId,
        metadata: Object.fromEntries(g.metadata),
        plate: plateOf(g.metadata) ?? null,
        well: wellOf(g.metadata) ?? null,
        cause: g.cause,
        inDeadLetterQueue: g.dlqMessageIds.length > 0,
        deadLetterMessageIds: g.dlqMessageIds,
        attempts: g.attempts,
        doneSince: g.doneSince,
        message: d?.message ?? g.problem ?? null,
        lastLines: d?.lastLines ?? [],
        logGroup: d?.logGroup ?? null,
        logStream: d?.logStream ?? null,
      };
    }),
  });
}
