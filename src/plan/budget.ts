/**
 * The budget (BUDGET_USD, `dcp monitor --budget`): warn once when the projected total exceeds it, and
 * stop spending early enough that what is spent, plus one more monitor interval and the time instances
 * take to terminate, stays within it. Pure: the cost comes in from plan/run-cost.ts.
 */
import { cents, type RunCost } from "./run-cost.js";

/** EC2 bills an instance until it is terminated; a TerminateInstances takes about this long to finish. */
export const TERMINATION_MS = 90_000;

export interface BudgetInput {
  budgetUsd: number;
  cost: Pick<RunCost, "spentUsd" | "burnPerHour" | "projectedUsd">;
  /** the monitor's interval: the next reading may come this late */
  intervalMs: number;
  /** the warning was already given (observations.budget.warnedAt) */
  warned: boolean;
}

export interface BudgetDecision {
  /** the one warning, with the numbers */
  warn?: string;
  /** stop spending now, and why */
  stop?: string;
}

/** What would be spent by the time a stop decided at the NEXT reading had taken effect. */
export function spendAtNextChance(input: Pick<BudgetInput, "cost" | "intervalMs">): number | undefined {
  const { spentUsd, burnPerHour } = input.cost;
  if (spentUsd === undefined || burnPerHour === undefined) return undefined;
  return spentUsd + (burnPerHour * (input.intervalMs + TERMINATION_MS)) / 3_600_000;
}

export function planBudget(input: BudgetInput): BudgetDecision {
  const decision: BudgetDecision = {};
  const { spentUsd, projectedUsd } = input.cost;
  if (!input.warned && projectedUsd !== undefined && projectedUsd > input.budgetUsd)
    decision.warn = `the projected total ${cents(projectedUsd)} exceeds the budget of ${cents(input.budgetUsd)} (spent so far ${cents(spentUsd ?? 0)}); dcp stops the fleet before spend reaches the budget`;
  const next = spendAtNextChance(input);
  if (next !== undefined && next >= input.budgetUsd)
    decision.stop = `spent ${cents(spentUsd ?? 0)} of the budget of ${cents(input.budgetUsd)}; another ${Math.round(input.intervalMs / 1000)} s plus the termination would reach ${cents(next)}`;
  return decision;
}
