// The confusion matrix as SVG, drawn by Vega-Lite in Node (no canvas: the 'none' renderer lays
// out the scene, text widths are estimated, and toSVG writes it out). Vega loads lazily so that
// commands that never plot do not pay for it. (The training curves are drawn directly: curves.ts.)
import { LosaError } from '../errors.js';
import { writeFileAtomic } from '../fsutil.js';

// Vega-Lite specs are plain JSON; typed loosely here and checked by Vega-Lite's compiler.
type Spec = Record<string, unknown>;

const CONFIG = { font: 'sans-serif', view: { stroke: '#ccc' } };

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
    config: CONFIG,
  };
  return specToSvg(spec);
}

/** Writes `renderConfusionSvg(classes, confusion)` to `file` atomically. */
export async function writeConfusion(file: string, classes: string[], confusion: number[][]): Promise<void> {
  await writeFileAtomic(file, await renderConfusionSvg(classes, confusion));
}
