import type { ECSClient, Tag, TaskDefinition, ContainerInstance } from "@aws-sdk/client-ecs";
import { sdk } from "./sdk.js";
import { clientOptions, instrument, type AwsContext } from "./context.js";
import { awsErrorName, isNotFound } from "./errors.js";
import { diffTaskDefinition, type TaskDefinitionSpec } from "../plan/task-definition.js";
import { existingStatus, missingTags, type ResourceChange } from "../plan/reconcile.js";
import { OperationalError } from "../errors.js";
import type { ClusterUse } from "../plan/teardown-plan.js";
import type { FoundResource } from "../plan/gc.js";
import { mapLimit } from "../concurrency.js";

const {
  ECSClient: ECSClientClass,
  CreateClusterCommand,
  CreateServiceCommand,
  DescribeClustersCommand,
  DescribeServicesCommand,
  DescribeTaskDefinitionCommand,
  RegisterTaskDefinitionCommand,
  TagResourceCommand,
  UpdateServiceCommand,
  DeleteClusterCommand,
  DeleteServiceCommand,
  DeregisterContainerInstanceCommand,
  DeregisterTaskDefinitionCommand,
  DescribeContainerInstancesCommand,
  paginateListContainerInstances,
  paginateListServices,
  paginateListTaskDefinitions,
  paginateListTasks,
  paginateListClusters,
  paginateListTaskDefinitionFamilies,
} = sdk("@aws-sdk/client-ecs");

export function ecsClient(ctx: AwsContext): ECSClient {
  return instrument(new ECSClientClass(clientOptions(ctx)), "ecs");
}

function ecsTags(tags: Record<string, string>): Tag[] {
  return Object.entries(tags).map(([key, value]) => ({ key, value }));
}

function tagRecord(tags: readonly Tag[] | undefined): Record<string, string> {
  return Object.fromEntries((tags ?? []).map((t) => [t.key ?? "", t.value ?? ""]));
}

/** Adds the desired tags a resource lacks; returns the change line, if any. */
async function addMissingEcsTags(
  client: ECSClient,
  arn: string | undefined,
  current: readonly Tag[] | undefined,
  desired: Record<string, string>,
): Promise<string[]> {
  const add = missingTags(tagRecord(current), desired);
  if (!arn || !Object.keys(add).length) return [];
  await client.send(new TagResourceCommand({ resourceArn: arn, tags: ecsTags(add) }));
  return [`tags ${Object.keys(add).join(", ")}`];
}

/** Creates the ECS cluster named exactly `name` (DCP matched any ARN ending with it), or tags an existing one. */
export async function ensureCluster(
  client: ECSClient,
  name: string,
  tags: Record<string, string>,
): Promise<ResourceChange> {
  const { clusters = [] } = await client.send(new DescribeClustersCommand({ clusters: [name], include: ["TAGS"] }));
  const existing = clusters.find((c) => c.clusterName === name && c.status !== "INACTIVE");
  if (!existing) {
    await client.send(new CreateClusterCommand({ clusterName: name, tags: ecsTags(tags) }));
    return { kind: "ECS cluster", name, status: "created", changes: [] };
  }
  return existingStatus("ECS cluster", name, await addMissingEcsTags(client, existing.clusterArn, existing.tags, tags));
}

/** The latest ACTIVE revision of a task definition family (with its tags), or undefined. */
export async function latestTaskDefinition(
  client: ECSClient,
  family: string,
): Promise<{ definition: TaskDefinition; tags: Tag[] } | undefined> {
  try {
    const out = await client.send(new DescribeTaskDefinitionCommand({ taskDefinition: family, include: ["TAGS"] }));
    if (!out.taskDefinition || out.taskDefinition.status !== "ACTIVE") return undefined;
    return { definition: out.taskDefinition, tags: out.tags ?? [] };
  } catch (err) {
    // ECS has no typed "not found" for a task definition family: a ClientException says so.
    if (awsErrorName(err) === "ClientException" && /unable to describe/i.test((err as Error).message)) return undefined;
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
export async function ensureTaskDefinition(
  client: ECSClient,
  spec: TaskDefinitionSpec,
): Promise<EnsuredTaskDefinition> {
  const latest = await latestTaskDefinition(client, spec.family);
  const diff = diffTaskDefinition(spec, latest?.definition);
  if (latest?.definition.taskDefinitionArn && diff.length === 0) {
    const tagChanges = await addMissingEcsTags(
      client,
      latest.definition.taskDefinitionArn,
      latest.tags,
      tagRecord(spec.tags),
    );
    const name = `${spec.family}:${latest.definition.revision}`;
    return {
      arn: latest.definition.taskDefinitionArn,
      registered: false,
      change: existingStatus("task definition", name, tagChanges),
    };
  }
  const { taskDefinition } = await client.send(new RegisterTaskDefinitionCommand(spec));
  if (!taskDefinition?.taskDefinitionArn) throw new Error(`ECS returned no ARN for the new revision of ${spec.family}`);
  const name = `${spec.family}:${taskDefinition.revision}`;
  if (!latest)
    return {
      arn: taskDefinition.taskDefinitionArn,
      registered: true,
      change: { kind: "task definition", name, status: "created", changes: [] },
    };
  const changes = [`new revision (was ${latest.definition.revision})`, ...diff];
  return {
    arn: taskDefinition.taskDefinitionArn,
    registered: true,
    change: { kind: "task definition", name, status: "updated", changes },
  };
}

/**
 * Creates the service with desiredCount 0, or points an existing one at `taskDefinitionArn` with
 * UpdateService. Never deletes and recreates it (DCP did, which killed running workers), and never
 * touches the desired count of an existing service: a fleet may be running.
 */
/**
 * minimumHealthyPercent 0 lets ECS stop a task on a draining spot instance even when the cluster has
 * no room to start its replacement first (with the default 100 % the task never stops and the worker's
 * 120 s hand-back never runs); maximumPercent 100 never starts more tasks than the desired count.
 */
const SERVICE_DEPLOYMENT = { minimumHealthyPercent: 0, maximumPercent: 100 } as const;

function deploymentDiffers(current: { minimumHealthyPercent?: number; maximumPercent?: number } | undefined): boolean {
  return (
    current?.minimumHealthyPercent !== SERVICE_DEPLOYMENT.minimumHealthyPercent ||
    current?.maximumPercent !== SERVICE_DEPLOYMENT.maximumPercent
  );
}

async function describeService(client: ECSClient, cluster: string, name: string) {
  const { services = [] } = await client.send(
    new DescribeServicesCommand({ cluster, services: [name], include: ["TAGS"] }),
  );
  return services.find((s) => s.serviceName === name && s.status !== "INACTIVE");
}

export async function ensureService(
  client: ECSClient,
  cluster: string,
  name: string,
  taskDefinitionArn: string,
  tags: Record<string, string>,
  clientToken?: string,
): Promise<ResourceChange> {
  const existing = await describeService(client, cluster, name);
  if (existing?.status === "DRAINING") {
    throw new OperationalError(
      `ECS service ${name} in cluster ${cluster} is still being deleted; wait a minute and run dcp setup again`,
    );
  }
  if (!existing) {
    await client.send(
      new CreateServiceCommand({
        cluster,
        serviceName: name,
        taskDefinition: taskDefinitionArn,
        desiredCount: 0,
        // EC2, not the cluster's default capacity provider (which may be Fargate: it refuses privileged
        // containers, and the workers run on the fleet's instances).
        launchType: "EC2",
        deploymentConfiguration: SERVICE_DEPLOYMENT,
        tags: ecsTags(tags),
        propagateTags: "SERVICE",
        // A CreateService whose answer is lost is retried with the same token: no second service.
        ...(clientToken ? { clientToken } : {}),
      }),
    );
    // Some endpoints (moto) drop deploymentConfiguration at creation; set it now, so that the next
    // `dcp setup` finds nothing to change here or on AWS.
    const created = await describeService(client, cluster, name);
    if (created && deploymentDiffers(created.deploymentConfiguration))
      await client.send(
        new UpdateServiceCommand({ cluster, service: name, deploymentConfiguration: SERVICE_DEPLOYMENT }),
      );
    return { kind: "ECS service", name, status: "created", changes: [] };
  }
  const changes: string[] = [];
  if (existing.taskDefinition !== taskDefinitionArn) {
    await client.send(new UpdateServiceCommand({ cluster, service: name, taskDefinition: taskDefinitionArn }));
    changes.push(
      `taskDefinition ${existing.taskDefinition?.split("/").pop() ?? "none"} -> ${taskDefinitionArn.split("/").pop()}`,
    );
  }
  if (deploymentDiffers(existing.deploymentConfiguration)) {
    await client.send(
      new UpdateServiceCommand({ cluster, service: name, deploymentConfiguration: SERVICE_DEPLOYMENT }),
    );
    const was = existing.deploymentConfiguration;
    changes.push(
      `deploymentConfiguration ${was?.minimumHealthyPercent ?? "default"}%-${was?.maximumPercent ?? "default"}% -> 0%-100%`,
    );
  }
  changes.push(...(await addMissingEcsTags(client, existing.serviceArn, existing.tags, tags)));
  return existingStatus("ECS service", name, changes);
}

// --- monitor/teardown ---------------------------------------------------------------------------

/** The service or its cluster does not exist (any more): for teardown, "already gone". */
function isGoneEcs(err: unknown): boolean {
  return isNotFound(err) || awsErrorName(err) === "ServiceNotActiveException";
}

/** Runs `call`; true when it succeeded, false when the service or cluster was already gone. */
async function unlessGone(call: () => Promise<unknown>): Promise<boolean> {
  try {
    await call();
    return true;
  } catch (err) {
    if (isGoneEcs(err)) return false;
    throw err;
  }
}

/** Sets a service's desired count; false when the service or cluster is gone. */
export async function setServiceDesiredCountIfExists(
  client: ECSClient,
  cluster: string,
  service: string,
  desiredCount: number,
): Promise<boolean> {
  return unlessGone(() => client.send(new UpdateServiceCommand({ cluster, service, desiredCount })));
}

/** Deletes a service even if it still runs tasks (force); false when it was already gone. */
export async function deleteServiceIfExists(client: ECSClient, cluster: string, service: string): Promise<boolean> {
  let existed = false;
  const reached = await unlessGone(async () => {
    const { services = [] } = await client.send(new DescribeServicesCommand({ cluster, services: [service] }));
    existed = services.some((s) => s.serviceName === service && s.status !== "INACTIVE");
    if (existed) await client.send(new DeleteServiceCommand({ cluster, service, force: true }));
  });
  return reached && existed;
}

/** Deregisters every ACTIVE revision of exactly `family` (all pages); returns how many. */
export async function deregisterActiveTaskDefinitions(client: ECSClient, family: string): Promise<number> {
  // familyPrefix is a prefix: keep only this family's revisions (DCP also removed "<family>Old").
  const arns = (
    await listAll(
      paginateListTaskDefinitions({ client }, { familyPrefix: family, status: "ACTIVE" }),
      (p) => p.taskDefinitionArns,
    )
  ).filter((arn) => arn.split("/").pop()?.replace(/:\d+$/, "") === family);
  for (const arn of arns) await client.send(new DeregisterTaskDefinitionCommand({ taskDefinition: arn }));
  return arns.length;
}

/** Every item of every page of an SDK paginator. */
async function listAll<P>(pages: AsyncIterable<P>, items: (page: P) => string[] | undefined): Promise<string[]> {
  const all: string[] = [];
  for await (const page of pages) all.push(...(items(page) ?? []));
  return all;
}

/** Every container instance of the cluster (ListContainerInstances lists all but INACTIVE ones), described. */
async function describeAllContainerInstances(client: ECSClient, cluster: string): Promise<ContainerInstance[]> {
  const arns = await listAll(paginateListContainerInstances({ client }, { cluster }), (p) => p.containerInstanceArns);
  const described: ContainerInstance[] = [];
  for (let i = 0; i < arns.length; i += 100) {
    const { containerInstances = [] } = await client.send(
      new DescribeContainerInstancesCommand({ cluster, containerInstances: arns.slice(i, i + 100) }),
    );
    described.push(...containerInstances);
  }
  return described;
}

/**
 * Deregisters (force) the cluster's container instances that run on `ec2InstanceIds` (this run's
 * fleet); returns how many. A missing cluster counts as nothing to do.
 */
export async function deregisterContainerInstancesOf(
  client: ECSClient,
  cluster: string,
  ec2InstanceIds: ReadonlySet<string>,
): Promise<number> {
  let all: ContainerInstance[];
  try {
    all = await describeAllContainerInstances(client, cluster);
  } catch (err) {
    if (isGoneEcs(err)) return 0;
    throw err;
  }
  let count = 0;
  for (const ci of all) {
    if (!ci.containerInstanceArn || !ci.ec2InstanceId || !ec2InstanceIds.has(ci.ec2InstanceId)) continue;
    await client.send(
      new DeregisterContainerInstanceCommand({ cluster, containerInstance: ci.containerInstanceArn, force: true }),
    );
    count += 1;
  }
  return count;
}

/**
 * The cluster's container instances that are not INACTIVE (ListContainerInstances lists all other
 * states by default: ACTIVE, DRAINING, REGISTERING, DEREGISTERING), split into this fleet's and
 * others'. `registeredContainerInstancesCount` can lag right after a deregistration, so teardown
 * counts instances by listing them rather than trusting that number.
 */
async function containerInstancesBy(client: ECSClient, cluster: string, own: ReadonlySet<string>) {
  let mine = 0;
  let others = 0;
  for (const ci of await describeAllContainerInstances(client, cluster)) {
    if (ci.status === "INACTIVE") continue;
    if (ci.ec2InstanceId && own.has(ci.ec2InstanceId)) mine += 1;
    else others += 1;
  }
  return { mine, others };
}

/** What still uses a cluster (for the decision whether teardown may delete it). */
export async function clusterUse(
  client: ECSClient,
  cluster: string,
  family: string,
  ownInstances: ReadonlySet<string> = new Set(),
): Promise<ClusterUse> {
  const { clusters = [] } = await client.send(new DescribeClustersCommand({ clusters: [cluster] }));
  const found = clusters.find((c) => c.clusterName === cluster);
  if (!found || found.status === "INACTIVE")
    return { exists: false, services: [], runningTasks: 0, pendingTasks: 0, ownTasks: 0, containerInstances: 0 };
  const serviceArns = await listAll(paginateListServices({ client }, { cluster }), (p) => p.serviceArns);
  // ListServices may still list deleted (INACTIVE) services for a while: keep ACTIVE and DRAINING ones.
  const services: string[] = [];
  for (let i = 0; i < serviceArns.length; i += 10) {
    const out = await client.send(new DescribeServicesCommand({ cluster, services: serviceArns.slice(i, i + 10) }));
    for (const s of out.services ?? []) if (s.serviceName && s.status !== "INACTIVE") services.push(s.serviceName);
  }
  const ownTasks = await listAll(paginateListTasks({ client }, { cluster, family }), (p) => p.taskArns);
  const instances = await containerInstancesBy(client, cluster, ownInstances);
  return {
    exists: true,
    services,
    runningTasks: found.runningTasksCount ?? 0,
    pendingTasks: found.pendingTasksCount ?? 0,
    ownTasks: ownTasks.length,
    containerInstances: instances.others,
    ownContainerInstances: instances.mine,
  };
}

/** Deletes a cluster; false when it was already gone. */
export async function deleteClusterIfExists(client: ECSClient, cluster: string): Promise<boolean> {
  return unlessGone(() => client.send(new DeleteClusterCommand({ cluster })));
}

/**
 * Deletes a cluster: "deleted", "already gone", or "in use" when ECS refuses because something
 * (services, tasks, container instances, capacity providers) started using it meanwhile.
 */
export async function deleteClusterUnlessInUse(
  client: ECSClient,
  cluster: string,
): Promise<"deleted" | "already gone" | "in use"> {
  try {
    return (await deleteClusterIfExists(client, cluster)) ? "deleted" : "already gone";
  } catch (err) {
    // ClusterContainsServicesException, ...TasksException, ...ContainerInstancesException, ...CapacityProviderException
    if (/^ClusterContains/.test(awsErrorName(err))) return "in use";
    throw err;
  }
}

// --- start-cluster: the service must exist before a fleet is bought for it ------------------

/** True when `service` exists and is ACTIVE in `cluster` (false also when the cluster is missing). */
export async function serviceIsActive(client: ECSClient, cluster: string, service: string): Promise<boolean> {
  try {
    const { services = [] } = await client.send(new DescribeServicesCommand({ cluster, services: [service] }));
    return services.some((s) => s.serviceName === service && s.status === "ACTIVE");
  } catch (err) {
    if (isGoneEcs(err)) return false;
    throw err;
  }
}

// --- gc: every cluster, service and task definition family tagged with an app -------------------

const tagOf = (tags: readonly Tag[] | undefined, key: string) => tags?.find((t) => t.key === key)?.value;

/**
 * ECS resources tagged `tagKey` across the region: ACTIVE clusters (DescribeClusters with TAGS, 100
 * per call), the ACTIVE services of every cluster (DescribeServices with TAGS, 10 per call; DRAINING
 * ones are being deleted already), and the task definition families with an
 * ACTIVE revision (DescribeTaskDefinition with TAGS on the latest, 8 at a time), with the worker's
 * AWS_BUCKET from its environment (where the run ledger is).
 */
export async function listTaggedEcs(client: ECSClient, tagKey: string): Promise<FoundResource[]> {
  const found: FoundResource[] = [];
  const clusterArns = await listAll(paginateListClusters({ client }, {}), (p) => p.clusterArns);
  const clusters: string[] = [];
  for (let i = 0; i < clusterArns.length; i += 100) {
    const out = await client.send(
      new DescribeClustersCommand({ clusters: clusterArns.slice(i, i + 100), include: ["TAGS"] }),
    );
    for (const c of out.clusters ?? []) {
      if (!c.clusterName || c.status === "INACTIVE") continue;
      clusters.push(c.clusterName);
      const app = tagOf(c.tags, tagKey);
      if (app) found.push({ kind: "cluster", id: c.clusterName, app });
    }
  }
  for (const cluster of clusters) {
    const arns = await listAll(paginateListServices({ client }, { cluster }), (p) => p.serviceArns);
    for (let i = 0; i < arns.length; i += 10) {
      const out = await client.send(
        new DescribeServicesCommand({ cluster, services: arns.slice(i, i + 10), include: ["TAGS"] }),
      );
      for (const s of out.services ?? []) {
        const app = tagOf(s.tags, tagKey);
        if (!app || !s.serviceName || s.status !== "ACTIVE") continue;
        found.push({
          kind: "service",
          id: s.serviceName,
          app,
          cluster,
          ...(s.createdAt ? { createdMs: s.createdAt.getTime() } : {}),
        });
      }
    }
  }
  const families = await listAll(
    paginateListTaskDefinitionFamilies({ client }, { status: "ACTIVE" }),
    (p) => p.families,
  );
  const described = await mapLimit(families, 8, async (family): Promise<FoundResource | undefined> => {
    const out = await client
      .send(new DescribeTaskDefinitionCommand({ taskDefinition: family, include: ["TAGS"] }))
      .catch((err: unknown) => {
        if (isNotFound(err) || awsErrorName(err) === "ClientException") return undefined;
        throw err;
      });
    const app = tagOf(out?.tags, tagKey);
    // Moto answers a family with no ACTIVE revision with its latest INACTIVE one; AWS with ClientException.
    if (!app || !out?.taskDefinition || out.taskDefinition.status !== "ACTIVE") return undefined;
    const env = out.taskDefinition.containerDefinitions?.flatMap((c) => c.environment ?? []) ?? [];
    const bucket = env.find((e) => e.name === "AWS_BUCKET")?.value;
    const registered = out.taskDefinition.registeredAt;
    return {
      kind: "task-definition",
      id: family,
      app,
      ...(bucket ? { bucket } : {}),
      ...(registered ? { createdMs: registered.getTime() } : {}),
    };
  });
  return [...found, ...described.filter((r) => r !== undefined)];
}
