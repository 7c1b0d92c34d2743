// `--debug` lines from deep inside the library (a seek that fell back to decoding from the
// start, …): the CLI sets where they go; without it they go nowhere.

let sink: ((line: string) => void) | undefined;

/** Send debug lines to `write` (undefined: drop them). */
export function setDebugLog(write: ((line: string) => void) | undefined): void {
  sink = write;
}

/** One debug line, when someone listens. */
export function debugLog(line: string): void {
  sink?.(line);
}
