/**
 * The run's state file, files/<APP_NAME>SpotFleetRequestId.json: DCP's monitor file (the MONITOR_*
 * keys, so DCP's tools and habits still work) plus a `dcp` block with what start-cluster, monitor
 * and teardown need to resume after a crash. Always written whole and atomically (temp + rename),
 * so a monitor killed mid-write never leaves half a file.
 */
import { existsSync } from "node:fs";
import { writeFileAtomic } from "../io/atomic-write.js";
import { z } from "zod";
import { parseWithSchema, readJsonFile } from "../validation.js";
import { FLEET_PROVIDER_NAMES } from "../fleet/registry.js";

/**
 * starting: start-cluster saved the attempt's nonce and is requesting the fleet (fleetId still empty:
 * the request carries a client token from the nonce, so a resumed start or a teardown finds it).
 */
export const RUN_STATUSES = ["starting", "running", "tearing-down", "finished"] as const;

const dcpBlockSchema = z.object({
  version: z.literal(1),
  fleetApi: z.enum(FLEET_PROVIDER_NAMES),
  /** Empty only while status is "starting". */
  fleetId: z.string(),
  launchTemplateId: z.string().min(1).optional(),
  region: z.string().min(1),
  startedAt: z.string().min(1),
  clusterMachines: z.number().int().positive(),
  tasksPerMachine: z.number().int().positive(),
  serviceName: z.string().min(1),
  taskFamily: z.string().min(1),
  deadLetterQueueName: z.string().min(1),
  perInstanceLogGroup: z.string().min(1),
  dashboardName: z.string().min(1).nullable(),
  status: z.enum(RUN_STATUSES),
  /** The start attempt whose create calls carry client tokens derived from this nonce. */
  startAttempt: z.object({ nonce: z.string().min(1), requestedAt: z.string().min(1) }).optional(),
  teardown: z.object({ completed: z.array(z.string()) }).optional(),
  finishedAt: z.string().optional(),
  /** Set when the run ended because spend reached the budget (BUDGET_USD): the queue was kept for a new start. */
  stoppedBy: z.enum(["budget"]).optional(),
  observations: z.record(z.string(), z.unknown()).optional(),
});

export const runStateSchema = z
  .object({
    /** Empty only while dcp.status is "starting". */
    MONITOR_FLEET_ID: z.string(),
    MONITOR_APP_NAME: z.string().min(1),
    MONITOR_ECS_CLUSTER: z.string().min(1),
    MONITOR_QUEUE_NAME: z.string().min(1),
    MONITOR_BUCKET_NAME: z.string().min(1),
    MONITOR_LOG_GROUP_NAME: z.string().min(1),
    /** Epoch milliseconds as a string, as DCP wrote it. */
    MONITOR_START_TIME: z.string().regex(/^\d+$/, { error: "expected epoch milliseconds" }),
    CLEAN_DASHBOARD: z.enum(["True", "False"]),
    dcp: dcpBlockSchema,
  })
  // A start that ends before AWS named its fleet ("starting", or "finished" when AWS refused it) has no id.
  .refine(
    (s) => ["starting", "finished"].includes(s.dcp.status) || (s.dcp.fleetId !== "" && s.MONITOR_FLEET_ID !== ""),
    {
      error: "names no fleet (MONITOR_FLEET_ID / dcp.fleetId are empty) though the run is running",
      path: ["dcp", "fleetId"],
    },
  );

export type RunState = z.output<typeof runStateSchema>;

const STATE_HINTS = {
  dcp: "this file was not written by dcp start-cluster (a DCP monitor file has no `dcp` block); start the run with dcp start-cluster",
};

export async function readRunState(path: string): Promise<RunState> {
  const value = await readJsonFile(path, "state file", {
    problem: "state file not found",
    fix: "start a run with `dcp start-cluster fleet.json`, or pass the state file it wrote (files/<APP_NAME>SpotFleetRequestId.json)",
  });
  return parseWithSchema(runStateSchema, value, path, STATE_HINTS);
}

/** Writes the whole state to a temp file next to `path`, then renames it over `path`. */
export async function writeRunState(path: string, state: RunState): Promise<void> {
  const valid = runStateSchema.parse(state);
  await writeFileAtomic(path, `${JSON.stringify(valid, null, 2)}\n`, { mode: 0o644 });
}

/** Read, change, write back atomically; returns the state written. */
export async function updateRunState(path: string, change: (s: RunState) => RunState): Promise<RunState> {
  const next = change(await readRunState(path));
  await writeRunState(path, next);
  return next;
}

/** True when the state file exists (whatever its content). */
export function runStateExists(path: string): boolean {
  return existsSync(path);
}
