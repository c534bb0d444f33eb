/**
 * `dcp submit job.json`: check every group of the job file first (pass 1), then send them through
 * the submit engine (src/submit/engine.ts), which `dcp make-jobs --submit` uses too.
 */
import type { Config } from "../config/schema.js";
import { messageBody } from "../plan/message.js";
import { PLAIN_PROGRESS_MS, progressThrottle, submitMessages, unsentError, unsentFileFor } from "../submit/engine.js";
import { checkJobFile, jobFileMessages, type CheckedJobFile } from "../submit/job-reader.js";
import type { Output } from "../ui/output.js";
import { recordJobSubmission } from "../run/run-ledger.js";

const DRY_RUN_SAMPLES = 3;

export interface SubmitFlags {
  dryRun?: boolean;
  json?: boolean;
  concurrency?: number;
}

/** `dcp submit <job.json>`: validate the whole file, then send (or, with --dry-run, show) its messages. */
export async function runSubmit(file: string, flags: SubmitFlags, config: Config, output: Output): Promise<void> {
  const job = await output.step(
    `Checking ${file}`,
    (handle) => {
      const throttle = progressThrottle(output.interactive ? 100 : PLAIN_PROGRESS_MS);
      return checkJobFile(file, (groups) => throttle() && handle.update(`${groups} groups read`));
    },
    (j) => `${j.groups} groups valid (${describeGroups(j)})`,
  );
  if (job.groupsWithSpaces)
    output.warn(
      `${job.groupsWithSpaces} group(s) have metadata values with spaces: dcp's worker passes them to cellprofiler intact, but DCP's original worker image splits its command on spaces, so run these with dcp's worker image`,
    );
  const base = {
    file,
    queue: config.SQS_QUEUE_NAME,
    region: config.AWS_REGION,
    groups: job.groups,
    stringGroups: job.stringGroups,
    dictGroups: job.dictGroups,
    groupsWithOverrides: job.groupsWithOverrides,
  };
  if (flags.dryRun) {
    const samples = await firstMessages(job, DRY_RUN_SAMPLES);
    output.line(
      `Dry run: ${job.groups} messages would go to the queue ${config.SQS_QUEUE_NAME} in ${config.AWS_REGION} (10 per SendMessageBatch call). Nothing was sent.`,
    );
    output.line(`First ${samples.length} message bodies:`);
    for (const body of samples) output.line(`  ${body}`);
    output.result({ ...base, dryRun: true, firstBodies: samples.map((b) => JSON.parse(b) as unknown) });
    return;
  }
  const report = await submitMessages(config, jobFileMessages(job), {
    output,
    total: job.groups,
    concurrency: flags.concurrency,
    unsentFile: unsentFileFor(file),
    shared: job.shared,
    throwOnUnsent: false,
  });
  if (report.sent > 0) {
    const problem = await recordJobSubmission(config, file, job.groups, report.sent);
    if (problem) output.warn(problem);
  }
  output.result({
    ...base,
    dryRun: false,
    queueUrl: report.queueUrl,
    sent: report.sent,
    unsent: report.notSent,
    interrupted: report.interrupted,
    unsentFile: report.unsentFile ?? null,
    failures: report.unsent
      .slice(0, 100)
      .map((u) => ({ group: u.seq, code: u.code, reason: u.reason, senderFault: u.senderFault })),
    queueDepth: report.queueDepth,
    calls: report.calls,
    retried: report.retried,
    seconds: Number(report.seconds.toFixed(3)),
    messagesPerSecond: Math.round(report.sent / Math.max(report.seconds, 0.001)),
  });
  if (report.unsentFile) throw unsentError(report);
}

/** Only the kinds present, so the line fits an 80-column terminal: "812 Metadata strings, 200 dicts". */
function describeGroups(job: CheckedJobFile): string {
  const parts: string[] = [];
  if (job.stringGroups) parts.push(`${job.stringGroups} Metadata strings`);
  if (job.dictGroups) parts.push(`${job.dictGroups} dicts`);
  if (job.groupsWithOverrides) parts.push(`${job.groupsWithOverrides} with own values`);
  return parts.join(", ");
}

async function firstMessages(job: CheckedJobFile, count: number): Promise<string[]> {
  const bodies: string[] = [];
  for await (const message of jobFileMessages(job)) {
    bodies.push(messageBody(message));
    if (bodies.length >= count) break;
  }
  return bodies;
}
