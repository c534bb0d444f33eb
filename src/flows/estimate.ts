/**
 * `dcp estimate job.json fleet.json`: what the run would cost, before anything is created. Reads the
 * job file (groups), the fleet file (zones, volumes), and, read-only, EC2's instance types, the
 * subnets' zones and the current spot prices; everything else is the pricing module's arithmetic.
 * Without access to EC2 it says which figures are missing instead of guessing.
 */
import { awsContext } from "../aws/context.js";
import { describeAwsFailure } from "../aws/errors.js";
import { describeSubnets, ec2Client, instanceTypeSizes, spotPriceHistory } from "../aws/ec2.js";
import { s3Client } from "../aws/s3.js";
import type { Config } from "../config/schema.js";
import { UserInputError } from "../errors.js";
import { estimateLines, estimateRun, type RunEstimate } from "../plan/estimate.js";
import { ebsGbPerInstance } from "../plan/fleet-request.js";
import { loadFleetFile, type FleetFile } from "../plan/fleet-file.js";
import { attemptKey, attemptRecordSchema } from "../plan/ledger.js";
import { priceTableNote, usd, type SpotQuote } from "../plan/pricing.js";
import { wrapWords } from "../plan/wrap.js";
import { listAttempts, listLedgerRuns, readLedgerJson, type LedgerLocation } from "../run/ledger.js";
import { mapLimit } from "../concurrency.js";
import { checkJobFile } from "../submit/job-reader.js";
import type { Output } from "../ui/output.js";

export interface EstimateOptions {
  jobFile: string;
  fleetFile: string;
  secondsPerGroup?: number;
  fromRun?: string;
  /** the config file's path, named in messages */
  configPath: string;
}

/** Attempt records read to find a finished run's median task time (a sample is enough for a median). */
const SAMPLED_ATTEMPTS = 200;

function failure(err: unknown): string {
  return describeAwsFailure(err) ?? `${(err as { name?: string }).name ?? "Error"}: ${(err as Error).message}`;
}

/** Median seconds of a finished run's successful tasks, from its ledger's attempt records. */
export async function medianTaskSeconds(
  at: LedgerLocation,
  runId: string,
): Promise<{ seconds: number; tasks: number }> {
  const where = `s3://${at.bucket}/dcp-runs/${at.appName}/${runId}/`;
  const done = (await listAttempts(at, runId)).filter((a) => a.outcome === "done");
  if (!done.length) {
    const runs = await listLedgerRuns(at).catch(() => []);
    throw new UserInputError(
      "dcp estimate",
      "--from-run",
      `run ${runId} has no finished task in ${where}`,
      runs.length
        ? `pass one of the app's runs: ${runs.slice(-5).join(", ")}, or --seconds-per-group`
        : "pass --seconds-per-group (this app has no run in the ledger yet)",
    );
  }
  const step = Math.max(1, Math.floor(done.length / SAMPLED_ATTEMPTS));
  const sample = done.filter((_, i) => i % step === 0).slice(0, SAMPLED_ATTEMPTS);
  const seconds = (
    await mapLimit(sample, 16, async (a) => {
      const key = attemptKey(at.appName, runId, a.metadataId, a.attempt, a.outcome, a.cause);
      const record = await readLedgerJson(at, key, attemptRecordSchema);
      return record ? (Date.parse(record.endedAt) - Date.parse(record.startedAt)) / 1000 : NaN;
    })
  )
    .filter((s) => Number.isFinite(s) && s > 0)
    .sort((a, b) => a - b);
  if (!seconds.length)
    throw new UserInputError(
      "dcp estimate",
      "--from-run",
      `the task records of run ${runId} are unreadable`,
      "pass --seconds-per-group",
    );
  const mid = Math.floor(seconds.length / 2);
  const median = seconds.length % 2 ? seconds[mid]! : (seconds[mid - 1]! + seconds[mid]!) / 2;
  return { seconds: Math.round(median * 10) / 10, tasks: seconds.length };
}

function fleetSubnets(fleet: FleetFile): string[] {
  const spec = fleet.LaunchSpecifications[0];
  const ids = [
    ...(spec?.SubnetId?.split(",") ?? []),
    ...(spec?.NetworkInterfaces ?? []).map((n) => n.SubnetId ?? ""),
  ].map((s) => s.trim());
  return [...new Set(ids.filter(Boolean))];
}

export async function runEstimate(config: Config, options: EstimateOptions, output: Output): Promise<RunEstimate> {
  if ((options.secondsPerGroup === undefined) === (options.fromRun === undefined))
    throw new UserInputError(
      "dcp estimate",
      options.fromRun === undefined ? "--seconds-per-group" : "--from-run",
      options.fromRun === undefined
        ? "is needed (how long one group takes)"
        : "cannot be combined with --seconds-per-group",
      "pass either --seconds-per-group 600 or --from-run <run id of a finished run of the same pipeline>",
    );
  const job = await checkJobFile(options.jobFile);
  if (job.groups === 0)
    throw new UserInputError(options.jobFile, "groups", "lists no group", "add groups, e.g. with dcp make-jobs");
  const fleet = await loadFleetFile(options.fleetFile);
  const ctx = awsContext(config);

  let secondsPerGroup = options.secondsPerGroup ?? 0;
  let secondsSource = "--seconds-per-group";
  if (options.fromRun !== undefined) {
    const at = { s3: s3Client(ctx), bucket: config.AWS_BUCKET, appName: config.APP_NAME };
    const median = await medianTaskSeconds(at, options.fromRun);
    secondsPerGroup = median.seconds;
    secondsSource = `median of ${median.tasks} tasks of run ${options.fromRun}`;
  }

  const ec2 = ec2Client(ctx);
  const types = config.MACHINE_TYPE;
  const now = new Date();
  const [sizes, subnets, quotes] = await Promise.allSettled([
    instanceTypeSizes(ec2, types),
    describeSubnets(ec2, fleetSubnets(fleet)),
    spotPriceHistory(ec2, types, now, now),
  ]);
  if (sizes.status === "fulfilled" && sizes.value.size < types.length) {
    const unknown = types.filter((t) => !sizes.value.has(t));
    throw new UserInputError(
      options.configPath,
      "MACHINE_TYPE",
      `${unknown.join(", ")} ${unknown.length > 1 ? "are not instance types" : "is not an instance type"} EC2 knows in ${config.AWS_REGION}`,
      "use types EC2 offers, e.g. m5.xlarge (aws ec2 describe-instance-types)",
    );
  }
  const zones =
    subnets.status === "fulfilled" && subnets.value.size
      ? [...new Set([...subnets.value.values()].map((s) => s.zone))]
      : undefined;
  const spot: SpotQuote[] | undefined =
    quotes.status === "fulfilled"
      ? quotes.value.map((q) => ({ type: q.type, zone: q.az ?? "", price: q.price, ...(q.at ? { at: q.at } : {}) }))
      : undefined;
  const estimate = estimateRun({
    groups: job.groups,
    secondsPerGroup,
    secondsSource,
    machines: config.CLUSTER_MACHINES,
    tasksPerMachine: config.TASKS_PER_MACHINE,
    dockerCores: config.DOCKER_CORES,
    types,
    zones,
    quotes: spot,
    ...(quotes.status === "rejected"
      ? { quoteProblem: `DescribeSpotPriceHistory failed: ${failure(quotes.reason)}` }
      : {}),
    region: config.AWS_REGION,
    ebsGbPerInstance: ebsGbPerInstance(config, fleet),
    assignIp: config.ASSIGN_IP,
    dashboard: config.CREATE_DASHBOARD,
    outputFilesPerGroup: config.EXPECTED_NUMBER_FILES,
    pricedAt: now.getTime(),
  });
  if (sizes.status === "rejected") estimate.missing.push(`instance types not checked: ${failure(sizes.reason)}`);
  for (const line of estimateLines(estimate, usd)) output.line(line);
  for (const line of wrapWords(`  ${priceTableNote()}`, 4)) output.line(line);
  output.result(estimate);
  return estimate;
}
