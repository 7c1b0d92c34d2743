// Errors the CLI knows how to report: one line, naming the file at fault.
// LosaError → exit status 1 (runtime failure); UsageError → exit status 2 (bad arguments).

export class LosaError extends Error {
  override name = 'LosaError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(oneLine(message), options);
  }
}

export class UsageError extends Error {
  override name = 'UsageError';
  constructor(message: string) {
    super(oneLine(message));
  }
}

/** Collapse whitespace so that an error is always one line, whatever a child process printed. */
export function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim();
}

/** A message for any thrown value, one line. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return oneLine(error.message);
  return oneLine(String(error));
}

/** p-queue style validation: "Expected `name` to be …, got …". */
export function expected(name: string, what: string, got: unknown): UsageError {
  return new UsageError(`Expected \`${name}\` to be ${what}, got ${JSON.stringify(got) ?? String(got)}`);
}
