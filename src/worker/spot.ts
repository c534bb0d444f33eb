/**
 * Spot interruption notices (peer-systems-and-spot.md section 5): poll the instance metadata
 * service, IMDSv2 (imds.ts: a session token, then GET /latest/meta-data/spot/instance-action
 * with it), every SPOT_POLL_SECONDS (AWS recommends 5 s).
 * 404 means no notice; 200 carries {"action": "terminate", "time": "..."}. Where no metadata
 * service answers (a workstation), watching is switched off after the first try, with one log line.
 */

import { ImdsClient } from "./imds.js";

export interface SpotNotice {
  action: string;
  time: string;
}

export class SpotWatcher {
  private timer: NodeJS.Timeout | undefined;
  private readonly imds: ImdsClient;
  private everAnswered = false;
  private failing = false;
  private stopped = false;

  constructor(
    private readonly baseUrl: string,
    private readonly intervalMs: number,
    private readonly onNotice: (notice: SpotNotice) => void,
    private readonly log: (text: string) => void,
  ) {
    this.imds = new ImdsClient(baseUrl);
  }

  start(): void {
    void this.tick();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.tick(), this.intervalMs);
    this.timer.unref();
  }

  /** One check: the notice, or undefined when there is none. */
  async check(): Promise<SpotNotice | undefined> {
    const response = await this.imds.get("spot/instance-action");
    // 404: no notice; 401: the session token expired (the client gets a new one next time).
    if (response.status === 404 || response.status === 401) return undefined;
    if (response.status !== 200) throw new Error(`instance-action answered HTTP ${response.status}`);
    const text = response.text;
    try {
      const parsed = JSON.parse(text) as Partial<SpotNotice>;
      return { action: String(parsed.action ?? "terminate"), time: String(parsed.time ?? "soon") };
    } catch {
      return { action: "terminate", time: "soon" };
    }
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    try {
      const notice = await this.check();
      this.everAnswered = true;
      if (this.failing) this.log("instance metadata service answers again; watching for spot interruption notices");
      this.failing = false;
      if (notice) {
        this.stop();
        this.onNotice(notice);
        return;
      }
    } catch (err) {
      if (!this.everAnswered) {
        this.log(
          `no instance metadata service at ${this.baseUrl} (${(err as Error).message}); not watching for spot interruption notices`,
        );
        this.stop();
        return;
      }
      if (!this.failing)
        this.log(
          `warning: spot interruption check failed (${(err as Error).message}); retrying every ${this.intervalMs / 1000} s`,
        );
      this.failing = true;
    }
    this.schedule();
  }
}
