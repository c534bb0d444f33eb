/**
 * What `dcp monitor` shows: a live block for a terminal (at most 80 columns) and one plain line
 * per change for log files. Pure formatting of observations.
 */
import { estimateRemainingMs } from "./monitor-decisions.js";
import type { Observations } from "./monitor-observations.js";

export const MAX_COLUMNS = 80;
/** The live block stays one column short of 80, so no terminal wraps its lines. */
export const BLOCK_WIDTH = MAX_COLUMNS - 1;

/** "45s", "12m05s", "3h07m", "2d04h". */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, "0")}s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h${String(m % 60).padStart(2, "0")}m`;
  return `${Math.floor(h / 24)}d${String(h % 24).padStart(2, "0")}h`;
}

export interface MonitorView {
  appName: string;
  fleetLabel: string;
  observations: Observations;
  /** When the run started (state file), epoch ms. */
  startedAt: number;
  now: number;
  intervalS: number;
  /** The command shown in the block's first line (default "dcp monitor"). */
  command?: string;
  /** The last line's hint (default "Ctrl-C stops watching"). */
  hint?: string;
}

/** "spent $1.23 of ~$4.56" (spot compute + EBS, IPv4, alarms when known: observations.cost), or "" before the first price. */
export function costText(observations: Observations): string {
  const cost = observations.cost;
  if (cost?.spentUsd === undefined) return "";
  const projected = cost.projectedUsd === undefined ? "" : ` of ~$${cost.projectedUsd.toFixed(2)}`;
  return `spent $${cost.spentUsd.toFixed(2)}${projected}`;
}

function eta(view: MonitorView): string {
  const { last, samples } = view.observations;
  const ms = estimateRemainingMs(samples, last.visible + last.inFlight);
  return ms === undefined ? "ETA --" : `ETA ${formatDuration(ms)}`;
}

function fleetText(view: MonitorView): string {
  const { last } = view.observations;
  const target = last.target === undefined ? "fleet gone" : `target ${last.target}, fulfilled ${last.fulfilled ?? 0}`;
  return `instances ${last.instances} running (${target})`;
}

/** A line cut to the block's width (79 columns). */
export function fit(line: string): string {
  return line.length <= BLOCK_WIDTH ? line : `${line.slice(0, BLOCK_WIDTH - 1)}…`;
}

function bar(done: number, total: number, width: number): string {
  const fraction = total > 0 ? Math.min(1, done / total) : 0;
  const filled = Math.round(fraction * width);
  return `[${"#".repeat(filled)}${"-".repeat(width - filled)}]`;
}

/** The live block for a terminal: five lines, none longer than 79 columns. */
export function statusBlock(view: MonitorView): string[] {
  const { progress, last } = view.observations;
  const percent = progress.total > 0 ? Math.floor((100 * progress.done) / progress.total) : 0;
  const head = `${view.command ?? "dcp monitor"} ${view.appName} · ${view.fleetLabel}`;
  const elapsed = `elapsed ${formatDuration(view.now - view.startedAt)}`;
  const counts = `${progress.done}/${progress.total} done ${percent}%`;
  const etaText = eta(view);
  const barWidth = Math.max(10, BLOCK_WIDTH - counts.length - etaText.length - 6);
  return [
    fit(`${head.slice(0, BLOCK_WIDTH - elapsed.length - 2).padEnd(BLOCK_WIDTH - elapsed.length - 1)} ${elapsed}`),
    fit(`${bar(progress.done, progress.total, barWidth)} ${counts}  ${etaText}`),
    fit(
      `in flight ${last.inFlight}   pending ${last.visible}   dead-lettered ${progress.deadLettered}   ${costText(view.observations)}`.trimEnd(),
    ),
    fit(fleetText(view)),
    fit(
      `checked ${new Date(last.at).toISOString().slice(11, 19)}Z, every ${view.intervalS}s · ${view.hint ?? "Ctrl-C stops watching"}`,
    ),
  ];
}

/** One plain line for logs; printed only when it differs from the previous one. */
export function statusLine(view: MonitorView): string {
  const { progress, last } = view.observations;
  return [
    `done ${progress.done}/${progress.total}`,
    `in flight ${last.inFlight}`,
    `pending ${last.visible}`,
    `dead-lettered ${progress.deadLettered}`,
    fleetText(view),
    eta(view),
    ...(costText(view.observations) ? [costText(view.observations)] : []),
  ].join(", ");
}

/** The part of the plain line that decides whether it changed (not the ETA, which drifts). */
export function statusKey(view: MonitorView): string {
  const { progress, last } = view.observations;
  return JSON.stringify([
    progress.done,
    progress.total,
    last.inFlight,
    last.visible,
    progress.deadLettered,
    last.instances,
    last.target,
    last.fulfilled,
  ]);
}
