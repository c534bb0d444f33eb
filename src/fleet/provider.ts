/**
 * What start-cluster, monitor and teardown ask of a fleet, whichever AWS API buys it. The flows
 * hold the lifecycle (state file, alarms, service, waiting); a provider only plans, launches,
 * reads, resizes and destroys its own kind of fleet (dask-cloudprovider's VMCluster split).
 */
import type { FleetPlanInput } from "../plan/fleet-request.js";
import type { FleetStatus } from "../plan/fleet-status.js";
import type { FleetApi } from "./registry.js";
import { OperationalError } from "../errors.js";

export type { FleetStatus } from "../plan/fleet-status.js";

export type { FleetConfig, FleetPlanInput } from "../plan/fleet-request.js";

/** A fleet and what it owns, as the state file records it. */
export interface FleetRef {
  api: FleetApi;
  id: string;
  /** EC2 Fleet: the launch template start-cluster made for it (deleted with the fleet). */
  launchTemplateId?: string | undefined;
}

export interface LaunchedFleet extends FleetRef {
  /** Launch errors AWS returned with the fleet id (EC2 Fleet's CreateFleet). */
  createErrors: string[];
}

/** What a provider would send: shown by `--dry-run`, sent by `launch()`. */
export interface PlannedFleet {
  /** What the builders noticed and changed, for the user to read. */
  notes: string[];
  /** The requests, by API action name, as `--dry-run` prints them. */
  requests: Record<string, unknown>;
  /** Sends the requests; on failure removes whatever it created first. */
  launch(): Promise<LaunchedFleet>;
}

export interface FleetProvider {
  readonly api: FleetApi;
  /** Pure: the requests for this config and fleet file. */
  plan(input: FleetPlanInput): PlannedFleet;
  /**
   * undefined when the fleet no longer exists or is cancelled/deleted with its instances terminating.
   * A fleet cancelled WITHOUT terminating (…_running) is still returned (it bills), and so is a failed one.
   */
  describe(id: string): Promise<FleetStatus | undefined>;
  /** Instance ids currently in the fleet ([] when the fleet is gone). */
  activeInstances(id: string): Promise<string[]>;
  /** Lower or raise the target; never terminates running instances. */
  setTarget(id: string, target: number): Promise<void>;
  /**
   * The tail: lower the target to `target` (never terminating by itself), then terminate exactly these
   * instances, which the fleet then does not replace. AWS, ModifySpotFleetRequest: with noTermination the
   * fleet keeps its current size "but not replace any Spot Instances that are interrupted or that you
   * terminate manually"; ModifyFleet's no-termination works the same way for EC2 Fleet.
   */
  shrink(id: string, target: number, instanceIds: readonly string[]): Promise<void>;
  /** Cancel/delete the fleet and terminate its instances; "already gone" is success. */
  cancel(id: string): Promise<void>;
  /** cancel() and remove what the fleet owns (its launch template). */
  destroy(fleet: FleetRef): Promise<void>;
  /** What the provider does for instances as they appear (e.g. tag their volumes). */
  adoptInstances(ids: string[], appName: string): Promise<void>;
  /**
   * The fleet a start requested with this nonce's client token, if AWS made one: how a teardown finds
   * the fleet of a start-cluster that stopped before it learned the fleet id.
   */
  findStarted(appName: string, nonce: string): Promise<FleetRef | undefined>;
  /** The dashboard's fleet-capacity metrics (CloudWatch metric arrays), when the API publishes any. */
  capacityMetrics(id: string): unknown[][] | undefined;
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
