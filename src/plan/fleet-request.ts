/**
 * Pure builders of the fleet requests dcp sends (no AWS calls here; only SDK *types*, which
 * vanish at runtime). Unit-tested without an emulator, including the EC2 Fleet downscale
 * (ModifyFleet), which moto does not implement.
 */
import type { ModifyFleetRequest, ModifySpotFleetRequestRequest } from "@aws-sdk/client-ec2";

/** Lower (or raise) a Spot Fleet's target without terminating running instances (DCP's downscale). */
export function modifySpotFleetInput(fleetId: string, target: number): ModifySpotFleetRequestRequest {
  assertTarget(target);
  return { SpotFleetRequestId: fleetId, TargetCapacity: target, ExcessCapacityTerminationPolicy: "noTermination" };
}

/** The same for an EC2 Fleet of type maintain: surplus instances keep running until their idle alarm ends them. */
export function modifyFleetInput(fleetId: string, target: number): ModifyFleetRequest {
  assertTarget(target);
  return {
    FleetId: fleetId,
    TargetCapacitySpecification: { TotalTargetCapacity: target, SpotTargetCapacity: target, DefaultTargetCapacityType: "spot" },
    ExcessCapacityTerminationPolicy: "no-termination",
  };
}

function assertTarget(target: number): void {
  if (!Number.isInteger(target) || target < 0) throw new RangeError(`fleet target must be a whole number >= 0, got ${target}`);
}
