import {
  CloudWatchClient,
  DeleteAlarmsCommand,
  DeleteDashboardsCommand,
  DescribeAlarmsCommand,
  PutDashboardCommand,
  PutMetricAlarmCommand,
  paginateDescribeAlarms,
} from "@aws-sdk/client-cloudwatch";
import { clientOptions, instrument, type AwsContext } from "./context.js";
import { isNotFound } from "./errors.js";
import { tagList } from "../plan/fleet-request.js";

export function cloudwatchClient(ctx: AwsContext): CloudWatchClient {
  return instrument(new CloudWatchClient(clientOptions(ctx)), "cloudwatch");
}

/**
 * What the functions below take first: the client (the adapter form), or, for callers not yet
 * moved, the context with an optional client (a client is then built per call when none is given).
 */
export type CloudWatchTarget = CloudWatchClient | AwsContext;

function clientOf(target: CloudWatchTarget, cw: CloudWatchClient | undefined): CloudWatchClient {
  return target instanceof CloudWatchClient ? target : (cw ?? cloudwatchClient(target));
}

async function regionOf(target: CloudWatchTarget, cw: CloudWatchClient): Promise<string> {
  return target instanceof CloudWatchClient ? cw.config.region() : target.region;
}

/** `<APP_NAME>_<instance-id>`, the name DCP gave its idle alarms. */
export function idleAlarmName(appName: string, instanceId: string): string {
  return `${appName}_${instanceId}`;
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
export async function putIdleAlarm(
  target: CloudWatchTarget,
  appName: string,
  instanceId: string,
  client?: CloudWatchClient,
): Promise<void> {
  const cw = clientOf(target, client);
  const region = await regionOf(target, cw);
  const name = idleAlarmName(appName, instanceId);
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
export async function listAlarmNames(
  target: CloudWatchTarget,
  prefix: string,
  client?: CloudWatchClient,
): Promise<string[]> {
  const names: string[] = [];
  const pages = paginateDescribeAlarms(
    { client: clientOf(target, client) },
    { AlarmNamePrefix: prefix, AlarmTypes: ["MetricAlarm"], MaxRecords: 100 },
  );
  for await (const page of pages)
    for (const alarm of page.MetricAlarms ?? []) if (alarm.AlarmName) names.push(alarm.AlarmName);
  return names;
}

const DELETE_ALARMS_CHUNK = 100;

/** Deletes alarms by name, 100 per call; names that do not exist are not an error. */
export async function deleteAlarms(
  target: CloudWatchTarget,
  names: string[],
  client?: CloudWatchClient,
): Promise<void> {
  const cw = clientOf(target, client);
  for (let i = 0; i < names.length; i += DELETE_ALARMS_CHUNK) {
    const chunk = names.slice(i, i + DELETE_ALARMS_CHUNK);
    try {
      await cw.send(new DeleteAlarmsCommand({ AlarmNames: chunk }));
    } catch (err) {
      if (!isNotFound(err)) throw err;
      // AWS deletes nothing when one name is unknown: delete the ones that still exist.
      const existing = await cw.send(new DescribeAlarmsCommand({ AlarmNames: chunk, MaxRecords: 100 }));
      const left = (existing.MetricAlarms ?? []).map((a) => a.AlarmName).filter((n): n is string => Boolean(n));
      if (left.length) await cw.send(new DeleteAlarmsCommand({ AlarmNames: left }));
    }
  }
}

/** Creates or replaces the run's dashboard (DCP: CREATE_DASHBOARD, named exactly APP_NAME). `body` is the dashboard JSON. */
export async function putDashboard(
  target: CloudWatchTarget,
  name: string,
  body: string,
  client?: CloudWatchClient,
): Promise<string[]> {
  const out = await clientOf(target, client).send(
    new PutDashboardCommand({ DashboardName: name, DashboardBody: body }),
  );
  return (out.DashboardValidationMessages ?? []).map((m) => `${m.DataPath ?? ""} ${m.Message ?? ""}`.trim());
}

/** Deletes exactly the dashboard `name` (DCP deleted every dashboard containing APP_NAME); missing is not an error. */
export async function deleteDashboard(
  target: CloudWatchTarget,
  name: string,
  client?: CloudWatchClient,
): Promise<void> {
  try {
    await clientOf(target, client).send(new DeleteDashboardsCommand({ DashboardNames: [name] }));
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
}
