import type {
  EC2Client,
  _InstanceType,
  Instance,
  CreateLaunchTemplateRequest,
  Tag as Ec2Tag,
} from "@aws-sdk/client-ec2";
import { sdk } from "./sdk.js";
import { clientOptions, instrument, type AwsContext } from "./context.js";
import { doneUnlessGone, isNotFound } from "./errors.js";
import type { LiveInstance } from "../plan/monitor-decisions.js";
import type { PricePoint } from "../plan/monitor-cost.js";
import { fleetBills, type FoundResource } from "../plan/gc.js";

const {
  EC2Client: EC2ClientClass,
  DeleteLaunchTemplateCommand,
  CreateLaunchTemplateCommand,
  CreateTagsCommand,
  DescribeLaunchTemplatesCommand,
  paginateDescribeInstances,
  paginateDescribeSpotPriceHistory,
  DescribeImagesCommand,
  DescribeInstanceTypeOfferingsCommand,
  DescribeInstanceTypesCommand,
  DescribeSecurityGroupsCommand,
  DescribeSubnetsCommand,
  TerminateInstancesCommand,
  paginateDescribeFleets,
  paginateDescribeLaunchTemplates,
  paginateDescribeSpotFleetRequests,
} = sdk("@aws-sdk/client-ec2");

export function ec2Client(ctx: AwsContext): EC2Client {
  // Adaptive retries: EC2 throttles per account (RequestLimitExceeded); a monitor polling for hours
  // must slow down rather than fail.
  return instrument(new EC2ClientClass({ ...clientOptions(ctx), retryMode: "adaptive" }), "ec2");
}

// --- monitor/teardown: running instances, spot prices, launch template clean-up -------------

/** DescribeInstances accepts at most 200 values per filter. */
const INSTANCE_FILTER_CHUNK = 200;

/**
 * The instances among `ids` that are pending or running, with their type, zone and launch time:
 * one DescribeInstances call per 200 ids. A fleet's own instance list can lag behind (and the
 * emulator keeps terminated instances in it), so the monitor asks EC2 itself.
 */
export async function describeLiveInstances(client: EC2Client, ids: readonly string[]): Promise<LiveInstance[]> {
  const live: LiveInstance[] = [];
  await forEachInstance(client, ids, ["pending", "running"], (instance, id) =>
    live.push({
      id,
      ...(instance.InstanceType ? { type: instance.InstanceType } : {}),
      ...(instance.Placement?.AvailabilityZone ? { az: instance.Placement.AvailabilityZone } : {}),
      ...(instance.LaunchTime ? { launchedAt: instance.LaunchTime.getTime() } : {}),
    }),
  );
  return live;
}

/** DescribeInstances of `ids` (200 per call), in any of `states` (any state when undefined). */
async function forEachInstance(
  client: EC2Client,
  ids: readonly string[],
  states: string[] | undefined,
  visit: (instance: Instance, id: string) => void,
): Promise<void> {
  for (let i = 0; i < ids.length; i += INSTANCE_FILTER_CHUNK) {
    const filters = [
      { Name: "instance-id", Values: ids.slice(i, i + INSTANCE_FILTER_CHUNK) },
      ...(states ? [{ Name: "instance-state-name", Values: states }] : []),
    ];
    for await (const out of paginateDescribeInstances({ client }, { Filters: filters, MaxResults: 1000 }))
      for (const instance of (out.Reservations ?? []).flatMap((r) => r.Instances ?? []))
        if (instance.InstanceId) visit(instance, instance.InstanceId);
  }
}

/** "User initiated (2026-12-01 16:00:00 GMT)" (AWS; moto writes UTC): when a terminate or stop call ended the instance. */
const USER_ENDED = /\((\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d) (?:GMT|UTC)\)/;

/**
 * Billing times of `ids` from EC2 itself: LaunchTime, and for instances ended by a terminate call the
 * time in their StateTransitionReason (EC2 keeps terminated instances visible for about an hour).
 * Instances ended otherwise (a spot interruption) have no `endedAt`: the caller keeps its own estimate.
 */
export async function instanceLifetimes(
  client: EC2Client,
  ids: readonly string[],
): Promise<Map<string, { launchedAt?: number; endedAt?: number; state?: string }>> {
  const found = new Map<string, { launchedAt?: number; endedAt?: number; state?: string }>();
  await forEachInstance(client, ids, undefined, (instance, id) => {
    const state = instance.State?.Name;
    const ended = /shutting-down|terminated|stopp/.test(state ?? "")
      ? USER_ENDED.exec(instance.StateTransitionReason ?? "")
      : null;
    found.set(id, {
      ...(instance.LaunchTime ? { launchedAt: instance.LaunchTime.getTime() } : {}),
      ...(ended ? { endedAt: Date.parse(`${ended[1]}T${ended[2]}Z`) } : {}),
      ...(state ? { state } : {}),
    });
  });
  return found;
}

const SPOT_PRICE_PAGES = 10;

/** Linux spot prices of `types` between `from` and `to` (at most 10 pages: enough for an estimate). */
export async function spotPriceHistory(
  client: EC2Client,
  types: readonly string[],
  from: Date,
  to: Date,
): Promise<PricePoint[]> {
  const points: PricePoint[] = [];
  let pages = 0;
  const history = paginateDescribeSpotPriceHistory(
    { client },
    {
      InstanceTypes: [...types] as never,
      ProductDescriptions: ["Linux/UNIX", "Linux/UNIX (Amazon VPC)"],
      StartTime: from,
      EndTime: to,
    },
  );
  for await (const out of history) {
    for (const p of out.SpotPriceHistory ?? []) {
      const price = Number(p.SpotPrice);
      if (p.InstanceType && Number.isFinite(price))
        points.push({
          type: p.InstanceType,
          price,
          ...(p.AvailabilityZone ? { az: p.AvailabilityZone } : {}),
          ...(p.Timestamp ? { at: p.Timestamp.getTime() } : {}),
        });
    }
    if (++pages >= SPOT_PRICE_PAGES) break;
  }
  return points;
}

/** Deletes an EC2 Fleet's launch template; false when it was already gone. */
export async function deleteLaunchTemplateIfExists(client: EC2Client, launchTemplateId: string): Promise<boolean> {
  return doneUnlessGone(client.send(new DeleteLaunchTemplateCommand({ LaunchTemplateId: launchTemplateId })));
}

// --- start-cluster: the EC2 Fleet launch template and volume tags ----------------------------

/**
 * Creates the launch template `request` names, first deleting a template of that name left by an
 * earlier run (its fleet is gone: start-cluster refuses to run while one is live). Returns its id.
 */
export async function replaceLaunchTemplate(client: EC2Client, request: CreateLaunchTemplateRequest): Promise<string> {
  const name = request.LaunchTemplateName!;
  try {
    const out = await client.send(new DescribeLaunchTemplatesCommand({ LaunchTemplateNames: [name] }));
    for (const old of out.LaunchTemplates ?? [])
      if (old.LaunchTemplateId) await deleteLaunchTemplateIfExists(client, old.LaunchTemplateId);
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  const created = await client.send(new CreateLaunchTemplateCommand(request));
  return created.LaunchTemplate!.LaunchTemplateId!;
}

/**
 * Tags the EBS volumes attached to `instanceIds` (a Spot Fleet launch specification can tag only
 * instances). Returns the volume ids tagged.
 */
export async function tagInstanceVolumes(
  client: EC2Client,
  instanceIds: readonly string[],
  tags: Ec2Tag[],
): Promise<string[]> {
  if (!instanceIds.length) return [];
  const volumes: string[] = [];
  for (let i = 0; i < instanceIds.length; i += INSTANCE_FILTER_CHUNK) {
    // A filter, not InstanceIds: DescribeInstances answers InvalidInstanceID.NotFound for ids EC2 does
    // not show yet (eventual consistency), while a filter just leaves them out.
    const pages = paginateDescribeInstances(
      { client },
      { Filters: [{ Name: "instance-id", Values: instanceIds.slice(i, i + INSTANCE_FILTER_CHUNK) }] },
    );
    for await (const out of pages) {
      for (const instance of (out.Reservations ?? []).flatMap((r) => r.Instances ?? [])) {
        for (const mapping of instance.BlockDeviceMappings ?? [])
          if (mapping.Ebs?.VolumeId) volumes.push(mapping.Ebs.VolumeId);
      }
    }
  }
  for (let i = 0; i < volumes.length; i += 1000) {
    await client.send(new CreateTagsCommand({ Resources: volumes.slice(i, i + 1000), Tags: tags }));
  }
  return volumes;
}

// --- doctor: read-only inventory of what a fleet file names -------------------------------------

export interface SubnetInfo {
  id: string;
  vpcId: string;
  zone: string;
}

/** Looks each id up on its own, so a missing one does not hide the others; missing ids are left out. */
async function describeEach<T>(
  ids: readonly string[],
  describe: (id: string) => Promise<T[]>,
): Promise<Map<string, T>> {
  const found = new Map<string, T>();
  await Promise.all(
    ids.map(async (id) => {
      try {
        for (const item of await describe(id)) found.set(id, item);
      } catch (err) {
        if (!/NotFound|Malformed/.test((err as { name?: string }).name ?? "")) throw err;
      }
    }),
  );
  return found;
}

/** The subnets that exist among `ids`, with their VPC and zone. */
export function describeSubnets(client: EC2Client, ids: readonly string[]): Promise<Map<string, SubnetInfo>> {
  return describeEach(ids, async (id) =>
    ((await client.send(new DescribeSubnetsCommand({ SubnetIds: [id] }))).Subnets ?? []).map((s) => ({
      id,
      vpcId: s.VpcId ?? "",
      zone: s.AvailabilityZone ?? "",
    })),
  );
}

/** The security groups that exist among `ids`, with their VPC. */
export function describeSecurityGroups(
  client: EC2Client,
  ids: readonly string[],
): Promise<Map<string, { id: string; vpcId: string }>> {
  return describeEach(ids, async (id) =>
    ((await client.send(new DescribeSecurityGroupsCommand({ GroupIds: [id] }))).SecurityGroups ?? []).map((g) => ({
      id,
      vpcId: g.VpcId ?? "",
    })),
  );
}

export async function describeImage(
  client: EC2Client,
  imageId: string,
): Promise<{ id: string; name: string; description: string } | undefined> {
  try {
    const out = await client.send(new DescribeImagesCommand({ ImageIds: [imageId] }));
    const image = out.Images?.[0];
    return image ? { id: imageId, name: image.Name ?? "", description: image.Description ?? "" } : undefined;
  } catch (err) {
    if (/NotFound|Malformed/.test((err as { name?: string }).name ?? "")) return undefined;
    throw err;
  }
}

/** Zones (among `zones`) where each of `types` is offered. */
export async function instanceTypeZones(
  client: EC2Client,
  types: readonly string[],
  zones: readonly string[],
): Promise<Map<string, Set<string>>> {
  const out = await client.send(
    new DescribeInstanceTypeOfferingsCommand({
      LocationType: "availability-zone",
      Filters: [
        { Name: "instance-type", Values: [...types] },
        { Name: "location", Values: [...zones] },
      ],
    }),
  );
  const offered = new Map<string, Set<string>>(types.map((t) => [t, new Set<string>()]));
  for (const o of out.InstanceTypeOfferings ?? [])
    if (o.InstanceType && o.Location) offered.get(o.InstanceType)?.add(o.Location);
  return offered;
}

/** vCPUs and memory of each known type among `types` (unknown types are left out). */
export async function instanceTypeSizes(
  client: EC2Client,
  types: readonly string[],
): Promise<Map<string, { vcpus: number; memoryMiB: number }>> {
  const sizes = new Map<string, { vcpus: number; memoryMiB: number }>();
  await Promise.all(
    types.map(async (type) => {
      try {
        const out = await client.send(new DescribeInstanceTypesCommand({ InstanceTypes: [type as _InstanceType] }));
        const t = out.InstanceTypes?.[0];
        if (t) sizes.set(type, { vcpus: t.VCpuInfo?.DefaultVCpus ?? 0, memoryMiB: t.MemoryInfo?.SizeInMiB ?? 0 });
      } catch (err) {
        if (!/InvalidInstanceType|NotFound/.test((err as { name?: string }).name ?? "")) throw err;
      }
    }),
  );
  return sizes;
}

// --- gc: everything of every app, across the region -------------------------------------------

const tagValue = (tags: readonly Ec2Tag[] | undefined, key: string) => tags?.find((t) => t.Key === key)?.Value;
const tagFilter = (key: string) => [{ Name: "tag-key", Values: [key] }];

/**
 * The live Spot Fleet requests and EC2 Fleets tagged `tagKey` (DescribeSpotFleetRequests and
 * DescribeFleets take no tag filter: every fleet is listed and the tags read from the answer).
 * Cancelled and deleted fleets stay listed for up to 48 hours (EC2 docs: "cancelled ... requests
 * are deleted 48 hours after"): they are gone already, and are left out.
 */
export async function listTaggedFleets(client: EC2Client, tagKey: string): Promise<FoundResource[]> {
  const found: FoundResource[] = [];
  for await (const page of paginateDescribeSpotFleetRequests({ client }, {}))
    for (const c of page.SpotFleetRequestConfigs ?? []) {
      const app = tagValue(c.Tags, tagKey);
      if (!app || !c.SpotFleetRequestId || !fleetBills(c.SpotFleetRequestState)) continue;
      found.push({
        kind: "fleet",
        id: c.SpotFleetRequestId,
        app,
        api: "spot-fleet",
        ...(c.CreateTime ? { createdMs: c.CreateTime.getTime() } : {}),
      });
    }
  for await (const page of paginateDescribeFleets({ client }, {}))
    for (const f of page.Fleets ?? []) {
      const app = tagValue(f.Tags, tagKey);
      if (!app || !f.FleetId || !fleetBills(f.FleetState)) continue;
      found.push({
        kind: "fleet",
        id: f.FleetId,
        app,
        api: "ec2-fleet",
        ...(f.CreateTime ? { createdMs: f.CreateTime.getTime() } : {}),
      });
    }
  return found;
}

/** Pending and running instances tagged `tagKey` (DescribeInstances filters by tag key). */
export async function listTaggedInstances(client: EC2Client, tagKey: string): Promise<FoundResource[]> {
  const found: FoundResource[] = [];
  const Filters = [...tagFilter(tagKey), { Name: "instance-state-name", Values: ["pending", "running"] }];
  for await (const out of paginateDescribeInstances({ client }, { Filters, MaxResults: 1000 }))
    for (const i of (out.Reservations ?? []).flatMap((r) => r.Instances ?? [])) {
      const app = tagValue(i.Tags, tagKey);
      if (!app || !i.InstanceId) continue;
      found.push({
        kind: "instance",
        id: i.InstanceId,
        app,
        ...(i.LaunchTime ? { createdMs: i.LaunchTime.getTime() } : {}),
      });
    }
  return found;
}

/** Launch templates tagged `tagKey`. */
export async function listTaggedLaunchTemplates(client: EC2Client, tagKey: string): Promise<FoundResource[]> {
  const found: FoundResource[] = [];
  for await (const out of paginateDescribeLaunchTemplates({ client }, { Filters: tagFilter(tagKey) }))
    for (const t of out.LaunchTemplates ?? []) {
      const app = tagValue(t.Tags, tagKey);
      if (!app || !t.LaunchTemplateId) continue;
      found.push({
        kind: "launch-template",
        id: t.LaunchTemplateId,
        app,
        ...(t.CreateTime ? { createdMs: t.CreateTime.getTime() } : {}),
      });
    }
  return found;
}

/** Terminates instances (1,000 per call); ids already gone count as done. Returns how many were asked. */
export async function terminateInstances(client: EC2Client, ids: readonly string[]): Promise<number> {
  for (let i = 0; i < ids.length; i += 1000)
    await doneUnlessGone(client.send(new TerminateInstancesCommand({ InstanceIds: ids.slice(i, i + 1000) })));
  return ids.length;
}
