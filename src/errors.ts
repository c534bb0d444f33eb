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

/** The exit code of a command stopped by Ctrl-C (or SIGTERM): 128 + SIGINT, as shells expect. */
export const EXIT_INTERRUPTED = 130;

/** Thrown at a safe point after Ctrl-C / SIGTERM; `dcp` exits 130 after the command has said how to resume. */
export class Interrupted extends Error {
  readonly exitCode = EXIT_INTERRUPTED;
  constructor(message = "interrupted") {
    super(message);
    this.name = "Interrupted";
  }
}

/** The person at the terminal answered no to a confirmation: nothing was done; exits 1. */
export class Declined extends Error {
  readonly exitCode = 1;
  constructor(message = "declined at the prompt; nothing was done") {
    super(message);
    this.name = "Declined";
  }
}
