// Training curves and the confusion matrix as SVG, drawn by Vega-Lite in Node (no canvas: the
// 'none' renderer lays out the scene, text widths are estimated, and toSVG writes it out).
// Vega loads lazily so that commands that never plot do not pay for it.
import type { EpochSummary } from '../train/events.js';
import { LosaError } from '../errors.js';
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

// Vega-Lite specs are plain JSON; typed loosely here and checked by Vega-Lite's compiler.
type Spec = Record<string, unknown>;

async function specToSvg(spec: Spec): Promise<string> {
  const [vega, vegaLite] = await Promise.all([import('vega'), import('vega-lite')]);
  const compiled = vegaLite.compile(spec as never).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

const PANEL = { width: 260, height: 200 };
const CONFIG = { font: 'sans-serif', view: { stroke: '#ccc' }, legend: { orient: 'bottom', direction: 'vertical' } };

/** curves.svg: loss (train, val), accuracy (train top-1, val top-1, val top-5) and learning rate per epoch. */
export async function renderCurvesSvg(records: CurvePoint[]): Promise<string> {
  const rows: { epoch: number; panel: string; series: string; value: number }[] = [];
  const add = (epoch: number, panel: string, series: string, value: number | undefined): void => {
    // Vega would draw NaN as a gap at best; a diverged epoch is reported elsewhere.
    if (value !== undefined && Number.isFinite(value)) rows.push({ epoch, panel, series, value });
  };
  for (const r of records) {
    add(r.epoch, 'loss', 'train loss', r.trainLoss);
    add(r.epoch, 'loss', 'val loss', r.valLoss);
    add(r.epoch, 'accuracy', 'train top-1', r.trainTop1);
    add(r.epoch, 'accuracy', 'val top-1', r.valTop1);
    add(r.epoch, 'accuracy', 'val top-5', r.valTop5);
    add(r.epoch, 'lr', 'learning rate', r.lr);
  }
  const epochAxis = { field: 'epoch', type: 'quantitative', title: 'epoch', axis: { tickMinStep: 1, format: 'd' } };
  const panel = (name: string, title: string, y: Spec): Spec => ({
    title,
    ...PANEL,
    transform: [{ filter: { field: 'panel', equal: name } }],
    mark: { type: 'line', point: true },
    encoding: {
      x: epochAxis,
      y: { field: 'value', type: 'quantitative', ...y },
      color: { field: 'series', type: 'nominal', title: null },
    },
  });
  const spec: Spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: 'losa training curves',
    data: { values: rows },
    hconcat: [
      panel('loss', 'loss', { title: 'cross-entropy', scale: { zero: false } }),
      panel('accuracy', 'accuracy', { title: 'accuracy', axis: { format: '.0%' }, scale: { domain: [0, 1] } }),
      panel('lr', 'learning rate', { title: 'learning rate', axis: { format: '.1e' } }),
    ],
    resolve: { scale: { color: 'independent' } },
    config: CONFIG,
  };
  return specToSvg(spec);
}

/** Writes `renderCurvesSvg(records)` to `file` atomically. */
export async function writeCurves(file: string, records: CurvePoint[]): Promise<void> {
  await writeFileAtomic(file, await renderCurvesSvg(records));
}

/**
 * Above this many classes confusion.svg shows only the CONFUSION_SHOWN most confused ones: a full
 * grid grows with the square of the classes (Kinetics-700: 490,000 cells, 97.5 MB and 40 s).
 */
export const CONFUSION_FULL_LIMIT = 40;
export const CONFUSION_SHOWN = 30;

/**
 * The `n` classes with the most errors, counted both ways (clips of the class predicted as
 * another, and clips of other classes predicted as it), as indices in the classes' own order.
 */
export function mostConfusedClasses(confusion: number[][], n: number): number[] {
  const errors = confusion.map((row, i) => row.reduce((sum, count, j) => sum + (i === j ? 0 : count + confusion[j]![i]!), 0));
  const ranked = errors.map((e, i) => [e, i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  return ranked.slice(0, n).map(([, i]) => i).sort((a, b) => a - b);
}

/**
 * confusion.svg: rows are true classes, columns predictions; colour is the row's fraction, text
 * the count. Over CONFUSION_FULL_LIMIT classes, only the most confused ones (their rows' fractions
 * still count every clip of the class).
 */
export async function renderConfusionSvg(allClasses: string[], allConfusion: number[][]): Promise<string> {
  const total = allClasses.length;
  if (allConfusion.length !== total || allConfusion.some((row) => row.length !== total)) {
    throw new LosaError(`Expected \`confusion\` to be a ${total}×${total} matrix (one row and column per class), got ${allConfusion.length} rows`);
  }
  const shown = total > CONFUSION_FULL_LIMIT ? mostConfusedClasses(allConfusion, CONFUSION_SHOWN) : allClasses.map((_, i) => i);
  const classes = shown.map((i) => allClasses[i]!);
  const k = classes.length;
  const cells: { actual: string; predicted: string; count: number; fraction: number }[] = [];
  for (const i of shown) {
    const row = allConfusion[i]!;
    const clips = row.reduce((a, b) => a + b, 0);
    for (const j of shown) {
      cells.push({ actual: allClasses[i]!, predicted: allClasses[j]!, count: row[j]!, fraction: clips > 0 ? row[j]! / clips : 0 });
    }
  }
  const subtitle = k < total
    ? `the ${k} most confused of ${total} classes · rows: true class · columns: predicted class`
    : 'rows: true class · columns: predicted class';
  // Cells shrink as classes grow; counts are written only while they can still be read.
  const step = Math.max(6, Math.min(48, Math.floor(720 / Math.max(1, k))));
  const axisClass = (title: string): Spec => ({ type: 'nominal', sort: classes, title, scale: { domain: classes } });
  const layers: Spec[] = [
    {
      mark: 'rect',
      encoding: {
        color: { field: 'fraction', type: 'quantitative', title: 'share of true class', scale: { domain: [0, 1], range: ['#f7fbff', '#08306b'] }, legend: { format: '.0%' } },
      },
    },
  ];
  if (k <= 30) {
    layers.push({
      mark: { type: 'text', fontSize: Math.min(12, Math.max(7, step / 3)) },
      encoding: {
        text: { field: 'count', type: 'quantitative' },
        color: { condition: { test: 'datum.fraction > 0.5', value: 'white' }, value: 'black' },
      },
    });
  }
  const spec: Spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: 'confusion matrix', subtitle },
    data: { values: cells },
    width: { step },
    height: { step },
    encoding: {
      x: { field: 'predicted', ...axisClass('predicted'), axis: { labelAngle: -45 } },
      y: { field: 'actual', ...axisClass('true') },
    },
    layer: layers,
    resolve: { scale: { color: 'independent' } },
    config: { ...CONFIG, legend: {} },
  };
  return specToSvg(spec);
}

/** Writes `renderConfusionSvg(classes, confusion)` to `file` atomically. */
export async function writeConfusion(file: string, classes: string[], confusion: number[][]): Promise<void> {
  await writeFileAtomic(file, await renderConfusionSvg(classes, confusion));
}
