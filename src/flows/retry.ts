/**
 * `dcp retry`: send failed groups back to the job queue, saying first what will be sent.
 *   --from-dlq  the dead-letter queue's messages (filtered by --cause / --group), moved batch by
 *               batch: send, then delete (src/run/dlq-retry.ts: nothing lost, no duplicate on a re-run)
 *   --missing job.json  every group of the job file whose outputs are missing or incomplete under
 *               the CHECK_IF_DONE contract (plan/check-if-done.ts), from one listing of the output
 *               prefix, sent through the submit engine
 */
import type { Config } from "../config/schema.js";
import { resourceNames, effectiveBuckets } from "../config/schema.js";
import { awsContext } from "../aws/context.js";
import { listObjectPages } from "../aws/s3.js";
import { findQueueUrl } from "../aws/sqs.js";
import { Declined, Interrupted, OperationalError, UserInputError } from "../errors.js";
import { checkGroupsDone, doneRule } from "../plan/check-if-done.js";
import {
  FAILURE_CAUSES,
  NO_RECORD,
  NO_RECORD_TEXT,
  countByCause,
  groupMatcher,
  selectGroups,
  type FailedGroup,
  type FailureCause,
} from "../plan/failures.js";
import type { DcpMessage } from "../plan/message.js";
import { journalPath, moveToJobQueue, readJournal, type MoveReport } from "../run/dlq-retry.js";
import { deadLetterUrl, failureClients, joinFailures, ledgerRunId, runAttempts } from "../run/failures.js";
import { withQueueHeld, type QueueReading } from "../run/queue-reading.js";
import { interruptOnSignals } from "../signals.js";
import { submitMessages, unsentFileFor } from "../submit/engine.js";
import { checkJobFile, jobFileMessages } from "../submit/job-reader.js";
import { askOnTerminal } from "../ui/ask.js";
import type { Output } from "../ui/output.js";
import { deriveNames } from "../worker/naming.js";

export interface RetryOptions {
  cause?: string[] | undefined;
  group?: string | undefined;
  fromDlq?: boolean | undefined;
  missing?: string | undefined;
  dryRun?: boolean | undefined;
  yes?: boolean | undefined;
  run?: string | undefined;
}

/** Groups listed before sending. */
const SHOWN_GROUPS = 10;

export async function runRetry(config: Config, options: RetryOptions, output: Output): Promise<number> {
  if (Boolean(options.fromDlq) === Boolean(options.missing))
    throw new UserInputError(
      "dcp retry",
      options.fromDlq ? "--from-dlq and --missing" : "--from-dlq / --missing",
      options.fromDlq ? "are two different sources of groups" : "no source of groups given",
      "pass --from-dlq (the dead-letter queue's groups) or --missing job.json (the job's groups without complete outputs)",
    );
  const causes = parseCauses(options.cause);
  if (options.missing && causes.length)
    throw new UserInputError(
      "dcp retry",
      "--cause",
      "selects dead-letter messages by why they failed; --missing selects groups by their outputs",
      "drop --cause, or use --from-dlq --cause CLASS",
    );
  return options.fromDlq
    ? retryFromDlq(config, { ...options, causes }, output)
    : retryMissing(config, options.missing!, options, output);
}

function parseCauses(values: string[] | undefined): FailureCause[] {
  const causes = (values ?? [])
    .flatMap((v) => v.split(","))
    .map((v) => v.trim())
    .filter(Boolean);
  for (const c of causes)
    if (!(FAILURE_CAUSES as readonly string[]).includes(c))
      throw new UserInputError(
        "dcp retry",
        "--cause",
        `${JSON.stringify(c)} is not a cause class`,
        `use one of ${FAILURE_CAUSES.join(", ")} (as \`dcp failures\` shows them)`,
      );
  return causes as FailureCause[];
}

function describeGroup(g: { metadataId: string; metadata: ReadonlyArray<[string, string]> }): string {
  const metadata = g.metadata.map(([k, v]) => `${k}=${v}`).join(",");
  return metadata ? `${g.metadataId}  ${metadata}` : g.metadataId;
}

function listFirst<T>(output: Output, items: readonly T[], show: (item: T) => string): void {
  for (const item of items.slice(0, SHOWN_GROUPS)) output.line(`  ${show(item)}`);
  if (items.length > SHOWN_GROUPS) output.line(`  ... and ${items.length - SHOWN_GROUPS} more`);
}

/** Asked on a terminal unless --yes; scripts (no terminal) go ahead, as with dcp teardown. */
async function confirmOrDecline(question: string, yes: boolean | undefined): Promise<void> {
  if (yes || !process.stdin.isTTY) return;
  if (!(await askOnTerminal(question))) throw new Declined();
}

// --- from the dead-letter queue -----------------------------------------------------------------

async function retryFromDlq(
  config: Config,
  options: RetryOptions & { causes: FailureCause[] },
  output: Output,
): Promise<number> {
  const clients = failureClients(config, awsContext(config));
  const runId = await ledgerRunId(clients, options.run);
  const attempts = await runAttempts(clients, runId);
  const dlqUrl = await deadLetterUrl(clients, config);
  const jobUrl = await findQueueUrl(clients.sqs, config.SQS_QUEUE_NAME);
  if (!dlqUrl) {
    output.line(`the dead-letter queue ${config.SQS_DEAD_LETTER_QUEUE} does not exist: nothing to retry`);
    output.result({ dryRun: Boolean(options.dryRun), selected: 0, moved: 0 });
    return 0;
  }
  if (!jobUrl)
    throw new OperationalError(
      `the job queue ${config.SQS_QUEUE_NAME} does not exist in ${config.AWS_REGION}: run \`dcp setup\` first, then dcp retry again`,
    );
  const journalFile = journalPath(resourceNames(config).stateFile);
  const journal = await readJournal(journalFile, dlqUrl, jobUrl);
  const selection = { causes: options.causes, group: options.group };
  // What is pending from an interrupted retry is finished whatever the filters: it is already sent.
  const pick = (groups: FailedGroup[], reading: QueueReading) => {
    const chosen = new Set(selectGroups(groups, selection).flatMap((g) => g.dlqMessageIds));
    for (const m of reading.messages) if (journal.sent[m.messageId] !== undefined) chosen.add(m.messageId);
    return chosen;
  };

  const announce = (plan: { total: number; groups: FailedGroup[]; ids: Set<string> }) => {
    const pending = Object.keys(journal.sent).filter((id) => plan.ids.has(id)).length;
    output.line(
      `${plan.ids.size} of the ${plan.total} messages in ${config.SQS_DEAD_LETTER_QUEUE} to go back to ${config.SQS_QUEUE_NAME}` +
        (plan.groups.length
          ? `: ${countByCause(plan.groups)
              .map(([c, n]) => `${c === NO_RECORD ? NO_RECORD_TEXT : c} ${n}`)
              .join(", ")}`
          : ""),
    );
    if (pending)
      output.line(
        `${pending} of them were sent by an interrupted retry (${journalFile}): they are only deleted from the dead-letter queue now`,
      );
    listFirst(output, plan.groups, (g) => `${g.cause}  ${describeGroup(g)}`);
  };
  const signals = interruptOnSignals({
    onFirst: () =>
      output.warn("interrupted: finishing this batch, then making the rest visible again (Ctrl-C again to quit)"),
  });
  try {
    const hold = <T>(use: (r: QueueReading, consumed: Set<string>) => Promise<T>) =>
      withQueueHeld(clients.sqs, dlqUrl, { signal: signals.signal, warn: (t) => output.warn(t) }, use);
    const move = (r: QueueReading, consumed: Set<string>, ids: ReadonlySet<string>) =>
      moveToJobQueue(
        r.messages.filter((m) => ids.has(m.messageId)),
        consumed,
        {
          sqs: clients.sqs,
          deadLetterUrl: dlqUrl,
          jobUrl,
          journalFile,
          present: new Set(r.messages.map((m) => m.messageId)),
          signal: signals.signal,
        },
      );
    // A person asked to confirm gets the queue back while they think: it is read again after the answer.
    const ask = !options.yes && !options.dryRun && Boolean(process.stdin.isTTY);
    // Read the whole dead-letter queue, say what goes back, move it (unless asking), release the rest.
    const first = await hold(async (r, consumed) => {
      if (signals.signal.aborted) return undefined;
      const groups = joinFailures(attempts, r).filter((g) => g.dlqMessageIds.length);
      const ids = pick(groups, r);
      const plan = {
        total: r.messages.length,
        groups: groups.filter((g) => g.dlqMessageIds.some((id) => ids.has(id))),
        ids,
      };
      announce(plan);
      const moveNow = !options.dryRun && !ask && ids.size > 0;
      return { plan, report: moveNow ? await move(r, consumed, ids) : undefined };
    });
    if (!first || (signals.signal.aborted && !first.report))
      throw new Interrupted("interrupted while reading the dead-letter queue; nothing was sent");
    const { plan } = first;
    const base = {
      deadLetterQueue: config.SQS_DEAD_LETTER_QUEUE,
      jobQueue: config.SQS_QUEUE_NAME,
      runId: runId ?? null,
      selected: plan.ids.size,
      byCause: Object.fromEntries(countByCause(plan.groups)),
      groups: plan.groups.map((g) => ({ metadataId: g.metadataId, cause: g.cause, messages: g.dlqMessageIds.length })),
    };
    if (options.dryRun || !plan.ids.size) {
      if (options.dryRun) output.line("dry run: nothing was sent or deleted");
      output.result({ ...base, dryRun: Boolean(options.dryRun), moved: 0 });
      return 0;
    }
    let report = first.report;
    if (!report) {
      await confirmOrDecline(
        `send these ${plan.ids.size} messages to ${config.SQS_QUEUE_NAME} and delete them from ${config.SQS_DEAD_LETTER_QUEUE}?`,
        options.yes,
      );
      report = await hold((r, consumed) => move(r, consumed, plan.ids));
    }
    return reportMove(output, report, plan.ids.size, journalFile, base);
  } finally {
    signals.dispose();
  }
}

function reportMove(
  output: Output,
  report: MoveReport,
  selected: number,
  journalFile: string,
  base: Record<string, unknown>,
): number {
  output.line(
    `${report.moved} messages sent to the job queue and deleted from the dead-letter queue` +
      (report.finishedFromJournal
        ? ` (${report.finishedFromJournal} of them sent by an earlier run, deleted now)`
        : ""),
  );
  for (const r of report.refused.slice(0, SHOWN_GROUPS)) output.warn(`message ${r.messageId} not sent: ${r.reason}`);
  if (report.refused.length)
    output.warn(`${report.refused.length} messages were refused and stay in the dead-letter queue`);
  if (report.failure) output.warn(`stopped: ${report.failure}`);
  if (report.sentNotDeleted)
    output.warn(
      `${report.sentNotDeleted} messages were sent but are still in the dead-letter queue; they are recorded in ${journalFile}, so running dcp retry --from-dlq again deletes them without sending them again`,
    );
  const unfinished = report.interrupted || report.failure !== undefined;
  if (unfinished)
    output.warn(
      `retry stopped after ${report.moved} of ${selected} messages; the others are still in the dead-letter queue. Run the same dcp retry again to carry on (a batch cut off mid-send by killing dcp, 10 messages at most, may be sent twice)`,
    );
  output.result({
    ...base,
    dryRun: false,
    moved: report.moved,
    finishedFromJournal: report.finishedFromJournal,
    refused: report.refused,
    sentNotDeleted: report.sentNotDeleted,
    interrupted: report.interrupted,
    failure: report.failure ?? null,
  });
  if (report.interrupted) throw new Interrupted("dcp retry interrupted");
  return unfinished || report.refused.length ? 1 : 0;
}

// --- groups of a job file whose outputs are missing or incomplete ------------------------------------

interface JobGroup {
  message: DcpMessage;
  metadataId: string;
  metadata: Array<[string, string]>;
  prefix: string;
}

async function retryMissing(config: Config, file: string, options: RetryOptions, output: Output): Promise<number> {
  const job = await checkJobFile(file);
  const groups: JobGroup[] = [];
  for await (const message of jobFileMessages(job)) {
    let names: ReturnType<typeof deriveNames>;
    try {
      names = deriveNames(message);
    } catch (err) {
      throw new UserInputError(
        file,
        `groups[${groups.length}]`,
        `names no output folder a worker could write: ${(err as Error).message}`,
        "fix this group's Metadata or the output_structure",
      );
    }
    groups.push({ message, metadataId: names.metadataId, metadata: names.group, prefix: names.outputPrefix });
  }
  const bucket = effectiveBuckets(config).destination;
  // One listing per distinct output folder (usually one for the whole job), not one request per group.
  const roots = [...new Set(groups.map((g) => (g.message.output ? `${g.message.output.replace(/\/+$/, "")}/` : "")))];
  const objects: Array<{ key: string; size: number }> = [];
  const s3 = failureClients(config, awsContext(config)).s3;
  for (const root of roots) for await (const page of listObjectPages(s3, bucket, root)) objects.push(...page);
  const verdicts = checkGroupsDone(
    groups.map((g) => g.prefix),
    objects,
    doneRule(config),
  );
  const match = options.group ? groupMatcher(options.group) : undefined;
  const missing = groups.filter((g) => !verdicts.get(g.prefix)?.done && (!match || match(g.metadataId, g.metadata)));
  const empty = missing.filter((g) => !verdicts.get(g.prefix)?.counted).length;
  const rule = doneRule(config);
  output.line(
    `${missing.length} of ${groups.length} groups of ${file} have missing or incomplete outputs in s3://${bucket}/ ` +
      `(${empty} with none, ${missing.length - empty} incomplete; done = ${Math.max(1, rule.expectedFiles)} files of at least ${rule.minFileSizeBytes} bytes${rule.necessaryString ? ` containing "${rule.necessaryString}"` : ""})`,
  );
  listFirst(output, missing, (g) => {
    const v = verdicts.get(g.prefix);
    return `${describeGroup(g)}  (${v?.counted ?? 0} of ${v?.needed ?? 1} files)`;
  });
  const base = {
    file,
    bucket,
    groups: groups.length,
    selected: missing.length,
    missing: missing.map((g) => ({ metadataId: g.metadataId, files: verdicts.get(g.prefix)?.counted ?? 0 })),
  };
  if (options.dryRun || !missing.length) {
    if (options.dryRun) output.line("dry run: nothing was sent");
    output.result({ ...base, dryRun: Boolean(options.dryRun), sent: 0 });
    return 0;
  }
  await confirmOrDecline(`send these ${missing.length} groups to ${config.SQS_QUEUE_NAME}?`, options.yes);
  const sent = await submitMessages(
    config,
    missing.map((g) => g.message),
    { output, total: missing.length, unsentFile: unsentFileFor(file), shared: job.shared },
  );
  output.result({ ...base, dryRun: false, sent: sent.sent, queueDepth: sent.queueDepth });
  return 0;
}
