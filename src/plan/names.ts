/**
 * Every name and tag dcp derives from APP_NAME, in one place, so that a state file (which records
 * APP_NAME) is enough for teardown to find everything a run made. Pure.
 */

/** The tag every resource of one app carries; teardown and `dcp iam` scope by it. */
export const APP_TAG_KEY = "dcp:app";

/** The names of one app's resources (DCP's names where DCP had them). */
export function appNames(appName: string) {
  return {
    taskFamily: `${appName}Task`,
    serviceName: `${appName}Service`,
    containerName: appName,
    stateFile: `files/${appName}SpotFleetRequestId.json`,
    alarmPrefix: `${appName}_`,
    /** The Name tag of the fleet request. */
    fleet: `${appName}Fleet`,
    /** The Name tag of the instances and their volumes. */
    worker: `${appName}Worker`,
    launchTemplate: `${appName}_LaunchTemplate`,
  };
}

/** `<APP_NAME>_<instance-id>`, the name DCP gave its idle alarms. */
export function idleAlarmName(appName: string, instanceId: string): string {
  return `${appName}_${instanceId}`;
}

/** The tags every resource of one app carries, as a map (SQS, ECS, Logs). */
export function appTags(appName: string): Record<string, string> {
  return { [APP_TAG_KEY]: appName };
}

/** `dcp:app` plus an optional Name, as EC2 and CloudWatch tags. */
export function tagList(appName: string, name?: string): { Key: string; Value: string }[] {
  return [{ Key: APP_TAG_KEY, Value: appName }, ...(name ? [{ Key: "Name", Value: name }] : [])];
}

/** The tags of the app's worker instances and their volumes. */
export function workerTags(appName: string): { Key: string; Value: string }[] {
  return tagList(appName, appNames(appName).worker);
}

/** The tags of the app's fleet request. */
export function fleetTags(appName: string): { Key: string; Value: string }[] {
  return tagList(appName, appNames(appName).fleet);
}
