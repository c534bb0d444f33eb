import { ECSClient } from "@aws-sdk/client-ecs";
import { clientOptions, instrument, type AwsContext } from "./context.js";
import { CreateClusterCommand, CreateServiceCommand, DescribeClustersCommand, DescribeServicesCommand, DescribeTaskDefinitionCommand, RegisterTaskDefinitionCommand, TagResourceCommand, UpdateServiceCommand, type Tag, type TaskDefinition } from "@aws-sdk/client-ecs";
import { diffTaskDefinition, type TaskDefinitionSpec } from "../plan/task-definition.js";
import { existingStatus, missingTags, type ResourceChange } from "../plan/reconcile.js";
import { OperationalError } from "../errors.js";

export function ecsClient(ctx: AwsContext): ECSClient {
  return instrument(new ECSClient(clientOptions(ctx)), "ecs");
}

function ecsTags(tags: Record<string, string>): Tag[] {
  return Object.entries(tags).map(([key, value]) => ({ key, value }));
}

function tagRecord(tags: readonly Tag[] | undefined): Record<string, string> {
  return Object.fromEntries((tags ?? []).map((t) => [t.key ?? "", t.value ?? ""]));
}

/** Adds the desired tags a resource lacks; returns the change line, if any. */
async function addMissingEcsTags(client: ECSClient, arn: string | undefined, current: readonly Tag[] | undefined, desired: Record<string, string>): Promise<string[]> {
  const add = missingTags(tagRecord(current), desired);
  if (!arn || !Object.keys(add).length) return [];
  await client.send(new TagResourceCommand({ resourceArn: arn, tags: ecsTags(add) }));
  return [`tags ${Object.keys(add).join(", ")}`];
}

/** Creates the ECS cluster named exactly `name` (DCP matched any ARN ending with it), or tags an existing one. */
export async function ensureCluster(client: ECSClient, name: string, tags: Record<string, string>): Promise<ResourceChange> {
  const { clusters = [] } = await client.send(new DescribeClustersCommand({ clusters: [name], include: ["TAGS"] }));
  const existing = clusters.find((c) => c.clusterName === name && c.status !== "INACTIVE");
  if (!existing) {
    await client.send(new CreateClusterCommand({ clusterName: name, tags: ecsTags(tags) }));
    return { kind: "ECS cluster", name, status: "created", changes: [] };
  }
  return existingStatus("ECS cluster", name, await addMissingEcsTags(client, existing.clusterArn, existing.tags, tags));
}

/** The latest ACTIVE revision of a task definition family (with its tags), or undefined. */
export async function latestTaskDefinition(client: ECSClient, family: string): Promise<{ definition: TaskDefinition; tags: Tag[] } | undefined> {
  try {
    const out = await client.send(new DescribeTaskDefinitionCommand({ taskDefinition: family, include: ["TAGS"] }));
    if (!out.taskDefinition || out.taskDefinition.status !== "ACTIVE") return undefined;
    return { definition: out.taskDefinition, tags: out.tags ?? [] };
  } catch (err) {
    if ((err as { name?: string }).name === "ClientException" && /unable to describe/i.test((err as Error).message)) return undefined;
    throw err;
  }
}

export interface EnsuredTaskDefinition {
  arn: string;
  /** True when this call registered a new revision. */
  registered: boolean;
  change: ResourceChange;
}

/** Registers a new revision only when the desired definition differs from the latest ACTIVE one. */
export async function ensureTaskDefinition(client: ECSClient, spec: TaskDefinitionSpec): Promise<EnsuredTaskDefinition> {
  const latest = await latestTaskDefinition(client, spec.family);
  const diff = diffTaskDefinition(spec, latest?.definition);
  if (latest?.definition.taskDefinitionArn && diff.length === 0) {
    const tagChanges = await addMissingEcsTags(client, latest.definition.taskDefinitionArn, latest.tags, tagRecord(spec.tags));
    const name = `${spec.family}:${latest.definition.revision}`;
    return { arn: latest.definition.taskDefinitionArn, registered: false, change: existingStatus("task definition", name, tagChanges) };
  }
  const { taskDefinition } = await client.send(new RegisterTaskDefinitionCommand(spec));
  if (!taskDefinition?.taskDefinitionArn) throw new Error(`ECS returned no ARN for the new revision of ${spec.family}`);
  const name = `${spec.family}:${taskDefinition.revision}`;
  if (!latest) return { arn: taskDefinition.taskDefinitionArn, registered: true, change: { kind: "task definition", name, status: "created", changes: [] } };
  const changes = [`new revision (was ${latest.definition.revision})`, ...diff];
  return { arn: taskDefinition.taskDefinitionArn, registered: true, change: { kind: "task definition", name, status: "updated", changes } };
}

/**
 * Creates the service with desiredCount 0, or points an existing one at `taskDefinitionArn` with
 * UpdateService. Never deletes and recreates it (DCP did, which killed running workers), and never
 * touches the desired count of an existing service: a fleet may be running.
 */
export async function ensureService(client: ECSClient, cluster: string, name: string, taskDefinitionArn: string, tags: Record<string, string>): Promise<ResourceChange> {
  const { services = [] } = await client.send(new DescribeServicesCommand({ cluster, services: [name], include: ["TAGS"] }));
  const existing = services.find((s) => s.serviceName === name && s.status !== "INACTIVE");
  if (existing?.status === "DRAINING") {
    throw new OperationalError(`ECS service ${name} in cluster ${cluster} is still being deleted; wait a minute and run dcp setup again`);
  }
  if (!existing) {
    await client.send(new CreateServiceCommand({ cluster, serviceName: name, taskDefinition: taskDefinitionArn, desiredCount: 0, tags: ecsTags(tags), propagateTags: "SERVICE" }));
    return { kind: "ECS service", name, status: "created", changes: [] };
  }
  const changes: string[] = [];
  if (existing.taskDefinition !== taskDefinitionArn) {
    await client.send(new UpdateServiceCommand({ cluster, service: name, taskDefinition: taskDefinitionArn }));
    changes.push(`taskDefinition ${existing.taskDefinition?.split("/").pop() ?? "none"} -> ${taskDefinitionArn.split("/").pop()}`);
  }
  changes.push(...(await addMissingEcsTags(client, existing.serviceArn, existing.tags, tags)));
  return existingStatus("ECS service", name, changes);
}
