/**
 * The fleet file: DCP's SpotFleetRequestConfig JSON (reference section 4), accepted unchanged.
 * Strict at every level so a misspelled key is named with a suggestion instead of being sent to
 * AWS (or silently ignored). Values dcp fills itself (TargetCapacity, SpotPrice, ValidFrom,
 * ValidUntil, InstanceType, UserData) are accepted and replaced, as DCP did.
 * Pure: no AWS calls.
 */
import { z } from "zod";
import { readJsonFile, parseWithSchema, type FixHints } from "../validation.js";
import { UserInputError } from "../errors.js";

/** "auto" (or no ImageId) resolves the current ECS-optimized AMI from SSM at launch. */
export const AUTO_IMAGE = "auto";

const idOf = (prefix: string, what: string) =>
  z.string().regex(new RegExp(`^${prefix}-[0-9a-f]{8,17}$`), {
    error: `expected a ${what} id such as ${prefix}-0123456789abcdef0 (not a placeholder)`,
  });

const roleArn = z.string().regex(/^arn:aws[a-z-]*:iam::\d{12}:role\/.+$/, {
  error: "expected an IAM role ARN with your 12-digit account id, e.g. arn:aws:iam::123456789012:role/dcpFleetRole",
});
const instanceProfileArn = z.string().regex(/^arn:aws[a-z-]*:iam::\d{12}:instance-profile\/.+$/, {
  error:
    "expected an instance profile ARN with your 12-digit account id, e.g. arn:aws:iam::123456789012:instance-profile/ecsInstanceRole",
});

const tagSpecification = z.strictObject({
  ResourceType: z.string().min(1),
  Tags: z.array(z.strictObject({ Key: z.string().min(1), Value: z.string() })).default([]),
});

const ebs = z.strictObject({
  DeleteOnTermination: z.boolean().optional(),
  Encrypted: z.boolean().optional(),
  Iops: z.number().int().positive().optional(),
  KmsKeyId: z.string().optional(),
  SnapshotId: idOf("snap", "snapshot").optional(),
  Throughput: z.number().int().positive().optional(),
  VolumeSize: z.number().int().positive().optional(),
  VolumeType: z.enum(["standard", "io1", "io2", "gp2", "sc1", "st1", "gp3"]).optional(),
});

const blockDeviceMapping = z.strictObject({
  DeviceName: z.string().min(1),
  Ebs: ebs.optional(),
  NoDevice: z.string().optional(),
  VirtualName: z.string().optional(),
});

const networkInterface = z.strictObject({
  AssociatePublicIpAddress: z.boolean().optional(),
  DeleteOnTermination: z.boolean().optional(),
  Description: z.string().optional(),
  DeviceIndex: z.number().int().min(0).optional(),
  Groups: z.array(idOf("sg", "security group")).optional(),
  Ipv6AddressCount: z.number().int().min(0).optional(),
  NetworkInterfaceId: z.string().optional(),
  PrivateIpAddress: z.string().optional(),
  SecondaryPrivateIpAddressCount: z.number().int().min(0).optional(),
  SubnetId: idOf("subnet", "subnet").optional(),
  InterfaceType: z.string().optional(),
  NetworkCardIndex: z.number().int().min(0).optional(),
});

const launchSpecification = z.strictObject({
  ImageId: z.union([z.literal(AUTO_IMAGE), idOf("ami", "AMI")]).optional(),
  KeyName: z.string().min(1).optional(),
  IamInstanceProfile: z
    .strictObject({ Arn: instanceProfileArn.optional(), Name: z.string().min(1).optional() })
    .optional(),
  BlockDeviceMappings: z.array(blockDeviceMapping).optional(),
  NetworkInterfaces: z.array(networkInterface).optional(),
  SecurityGroups: z
    .array(z.strictObject({ GroupId: idOf("sg", "security group").optional(), GroupName: z.string().optional() }))
    .optional(),
  SubnetId: z
    .string()
    .regex(/^subnet-[0-9a-f]{8,17}(\s*,\s*subnet-[0-9a-f]{8,17})*$/, {
      error: "expected subnet ids such as subnet-0123456789abcdef0 (comma-separated for several)",
    })
    .optional(),
  Placement: z
    .strictObject({
      AvailabilityZone: z.string().optional(),
      GroupName: z.string().optional(),
      Tenancy: z.string().optional(),
    })
    .optional(),
  Monitoring: z.strictObject({ Enabled: z.boolean() }).optional(),
  EbsOptimized: z.boolean().optional(),
  WeightedCapacity: z.number().positive().optional(),
  TagSpecifications: z.array(tagSpecification).optional(),
  KernelId: z.string().optional(),
  RamdiskId: z.string().optional(),
  AddressingType: z.string().optional(),
  // Filled by dcp (from MACHINE_TYPE, MACHINE_PRICE and the generated user data).
  InstanceType: z.string().optional(),
  SpotPrice: z.string().optional(),
  UserData: z.string().optional(),
});

export const SPOT_ALLOCATION_STRATEGIES = [
  "lowestPrice",
  "diversified",
  "capacityOptimized",
  "capacityOptimizedPrioritized",
  "priceCapacityOptimized",
] as const;

export const fleetFileSchema = z.strictObject({
  $schema: z.string().optional(),
  IamFleetRole: roleArn,
  LaunchSpecifications: z
    .array(launchSpecification, { error: "expected a list of launch specifications" })
    .min(1, { error: "must list at least one launch specification" }),
  AllocationStrategy: z.enum(SPOT_ALLOCATION_STRATEGIES).optional(),
  TerminateInstancesWithExpiration: z.boolean().optional(),
  Type: z.enum(["maintain", "request"]).optional(),
  InstanceInterruptionBehavior: z.enum(["hibernate", "stop", "terminate"]).optional(),
  ReplaceUnhealthyInstances: z.boolean().optional(),
  ExcessCapacityTerminationPolicy: z.enum(["noTermination", "default"]).optional(),
  InstancePoolsToUseCount: z.number().int().positive().optional(),
  SpotMaxTotalPrice: z.string().optional(),
  TagSpecifications: z.array(tagSpecification).optional(),
  Context: z.string().optional(),
  ClientToken: z.string().optional(),
  // Filled by dcp: TargetCapacity = CLUSTER_MACHINES, SpotPrice = MACHINE_PRICE, ValidFrom/ValidUntil = now/+365 days (UTC).
  TargetCapacity: z.number().int().min(0).optional(),
  SpotPrice: z.string().optional(),
  ValidFrom: z.string().optional(),
  ValidUntil: z.string().optional(),
});

export type FleetFile = z.output<typeof fleetFileSchema>;
export type LaunchSpecificationInput = FleetFile["LaunchSpecifications"][number];

/** Every key the schema knows at any level, for "did you mean" suggestions. */
export const FLEET_FILE_KEYS: readonly string[] = collectKeys(fleetFileSchema);

function collectKeys(schema: z.ZodType): string[] {
  const keys = new Set<string>();
  const visit = (s: z.ZodType): void => {
    const def = (s as unknown as { _zod: { def: Record<string, unknown> } })._zod.def;
    if (def.type === "object") {
      for (const [key, child] of Object.entries(def.shape as Record<string, z.ZodType>)) {
        if (key !== "$schema") keys.add(key);
        visit(child);
      }
    } else if (def.type === "optional" || def.type === "nullable" || def.type === "default")
      visit(def.innerType as z.ZodType);
    else if (def.type === "array") visit(def.element as z.ZodType);
    else if (def.type === "union") for (const option of def.options as z.ZodType[]) visit(option);
  };
  visit(schema);
  return [...keys];
}

const FLEET_HINTS: FixHints = {
  IamFleetRole:
    "set the ARN of your Spot Fleet role (an IAM role trusted by spotfleet.amazonaws.com with the AWS managed policy AmazonEC2SpotFleetTaggingRole; IAM console > Roles)",
  LaunchSpecifications:
    "list one launch specification (ImageId, KeyName, IamInstanceProfile, BlockDeviceMappings, NetworkInterfaces); see files/exampleFleet_us-east-1.json",
  ImageId: `use "${AUTO_IMAGE}" for the current ECS-optimized AMI, or an AMI id of your region`,
  SubnetId: "copy a subnet id of your VPC (VPC console > Subnets)",
  Groups: "copy a security group id of your VPC (EC2 console > Security Groups)",
  Arn: "copy the ARN of the ecsInstanceRole instance profile (IAM console > Roles > ecsInstanceRole)",
  SnapshotId: `remove it (and set ImageId to "${AUTO_IMAGE}"), or copy the snapshot id of your AMI's root volume`,
  AllocationStrategy: 'use "priceCapacityOptimized" (recommended by AWS) or another Spot Fleet strategy',
};

export function parseFleetFile(value: unknown, source: string): FleetFile {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new UserInputError(
      source,
      undefined,
      "must be a JSON object (a Spot Fleet request configuration)",
      "start from files/exampleFleet_us-east-1.json",
    );
  }
  return parseWithSchema(fleetFileSchema, value, source, FLEET_HINTS, FLEET_FILE_KEYS);
}

export async function loadFleetFile(path: string): Promise<FleetFile> {
  return parseFleetFile(await readJsonFile(path, "fleet file"), path);
}
