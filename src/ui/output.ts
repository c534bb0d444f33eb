/**
 * How dcp talks to people. On a TTY: ora spinners and live lines. Not on a TTY (tmux piped to a
 * file, CI, cron): one plain timestamped line per event, so logs stay readable. With --json, the
 * human lines go to stderr and only the final JSON document goes to stdout, for scripts.
 */
import type { Ora } from "ora";

export interface OutputOptions {
  json?: boolean;
  /** Force plain lines even on a TTY (tests, --no-tty style use). */
  plain?: boolean;
  stream?: NodeJS.WriteStream;
}

export interface StepHandle {
  /** Replace the step's text while it runs (e.g. "fulfilled 3/10"). */
  update(text: string): void;
}

export class Output {
  readonly json: boolean;
  readonly interactive: boolean;
  private readonly stream: NodeJS.WriteStream;

  constructor(options: OutputOptions = {}) {
    this.json = options.json ?? false;
    this.stream = options.stream ?? (this.json ? process.stderr : process.stdout);
    // A terminal that reports no width (some ptys) would make spinners redraw without end.
    this.interactive =
      !options.plain && Boolean(this.stream.isTTY) && (this.stream.columns ?? 0) > 0 && !process.env.CI;
  }

  /** A plain line: timestamped when not interactive. */
  line(text: string): void {
    this.stream.write(this.interactive ? `${text}\n` : `${timestamp()} ${text}\n`);
  }

  warn(text: string): void {
    this.line(`warning: ${text}`);
  }

  /** Runs one step with a spinner (TTY) or start/end lines (plain). The callback may return a status word. */
  async step<T>(label: string, fn: (handle: StepHandle) => Promise<T>, describe?: (result: T) => string): Promise<T> {
    if (!this.interactive) {
      let lastUpdate = "";
      const handle: StepHandle = {
        update: (text) => {
          if (text !== lastUpdate) this.line(`${label}: ${text}`);
          lastUpdate = text;
        },
      };
      try {
        const result = await fn(handle);
        const end = describe ? describe(result) : "done";
        // The last progress line may already say it (collect: "8 groups"): the same line twice reads as a repeat.
        if (end !== lastUpdate) this.line(`${label}: ${end}`);
        return result;
      } catch (err) {
        this.line(`${label}: failed`);
        throw err;
      }
    }
    const spinner = await this.spinner(label);
    const handle: StepHandle = { update: (text) => (spinner.text = `${label}: ${text}`) };
    try {
      const result = await fn(handle);
      spinner.succeed(`${label}: ${describe ? describe(result) : "done"}`);
      return result;
    } catch (err) {
      spinner.fail(`${label}: failed`);
      throw err;
    }
  }

  private async spinner(text: string): Promise<Ora> {
    const { default: ora } = await import("ora");
    return ora({ text, stream: this.stream }).start();
  }

  /** Writes the machine-readable result (only with --json). */
  result(value: unknown): void {
    if (this.json) process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  }
}

export function timestamp(date: Date = new Date()): string {
  return date.toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** A text progress bar that fits in `width` columns: "[#####-----] 512/1000 51%". */
export function progressBar(done: number, total: number, width = 30): string {
  const fraction = total > 0 ? Math.min(1, done / total) : 0;
  const filled = Math.round(fraction * width);
  return `[${"#".repeat(filled)}${"-".repeat(width - filled)}] ${done}/${total} ${Math.floor(fraction * 100)}%`;
}
