/**
 * Runs `action` with the given environment variables set (undefined: unset), then puts each back as
 * it was, set or unset. For SDK clients that read AWS_ENDPOINT_URL* at their first call.
 */
export async function withEnv<T>(vars: Record<string, string | undefined>, action: () => Promise<T>): Promise<T> {
  const saved = Object.keys(vars).map((name) => [name, process.env[name]] as const);
  assign(Object.entries(vars));
  try {
    return await action();
  } finally {
    assign(saved);
  }
}

function assign(entries: ReadonlyArray<readonly [string, string | undefined]>): void {
  for (const [name, value] of entries) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
}
