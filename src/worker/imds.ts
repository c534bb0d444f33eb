/**
 * The instance metadata service, IMDSv2: a session token from PUT /latest/api/token (sent back in
 * X-aws-ec2-metadata-token on every GET; a 401 means it expired), then GETs under
 * /latest/meta-data/. Shared by the spot interruption watcher and the ledger's placement lookup.
 * https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/configuring-instance-metadata-service.html
 */

const TOKEN_TTL_SECONDS = 21_600;
export const IMDS_REQUEST_TIMEOUT_MS = 2_000;

export class ImdsClient {
  private token: { value: string; expires: number } | undefined;

  constructor(
    readonly baseUrl: string,
    private readonly timeoutMs = IMDS_REQUEST_TIMEOUT_MS,
  ) {}

  private async sessionToken(): Promise<string> {
    if (this.token && this.token.expires > Date.now()) return this.token.value;
    const response = await fetch(`${this.baseUrl}/latest/api/token`, {
      method: "PUT",
      headers: { "X-aws-ec2-metadata-token-ttl-seconds": String(TOKEN_TTL_SECONDS) },
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    if (!response.ok) throw new Error(`token request answered HTTP ${response.status}`);
    const value = (await response.text()).trim();
    this.token = { value, expires: Date.now() + (TOKEN_TTL_SECONDS - 60) * 1000 };
    return value;
  }

  /**
   * GET /latest/meta-data/<path>: the status and the body. A 401 (expired session token) drops the
   * token so that the next call gets a new one.
   */
  async get(path: string): Promise<{ status: number; text: string }> {
    const token = await this.sessionToken();
    const response = await fetch(`${this.baseUrl}/latest/meta-data/${path}`, {
      headers: { "X-aws-ec2-metadata-token": token },
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    if (response.status === 401) this.token = undefined;
    return { status: response.status, text: await response.text() };
  }

  /** The body of a metadata path that must exist (HTTP 200), else an error. */
  async value(path: string): Promise<string> {
    const { status, text } = await this.get(path);
    if (status !== 200) throw new Error(`${path} answered HTTP ${status}`);
    return text.trim();
  }
}
