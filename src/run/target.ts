/**
 * Finding a run: its state file (the argument, or the config's APP_NAME default) and the AWS
 * context it lives in. monitor, teardown and the commands to come start here.
 */
import { existsSync } from "node:fs";
import { awsContext, type AwsContext } from "../aws/context.js";
import { loadConfig } from "../config/load.js";
import { resourceNames } from "../config/schema.js";
import { readRunState, type RunState } from "../state/run-state.js";
import type { Output } from "../ui/output.js";

export interface RunLocation {
  /** the positional state-file argument, if given */
  stateFile: string | undefined;
  /** --config, --region, --profile */
  config: string;
  region?: string | undefined;
  profile?: string | undefined;
}

export interface RunTarget {
  path: string;
  state: RunState;
  ctx: AwsContext;
  /** the config's BUDGET_USD, when a config was read */
  budgetUsd?: number;
  /** the config's EBS_VOL_SIZE and ASSIGN_IP, when a config was read (the live cost's per-instance-hour lines) */
  instanceExtras?: { ebsGb: number; assignIp: boolean };
}

/**
 * The state file (argument, or the config's APP_NAME default) and the AWS context: the run's own
 * region (where its resources are) unless --region says otherwise. The config is only needed to
 * name the default state file; with an explicit state file it is read when present, for AWS_PROFILE.
 */
export async function resolveRun(where: RunLocation): Promise<RunTarget> {
  const needConfig = !where.stateFile || existsSync(where.config);
  const config = needConfig
    ? await loadConfig(where.config, { region: where.region, profile: where.profile })
    : undefined;
  const path = where.stateFile ?? resourceNames(config!).stateFile;
  const state = await readRunState(path);
  const profile = config ? awsContext(config).profile : where.profile;
  return {
    path,
    state,
    ctx: { region: where.region ?? state.dcp.region, profile },
    ...(config?.BUDGET_USD ? { budgetUsd: config.BUDGET_USD } : {}),
    ...(config ? { instanceExtras: { ebsGb: config.EBS_VOL_SIZE, assignIp: config.ASSIGN_IP } } : {}),
  };
}

/** True (after saying so) when the run is already torn down: nothing left to watch or tear down. */
export function reportIfFinished(state: RunState, output: Output): boolean {
  if (state.dcp.status !== "finished") return false;
  output.line(
    `run ${state.MONITOR_APP_NAME} is already torn down (finished ${state.dcp.finishedAt ?? ""}); nothing to do`,
  );
  output.result({ appName: state.MONITOR_APP_NAME, status: "finished", alreadyFinished: true });
  return true;
}

/** How to carry on after an interruption. */
export function resumeHints(path: string, tearingDown: boolean): string[] {
  if (tearingDown) return [`finish the teardown: dcp teardown ${path}`];
  return [`resume watching: dcp monitor ${path}`, `tear the run down now: dcp teardown ${path}`];
}
