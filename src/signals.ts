/**
 * The one Ctrl-C policy of every long-running command (monitor, teardown, start-cluster, submit,
 * make-jobs --submit, worker): the first SIGINT or SIGTERM aborts `signal`, so the command stops at
 * its next safe point and says how to resume; a second one exits at once with 130. Exiting at once
 * is safe everywhere dcp uses this: state files are written atomically and every flow resumes.
 */
import { EXIT_INTERRUPTED } from "./errors.js";

export interface SignalScope {
  /** Aborted by the first SIGINT/SIGTERM. */
  readonly signal: AbortSignal;
  /** Removes the handlers (call in `finally`). */
  dispose(): void;
}

export interface SignalOptions {
  /** Called once on the first signal, e.g. to print what happens now. */
  onFirst?: (signal: NodeJS.Signals) => void;
  /** Called on the second signal, just before the process exits. */
  onSecond?: (signal: NodeJS.Signals) => void;
  /** Which signals count (default SIGINT and SIGTERM). */
  signals?: readonly NodeJS.Signals[];
}

export function interruptOnSignals(options: SignalOptions = {}): SignalScope {
  const controller = new AbortController();
  const signals = options.signals ?? (["SIGINT", "SIGTERM"] as const);
  const handler = (sig: NodeJS.Signals) => {
    if (controller.signal.aborted) {
      options.onSecond?.(sig);
      process.exit(EXIT_INTERRUPTED);
    }
    controller.abort();
    options.onFirst?.(sig);
  };
  for (const s of signals) process.on(s, handler);
  return {
    signal: controller.signal,
    dispose() {
      for (const s of signals) process.off(s, handler);
    },
  };
}

/**
 * `dcp workflow run` starts each step's commands with DCP_EXIT_WITH_PARENT=<its pid>. When that
 * process is gone (even killed with SIGKILL, which it cannot pass on), the command sends itself
 * SIGTERM: it stops at its next safe point, as on Ctrl-C, instead of running on unwatched beside the
 * next `dcp workflow run`. Linux and macOS re-parent an orphan, so a changed `process.ppid` says it.
 */
export function stopWhenParentExits(env: NodeJS.ProcessEnv = process.env): void {
  const parent = Number(env.DCP_EXIT_WITH_PARENT);
  if (!parent || parent !== process.ppid) return;
  const timer = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(timer);
    process.kill(process.pid, "SIGTERM");
  }, 500);
  timer.unref();
}
