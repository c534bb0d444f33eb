import type { CloudWatchClient } from "@aws-sdk/client-cloudwatch";
import { sdk } from "./sdk.js";
import { clientOptions, instrument, type AwsContext } from "./context.js";
import { isNotFound } from "./errors.js";
import { idleAlarmName, tagList } from "../plan/names.js";
import { sleep } from "../sleep.js";
import { mapLimit } from "../concurrency.js";
import { isIdleAlarmName, type FoundResource } from "../plan/gc.js";

const {
  CloudWatchClient: CloudWatchClientClass,
  DeleteAlarmsCommand,
  DeleteDashboardsCommand,
  DescribeAlarmsCommand,
  PutDashboardCommand,
  PutMetricAlarmCommand,
  ListTagsForResourceCommand,
  paginateDescribeAlarms,
  paginateListDashboards,
} = sdk("@aws-sdk/client-cloudwatch");

/** Adaptive retries: alarm calls are rate-limited per account, and a throttled call must wait, not fail. */
export function cloudwatchClient(ctx: AwsContext): CloudWatchClient {
  return instrument(new CloudWatchClientClass({ ...clientOptions(ctx), retryMode: "adaptive" }), "cloudwatch");
}

/**
 * PutMetricAlarm and DeleteAlarms are limited to 3 requests per second per account and region
 * (CloudWatch service quotas; DCP #93 hit DeleteAlarms throttling in practice): every alarm call of
 * one client waits its turn, whatever the concurrency of the caller.
 */
const ALARM_CALLS_PER_SECOND = 3;
const alarmTurns = new WeakMap<CloudWatchClient, Promise<void>>();

async function alarmTurn(cw: CloudWatchClient): Promise<void> {
  const previous = alarmTurns.get(cw) ?? Promise.resolve();
  const mine = previous.then(() => sleep(1000 / ALARM_CALLS_PER_SECOND));
  alarmTurns.set(cw, mine);
  await previous;
}

/** The CloudWatch alarm action that terminates the alarm's instance, in the region's partition. */
export function terminateActionArn(region: string): string {
  const partition = region.startsWith("cn-") ? "aws-cn" : region.startsWith("us-gov-") ? "aws-us-gov" : "aws";
  return `arn:${partition}:automate:${region}:ec2:terminate`;
}

/**
 * The idle-instance alarm: terminate the instance when its maximum CPU stays below 1 % for 15
 * one-minute periods (DCP's alarm, with the current EC2 action ARN instead of the legacy swf one).
 * Idempotent: putting it again replaces it.
 */
export async function putIdleAlarm(cw: CloudWatchClient, appName: string, instanceId: string): Promise<void> {
  const region = await cw.config.region();
  const name = idleAlarmName(appName, instanceId);
  await alarmTurn(cw);
  await cw.send(
    new PutMetricAlarmCommand({
      AlarmName: name,
      AlarmDescription: `dcp: terminate ${instanceId} of ${appName} after 15 idle minutes`,
      ActionsEnabled: true,
      AlarmActions: [terminateActionArn(region)],
      Namespace: "AWS/EC2",
      MetricName: "CPUUtilization",
      Dimensions: [{ Name: "InstanceId", Value: instanceId }],
      Statistic: "Maximum",
      Period: 60,
      EvaluationPeriods: 15,
      Threshold: 1,
      ComparisonOperator: "LessThanThreshold",
      Tags: tagList(appName, name),
    }),
  );
}

/** Every alarm name starting with `prefix` (all pages). */
export async function listAlarmNames(cw: CloudWatchClient, prefix: string): Promise<string[]> {
  const names: string[] = [];
  const pages = paginateDescribeAlarms(
    { client: cw },
    { AlarmNamePrefix: prefix, AlarmTypes: ["MetricAlarm"], MaxRecords: 100 },
  );
  for await (const page of pages)
    for (const alarm of page.MetricAlarms ?? []) if (alarm.AlarmName) names.push(alarm.AlarmName);
  return names;
}

const DELETE_ALARMS_CHUNK = 100;

/** Deletes alarms by name, 100 per call; names that do not exist are not an error. */
export async function deleteAlarms(cw: CloudWatchClient, names: string[]): Promise<void> {
  for (let i = 0; i < names.length; i += DELETE_ALARMS_CHUNK) {
    const chunk = names.slice(i, i + DELETE_ALARMS_CHUNK);
    try {
      await alarmTurn(cw);
      await cw.send(new DeleteAlarmsCommand({ AlarmNames: chunk }));
    } catch (err) {
      if (!isNotFound(err)) throw err;
      // AWS deletes nothing when one name is unknown: delete the ones that still exist.
      const existing = await cw.send(new DescribeAlarmsCommand({ AlarmNames: chunk, MaxRecords: 100 }));
      const left = (existing.MetricAlarms ?? []).map((a) => a.AlarmName).filter((n): n is string => Boolean(n));
      if (left.length) {
        await alarmTurn(cw);
        await cw.send(new DeleteAlarmsCommand({ AlarmNames: left }));
      }
    }
  }
}

/** Creates or replaces the run's dashboard (DCP: CREATE_DASHBOARD, named exactly APP_NAME). `body` is the dashboard JSON. */
export async function putDashboard(cw: CloudWatchClient, name: string, body: string): Promise<string[]> {
  const out = await cw.send(new PutDashboardCommand({ DashboardName: name, DashboardBody: body }));
  return (out.DashboardValidationMessages ?? []).map((m) => `${m.DataPath ?? ""} ${m.Message ?? ""}`.trim());
}

/** Deletes exactly the dashboard `name` (DCP deleted every dashboard containing APP_NAME); missing is not an error. */
export async function deleteDashboard(cw: CloudWatchClient, name: string): Promise<void> {
  try {
    await cw.send(new DeleteDashboardsCommand({ DashboardNames: [name] }));
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
}

// --- gc ----------------------------------------------------------------------------------------

/**
 * The idle alarms tagged `tagKey`: DescribeAlarms lists every metric alarm without tags, so only the
 * names dcp gives (`<APP_NAME>_i-...`) are asked for their tags (ListTagsForResource, 8 at a time).
 */
export async function listTaggedAlarms(cw: CloudWatchClient, tagKey: string): Promise<FoundResource[]> {
  const candidates: { name: string; arn: string }[] = [];
  for await (const page of paginateDescribeAlarms({ client: cw }, { AlarmTypes: ["MetricAlarm"], MaxRecords: 100 }))
    for (const a of page.MetricAlarms ?? [])
      if (a.AlarmName && a.AlarmArn && isIdleAlarmName(a.AlarmName))
        candidates.push({ name: a.AlarmName, arn: a.AlarmArn });
  const tagged = await mapLimit(candidates, 8, async (c) => {
    const out = await cw.send(new ListTagsForResourceCommand({ ResourceARN: c.arn })).catch((err: unknown) => {
      if (isNotFound(err)) return { Tags: [] };
      throw err;
    });
    const app = out.Tags?.find((t) => t.Key === tagKey)?.Value;
    return app ? ({ kind: "alarm", id: c.name, app } as const) : undefined;
  });
  return tagged.filter((r) => r !== undefined);
}

/** Every dashboard name (dashboards take no tags: gc matches them by the name dcp gives). */
export async function listDashboardNames(cw: CloudWatchClient): Promise<string[]> {
  const names: string[] = [];
  for await (const page of paginateListDashboards({ client: cw }, {}))
    for (const d of page.DashboardEntries ?? []) if (d.DashboardName) names.push(d.DashboardName);
  return names;
}
