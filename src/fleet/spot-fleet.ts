/**
 * The Spot Fleet provider (RequestSpotFleet, DCP's API): the request built from a DCP fleet file
 * (pure), and the calls that launch, read, resize and cancel such a fleet.
 */
import type {
  ModifySpotFleetRequestRequest,
  RequestSpotFleetRequest,
  SpotFleetLaunchSpecification,
} from "@aws-sdk/client-ec2";
import { sdk } from "../aws/sdk.js";
import type { AwsContext } from "../aws/context.js";
import { ec2Client, tagInstanceVolumes } from "../aws/ec2.js";
import { OperationalError, UserInputError } from "../errors.js";
import { clientToken } from "../plan/client-token.js";
import * as shared from "../plan/fleet-request.js";
import { fleetTags, workerTags } from "../plan/names.js";
import type { FleetStatus } from "../plan/fleet-status.js";
import { unlessNotFound } from "../aws/errors.js";
import { activeInstanceIds, canceller, shrinker, statusOf } from "./ec2-fleet-calls.js";
import type { FleetProvider } from "./provider.js";

const {
  CancelSpotFleetRequestsCommand,
  DescribeSpotFleetInstancesCommand,
  DescribeSpotFleetRequestHistoryCommand,
  DescribeSpotFleetRequestsCommand,
  ModifySpotFleetRequestCommand,
  RequestSpotFleetCommand,
  paginateDescribeSpotFleetRequests,
} = sdk("@aws-sdk/client-ec2");

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
  checkTagSpecifications(input);
  const { spec, notes } = shared.baseSpec(input);
  if (!shared.needsAutoImage(fleet))
    notes.push(
      "ImageId is not auto: Spot Fleet cannot set the instance metadata options, so spot interruption notices reach the worker only if the AMI sets IMDSv2 with a hop limit of 2 (the ECS-optimized Amazon Linux 2023 AMIs do); with another AMI use FLEET_API ec2-fleet, whose launch template sets it",
    );
  if (fleet.ClientToken)
    notes.push("the fleet file's ClientToken is replaced by one dcp derives from the run (a retry must reuse it)");
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
    ClientToken: _token,
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
      ...(input.nonce ? { ClientToken: clientToken(config.APP_NAME, input.nonce, "RequestSpotFleet") } : {}),
    },
  };
  return { request, notes };
}

/**
 * Spot Fleet accepts only `instance` tag specifications in a launch specification and only
 * `spot-fleet-request` at the top level (RequestSpotFleet: SpotFleetLaunchSpecification.TagSpecifications,
 * SpotFleetRequestConfigData.TagSpecifications); anything else fails the request at AWS.
 */
function checkTagSpecifications({ fleet, source }: shared.FleetPlanInput): void {
  const file = source ?? "fleet file";
  fleet.LaunchSpecifications.forEach((spec, i) =>
    (spec.TagSpecifications ?? []).forEach((t, j) => {
      if (t.ResourceType !== "instance")
        throw new UserInputError(
          file,
          `LaunchSpecifications[${i}].TagSpecifications[${j}].ResourceType`,
          `Spot Fleet tags only "instance" in a launch specification, not ${JSON.stringify(t.ResourceType)}`,
          'use "ResourceType": "instance" (dcp tags the volumes itself), or FLEET_API ec2-fleet, whose launch template can tag volumes',
        );
    }),
  );
  (fleet.TagSpecifications ?? []).forEach((t, j) => {
    if (t.ResourceType !== "spot-fleet-request")
      throw new UserInputError(
        file,
        `TagSpecifications[${j}].ResourceType`,
        `Spot Fleet accepts only "spot-fleet-request" here, not ${JSON.stringify(t.ResourceType)}`,
        'use "ResourceType": "spot-fleet-request", or move instance tags into the launch specification',
      );
  });
}

/** How many distinct error events of the request history a status carries. */
const HISTORY_ERRORS = 3;

export function createProvider(ctx: AwsContext): FleetProvider {
  const ec2 = ec2Client(ctx);
  const activeInstances = (id: string) =>
    activeInstanceIds((NextToken) =>
      ec2.send(new DescribeSpotFleetInstancesCommand({ SpotFleetRequestId: id, NextToken })),
    );
  /**
   * Spot Fleet reports why it is in error only in its request history (capacity shortages and
   * configuration or role problems alike): the latest distinct error events, in AWS's words.
   */
  const historyErrors = async (id: string, createdAt: Date | undefined): Promise<string[]> => {
    try {
      const out = await ec2.send(
        new DescribeSpotFleetRequestHistoryCommand({
          SpotFleetRequestId: id,
          EventType: "error",
          StartTime: createdAt ?? new Date(Date.now() - 24 * 3600_000),
        }),
      );
      const lines = (out.HistoryRecords ?? [])
        .map((r) => [r.EventInformation?.EventSubType, r.EventInformation?.EventDescription].filter(Boolean).join(": "))
        .filter(Boolean);
      if (lines.length) return [...new Set(lines.reverse())].slice(0, HISTORY_ERRORS);
    } catch {
      // No history to show (e.g. an emulator without DescribeSpotFleetRequestHistory): say where to look.
    }
    return ["the Spot Fleet reports activity status 'error' (see its request history in the EC2 console)"];
  };
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
      config?.ActivityStatus === "error" ? await historyErrors(id, config.CreateTime) : [],
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
  const setTarget = async (id: string, target: number): Promise<void> => {
    await ec2.send(new ModifySpotFleetRequestCommand(modifySpotFleetInput(id, target)));
  };
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
    setTarget,
    shrink: shrinker(ec2, setTarget),
    cancel,
    destroy: (fleet) => cancel(fleet.id),
    async adoptInstances(ids, appName) {
      // A Spot Fleet launch specification can tag only instances: tag their volumes afterwards.
      await tagInstanceVolumes(ec2, ids, workerTags(appName));
    },
    async findStarted(appName, nonce) {
      const token = clientToken(appName, nonce, "RequestSpotFleet");
      for await (const page of paginateDescribeSpotFleetRequests({ client: ec2 }, {}))
        for (const c of page.SpotFleetRequestConfigs ?? [])
          if (c.SpotFleetRequestConfig?.ClientToken === token && c.SpotFleetRequestId)
            return { api: "spot-fleet", id: c.SpotFleetRequestId };
      return undefined;
    },
    capacityMetrics: (id) => [
      ["AWS/EC2Spot", "FulfilledCapacity", "FleetRequestId", id],
      [".", "TargetCapacity", ".", "."],
    ],
  };
}
