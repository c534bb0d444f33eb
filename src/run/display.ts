/** The live status block of a run: redrawn in place on a terminal, plain timestamped lines (only on change) otherwise. */
import { MAX_COLUMNS, statusBlock, statusKey, statusLine, type MonitorView } from "../plan/monitor-view.js";
import type { Output } from "../ui/output.js";

/** A live block redrawn in place on a terminal; plain timestamped lines (only on change) otherwise. */
export class RunDisplay {
  private blockLines = 0;
  private lastBlock: string[] = [];
  private lastKey = "";
  private readonly stream: NodeJS.WriteStream;

  constructor(private readonly output: Output) {
    this.stream = output.json ? process.stderr : process.stdout;
  }

  private width(): number {
    return Math.min(MAX_COLUMNS, this.stream.columns || MAX_COLUMNS);
  }

  private clear(): void {
    if (this.blockLines) this.stream.write(`\x1b[${this.blockLines}F\x1b[J`);
    this.blockLines = 0;
  }

  private draw(lines: string[]): void {
    const width = this.width();
    this.stream.write(`${lines.map((l) => l.slice(0, width)).join("\n")}\n`);
    this.blockLines = lines.length;
    this.lastBlock = lines;
  }

  event(text: string): void {
    if (!this.output.interactive) return this.output.line(text);
    this.clear();
    this.stream.write(`${new Date().toISOString().slice(11, 19)}Z ${text}\n`);
    if (this.lastBlock.length) this.draw(this.lastBlock);
  }

  warn(text: string): void {
    this.event(`warning: ${text}`);
  }

  /** The status block, and `extra` lines under it (dcp status: phase, ledger counts, cost). */
  status(view: MonitorView, extra: readonly string[] = []): void {
    if (this.output.interactive) {
      this.clear();
      this.draw([...statusBlock(view), ...extra]);
      return;
    }
    const key = statusKey(view) + JSON.stringify(extra);
    if (key !== this.lastKey) for (const line of [statusLine(view), ...extra]) this.output.line(line);
    this.lastKey = key;
  }

  /** After Ctrl-C on a terminal: end the line the ^C was echoed on. */
  endLine(): void {
    if (this.output.interactive) this.stream.write("\n");
    this.release();
  }

  /** Leaves the last block on screen; later output goes below it. */
  release(): void {
    this.blockLines = 0;
    this.lastBlock = [];
  }
}
