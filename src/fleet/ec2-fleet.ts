/**
 * The EC2 Fleet provider (CreateFleet, type maintain), for accounts whose policies deny the legacy
 * Spot Fleet call: a launch template from the first launch specification, then the fleet, both
 * built purely from a DCP fleet file; and the calls that launch, read, resize and delete it.
 */
import type {
  CreateFleetRequest,
  CreateLaunchTemplateRequest,
  FleetLaunchTemplateOverridesRequest,
  ModifyFleetRequest,
  RequestLaunchTemplateData,
} from "@aws-sdk/client-ec2";
import { sdk } from "../aws/sdk.js";
import { endpointOverridden, type AwsContext } from "../aws/context.js";
import { deleteLaunchTemplateIfExists, ec2Client, replaceLaunchTemplate } from "../aws/ec2.js";
import { isUnsupported } from "../aws/errors.js";
import { OperationalError } from "../errors.js";
import { clientToken } from "../plan/client-token.js";
import * as shared from "../plan/fleet-request.js";
import { appNames, fleetTags, tagList, workerTags } from "../plan/names.js";
import type { FleetStatus } from "../plan/fleet-status.js";
import { unlessNotFound } from "../aws/errors.js";
import { activeInstanceIds, canceller, shrinker, statusOf } from "./ec2-fleet-calls.js";
import { FleetOperationUnsupportedError, type FleetProvider } from "./provider.js";

const {
  CreateFleetCommand,
  DeleteFleetsCommand,
  DescribeFleetInstancesCommand,
  DescribeFleetsCommand,
  ModifyFleetCommand,
  paginateDescribeFleets,
} = sdk("@aws-sdk/client-ec2");

/** The same for an EC2 Fleet of type maintain: surplus instances keep running until their idle alarm ends them. */
export function modifyFleetInput(fleetId: string, target: number): ModifyFleetRequest {
  shared.assertTarget(target);
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

export interface Ec2FleetPlan extends shared.PlanNotes {
  launchTemplate: CreateLaunchTemplateRequest;
  /** The CreateFleet input once the launch template exists. */
  fleet(launchTemplateId: string): CreateFleetRequest;
}

/** A launch template from the first specification, then CreateFleet (maintain, price-capacity-optimized) with one override per instance type (and subnet). */
export function ec2FleetRequests(input: shared.FleetPlanInput): Ec2FleetPlan {
  const { config, fleet, now } = input;
  const { spec, notes } = shared.baseSpec(input);
  const instanceTags = workerTags(config.APP_NAME);
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
      ...shared.mergeTagSpecs(spec.TagSpecifications, "instance", instanceTags),
      { ResourceType: "volume", Tags: instanceTags },
    ] as RequestLaunchTemplateData["TagSpecifications"],
  };
  const token = (action: string) =>
    input.nonce ? { ClientToken: clientToken(config.APP_NAME, input.nonce, action) } : {};
  if (fleet.ClientToken)
    notes.push("the fleet file's ClientToken is replaced by one dcp derives from the run (a retry must reuse it)");
  const launchTemplate: CreateLaunchTemplateRequest = {
    ...token("CreateLaunchTemplate"),
    LaunchTemplateName: appNames(config.APP_NAME).launchTemplate,
    VersionDescription: `dcp start-cluster for ${config.APP_NAME}`,
    LaunchTemplateData: data,
    TagSpecifications: [
      { ResourceType: "launch-template", Tags: tagList(config.APP_NAME, appNames(config.APP_NAME).launchTemplate) },
    ],
  };
  const overrides: FleetLaunchTemplateOverridesRequest[] = config.MACHINE_TYPE.flatMap((type) =>
    subnets.map((subnet) => ({
      InstanceType: type as FleetLaunchTemplateOverridesRequest["InstanceType"],
      ...(subnet ? { SubnetId: subnet } : {}),
      ...(config.MACHINE_PRICE !== null ? { MaxPrice: shared.priceString(config.MACHINE_PRICE) } : {}),
      ...(spec.WeightedCapacity !== undefined ? { WeightedCapacity: spec.WeightedCapacity } : {}),
    })),
  );
  // BUDGET_USD: EC2 Fleet's MaxTotalPrice is "the maximum amount per hour for Spot Instances that you're willing
  // to pay"; reached, the fleet stops launching (it terminates nothing). The budget spread over the expected
  // hours (dcp estimate's wall time, from start-cluster --seconds-per-group; unknown: the whole budget per hour);
  // the monitor's budget stop is the exact limit, this is the backstop while nobody watches.
  const known = input.expectedHours !== undefined && input.expectedHours > 0;
  const hours = known ? input.expectedHours! : 1;
  const maxTotalPrice = config.BUDGET_USD
    ? (Math.floor((config.BUDGET_USD / hours) * 10_000) / 10_000).toString()
    : undefined;
  if (maxTotalPrice)
    notes.push(
      `BUDGET_USD ${config.BUDGET_USD}: the fleet's MaxTotalPrice is $${maxTotalPrice}/h ` +
        (known
          ? `(the budget over the estimated wall time, ${hours.toFixed(2)} h)`
          : "(the whole budget per hour: pass --seconds-per-group for the budget over the estimated wall time)") +
        "; dcp monitor stops the run before spend reaches the budget",
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
      ...token("CreateFleet"),
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
        ...(maxTotalPrice ? { MaxTotalPrice: maxTotalPrice } : {}),
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
      ...shared.validity(now),
      TagSpecifications: shared.mergeTagSpecs(
        fleet.TagSpecifications?.filter((t) => t.ResourceType === "fleet"),
        "fleet",
        fleetTags(config.APP_NAME),
      ),
    }),
  };
}

const errorLines = (errors: { ErrorCode?: string; ErrorMessage?: string }[] | undefined) =>
  (errors ?? []).map((e) => `${e.ErrorCode ?? "error"}: ${e.ErrorMessage ?? ""}`.trim());

export function createProvider(ctx: AwsContext): FleetProvider {
  const ec2 = ec2Client(ctx);
  const activeInstances = (id: string) =>
    activeInstanceIds((NextToken) => ec2.send(new DescribeFleetInstancesCommand({ FleetId: id, NextToken })));
  const describe = async (id: string): Promise<FleetStatus | undefined> => {
    const out = await unlessNotFound(ec2.send(new DescribeFleetsCommand({ FleetIds: [id] })));
    const fleet = out?.Fleets?.find((f) => f.FleetId === id);
    return statusOf(
      id,
      fleet && {
        ...(fleet.FleetState ? { state: fleet.FleetState } : {}),
        ...(fleet.ActivityStatus ? { activityStatus: fleet.ActivityStatus } : {}),
        ...(fleet.TargetCapacitySpecification?.TotalTargetCapacity !== undefined
          ? { target: fleet.TargetCapacitySpecification.TotalTargetCapacity }
          : {}),
        ...(fleet.FulfilledCapacity !== undefined ? { fulfilled: fleet.FulfilledCapacity } : {}),
      },
      errorLines(fleet?.Errors),
    );
  };
  const cancel = canceller(
    ec2,
    describe,
    activeInstances,
    ["fleetIdDoesNotExist", "fleetNotInDeletableState"],
    async (fleetId) => {
      const out = await ec2.send(new DeleteFleetsCommand({ FleetIds: [fleetId], TerminateInstances: true }));
      return out.UnsuccessfulFleetDeletions?.find((f) => f.FleetId === fleetId)?.Error;
    },
  );
  const setTarget = async (id: string, target: number): Promise<void> => {
    try {
      await ec2.send(new ModifyFleetCommand(modifyFleetInput(id, target)));
    } catch (err) {
      if (isUnsupported(err, endpointOverridden("ec2")))
        throw new FleetOperationUnsupportedError(
          "ModifyFleet",
          id,
          `the EC2 endpoint does not implement it: ${(err as Error).message.split("\n")[0]}`,
        );
      throw err;
    }
  };
  return {
    api: "ec2-fleet",
    plan(input) {
      const plan = ec2FleetRequests(input);
      return {
        notes: plan.notes,
        requests: {
          CreateLaunchTemplate: plan.launchTemplate,
          CreateFleet: plan.fleet("<id of the launch template above>"),
        },
        async launch() {
          const launchTemplateId = await replaceLaunchTemplate(ec2, plan.launchTemplate);
          try {
            const out = await ec2.send(new CreateFleetCommand(plan.fleet(launchTemplateId)));
            const errors = errorLines(out.Errors);
            if (!out.FleetId)
              throw new OperationalError(
                `CreateFleet returned no fleet id${errors.length ? `: ${errors.join("; ")}` : ""}`,
              );
            return { api: "ec2-fleet", id: out.FleetId, launchTemplateId, createErrors: errors };
          } catch (err) {
            await deleteLaunchTemplateIfExists(ec2, launchTemplateId);
            throw err;
          }
        },
      };
    },
    describe,
    activeInstances,
    setTarget,
    shrink: shrinker(ec2, setTarget),
    cancel,
    async destroy(fleet) {
      await cancel(fleet.id);
      if (fleet.launchTemplateId) await deleteLaunchTemplateIfExists(ec2, fleet.launchTemplateId);
    },
    // The launch template tags instances and volumes at launch.
    adoptInstances: async () => {},
    async findStarted(appName, nonce) {
      const token = clientToken(appName, nonce, "CreateFleet");
      for await (const page of paginateDescribeFleets({ client: ec2 }, {}))
        for (const f of page.Fleets ?? [])
          if (f.ClientToken === token && f.FleetId) {
            const template = f.LaunchTemplateConfigs?.[0]?.LaunchTemplateSpecification?.LaunchTemplateId;
            return { api: "ec2-fleet", id: f.FleetId, ...(template ? { launchTemplateId: template } : {}) };
          }
      return undefined;
    },
    // EC2 Fleet publishes no capacity metrics: the dashboard shows the workers' CPU instead.
    capacityMetrics: () => undefined,
  };
}
