/**
 * The tail, as the monitor runs it at each reading: the pure decision (plan/monitor-tail.ts), the
 * workers' signal from the run ledger (open tasks per instance), then the fleet's shrink.
 */
import type { S3Client } from "@aws-sdk/client-s3";
import { doneRatePerMs, recordTargetChange, type Reading } from "../plan/monitor-decisions.js";
import { BOOT_SECONDS } from "../plan/pricing.js";
import type { Observations } from "../plan/monitor-observations.js";
import { planTail, TAIL_CONFIRM_MS } from "../plan/monitor-tail.js";
import { sleep } from "../sleep.js";
import type { RunState } from "../state/run-state.js";
import type { RunClients } from "./clients.js";
import { listOpenAttempts } from "./ledger.js";

/** Open tasks per instance id, from one listing of the run ledger's open/ prefix. */
export async function openTasksByInstance(s3: S3Client, state: RunState): Promise<Map<string, number>> {
  const open = await listOpenAttempts(
    { s3, bucket: state.MONITOR_BUCKET_NAME, appName: state.MONITOR_APP_NAME },
    state.dcp.fleetId,
  );
  const counts = new Map<string, number>();
  for (const o of open) counts.set(o.instanceId, (counts.get(o.instanceId) ?? 0) + 1);
  return counts;
}

export interface TailStep {
  observations: Observations;
  /** what was done, for the display */
  event?: string;
}

/**
 * One reading's tail. The ledger is listed only when the decision could act (nothing visible, tasks in
 * flight, the queue quiet since the previous reading), and listed again TAIL_CONFIRM_MS later, right before
 * terminating, so a task that started in between keeps its machine. Throws what the fleet's shrink throws.
 */
export async function tailStep(
  clients: RunClients,
  s3: () => S3Client,
  state: RunState,
  reading: Reading,
  observations: Observations,
  target: number,
): Promise<TailStep> {
  const live = reading.live.map((i) => i.id);
  const input = {
    now: reading.at,
    visible: reading.visible,
    inFlight: reading.inFlight,
    knownWork: observations.progress.total,
    live,
    target,
    quietSince: observations.tailQuietSince,
    doneRatePerMs: doneRatePerMs(observations.samples),
    bootMs: BOOT_SECONDS * 1000,
    ceiling: Math.max(target, ...observations.downscales.map((d) => d.from)),
  };
  const mayAct = input.visible === 0 && input.inFlight > 0 && input.knownWork > 0 && input.quietSince !== undefined;
  const open = mayAct ? await openTasksByInstance(s3(), state) : new Map<string, number>();
  const decision = planTail({ ...input, openByInstance: open });
  const { tailQuietSince: _previous, ...rest } = observations;
  const next: Observations = {
    ...rest,
    ...(decision.quietSince !== undefined ? { tailQuietSince: decision.quietSince } : {}),
  };
  if (!decision.terminate.length) {
    if (decision.target === undefined || decision.target === target) return { observations: next };
    if (decision.target > target) {
      await clients.fleet.setTarget(state.dcp.fleetId, decision.target);
      return {
        observations: recordTargetChange(next, { from: target, to: decision.target, reason: "tail" }, reading.at),
        event: `tail: fleet target ${target} -> ${decision.target}: ${input.visible} group(s) queued again and no machine runs to take them`,
      };
    }
    // Nothing queued: a replacement for a lost machine could only boot and idle (plan/monitor-tail.ts).
    await clients.fleet.setTarget(state.dcp.fleetId, decision.target);
    return {
      observations: recordTargetChange(next, { from: target, to: decision.target, reason: "tail" }, reading.at),
      event: `tail: fleet target ${target} -> ${decision.target} (${live.length} instances run; ${input.visible ? `the ${input.visible} queued group(s) are taken before a new machine could boot` : "nothing queued"}: no replacement would get work)`,
    };
  }
  await sleep(TAIL_CONFIRM_MS);
  const again = await openTasksByInstance(s3(), state);
  const ids = decision.terminate.filter((id) => !again.get(id));
  if (!ids.length) return { observations: next };
  const to = Math.max(0, Math.min(target, live.length - ids.length));
  await clients.fleet.shrink(state.dcp.fleetId, to, ids);
  const instances = { ...next.instances };
  for (const id of ids) if (instances[id]) instances[id] = { ...instances[id], goneAt: reading.at };
  return {
    observations: recordTargetChange({ ...next, instances }, { from: target, to, reason: "tail" }, reading.at),
    event: `tail: terminated ${ids.length} instance(s) with no task in flight while nothing is queued (${ids.slice(0, 4).join(", ")}${ids.length > 4 ? ", ..." : ""}); fleet target ${target} -> ${to}`,
  };
}
