/**
 * The EC2 calls both fleet providers make the same way: listing a fleet's instances (the SDK has no
 * paginator for DescribeSpotFleetInstances / DescribeFleetInstances), and cancelling with
 * termination where "already gone" is success.
 */
import { TerminateInstancesCommand, type ActiveInstance, type EC2Client } from "@aws-sdk/client-ec2";
import { isNotFound } from "../aws/errors.js";
import { OperationalError } from "../errors.js";
import { fleetLeftInstancesRunning, type FleetStatus } from "../plan/fleet-status.js";

type InstancePage = { ActiveInstances?: ActiveInstance[]; NextToken?: string };

/** Every instance id of a fleet across pages; [] when the fleet is unknown. */
export async function activeInstanceIds(fetchPage: (token: string | undefined) => Promise<InstancePage>) {
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

/** The call's result, or undefined when AWS says the fleet does not exist. */
export async function unlessNotFound<T>(call: Promise<T>): Promise<T | undefined> {
  try {
    return await call;
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

/** TerminateInstances, 1000 ids per call (the API's limit). */
async function terminate(ec2: EC2Client, ids: string[]): Promise<void> {
  for (let i = 0; i < ids.length; i += 1000) {
    await ec2.send(new TerminateInstancesCommand({ InstanceIds: ids.slice(i, i + 1000) }));
  }
}

export interface CancelCall {
  describe(id: string): Promise<FleetStatus | undefined>;
  instances(id: string): Promise<string[]>;
  /** Sends the cancel/delete; returns AWS's per-fleet error, if any. */
  send(id: string): Promise<{ Code?: string; Message?: string } | undefined>;
  /** Per-fleet error codes that mean "already gone". */
  harmlessCodes: readonly string[];
}

/**
 * Cancels (Spot Fleet) or deletes (EC2 Fleet) with termination. Already gone is success; a fleet
 * cancelled earlier without termination (…_running) gets its instances terminated directly.
 */
export async function cancelFleet(ec2: EC2Client, id: string, call: CancelCall): Promise<void> {
  const status = await call.describe(id);
  if (!status) return;
  if (fleetLeftInstancesRunning(status)) return terminate(ec2, await call.instances(id));
  try {
    const failure = await call.send(id);
    if (failure?.Code && !call.harmlessCodes.includes(failure.Code))
      throw new OperationalError(`could not cancel fleet ${id}: ${failure.Code}: ${failure.Message ?? ""}`);
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
}
