/**
 * The parts of a fleet request every provider shares (the launch specification from a DCP fleet
 * file, tags, validity), built purely; each provider in src/fleet/ builds its own API's request
 * from them. Pure builders of the fleet requests dcp sends (no AWS calls here; only SDK *types*, which
 * vanish at runtime). Unit-tested without an emulator, including the EC2 Fleet downscale
 * (ModifyFleet), which moto does not implement.
 */
import type { Tag, TagSpecification } from "@aws-sdk/client-ec2";
import type { Config } from "../config/schema.js";
import { AUTO_IMAGE, type FleetFile, type LaunchSpecificationInput } from "./fleet-file.js";
import { userDataBase64 } from "./user-data.js";

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
> &
  Partial<Pick<Config, "BUDGET_USD">>;

export interface FleetPlanInput {
  config: FleetConfig;
  fleet: FleetFile;
  /** The AMI to use when the file says "auto" or none (resolved from SSM by the flow). */
  resolvedImageId: string | undefined;
  now: Date;
  /** The start attempt's nonce (saved in the state file first): create calls carry client tokens from it. */
  nonce?: string | undefined;
  /** The fleet file's path, for error messages. */
  source?: string | undefined;
  /** How long the run is expected to take (dcp estimate's wall time), for EC2 Fleet's hourly MaxTotalPrice; default 1. */
  expectedHours?: number | undefined;
}

/** True when the first launch specification asks for the current ECS-optimized AMI. */
export function needsAutoImage(fleet: FleetFile): boolean {
  const imageId = fleet.LaunchSpecifications[0]?.ImageId;
  return imageId === undefined || imageId === AUTO_IMAGE;
}

/** Adds dcp's tags to any the file already has for the resource type (dcp's win on the same key). */
export function mergeTagSpecs(
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

export interface BaseSpec {
  spec: LaunchSpecificationInput;
  notes: string[];
}

/**
 * The first launch specification with what dcp fills: the AMI, the volume sizes, ASSIGN_IP on every
 * network interface, and the user data. InstanceType and tags are added per API.
 */
export function baseSpec({ config, fleet, resolvedImageId }: FleetPlanInput): BaseSpec {
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

/**
 * When the request expires, in whole seconds. EC2 rejects fractional seconds in RequestSpotFleet
 * ("SpotFleetRequestConfig.ValidUntil is invalid", aws-sdk-js-v3 #7103); the SDK writes a Date as
 * ISO 8601 and drops ".000" only when the milliseconds are zero. ValidFrom is left out: it defaults to
 * the moment AWS receives the request.
 */
/**
 * The EBS gigabytes each instance of the fleet is launched with (every mapping dcp sends), for cost
 * estimates made before anything runs: with `ImageId: auto` the AMI is not looked up, since which AMI it
 * resolves to does not change the volumes dcp sends.
 */
export function ebsGbPerInstance(config: FleetConfig, fleet: FleetFile): number {
  const resolvedImageId = needsAutoImage(fleet) ? "ami-not-looked-up" : undefined;
  const { spec } = baseSpec({ config, fleet, resolvedImageId, now: new Date(0) });
  const gb = (spec.BlockDeviceMappings ?? []).reduce((sum, m) => sum + (m.Ebs?.VolumeSize ?? 0), 0);
  return gb || config.EBS_VOL_SIZE;
}

export function validity(now: Date): { ValidUntil: Date } {
  const wholeSeconds = Math.floor(now.getTime() / 1000) * 1000;
  return { ValidUntil: new Date(wholeSeconds + VALID_FOR_DAYS * 24 * 3600 * 1000) };
}

export function priceString(price: number): string {
  return String(price);
}

/** A fleet target is a whole number of machines, never negative. */
export function assertTarget(target: number): void {
  if (!Number.isInteger(target) || target < 0)
    throw new RangeError(`fleet target must be a whole number >= 0, got ${target}`);
}
