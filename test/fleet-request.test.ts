import { describe, expect, it } from "vitest";
import { modifyFleetInput, modifySpotFleetInput } from "../src/plan/fleet-request.js";

describe("fleet downscale requests", () => {
  it("EC2 Fleet: ModifyFleet lowers the spot target without terminating instances", () => {
    expect(modifyFleetInput("fleet-123", 3)).toEqual({
      FleetId: "fleet-123",
      TargetCapacitySpecification: { TotalTargetCapacity: 3, SpotTargetCapacity: 3, DefaultTargetCapacityType: "spot" },
      ExcessCapacityTerminationPolicy: "no-termination",
    });
  });

  it("Spot Fleet: ModifySpotFleetRequest with noTermination", () => {
    expect(modifySpotFleetInput("sfr-1", 0)).toEqual({ SpotFleetRequestId: "sfr-1", TargetCapacity: 0, ExcessCapacityTerminationPolicy: "noTermination" });
  });

  it("refuses a negative or fractional target", () => {
    expect(() => modifyFleetInput("fleet-1", -1)).toThrow(RangeError);
    expect(() => modifySpotFleetInput("sfr-1", 1.5)).toThrow(RangeError);
  });
});
