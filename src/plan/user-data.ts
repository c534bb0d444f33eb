/**
 * The instance user data: writes /etc/ecs/ecs.config directly, so the instance joins the cluster
 * with no S3 round trip (DCP uploaded the file to s3://AWS_BUCKET/ecsconfigs/ and copied it back
 * with the AWS CLI, which needed S3 read access in the instance role). Pure.
 */

export interface EcsAgentSettings {
  cluster: string;
}

/** The lines appended to /etc/ecs/ecs.config. */
export function ecsConfigLines({ cluster }: EcsAgentSettings): string[] {
  if (!/^[A-Za-z0-9_-]{1,255}$/.test(cluster))
    throw new RangeError(`not an ECS cluster name: ${JSON.stringify(cluster)}`);
  return [
    `ECS_CLUSTER=${cluster}`,
    'ECS_AVAILABLE_LOGGING_DRIVERS=["json-file","awslogs"]',
    // ECS drains the instance on the two-minute spot notice, so the worker can hand its jobs back.
    "ECS_ENABLE_SPOT_INSTANCE_DRAINING=true",
  ];
}

/** A shell script for cloud-init; the quoted heredoc keeps the shell from expanding anything. */
export function userDataScript(settings: EcsAgentSettings): string {
  return [
    "#!/bin/bash",
    "mkdir -p /etc/ecs",
    "cat >> /etc/ecs/ecs.config <<'DCP_ECS_CONFIG'",
    ...ecsConfigLines(settings),
    "DCP_ECS_CONFIG",
    "",
  ].join("\n");
}

/** Base64, as the EC2 APIs take user data. */
export function userDataBase64(settings: EcsAgentSettings): string {
  return Buffer.from(userDataScript(settings), "utf8").toString("base64");
}
