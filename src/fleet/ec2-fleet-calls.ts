/**
 * The EC2 calls both fleet providers make the same way: listing a fleet's instances (the SDK has no
 * paginator for DescribeSpotFleetInstances / DescribeFleetInstances), and cancelling with
 * termination where "already gone" is success.
 */
import type { ActiveInstance, EC2Client } from "@aws-sdk/client-ec2";
import { sdk } from "../aws/sdk.js";
import { isNotFound } from "../aws/errors.js";
import { OperationalError } from "../errors.js";
import { GONE_STATES, fleetLeftInstancesRunning, type FleetStatus } from "../plan/fleet-status.js";

const { TerminateInstancesCommand } = sdk("@aws-sdk/client-ec2");

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

/** TerminateInstances, 1000 ids per call (the API's limit). */
async function terminate(ec2: EC2Client, ids: readonly string[]): Promise<void> {
  for (let i = 0; i < ids.length; i += 1000) {
    await ec2.send(new TerminateInstancesCommand({ InstanceIds: ids.slice(i, i + 1000) }));
  }
}

/** FleetProvider.shrink for both EC2 fleet APIs: the target first (so nothing is replaced), then the instances. */
export function shrinker(
  ec2: EC2Client,
  setTarget: (id: string, target: number) => Promise<void>,
): (id: string, target: number, instanceIds: readonly string[]) => Promise<void> {
  return async (id, target, instanceIds) => {
    await setTarget(id, target);
    if (instanceIds.length) await terminate(ec2, instanceIds);
  };
}

/**
 * The cancel (Spot Fleet) or delete (EC2 Fleet) of one provider, with termination. Already gone is
 * success (`send` returns AWS's per-fleet error; `harmless` lists the codes that mean gone); a fleet
 * cancelled earlier without termination (…_running) gets its instances terminated directly.
 */
export function canceller(
  ec2: EC2Client,
  describe: (id: string) => Promise<FleetStatus | undefined>,
  instances: (id: string) => Promise<string[]>,
  harmless: readonly string[],
  send: (id: string) => Promise<{ Code?: string; Message?: string } | undefined>,
): (id: string) => Promise<void> {
  return async (id) => {
    const status = await describe(id);
    if (!status) return;
    if (fleetLeftInstancesRunning(status)) return terminate(ec2, await instances(id));
    try {
      const failure = await send(id);
      if (failure?.Code && !harmless.includes(failure.Code))
        throw new OperationalError(`could not cancel fleet ${id}: ${failure.Code}: ${failure.Message ?? ""}`);
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  };
}

/** A fleet's status from what either describe call returned; undefined when it is gone (or unknown). */
export function statusOf(
  id: string,
  found: { state?: string; activityStatus?: string; target?: number; fulfilled?: number } | undefined,
  errors: string[],
): FleetStatus | undefined {
  const state = found?.state;
  if (!found || !state || GONE_STATES.has(state)) return undefined;
  const { activityStatus } = found;
  return {
    id,
    state,
    ...(activityStatus ? { activityStatus } : {}),
    target: found.target ?? 0,
    fulfilled: Math.round(found.fulfilled ?? 0),
    errors,
  };
}
