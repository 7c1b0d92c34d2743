// Number and time formatting shared by the dashboard, the plain renderer and the commands.
// Every function returns a short string of predictable width; none throws on NaN or Infinity.

/** "850ms", "12.3s", "3m 12s", "1h 02m", "2d 03h". Negative or non-finite input gives "–". */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '–';
  if (seconds < 1) return `${Math.round(seconds * 1000)}ms`;
  if (seconds < 60) return `${seconds < 10 ? seconds.toFixed(1) : Math.round(seconds).toFixed(0)}s`;
  const total = Math.round(seconds);
  const s = total % 60;
  const m = Math.floor(total / 60) % 60;
  const h = Math.floor(total / 3600) % 24;
  const d = Math.floor(total / 86400);
  if (d > 0) return `${d}d ${String(h).padStart(2, '0')}h`;
  if (h > 0) return `${h}h ${String(m).padStart(2, '0')}m`;
  return `${m}m ${String(s).padStart(2, '0')}s`;
}

/** Compact counts: 950, 12.3K, 5.7M, 86.6M, 4.0B. */
export function formatCount(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  const sign = n < 0 ? '-' : '';
  const a = Math.abs(n);
  const units: [number, string][] = [[1e12, 'T'], [1e9, 'B'], [1e6, 'M'], [1e3, 'K']];
  for (const [base, suffix] of units) {
    // Round first so that 999_950 becomes 1.0M rather than 1000.0K.
    if (Number((a / base).toFixed(1)) >= 1) return `${sign}${(a / base).toFixed(1)}${suffix}`;
  }
  return `${sign}${Math.round(a)}`;
}

/** A fraction as a percentage: 0.953 → "95.3%". */
export function formatPercent(fraction: number, digits = 1): string {
  if (!Number.isFinite(fraction)) return '–';
  return `${(fraction * 100).toFixed(digits)}%`;
}

/** Loss values: "1.3863", "12.41", "1.23e+4"; "nan" and "inf" spelled out. */
export function formatLoss(loss: number): string {
  if (Number.isNaN(loss)) return 'nan';
  if (!Number.isFinite(loss)) return loss > 0 ? 'inf' : '-inf';
  const a = Math.abs(loss);
  if (a < 10) return loss.toFixed(4);
  if (a < 1000) return loss.toFixed(2);
  return loss.toExponential(2);
}

/** Learning rates: "3.00e-4", "0" when zero. */
export function formatLr(lr: number): string {
  if (lr === 0) return '0';
  if (!Number.isFinite(lr)) return String(lr);
  return lr.toExponential(2);
}

/** Milliseconds per clip: "0.4ms", "12ms", "1.2s". */
export function formatMs(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '–';
  if (ms >= 1000) return `${(ms / 1000).toFixed(1)}s`;
  return ms < 10 ? `${ms.toFixed(1)}ms` : `${Math.round(ms)}ms`;
}

/** Clips per second: "45.2", "0.83", "1234". */
export function formatRate(perSecond: number): string {
  if (!Number.isFinite(perSecond) || perSecond < 0) return '–';
  if (perSecond >= 100) return Math.round(perSecond).toFixed(0);
  if (perSecond >= 1) return perSecond.toFixed(1);
  return perSecond.toFixed(2);
}

const SPARK = '▁▂▃▄▅▆▇█';

/** A one-line chart of `values` (min to max mapped to ▁..█); non-finite values show as a space. */
export function sparkline(values: readonly number[]): string {
  const finite = values.filter((v) => Number.isFinite(v));
  if (finite.length === 0) return ' '.repeat(values.length);
  const min = Math.min(...finite);
  const max = Math.max(...finite);
  const span = max - min;
  return values
    .map((v) => {
      if (!Number.isFinite(v)) return ' ';
      const level = span === 0 ? 3 : Math.round(((v - min) / span) * (SPARK.length - 1));
      return SPARK[level]!;
    })
    .join('');
}

/** A text progress bar of `width` cells: "████████▌░░░░░░". `fraction` is clamped to [0, 1]. */
export function progressBar(fraction: number, width: number): string {
  const f = Number.isFinite(fraction) ? Math.min(1, Math.max(0, fraction)) : 0;
  const eighths = Math.round(f * width * 8);
  const full = Math.floor(eighths / 8);
  const rest = eighths % 8;
  const partial = rest > 0 ? '▏▎▍▌▋▊▉'[rest - 1]! : '';
  return '█'.repeat(full) + partial + '░'.repeat(width - full - (partial ? 1 : 0));
}
