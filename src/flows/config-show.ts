/** `dcp config show` and `dcp config validate`: the resolved config, no AWS call. */
import { checkProfile, readConfigFile, type ConfigOverrides, type LoadedConfig } from "../config/load.js";
import { effectiveBuckets, resourceNames } from "../config/schema.js";

export function describeConfig(loaded: LoadedConfig, overrides: ConfigOverrides) {
  const { config, keysInFile, path } = loaded;
  const source: Record<string, "file" | "default" | "flag"> = {};
  for (const key of Object.keys(config)) source[key] = keysInFile.includes(key) ? "file" : "default";
  if (overrides.region) source.AWS_REGION = "flag";
  if (overrides.profile) source.AWS_PROFILE = "flag";
  return { path, config, source, names: resourceNames(config), buckets: effectiveBuckets(config) };
}

const NAME_LABELS: Record<keyof ReturnType<typeof resourceNames>, string> = {
  queueName: "job queue",
  deadLetterQueueName: "dead-letter queue",
  clusterName: "ECS cluster",
  taskFamily: "task family",
  serviceName: "ECS service",
  containerName: "container",
  logGroup: "log group (jobs)",
  perInstanceLogGroup: "log group (containers)",
  stateFile: "state file",
  alarmPrefix: "alarm prefix",
  fleet: "fleet (Name tag)",
  worker: "instances (Name tag)",
  launchTemplate: "launch template (EC2 Fleet)",
};

function formatValue(value: unknown): string {
  return typeof value === "string" ? value || '""' : JSON.stringify(value);
}

export async function runConfigShow(path: string, overrides: ConfigOverrides, json: boolean): Promise<void> {
  const shown = describeConfig(await readConfigFile(path, overrides, { checkProfile: false }), overrides);
  if (json) {
    process.stdout.write(`${JSON.stringify(shown, null, 2)}\n`);
    return;
  }
  const width = Math.max(...Object.keys(shown.config).map((k) => k.length)) + 2;
  const lines = [
    `${shown.path} (values marked "default" are not in the file; "flag" comes from --region/--profile)`,
    "",
  ];
  for (const [key, value] of Object.entries(shown.config)) {
    const mark = shown.source[key] === "file" ? "" : `  (${shown.source[key]})`;
    lines.push(`  ${key.padEnd(width)}${formatValue(value)}${mark}`);
  }
  lines.push("", "Derived names:");
  for (const [key, label] of Object.entries(NAME_LABELS)) {
    lines.push(`  ${label.padEnd(width)}${shown.names[key as keyof typeof NAME_LABELS]}`);
  }
  try {
    checkProfile(shown.config.AWS_PROFILE, { source: shown.path, field: "AWS_PROFILE" });
  } catch (err) {
    lines.push("", `warning: ${(err as Error).message}`);
  }
  lines.push("", "Buckets the workers use (DCP's fallbacks applied):");
  lines.push(
    `  ${"images".padEnd(width)}${shown.buckets.source}`,
    `  ${"pipeline, data_file".padEnd(width)}${shown.buckets.workspace}`,
    `  ${"outputs".padEnd(width)}${shown.buckets.destination}`,
  );
  process.stdout.write(`${lines.join("\n")}\n`);
}

export async function runConfigValidate(path: string, overrides: ConfigOverrides, json: boolean): Promise<void> {
  const { config } = await readConfigFile(path, overrides);
  if (json) {
    process.stdout.write(
      `${JSON.stringify({ path, valid: true, APP_NAME: config.APP_NAME, AWS_REGION: config.AWS_REGION }, null, 2)}\n`,
    );
    return;
  }
  process.stdout.write(
    `${path}: valid (APP_NAME ${config.APP_NAME}, region ${config.AWS_REGION}, queue ${config.SQS_QUEUE_NAME}, cluster ${config.ECS_CLUSTER})\n`,
  );
}
