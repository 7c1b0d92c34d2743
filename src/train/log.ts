// train.log: the run's own record of what it left out (entries the listing could not use,
// videos that could not be decoded), one timestamped line each. It is appended to, not
// rewritten like the run's other files: it is a history across resumes, nothing reads it back,
// and a rewrite per skipped video would cost the square of their number. Lines are queued and
// written in batches, one append call each (the listing's 30,000 lines are one call); a kill can
// cut the last batch short, which loses lines of a log, never a checkpoint. A failed write (a
// full disk) is told once and the run goes on: the log never ends a run, and never becomes an
// unhandled rejection.
import { promises as fs } from 'node:fs';
import { describeIoError } from '../fsutil.js';

export class RunLog {
  private queued: string[] = [];
  private writing: Promise<void> = Promise.resolve();
  private failed = false;

  /**
   * @param file the log file (appended to)
   * @param warn told once, in one line, when a write fails; later lines are dropped
   * @param clock the time stamped on each line
   */
  constructor(
    readonly file: string,
    private readonly warn: (message: string) => void,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  /** Queues lines (each gets the time stamp) and starts writing them. */
  write(lines: string | readonly string[]): void {
    if (this.failed) return;
    const stamp = this.clock().toISOString();
    for (const line of typeof lines === 'string' ? [lines] : lines) this.queued.push(`${stamp} ${line}\n`);
    this.writing = this.writing.then(() => this.drain());
  }

  /** Resolves once every line queued so far is written (or dropped after a failure); never rejects. */
  flush(): Promise<void> {
    return this.writing;
  }

  private async drain(): Promise<void> {
    if (this.queued.length === 0 || this.failed) return;
    const text = this.queued.join('');
    this.queued = [];
    try {
      await fs.appendFile(this.file, text);
    } catch (error) {
      this.failed = true;
      this.warn(`${this.file}: cannot write (${describeIoError(error)}); skipped files are no longer logged, the run goes on`);
    }
  }
}
