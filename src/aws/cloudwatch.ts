import {
  CloudWatchClient,
  DeleteAlarmsCommand,
  DeleteDashboardsCommand,
  DescribeAlarmsCommand,
  PutDashboardCommand,
  PutMetricAlarmCommand,
} from "@aws-sdk/client-cloudwatch";
import { clientOptions, instrument, type AwsContext } from "./context.js";
import { isNotFound } from "./errors.js";
import { tagList } from "../plan/fleet-request.js";

export function cloudwatchClient(ctx: AwsContext): CloudWatchClient {
  return instrument(new CloudWatchClient(clientOptions(ctx)), "cloudwatch");
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
  ctx: AwsContext,
  appName: string,
  instanceId: string,
  cw: CloudWatchClient = cloudwatchClient(ctx),
): Promise<void> {
  const name = idleAlarmName(appName, instanceId);
  await cw.send(
    new PutMetricAlarmCommand({
      AlarmName: name,
      AlarmDescription: `dcp: terminate ${instanceId} of ${appName} after 15 idle minutes`,
      ActionsEnabled: true,
      AlarmActions: [terminateActionArn(ctx.region)],
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
  ctx: AwsContext,
  prefix: string,
  cw: CloudWatchClient = cloudwatchClient(ctx),
): Promise<string[]> {
  const names: string[] = [];
  let token: string | undefined;
  do {
    const out = await cw.send(
      new DescribeAlarmsCommand({
        AlarmNamePrefix: prefix,
        AlarmTypes: ["MetricAlarm"],
        MaxRecords: 100,
        NextToken: token,
      }),
    );
    for (const alarm of out.MetricAlarms ?? []) if (alarm.AlarmName) names.push(alarm.AlarmName);
    token = out.NextToken;
  } while (token);
  return names;
}

const DELETE_ALARMS_CHUNK = 100;

/** Deletes alarms by name, 100 per call; names that do not exist are not an error. */
export async function deleteAlarms(
  ctx: AwsContext,
  names: string[],
  cw: CloudWatchClient = cloudwatchClient(ctx),
): Promise<void> {
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
  ctx: AwsContext,
  name: string,
  body: string,
  cw: CloudWatchClient = cloudwatchClient(ctx),
): Promise<string[]> {
  const out = await cw.send(new PutDashboardCommand({ DashboardName: name, DashboardBody: body }));
  return (out.DashboardValidationMessages ?? []).map((m) => `${m.DataPath ?? ""} ${m.Message ?? ""}`.trim());
}

/** Deletes exactly the dashboard `name` (DCP deleted every dashboard containing APP_NAME); missing is not an error. */
export async function deleteDashboard(
  ctx: AwsContext,
  name: string,
  cw: CloudWatchClient = cloudwatchClient(ctx),
): Promise<void> {
  try {
    await cw.send(new DeleteDashboardsCommand({ DashboardNames: [name] }));
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
}
