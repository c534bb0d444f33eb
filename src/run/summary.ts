/** The summary of a finished run, as teardown writes it to the state file and prints it. */
import { costSummaryWords, type CostBreakdown } from "../plan/run-cost.js";
import type { StepResult } from "./teardown.js";

function costLines(costs: RunSummary["costs"]): string[] {
  if (!costs) return [];
  const words = costSummaryWords(costs);
  return [`  cost:           ${words.total}`, `  per plate:      ${words.perPlate}`];
}

export interface RunSummary {
  appName: string;
  status: "finished";
  groupsDone: number;
  groupsTotal: number;
  deadLettered: number;
  /** messages the kept dead-letter queue holds (all runs sharing it), when known */
  deadLetterQueueHolds?: number;
  elapsedMs: number;
  elapsed: string;
  instanceHours: number;
  estimatedCostUsd?: number;
  cost: string;
  kept: string[];
  steps: StepResult[];
  /** compute / storage / rest and per plate (the ledger's summary.json also has per group) */
  costs?: Omit<CostBreakdown, "byGroup">;
  /** the run was stopped by its budget; the queue keeps the groups not done */
  stoppedBy?: "budget";
}

export function summaryLines(summary: RunSummary): string[] {
  const dlq =
    summary.deadLetterQueueHolds === undefined ? "" : ` (the dead-letter queue holds ${summary.deadLetterQueueHolds})`;
  const stopped = summary.stoppedBy
    ? [
        `  stopped by the budget: ${summary.groupsTotal - summary.groupsDone - summary.deadLettered} group(s) stay in the queue; \`dcp start-cluster <fleet file>\` resumes them (no --replace needed)`,
      ]
    : [];
  return [
    `Run ${summary.appName} ${summary.stoppedBy ? "stopped by its budget" : "finished"} after ${summary.elapsed}.`,
    ...stopped,
    `  groups done:    ${summary.groupsDone} of ${summary.groupsTotal}`,
    `  dead-lettered:  ${summary.deadLettered}${dlq}`,
    `  instances:      ${summary.cost}`,
    ...costLines(summary.costs),
    ...summary.kept.map((k) => `  kept:           ${k}`),
  ];
}
