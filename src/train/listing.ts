// What the listing of the data could not use, reported at the scale of a Kinetics download
// (5–10% of whose clips are routinely missing: tens of thousands): one line on screen, saying
// how many, why, and where the list is, and the whole list in train.log, written in one go.
import type { Dataset, DatasetProblem } from '../data/index.js';
import type { EventSink } from './events.js';
import type { RunLog } from './log.js';

export interface ListedSet {
  /** Which part of the run the set is: `train` or `val`. */
  role: string;
  set: Dataset;
}

const count = (n: number): string => n.toLocaleString('en-US');

/** A problem's reason without what varies per entry ("class \"x\" is not …" → "not a class of the run"). */
function reasonKind(p: DatasetProblem): string {
  return p.reason.startsWith('class "') ? 'not a class of the run' : p.reason;
}

/** "25,000 (24,990 missing, 10 empty file)" for one set's problems. */
function tally(problems: readonly DatasetProblem[]): string {
  const byKind = new Map<string, number>();
  for (const p of problems) byKind.set(reasonKind(p), (byKind.get(reasonKind(p)) ?? 0) + 1);
  const kinds = [...byKind].sort((a, b) => b[1] - a[1]).map(([kind, n]) => `${count(n)} ${kind}`);
  return `${count(problems.length)} (${kinds.join(', ')})`;
}

/** The screen's one line about the listing's problems, or null when there are none. */
function listingSummary(sets: readonly ListedSet[], logFile: string): string | null {
  const withProblems = sets.filter((s) => s.set.problems.length > 0);
  const total = withProblems.reduce((n, s) => n + s.set.problems.length, 0);
  if (total === 0) return null;
  const parts = withProblems.map((s) => `${s.role} ${tally(s.set.problems)}`);
  return `${count(total)} listed ${total === 1 ? 'entry' : 'entries'} cannot be used and ${total === 1 ? 'is' : 'are'} left out: ${parts.join('; ')}; the list is in ${logFile}`;
}

/** One train.log line per problem: `listing <role> <path>: <reason>`. */
function listingLines(sets: readonly ListedSet[]): string[] {
  return sets.flatMap((s) => s.set.problems.map((p) => `listing ${s.role} ${p.path}: ${p.reason}`));
}

/** The whole list into the log (one write), then the one line on screen. */
export async function reportListing(sets: readonly ListedSet[], log: RunLog, emit: EventSink): Promise<void> {
  const summary = listingSummary(sets, log.file);
  if (summary === null) return;
  log.write(listingLines(sets));
  await log.flush();
  emit({ type: 'log', level: 'warn', message: summary });
}
