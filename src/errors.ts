/**
 * Errors the user can fix: bad files, bad flags, bad message bodies.
 * They exit with code 2 and print one line naming the file, the field and the fix,
 * so a scientist can correct their input without reading a stack trace.
 */
export class UserInputError extends Error {
  readonly exitCode = 2;
  constructor(
    readonly source: string,
    readonly field: string | undefined,
    readonly problem: string,
    readonly fix: string,
  ) {
    super(formatInputError(source, field, problem, fix));
    this.name = "UserInputError";
  }
}

export function formatInputError(source: string, field: string | undefined, problem: string, fix: string): string {
  const where = field ? `${source}: ${field}` : source;
  return `${where}: ${problem}. Fix: ${fix}`;
}

/** A failure in AWS or the environment that the user must look into; exits 1. */
export class OperationalError extends Error {
  readonly exitCode = 1;
  constructor(message: string) {
    super(message);
    this.name = "OperationalError";
  }
}

/** Renders a JSON path such as ["groups", 3, "Metadata"] as `groups[3].Metadata`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const part of path) {
    if (typeof part === "number") out += `[${part}]`;
    else out += out ? `.${String(part)}` : String(part);
  }
  return out || "(top level)";
}
