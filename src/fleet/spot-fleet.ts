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
import {
  assertTarget,
  baseSpec,
  mergeTagSpecs,
  priceString,
  tagList,
  validity,
  workerName,
  type FleetPlanInput,
  type PlanNotes,
} from "../plan/fleet-request.js";
import { GONE_STATES, type FleetStatus } from "../plan/fleet-status.js";
import { activeInstanceIds, cancelFleet, unlessNotFound } from "./ec2-fleet-calls.js";
import type { FleetProvider } from "./provider.js";

/** Lower (or raise) a Spot Fleet's target without terminating running instances (DCP's downscale). */
export function modifySpotFleetInput(fleetId: string, target: number): ModifySpotFleetRequestRequest {
  assertTarget(target);
  return { SpotFleetRequestId: fleetId, TargetCapacity: target, ExcessCapacityTerminationPolicy: "noTermination" };
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

export function createProvider(ctx: AwsContext): FleetProvider {
  const ec2 = ec2Client(ctx);
  const activeInstances = (id: string) =>
    activeInstanceIds((NextToken) =>
      ec2.send(new DescribeSpotFleetInstancesCommand({ SpotFleetRequestId: id, NextToken })),
    );
  const describe = async (id: string): Promise<FleetStatus | undefined> => {
    const out = await unlessNotFound(ec2.send(new DescribeSpotFleetRequestsCommand({ SpotFleetRequestIds: [id] })));
    const config = out?.SpotFleetRequestConfigs?.find((c) => c.SpotFleetRequestId === id);
    const state = config?.SpotFleetRequestState;
    if (!config || !state || GONE_STATES.has(state)) return undefined;
    const data = config.SpotFleetRequestConfig;
    const activityStatus = config.ActivityStatus;
    return {
      id,
      state,
      ...(activityStatus ? { activityStatus } : {}),
      target: data?.TargetCapacity ?? 0,
      fulfilled: Math.round(data?.FulfilledCapacity ?? 0),
      // Spot Fleet reports its launch errors only in DescribeSpotFleetRequestHistory.
      errors:
        activityStatus === "error"
          ? ["the Spot Fleet reports activity status 'error' (see its request history in the EC2 console)"]
          : [],
    };
  };
  const cancel = (id: string) =>
    cancelFleet(ec2, id, {
      describe,
      instances: activeInstances,
      harmlessCodes: ["fleetRequestIdDoesNotExist", "fleetRequestNotInCancellableState"],
      async send(fleetId) {
        const out = await ec2.send(
          new CancelSpotFleetRequestsCommand({ SpotFleetRequestIds: [fleetId], TerminateInstances: true }),
        );
        return out.UnsuccessfulFleetRequests?.find((f) => f.SpotFleetRequestId === fleetId)?.Error;
      },
    });
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
      await tagInstanceVolumes(ec2, ids, tagList(appName, workerName(appName)));
    },
    capacityMetrics: (id) => [
      ["AWS/EC2Spot", "FulfilledCapacity", "FleetRequestId", id],
      [".", "TargetCapacity", ".", "."],
    ],
  };
}
