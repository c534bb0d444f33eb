/**
 * One interface over the two fleet APIs dcp can use: the legacy Spot Fleet (RequestSpotFleet,
 * DCP's) and EC2 Fleet (CreateFleet type maintain), for accounts whose policies deny the legacy
 * call. monitor and teardown talk to a FleetAdapter and never to either API directly.
 */
import {
  CancelSpotFleetRequestsCommand,
  CreateFleetCommand,
  DeleteFleetsCommand,
  DescribeFleetInstancesCommand,
  DescribeFleetsCommand,
  DescribeSpotFleetInstancesCommand,
  DescribeSpotFleetRequestsCommand,
  ModifyFleetCommand,
  ModifySpotFleetRequestCommand,
  RequestSpotFleetCommand,
  TerminateInstancesCommand,
  type CreateFleetRequest,
  type RequestSpotFleetRequest,
  type ActiveInstance,
  type EC2Client,
} from "@aws-sdk/client-ec2";
import type { FLEET_APIS } from "../config/schema.js";
import { OperationalError } from "../errors.js";
import { modifyFleetInput, modifySpotFleetInput } from "../plan/fleet-request.js";
import { endpointOverridden, type AwsContext } from "./context.js";
import { ec2Client } from "./ec2.js";

export type FleetApi = (typeof FLEET_APIS)[number];

export interface FleetStatus {
  id: string;
  /** Spot Fleet: submitted | active | modifying | cancelled_running | cancelled_terminating | failed; EC2 Fleet: the same with deleted_*. */
  state: string;
  /** error | pending_fulfillment | pending_termination | fulfilled, when AWS reports one. */
  activityStatus?: string;
  target: number;
  fulfilled: number;
  /** Fatal or launch errors AWS reports for the fleet, as "code: message" lines. */
  errors: string[];
}

export interface FleetAdapter {
  /**
   * undefined when the fleet no longer exists or is cancelled/deleted with its instances terminating
   * (states cancelled, cancelled_terminating, deleted, deleted_terminating). A fleet cancelled WITHOUT
   * terminating (cancelled_running / deleted_running) is still returned (it bills), and so is a failed one.
   */
  describe(id: string): Promise<FleetStatus | undefined>;
  /** Instance ids currently in the fleet ([] when the fleet is gone). */
  activeInstances(id: string): Promise<string[]>;
  /** Lower or raise the target; never terminates running instances. */
  setTarget(id: string, target: number): Promise<void>;
  /** Cancel/delete the fleet and terminate its instances; "already gone" is success. */
  cancel(id: string): Promise<void>;
}

/** Raised when the fleet API refuses an operation the emulator or account does not offer (e.g. ModifyFleet on moto). */
export class FleetOperationUnsupportedError extends OperationalError {
  constructor(
    readonly operation: string,
    readonly fleetId: string,
    cause: string,
  ) {
    super(`${operation} is not available for fleet ${fleetId} (${cause})`);
    this.name = "FleetOperationUnsupportedError";
  }
}

/** States in which the fleet may still hold or launch instances. */
const LIVE_STATES = new Set(["submitted", "active", "modifying"]);
/** States after which nothing of the fleet is left to cancel (instances, if any, are already terminating). */
const GONE_STATES = new Set(["cancelled", "cancelled_terminating", "deleted", "deleted_terminating"]);

/** True when the fleet is still live: it may launch or replace instances. */
export function fleetIsLive(status: FleetStatus | undefined): boolean {
  return status !== undefined && LIVE_STATES.has(status.state);
}

/** A fleet that failed, or reports an error activity or launch errors (start-cluster cancels it). */
export function fleetHasFailed(status: FleetStatus): boolean {
  return status.state === "failed" || status.activityStatus === "error" || status.errors.length > 0;
}

export function fleetAdapter(ctx: AwsContext, api: FleetApi): FleetAdapter {
  const ec2 = ec2Client(ctx);
  return api === "ec2-fleet" ? ec2FleetAdapter(ec2) : spotFleetAdapter(ec2);
}

function isNotFound(err: unknown): boolean {
  const name = (err as { name?: string; Code?: string }).name ?? "";
  return /NotFound|DoesNotExist|Malformed/i.test(name);
}

/** The call's result, or undefined when AWS says the fleet does not exist. */
async function unlessNotFound<T>(call: Promise<T>): Promise<T | undefined> {
  try {
    return await call;
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

/**
 * An API the endpoint does not offer. Real AWS names it; emulators (moto lacks ModifyFleet) answer
 * 500 with an HTML page the SDK cannot parse, which only counts when an endpoint override is set.
 */
function isUnsupported(err: unknown): boolean {
  const e = err as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  if (/NotImplemented|InvalidAction|UnsupportedOperation/i.test(e.name ?? "")) return true;
  const status = e.$metadata?.httpStatusCode ?? 0;
  return (
    endpointOverridden("ec2") &&
    status >= 500 &&
    /not (been )?implemented|XML parse error|Deserialization error/i.test(e.message ?? "")
  );
}

/** Every instance id of a fleet across pages; [] when the fleet is unknown. */
async function activeInstanceIds(
  fetchPage: (token: string | undefined) => Promise<{ ActiveInstances?: ActiveInstance[]; NextToken?: string }>,
): Promise<string[]> {
  const ids: string[] = [];
  let token: string | undefined;
  try {
    do {
      const page = await fetchPage(token);
      for (const instance of page.ActiveInstances ?? []) if (instance.InstanceId) ids.push(instance.InstanceId);
      token = page.NextToken;
    } while (token);
  } catch (err) {
    if (isNotFound(err)) return [];
    throw err;
  }
  return ids;
}

/** A fleet cancelled without terminating (…_running) still bills for its instances: end them. */
async function terminateLeftovers(ec2: EC2Client, ids: string[]): Promise<void> {
  for (let i = 0; i < ids.length; i += 1000) {
    await ec2.send(new TerminateInstancesCommand({ InstanceIds: ids.slice(i, i + 1000) }));
  }
}

/**
 * Cancels (Spot Fleet) or deletes (EC2 Fleet) with termination. Already gone is success; a fleet
 * cancelled earlier without termination (`runningState`) gets its instances terminated directly.
 */
async function cancelFleet(
  ec2: EC2Client,
  id: string,
  describe: (id: string) => Promise<FleetStatus | undefined>,
  runningState: string,
  harmlessCodes: string[],
  send: () => Promise<{ Code?: string; Message?: string } | undefined>,
  instances: () => Promise<string[]>,
): Promise<void> {
  const status = await describe(id);
  if (!status) return;
  if (status.state === runningState) return terminateLeftovers(ec2, await instances());
  try {
    const failure = await send();
    if (failure?.Code && !harmlessCodes.includes(failure.Code))
      throw new OperationalError(`could not cancel fleet ${id}: ${failure.Code}: ${failure.Message ?? ""}`);
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
}

function spotFleetAdapter(ec2: EC2Client): FleetAdapter {
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
  return {
    describe,
    activeInstances,
    async setTarget(id, target) {
      await ec2.send(new ModifySpotFleetRequestCommand(modifySpotFleetInput(id, target)));
    },
    cancel: (id) =>
      cancelFleet(
        ec2,
        id,
        describe,
        "cancelled_running",
        ["fleetRequestIdDoesNotExist", "fleetRequestNotInCancellableState"],
        async () => {
          const out = await ec2.send(
            new CancelSpotFleetRequestsCommand({ SpotFleetRequestIds: [id], TerminateInstances: true }),
          );
          return out.UnsuccessfulFleetRequests?.find((f) => f.SpotFleetRequestId === id)?.Error;
        },
        () => activeInstances(id),
      ),
  };
}

function ec2FleetAdapter(ec2: EC2Client): FleetAdapter {
  const activeInstances = (id: string) =>
    activeInstanceIds((NextToken) => ec2.send(new DescribeFleetInstancesCommand({ FleetId: id, NextToken })));
  const describe = async (id: string): Promise<FleetStatus | undefined> => {
    const out = await unlessNotFound(ec2.send(new DescribeFleetsCommand({ FleetIds: [id] })));
    const fleet = out?.Fleets?.find((f) => f.FleetId === id);
    const state = fleet?.FleetState;
    if (!fleet || !state || GONE_STATES.has(state)) return undefined;
    const activityStatus = fleet.ActivityStatus;
    return {
      id,
      state,
      ...(activityStatus ? { activityStatus } : {}),
      target: fleet.TargetCapacitySpecification?.TotalTargetCapacity ?? 0,
      fulfilled: Math.round(fleet.FulfilledCapacity ?? 0),
      errors: (fleet.Errors ?? []).map((e) => `${e.ErrorCode ?? "error"}: ${e.ErrorMessage ?? ""}`.trim()),
    };
  };
  return {
    describe,
    activeInstances,
    async setTarget(id, target) {
      try {
        await ec2.send(new ModifyFleetCommand(modifyFleetInput(id, target)));
      } catch (err) {
        if (isUnsupported(err))
          throw new FleetOperationUnsupportedError(
            "ModifyFleet",
            id,
            `the EC2 endpoint does not implement it: ${(err as Error).message.split("\n")[0]}`,
          );
        throw err;
      }
    },
    cancel: (id) =>
      cancelFleet(
        ec2,
        id,
        describe,
        "deleted_running",
        ["fleetIdDoesNotExist", "fleetNotInDeletableState"],
        async () => {
          const out = await ec2.send(new DeleteFleetsCommand({ FleetIds: [id], TerminateInstances: true }));
          return out.UnsuccessfulFleetDeletions?.find((f) => f.FleetId === id)?.Error;
        },
        () => activeInstances(id),
      ),
  };
}

/** RequestSpotFleet; returns the fleet request id. */
export async function createSpotFleet(ec2: EC2Client, request: RequestSpotFleetRequest): Promise<string> {
  const out = await ec2.send(new RequestSpotFleetCommand(request));
  if (!out.SpotFleetRequestId) throw new OperationalError("RequestSpotFleet returned no fleet id");
  return out.SpotFleetRequestId;
}

/** CreateFleet; returns the fleet id and any launch errors AWS reported with it. */
export async function createEc2Fleet(
  ec2: EC2Client,
  request: CreateFleetRequest,
): Promise<{ id: string; errors: string[] }> {
  const out = await ec2.send(new CreateFleetCommand(request));
  const errors = (out.Errors ?? []).map((e) => `${e.ErrorCode ?? "error"}: ${e.ErrorMessage ?? ""}`.trim());
  if (!out.FleetId)
    throw new OperationalError(`CreateFleet returned no fleet id${errors.length ? `: ${errors.join("; ")}` : ""}`);
  return { id: out.FleetId, errors };
}
