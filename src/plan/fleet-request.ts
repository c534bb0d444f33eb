/**
 * Pure builders of the fleet requests dcp sends (no AWS calls here; only SDK *types*, which
 * vanish at runtime). Unit-tested without an emulator, including the EC2 Fleet downscale
 * (ModifyFleet), which moto does not implement.
 */
import type {
  CreateFleetRequest,
  ModifyFleetRequest,
  ModifySpotFleetRequestRequest,
  CreateLaunchTemplateRequest,
  FleetLaunchTemplateOverridesRequest,
  RequestLaunchTemplateData,
  RequestSpotFleetRequest,
  SpotFleetLaunchSpecification,
  Tag,
  TagSpecification,
} from "@aws-sdk/client-ec2";
import type { Config } from "../config/schema.js";
import { AUTO_IMAGE, type FleetFile, type LaunchSpecificationInput } from "./fleet-file.js";
import { APP_TAG_KEY } from "./reconcile.js";
import { userDataBase64 } from "./user-data.js";

/** Lower (or raise) a Spot Fleet's target without terminating running instances (DCP's downscale). */
export function modifySpotFleetInput(fleetId: string, target: number): ModifySpotFleetRequestRequest {
  assertTarget(target);
  return { SpotFleetRequestId: fleetId, TargetCapacity: target, ExcessCapacityTerminationPolicy: "noTermination" };
}

/** The same for an EC2 Fleet of type maintain: surplus instances keep running until their idle alarm ends them. */
export function modifyFleetInput(fleetId: string, target: number): ModifyFleetRequest {
  assertTarget(target);
  return {
    FleetId: fleetId,
    TargetCapacitySpecification: {
      TotalTargetCapacity: target,
      SpotTargetCapacity: target,
      DefaultTargetCapacityType: "spot",
    },
    ExcessCapacityTerminationPolicy: "no-termination",
  };
}

function assertTarget(target: number): void {
  if (!Number.isInteger(target) || target < 0)
    throw new RangeError(`fleet target must be a whole number >= 0, got ${target}`);
}

// ---------------------------------------------------------------------------------------------
// start-cluster: from a DCP fleet file and the config to the requests dcp sends.

/** The public SSM parameters holding the current ECS-optimized AMI, newest first. */
export const ECS_AMI_PARAMETERS = [
  "/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id",
  "/aws/service/ecs/optimized-ami/amazon-linux-2/recommended/image_id",
] as const;

/** The device DCP's fleet files give Docker (Amazon Linux 1 layout). */
export const DOCKER_DEVICE = "/dev/xvdcz";
/** The root device of the ECS-optimized Amazon Linux AMIs, where Docker lives on current AMIs. */
export const ROOT_DEVICE = "/dev/xvda";
/** The smallest root volume the Amazon Linux 2023 ECS AMI accepts. */
export const AUTO_AMI_MIN_ROOT_GB = 30;
const VALID_FOR_DAYS = 365;

export type FleetConfig = Pick<
  Config,
  "APP_NAME" | "ECS_CLUSTER" | "CLUSTER_MACHINES" | "MACHINE_TYPE" | "MACHINE_PRICE" | "EBS_VOL_SIZE" | "ASSIGN_IP"
>;

export interface FleetPlanInput {
  config: FleetConfig;
  fleet: FleetFile;
  /** The AMI to use when the file says "auto" or none (resolved from SSM by the flow). */
  resolvedImageId: string | undefined;
  now: Date;
}

/** True when the first launch specification asks for the current ECS-optimized AMI. */
export function needsAutoImage(fleet: FleetFile): boolean {
  const imageId = fleet.LaunchSpecifications[0]?.ImageId;
  return imageId === undefined || imageId === AUTO_IMAGE;
}

/** `dcp:app` plus an optional Name, as EC2 and CloudWatch tags. */
export function tagList(appName: string, name?: string): { Key: string; Value: string }[] {
  return [{ Key: APP_TAG_KEY, Value: appName }, ...(name ? [{ Key: "Name", Value: name }] : [])];
}

export function workerName(appName: string): string {
  return `${appName}Worker`;
}

export function launchTemplateName(appName: string): string {
  return `${appName}_LaunchTemplate`;
}

/** Adds dcp's tags to any the file already has for the resource type (dcp's win on the same key). */
function mergeTagSpecs(
  existing: FleetFile["TagSpecifications"],
  resourceType: string,
  tags: Tag[],
): TagSpecification[] {
  const others = (existing ?? []).filter((t) => t.ResourceType !== resourceType);
  const own = (existing ?? []).filter((t) => t.ResourceType === resourceType).flatMap((t) => t.Tags);
  const keys = new Set(tags.map((t) => t.Key));
  return [
    ...others,
    { ResourceType: resourceType, Tags: [...own.filter((t) => !keys.has(t.Key)), ...tags] },
  ] as TagSpecification[];
}

/** What the request builders noticed and changed, for the user to read. */
export interface PlanNotes {
  notes: string[];
}

interface BaseSpec {
  spec: LaunchSpecificationInput;
  notes: string[];
}

/**
 * The first launch specification with what dcp fills: the AMI, the volume sizes, ASSIGN_IP on every
 * network interface, and the user data. InstanceType and tags are added per API.
 */
function baseSpec({ config, fleet, resolvedImageId }: FleetPlanInput): BaseSpec {
  const notes: string[] = [];
  const first = fleet.LaunchSpecifications[0]!;
  if (fleet.LaunchSpecifications.length > 1) {
    notes.push(
      `the fleet file lists ${fleet.LaunchSpecifications.length} launch specifications; dcp uses the first as the template for every MACHINE_TYPE entry and ignores the others`,
    );
  }
  const auto = needsAutoImage(fleet);
  if (auto && !resolvedImageId) throw new Error("ImageId is auto but no AMI was resolved");
  const imageId = auto ? resolvedImageId! : first.ImageId!;

  let mappings = (first.BlockDeviceMappings ?? []).map((m) => ({ ...m, ...(m.Ebs ? { Ebs: { ...m.Ebs } } : {}) }));
  if (auto) {
    for (const m of mappings) {
      if (m.DeviceName === ROOT_DEVICE && m.Ebs?.SnapshotId) {
        delete m.Ebs.SnapshotId;
        notes.push(`ImageId is auto: removed the SnapshotId of ${ROOT_DEVICE} (it belongs to another AMI)`);
      }
      if (m.DeviceName === ROOT_DEVICE && m.Ebs?.VolumeSize !== undefined && m.Ebs.VolumeSize < AUTO_AMI_MIN_ROOT_GB) {
        notes.push(
          `ImageId is auto: raised ${ROOT_DEVICE} from ${m.Ebs.VolumeSize} to ${AUTO_AMI_MIN_ROOT_GB} GB (the Amazon Linux 2023 ECS AMI's minimum)`,
        );
        m.Ebs.VolumeSize = AUTO_AMI_MIN_ROOT_GB;
      }
    }
  }
  const docker = mappings.find((m) => m.DeviceName === DOCKER_DEVICE);
  if (docker) {
    docker.Ebs = { DeleteOnTermination: true, ...docker.Ebs, VolumeSize: config.EBS_VOL_SIZE };
    if (auto)
      notes.push(
        `ImageId is auto (Amazon Linux 2023 keeps Docker on the root volume): the ${DOCKER_DEVICE} mapping adds an unused disk; remove it so EBS_VOL_SIZE sizes the root volume`,
      );
  } else {
    const root = mappings.find((m) => m.DeviceName === ROOT_DEVICE);
    if (root)
      root.Ebs = {
        DeleteOnTermination: true,
        ...root.Ebs,
        VolumeSize: Math.max(config.EBS_VOL_SIZE, root.Ebs?.VolumeSize ?? 0),
      };
    else if (auto)
      mappings = [
        ...mappings,
        {
          DeviceName: ROOT_DEVICE,
          Ebs: {
            DeleteOnTermination: true,
            VolumeType: "gp3",
            VolumeSize: Math.max(config.EBS_VOL_SIZE, AUTO_AMI_MIN_ROOT_GB),
          },
        },
      ];
    else
      notes.push(
        `no ${DOCKER_DEVICE} or ${ROOT_DEVICE} mapping in the fleet file: EBS_VOL_SIZE (${config.EBS_VOL_SIZE} GB) is not applied`,
      );
  }

  const networkInterfaces = first.NetworkInterfaces?.map((nic, index) => {
    if ((nic.DeviceIndex ?? index) !== 0) return { ...nic };
    if (nic.AssociatePublicIpAddress !== undefined && nic.AssociatePublicIpAddress !== config.ASSIGN_IP) {
      notes.push(`ASSIGN_IP=${config.ASSIGN_IP} overrides the file's AssociatePublicIpAddress`);
    }
    return { ...nic, AssociatePublicIpAddress: config.ASSIGN_IP };
  });
  if (!networkInterfaces?.length && !config.ASSIGN_IP) {
    notes.push(
      "ASSIGN_IP is false but the launch specification has no NetworkInterfaces: the subnet's setting decides about public IPs",
    );
  }

  const { InstanceType: _type, SpotPrice: _price, UserData: _userData, ImageId: _image, ...rest } = first;
  const spec: LaunchSpecificationInput = {
    ...rest,
    ImageId: imageId,
    ...(mappings.length ? { BlockDeviceMappings: mappings } : {}),
    ...(networkInterfaces?.length ? { NetworkInterfaces: networkInterfaces } : {}),
    UserData: userDataBase64({ cluster: config.ECS_CLUSTER }),
  };
  return { spec, notes };
}

function validity(now: Date): { ValidFrom: Date; ValidUntil: Date } {
  return {
    ValidFrom: new Date(now.getTime()),
    ValidUntil: new Date(now.getTime() + VALID_FOR_DAYS * 24 * 3600 * 1000),
  };
}

function priceString(price: number): string {
  return String(price);
}

/** RequestSpotFleet input: one launch specification per MACHINE_TYPE entry (DCP #216). */
export function spotFleetRequest(input: FleetPlanInput): { request: RequestSpotFleetRequest } & PlanNotes {
  const { config, fleet, now } = input;
  const { spec, notes } = baseSpec(input);
  const instanceTags = tagList(config.APP_NAME, workerName(config.APP_NAME));
  const specs = config.MACHINE_TYPE.map(
    (type) =>
      ({
        ...spec,
        InstanceType: type,
        TagSpecifications: mergeTagSpecs(spec.TagSpecifications, "instance", instanceTags),
      }) as SpotFleetLaunchSpecification,
  );
  const {
    $schema: _schema,
    LaunchSpecifications: _specs,
    TargetCapacity: _t,
    SpotPrice: _p,
    ValidFrom: _f,
    ValidUntil: _u,
    TagSpecifications,
    ...rest
  } = fleet;
  const request: RequestSpotFleetRequest = {
    SpotFleetRequestConfig: {
      ...rest,
      AllocationStrategy: fleet.AllocationStrategy ?? "priceCapacityOptimized",
      Type: fleet.Type ?? "maintain",
      TerminateInstancesWithExpiration: fleet.TerminateInstancesWithExpiration ?? true,
      TargetCapacity: config.CLUSTER_MACHINES,
      ...(config.MACHINE_PRICE !== null ? { SpotPrice: priceString(config.MACHINE_PRICE) } : {}),
      ...validity(now),
      LaunchSpecifications: specs,
      TagSpecifications: mergeTagSpecs(
        TagSpecifications,
        "spot-fleet-request",
        tagList(config.APP_NAME, `${config.APP_NAME}Fleet`),
      ),
    },
  };
  return { request, notes };
}

export interface Ec2FleetPlan extends PlanNotes {
  launchTemplate: CreateLaunchTemplateRequest;
  /** The CreateFleet input once the launch template exists. */
  fleet(launchTemplateId: string): CreateFleetRequest;
}

/** A launch template from the first specification, then CreateFleet (maintain, price-capacity-optimized) with one override per instance type (and subnet). */
export function ec2FleetRequests(input: FleetPlanInput): Ec2FleetPlan {
  const { config, fleet, now } = input;
  const { spec, notes } = baseSpec(input);
  const instanceTags = tagList(config.APP_NAME, workerName(config.APP_NAME));
  const subnets = spec.NetworkInterfaces?.length
    ? [undefined]
    : (spec.SubnetId?.split(",").map((s) => s.trim()) ?? [undefined]);
  const securityGroupIds = spec.SecurityGroups?.map((g) => g.GroupId).filter((g): g is string => Boolean(g));
  const data: RequestLaunchTemplateData = {
    ImageId: spec.ImageId,
    ...(spec.KeyName ? { KeyName: spec.KeyName } : {}),
    ...(spec.IamInstanceProfile ? { IamInstanceProfile: spec.IamInstanceProfile } : {}),
    ...(spec.BlockDeviceMappings ? { BlockDeviceMappings: spec.BlockDeviceMappings } : {}),
    ...(spec.NetworkInterfaces
      ? { NetworkInterfaces: spec.NetworkInterfaces as RequestLaunchTemplateData["NetworkInterfaces"] }
      : {}),
    ...(!spec.NetworkInterfaces && securityGroupIds?.length ? { SecurityGroupIds: securityGroupIds } : {}),
    ...(spec.Placement ? { Placement: spec.Placement as RequestLaunchTemplateData["Placement"] } : {}),
    ...(spec.Monitoring ? { Monitoring: spec.Monitoring } : {}),
    ...(spec.EbsOptimized !== undefined ? { EbsOptimized: spec.EbsOptimized } : {}),
    ...(spec.KernelId ? { KernelId: spec.KernelId } : {}),
    ...(spec.RamdiskId ? { RamDiskId: spec.RamdiskId } : {}),
    UserData: spec.UserData,
    // IMDSv2 only, and a hop limit of 2 so the worker in a bridge-mode container can read spot
    // interruption notices (with the default of 1 the token response never reaches it).
    MetadataOptions: { HttpEndpoint: "enabled", HttpTokens: "required", HttpPutResponseHopLimit: 2 },
    TagSpecifications: [
      ...mergeTagSpecs(spec.TagSpecifications, "instance", instanceTags),
      { ResourceType: "volume", Tags: instanceTags },
    ] as RequestLaunchTemplateData["TagSpecifications"],
  };
  const launchTemplate: CreateLaunchTemplateRequest = {
    LaunchTemplateName: launchTemplateName(config.APP_NAME),
    VersionDescription: `dcp start-cluster for ${config.APP_NAME}`,
    LaunchTemplateData: data,
    TagSpecifications: [
      { ResourceType: "launch-template", Tags: tagList(config.APP_NAME, launchTemplateName(config.APP_NAME)) },
    ],
  };
  const overrides: FleetLaunchTemplateOverridesRequest[] = config.MACHINE_TYPE.flatMap((type) =>
    subnets.map((subnet) => ({
      InstanceType: type as FleetLaunchTemplateOverridesRequest["InstanceType"],
      ...(subnet ? { SubnetId: subnet } : {}),
      ...(config.MACHINE_PRICE !== null ? { MaxPrice: priceString(config.MACHINE_PRICE) } : {}),
      ...(spec.WeightedCapacity !== undefined ? { WeightedCapacity: spec.WeightedCapacity } : {}),
    })),
  );
  if (fleet.AllocationStrategy && fleet.AllocationStrategy !== "priceCapacityOptimized") {
    notes.push(
      `FLEET_API ec2-fleet uses price-capacity-optimized (AWS's recommendation) instead of the file's ${fleet.AllocationStrategy}`,
    );
  }
  return {
    launchTemplate,
    notes,
    fleet: (launchTemplateId) => ({
      Type: "maintain",
      TargetCapacitySpecification: {
        TotalTargetCapacity: config.CLUSTER_MACHINES,
        SpotTargetCapacity: config.CLUSTER_MACHINES,
        OnDemandTargetCapacity: 0,
        DefaultTargetCapacityType: "spot",
      },
      SpotOptions: {
        AllocationStrategy: "price-capacity-optimized",
        InstanceInterruptionBehavior: fleet.InstanceInterruptionBehavior ?? "terminate",
      },
      LaunchTemplateConfigs: [
        {
          LaunchTemplateSpecification: { LaunchTemplateId: launchTemplateId, Version: "$Latest" },
          Overrides: overrides,
        },
      ],
      TerminateInstancesWithExpiration: fleet.TerminateInstancesWithExpiration ?? true,
      ...(fleet.ReplaceUnhealthyInstances !== undefined
        ? { ReplaceUnhealthyInstances: fleet.ReplaceUnhealthyInstances }
        : {}),
      ...validity(now),
      TagSpecifications: mergeTagSpecs(
        fleet.TagSpecifications?.filter((t) => t.ResourceType === "fleet"),
        "fleet",
        tagList(config.APP_NAME, `${config.APP_NAME}Fleet`),
      ),
    }),
  };
}

// ---------------------------------------------------------------------------------------------
// start-cluster: what the wait loop does with one reading of the fleet.

export interface FleetReading {
  state: string;
  activityStatus?: string;
  errors: string[];
  target: number;
  /** Fulfilled capacity, in the fleet's units (machines unless the file sets WeightedCapacity). */
  fulfilled: number;
}

export type WaitVerdict = { kind: "wait" } | { kind: "fulfilled" } | { kind: "failed"; reasons: string[] };

const FAILED_STATES = new Set([
  "failed",
  "cancelled",
  "cancelled_running",
  "cancelled_terminating",
  "deleted",
  "deleted_running",
  "deleted_terminating",
]);

/**
 * A fleet that failed, was cancelled/deleted behind dcp's back, reports activity status `error`, or
 * lists launch errors is fatal: start-cluster cancels it and shows why. A missing reading (the fleet
 * is gone) is fatal too. Anything else waits until every machine is running.
 */
export function judgeFleet(reading: FleetReading | undefined): WaitVerdict {
  if (!reading) return { kind: "failed", reasons: ["the fleet no longer exists (cancelled or deleted outside dcp?)"] };
  const reasons: string[] = [];
  if (FAILED_STATES.has(reading.state)) reasons.push(`fleet state is ${reading.state}`);
  if (reading.activityStatus === "error") reasons.push("fleet activity status is error");
  reasons.push(...reading.errors);
  if (reasons.length) return { kind: "failed", reasons: [...new Set(reasons)] };
  return reading.fulfilled >= reading.target ? { kind: "fulfilled" } : { kind: "wait" };
}
