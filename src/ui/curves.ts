// curves.svg, drawn directly: three small line charts side by side (loss, accuracy, learning
// rate per epoch), each a panel with its axes, one line and a point per epoch for each series,
// and a legend. Not with Vega-Lite like the confusion matrix (plots.ts): training redraws this
// after every epoch, and loading and running Vega took the training process about 20 MiB above
// its side-network steps, the largest part of its peak, for three line charts.
import type { EpochSummary } from '../train/events.js';
import { writeFileAtomic } from '../fsutil.js';

/** One epoch of a run, as the curves plot it. Accuracies are fractions. */
export interface CurvePoint {
  epoch: number;
  trainLoss: number;
  valLoss?: number;
  trainTop1: number;
  valTop1?: number;
  valTop5?: number;
  lr: number;
}

/** The curve point of an epoch summary (the training loop's `epoch-end` event). */
export function curvePointFromSummary(s: EpochSummary): CurvePoint {
  return {
    epoch: s.epoch,
    trainLoss: s.trainLoss,
    trainTop1: s.trainTop1,
    lr: s.lr,
    ...(s.val ? { valLoss: s.val.loss, valTop1: s.val.top1, valTop5: s.val.top5 } : {}),
  };
}

/** Writes `renderCurvesSvg(records)` to `file` atomically. */
export async function writeCurves(file: string, records: CurvePoint[]): Promise<void> {
  await writeFileAtomic(file, renderCurvesSvg(records));
}

interface Series {
  name: string;
  points: { epoch: number; value: number }[];
}

interface Panel {
  title: string;
  axisTitle: string;
  /** The name of the value in each point's label, and how ticks and labels print a value. */
  valueName: string;
  format: (v: number) => string;
  /** A fixed value domain; otherwise the data's, extended to round ticks (from 0 when `zero`). */
  domain?: [number, number];
  zero: boolean;
  series: Series[];
}

const COLORS = ['#4c78a8', '#f58518', '#e45756'];
const MARGIN = { left: 58, top: 56, gap: 84, bottom: 100 };
/** One panel's plot area, in pixels. */
export const CURVE_PANEL = { width: 260, height: 200 };
const { width: W, height: H } = CURVE_PANEL;

/** The SVG text of curves.svg. Missing values and non-finite ones are left out. */
export function renderCurvesSvg(records: CurvePoint[]): string {
  const series = (name: string, pick: (r: CurvePoint) => number | undefined): Series => ({
    name,
    points: records.flatMap((r) => {
      const value = pick(r);
      return value !== undefined && Number.isFinite(value) ? [{ epoch: r.epoch, value }] : [];
    }),
  });
  const keep = (list: Series[]): Series[] => list.filter((s) => s.points.length > 0);
  const panels: Panel[] = [
    {
      title: 'loss', axisTitle: 'cross-entropy', valueName: 'value', format: (v) => trimNumber(v.toPrecision(3)), zero: false,
      series: keep([series('train loss', (r) => r.trainLoss), series('val loss', (r) => r.valLoss)]),
    },
    {
      title: 'accuracy', axisTitle: 'accuracy', valueName: 'accuracy', format: (v) => `${Math.round(v * 100)}%`, domain: [0, 1], zero: true,
      series: keep([series('train top-1', (r) => r.trainTop1), series('val top-1', (r) => r.valTop1), series('val top-5', (r) => r.valTop5)]),
    },
    {
      title: 'learning rate', axisTitle: 'learning rate', valueName: 'value', format: (v) => v.toExponential(1), zero: true,
      series: keep([series('learning rate', (r) => r.lr)]),
    },
  ];
  const epochs = records.map((r) => r.epoch);
  const xDomain: [number, number] = epochs.length > 0 ? [Math.min(...epochs), Math.max(...epochs)] : [1, 1];
  const width = MARGIN.left + panels.length * W + (panels.length - 1) * MARGIN.gap + 20;
  const height = MARGIN.top + H + MARGIN.bottom;
  const body = panels.map((p, i) => drawPanel(p, xDomain, MARGIN.left + i * (W + MARGIN.gap), i)).join('');
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="10">` +
    `<rect width="${width}" height="${height}" fill="white"/>` +
    `<text x="${width / 2}" y="22" text-anchor="middle" font-size="13" font-weight="bold">losa training curves</text>` +
    `${body}</svg>`
  );
}

function drawPanel(p: Panel, xDomain: [number, number], left: number, index: number): string {
  const values = p.series.flatMap((s) => s.points.map((q) => q.value));
  const [lo, hi] = p.domain ?? niceDomain(values, p.zero);
  const x = (epoch: number): number => (xDomain[1] === xDomain[0] ? W / 2 : ((epoch - xDomain[0]) / (xDomain[1] - xDomain[0])) * W);
  const y = (v: number): number => (hi === lo ? H / 2 : H * (1 - (v - lo) / (hi - lo)));
  const parts: string[] = [`<g class="panel panel-${index}" transform="translate(${left},${MARGIN.top})">`];
  parts.push(`<text x="${W / 2}" y="-10" text-anchor="middle" font-size="11" font-weight="bold">${esc(p.title)}</text>`);
  for (const t of ticks(lo, hi, 5)) {
    parts.push(`<line x1="0" x2="${W}" y1="${fmt(y(t))}" y2="${fmt(y(t))}" stroke="#eee"/>`);
    parts.push(`<text x="-6" y="${fmt(y(t) + 3)}" text-anchor="end">${esc(p.format(t))}</text>`);
  }
  for (const e of ticks(xDomain[0], xDomain[1], 8).filter((t) => Number.isInteger(t))) {
    parts.push(`<line x1="${fmt(x(e))}" x2="${fmt(x(e))}" y1="${H}" y2="${H + 5}" stroke="#888"/>`);
    parts.push(`<text x="${fmt(x(e))}" y="${H + 16}" text-anchor="middle">${e}</text>`);
  }
  parts.push(`<rect width="${W}" height="${H}" fill="none" stroke="#ccc"/>`);
  parts.push(`<text x="${W / 2}" y="${H + 32}" text-anchor="middle" font-weight="bold">epoch</text>`);
  parts.push(`<text transform="translate(-44,${H / 2}) rotate(-90)" text-anchor="middle" font-weight="bold">${esc(p.axisTitle)}</text>`);
  p.series.forEach((s, k) => {
    const color = COLORS[k % COLORS.length]!;
    const d = s.points.map((q, j) => `${j === 0 ? 'M' : 'L'}${fmt(x(q.epoch))},${fmt(y(q.value))}`).join('');
    parts.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="2"/>`);
    for (const q of s.points) {
      const label = `epoch: ${q.epoch}; ${p.valueName}: ${p.format(q.value)}; series: ${s.name}`;
      parts.push(`<circle class="point" cx="${fmt(x(q.epoch))}" cy="${fmt(y(q.value))}" r="3" fill="${color}" aria-label="${esc(label)}"/>`);
    }
    const ly = H + 50 + k * 16;
    parts.push(`<circle cx="6" cy="${ly - 3}" r="4" fill="${color}"/><text x="16" y="${ly}">${esc(s.name)}</text>`);
  });
  parts.push('</g>');
  return parts.join('');
}

/** [lo, hi] around `values`, widened to multiples of a round tick step (from 0 when `zero`). */
function niceDomain(values: number[], zero: boolean): [number, number] {
  if (values.length === 0) return [0, 1];
  let lo = zero ? Math.min(0, ...values) : Math.min(...values);
  let hi = Math.max(...values);
  if (hi === lo) [lo, hi] = lo === 0 ? [0, 1] : [lo - Math.abs(lo) / 2, hi + Math.abs(hi) / 2];
  const step = tickStep(lo, hi, 5);
  return [Math.floor(lo / step + 1e-9) * step, Math.ceil(hi / step - 1e-9) * step]; // (1e-3 / 2e-4 is not 5 in floats)
}

/** A round step (1, 2 or 5 × 10^k) giving about `count` ticks over [lo, hi]. */
function tickStep(lo: number, hi: number, count: number): number {
  const raw = (hi - lo) / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const m = raw / power; // in [1, 10): round to the nearest of 1, 2, 5, 10 (as d3 does)
  return (m >= 7.07 ? 10 : m >= 3.16 ? 5 : m >= 1.41 ? 2 : 1) * power;
}

/** Ticks at multiples of the round step inside [lo, hi]. */
function ticks(lo: number, hi: number, count: number): number[] {
  if (hi === lo) return [lo];
  const step = tickStep(lo, hi, count);
  const out: number[] = [];
  for (let k = Math.ceil(lo / step - 1e-9); k * step <= hi + step * 1e-9; k++) out.push(Number((k * step).toPrecision(12)));
  return out;
}

function fmt(v: number): string {
  return String(Math.round(v * 1000) / 1000);
}

/** Trailing zeros of a fraction dropped ("2.50" → "2.5", "10.0" → "10"); whole numbers ("200") kept. */
function trimNumber(text: string): string {
  return text.includes('.') && !text.includes('e') ? text.replace(/\.?0+$/, '') : text;
}

function esc(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}
