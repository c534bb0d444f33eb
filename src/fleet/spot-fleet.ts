/**
 * The Spot Fleet provider (RequestSpotFleet, DCP's API): the request built from a DCP fleet file
 * (pure), and the calls that launch, read, resize and cancel such a fleet.
 */
import {
  CancelSpotFleetRequestsCommand,
  DescribeSpotFleetInstancesCommand,
  DescribeSpotFleetRequestsCommand,
  ModifySpotFleetRequestCommand,
  RequestSpotFleetCommand,
  type ModifySpotFleetRequestRequest,
  type RequestSpotFleetRequest,
  type SpotFleetLaunchSpecification,
} from "@aws-sdk/client-ec2";
import type { AwsContext } from "../aws/context.js";
import { ec2Client, tagInstanceVolumes } from "../aws/ec2.js";
import { OperationalError } from "../errors.js";
import * as shared from "../plan/fleet-request.js";
import { fleetTags, workerTags } from "../plan/names.js";
import type { FleetStatus } from "../plan/fleet-status.js";
import { activeInstanceIds, canceller, statusOf, unlessNotFound } from "./ec2-fleet-calls.js";
import type { FleetProvider } from "./provider.js";

/** Lower (or raise) a Spot Fleet's target without terminating running instances (DCP's downscale). */
export function modifySpotFleetInput(fleetId: string, target: number): ModifySpotFleetRequestRequest {
  shared.assertTarget(target);
  return { SpotFleetRequestId: fleetId, TargetCapacity: target, ExcessCapacityTerminationPolicy: "noTermination" };
}

/** RequestSpotFleet input: one launch specification per MACHINE_TYPE entry (DCP #216). */
export function spotFleetRequest(
  input: shared.FleetPlanInput,
): { request: RequestSpotFleetRequest } & shared.PlanNotes {
  const { config, fleet, now } = input;
  const { spec, notes } = shared.baseSpec(input);
  const instanceTags = workerTags(config.APP_NAME);
  const specs = config.MACHINE_TYPE.map(
    (type) =>
      ({
        ...spec,
        InstanceType: type,
        TagSpecifications: shared.mergeTagSpecs(spec.TagSpecifications, "instance", instanceTags),
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
      ...(config.MACHINE_PRICE !== null ? { SpotPrice: shared.priceString(config.MACHINE_PRICE) } : {}),
      ...shared.validity(now),
      LaunchSpecifications: specs,
      TagSpecifications: shared.mergeTagSpecs(TagSpecifications, "spot-fleet-request", fleetTags(config.APP_NAME)),
    },
  };
  return { request, notes };
}

export function createProvider(ctx: AwsContext): FleetProvider {
  const ec2 = ec2Client(ctx);
  const activeInstances = (id: string) =>
    activeInstanceIds((NextToken) =>
      ec2.send(new DescribeSpotFleetInstancesCommand({ SpotFleetRequestId: id, NextToken })),
    );
  const describe = async (id: string): Promise<FleetStatus | undefined> => {
    const out = await unlessNotFound(ec2.send(new DescribeSpotFleetRequestsCommand({ SpotFleetRequestIds: [id] })));
    const config = out?.SpotFleetRequestConfigs?.find((c) => c.SpotFleetRequestId === id);
    const data = config?.SpotFleetRequestConfig;
    return statusOf(
      id,
      config && {
        ...(config.SpotFleetRequestState ? { state: config.SpotFleetRequestState } : {}),
        ...(config.ActivityStatus ? { activityStatus: config.ActivityStatus } : {}),
        ...(data?.TargetCapacity !== undefined ? { target: data.TargetCapacity } : {}),
        ...(data?.FulfilledCapacity !== undefined ? { fulfilled: data.FulfilledCapacity } : {}),
      },
      // Spot Fleet reports its launch errors only in DescribeSpotFleetRequestHistory.
      (activityStatus) =>
        activityStatus === "error"
          ? ["the Spot Fleet reports activity status 'error' (see its request history in the EC2 console)"]
          : [],
    );
  };
  const cancel = canceller(
    ec2,
    describe,
    activeInstances,
    ["fleetRequestIdDoesNotExist", "fleetRequestNotInCancellableState"],
    async (fleetId) => {
      const out = await ec2.send(
        new CancelSpotFleetRequestsCommand({ SpotFleetRequestIds: [fleetId], TerminateInstances: true }),
      );
      return out.UnsuccessfulFleetRequests?.find((f) => f.SpotFleetRequestId === fleetId)?.Error;
    },
  );
  return {
    api: "spot-fleet",
    plan(input) {
      const { request, notes } = spotFleetRequest(input);
      return {
        notes,
        requests: { RequestSpotFleet: request },
        async launch() {
          const out = await ec2.send(new RequestSpotFleetCommand(request));
          if (!out.SpotFleetRequestId) throw new OperationalError("RequestSpotFleet returned no fleet id");
          return { api: "spot-fleet", id: out.SpotFleetRequestId, createErrors: [] };
        },
      };
    },
    describe,
    activeInstances,
    async setTarget(id, target) {
      await ec2.send(new ModifySpotFleetRequestCommand(modifySpotFleetInput(id, target)));
    },
    cancel,
    destroy: (fleet) => cancel(fleet.id),
    async adoptInstances(ids, appName) {
      // A Spot Fleet launch specification can tag only instances: tag their volumes afterwards.
      await tagInstanceVolumes(ec2, ids, workerTags(appName));
    },
    capacityMetrics: (id) => [
      ["AWS/EC2Spot", "FulfilledCapacity", "FleetRequestId", id],
      [".", "TargetCapacity", ".", "."],
    ],
  };
}
