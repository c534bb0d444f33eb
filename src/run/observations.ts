/**
 * The observations in a run's state file, typed: what monitor and teardown learned (queue, fleet,
 * instances, progress), read leniently (unreadable history starts afresh) and written back whole.
 */
import { parseObservations, type Observations } from "../plan/monitor-observations.js";
import type { RunState } from "../state/run-state.js";

export function observationsOf(state: RunState): Observations | undefined {
  return parseObservations(state.dcp.observations);
}

export function withObservations(state: RunState, observations: Observations): RunState {
  return { ...state, dcp: { ...state.dcp, observations: observations as unknown as Record<string, unknown> } };
}
