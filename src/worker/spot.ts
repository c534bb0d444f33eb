/**
 * Spot interruption notices (peer-systems-and-spot.md section 5): poll the instance metadata
 * service, IMDSv2 (a session token from PUT /latest/api/token, then GET
 * /latest/meta-data/spot/instance-action with it), every SPOT_POLL_SECONDS (AWS recommends 5 s).
 * 404 means no notice; 200 carries {"action": "terminate", "time": "..."}. Where no metadata
 * service answers (a workstation), watching is switched off after the first try, with one log line.
 */

export interface SpotNotice {
  action: string;
  time: string;
}

const TOKEN_TTL_SECONDS = 21_600;
const REQUEST_TIMEOUT_MS = 2_000;

export class SpotWatcher {
  private timer: NodeJS.Timeout | undefined;
  private token: { value: string; expires: number } | undefined;
  private everAnswered = false;
  private failing = false;
  private stopped = false;

  constructor(
    private readonly baseUrl: string,
    private readonly intervalMs: number,
    private readonly onNotice: (notice: SpotNotice) => void,
    private readonly log: (text: string) => void,
  ) {}

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

  private async sessionToken(): Promise<string> {
    if (this.token && this.token.expires > Date.now()) return this.token.value;
    const response = await fetch(`${this.baseUrl}/latest/api/token`, {
      method: "PUT",
      headers: { "X-aws-ec2-metadata-token-ttl-seconds": String(TOKEN_TTL_SECONDS) },
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    if (!response.ok) throw new Error(`token request answered HTTP ${response.status}`);
    const value = (await response.text()).trim();
    this.token = { value, expires: Date.now() + (TOKEN_TTL_SECONDS - 60) * 1000 };
    return value;
  }

  /** One check: the notice, or undefined when there is none. */
  async check(): Promise<SpotNotice | undefined> {
    const token = await this.sessionToken();
    const response = await fetch(`${this.baseUrl}/latest/meta-data/spot/instance-action`, {
      headers: { "X-aws-ec2-metadata-token": token },
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    if (response.status === 404) {
      await response.arrayBuffer();
      return undefined;
    }
    if (response.status === 401) {
      this.token = undefined; // expired session token: get a new one next time
      await response.arrayBuffer();
      return undefined;
    }
    if (!response.ok) throw new Error(`instance-action answered HTTP ${response.status}`);
    const text = await response.text();
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
