/**
 * `dcp teardown`: abort a run now (or finish a teardown a killed dcp left half done); --dry-run
 * prints the plan. The teardown itself is the run model's (src/run/teardown.ts), shared with monitor.
 */
import { Declined, EXIT_INTERRUPTED, Interrupted } from "../errors.js";
import { describeStep, planTeardown } from "../plan/teardown-plan.js";
import { runClients } from "../run/clients.js";
import { reportIfFinished, resolveRun, type RunLocation } from "../run/target.js";
import { tearDown, teardownInput } from "../run/teardown.js";
import { interruptOnSignals } from "../signals.js";
import { askOnTerminal } from "../ui/ask.js";
import type { Output } from "../ui/output.js";

export interface TeardownOptions extends RunLocation {
  dryRun: boolean;
  /** Skip the question asked on a terminal when unfinished groups would be deleted. */
  yes?: boolean;
}

/** `dcp teardown`: abort a run now (or finish a half-done teardown); --dry-run prints the plan. */
export async function runTeardown(options: TeardownOptions, output: Output): Promise<number> {
  const target = await resolveRun(options);
  const { state } = target;
  if (reportIfFinished(state, output)) return 0;
  const plan = planTeardown(teardownInput(state));
  if (options.dryRun) {
    output.line(`teardown plan for ${state.MONITOR_APP_NAME} (${target.path}); nothing is changed:`);
    plan.steps.forEach((step, i) => output.line(`  ${i + 1}. ${describeStep(step)}`));
    if (plan.completed.length) output.line(`  already done: ${plan.completed.join(", ")}`);
    for (const k of plan.kept) output.line(`  kept: ${k}`);
    output.result({
      appName: state.MONITOR_APP_NAME,
      dryRun: true,
      steps: plan.steps.map((s) => ({ ...s, description: describeStep(s) })),
      completed: plan.completed,
      kept: plan.kept,
    });
    return 0;
  }
  const signals = interruptOnSignals();
  try {
    // Scripts (no terminal) and --yes go ahead; a person is asked before queued work is thrown away.
    const confirm = options.yes || !process.stdin.isTTY ? undefined : askOnTerminal;
    const summary = await tearDown(target, await runClients(target), output, signals.signal, confirm);
    output.result(summary);
    return 0;
  } catch (err) {
    if (err instanceof Declined) {
      output.line(
        "nothing was torn down. Watch the run with `dcp monitor`, or pass --yes to tear down without asking.",
      );
      return 1;
    }
    if (!(err instanceof Interrupted)) throw err;
    output.line("teardown interrupted; what is done is recorded in the state file.");
    output.line(`finish it: dcp teardown ${target.path}`);
    return EXIT_INTERRUPTED;
  } finally {
    signals.dispose();
  }
}
