// Failpoints: named places where the crash tests kill losa with SIGKILL, so that "a kill -9
// in the middle of a step, of validation, of a checkpoint write" happens exactly there and not
// wherever a timer in the test happens to land. Off unless the environment says otherwise:
//   LOSA_FAILPOINT=NAME       the first time execution passes NAME, the process kills itself
//   LOSA_FAILPOINT=NAME@N     the N-th time
// The kill is a real SIGKILL: no handler, no finally block, no flush runs, as with `kill -9`.
// Names in use: `train-step` (a step's gradient computed, its update not yet applied),
// `validate` (after each validated video), `write:<file name>` (the temporary file of an
// atomic write complete, not yet synced nor renamed; see fsutil.ts).

interface Failpoint {
  name: string;
  at: number;
}

let armed: Failpoint | null | undefined;
const passes = new Map<string, number>();

function parse(text: string | undefined): Failpoint | null {
  if (!text) return null;
  const m = /^(.+?)(?:@(\d+))?$/.exec(text.trim());
  return m ? { name: m[1]!, at: m[2] ? Number(m[2]) : 1 } : null;
}

/** Kills the process with SIGKILL when LOSA_FAILPOINT names this point (and this pass). */
export function failpoint(name: string): void {
  if (armed === undefined) armed = parse(process.env.LOSA_FAILPOINT);
  if (armed === null || armed.name !== name) return;
  const n = (passes.get(name) ?? 0) + 1;
  passes.set(name, n);
  if (n === armed.at) process.kill(process.pid, 'SIGKILL');
}
