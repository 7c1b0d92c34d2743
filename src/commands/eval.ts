// `losa eval`: multi-view evaluation of a trained run on a labelled split: a thin command over
// the model object (loadModel(run).predict), tallying top-1, top-5, per-class accuracy and the
// confusion matrix.
import path from 'node:path';
import { openDataset } from '../data/index.js';
import { LosaError, UsageError } from '../errors.js';
import { ClassificationTally, DEFAULT_BATCH_SIZE, RUN_FILES, loadModel, type Evaluation } from '../model/index.js';
import { TRAIN_DEFAULTS } from '../train/options.js';
import { createRenderer, pickRenderMode, writeConfusion } from '../ui/index.js';
import { RUN_OPTIONS, VIEW_OPTIONS, WORKERS_OPTION } from './common.js';
import { defineCommand } from './command.js';
import { file, flag, int, text } from './options.js';
import { reportInputError } from './report.js';

export const command = defineCommand({
  name: 'eval',
  usage: 'losa eval --data SRC --checkpoint RUN_DIR [options]',
  description: `Top-1, top-5, per-class accuracy and the confusion matrix of a trained run. Each video is
sampled as V temporal clips × C spatial crops (V×C views); the prediction is the mean softmax
over the views. Writes confusion.svg into the run directory (or --plot FILE).`,
  options: {
    data: file({ value: 'SRC', help: 'folder, Kinetics CSV or list file', required: true }),
    split: text({ value: 'NAME', help: 'split to evaluate', default: TRAIN_DEFAULTS.valSplit }),
    ...RUN_OPTIONS,
    ...VIEW_OPTIONS,
    batchSize: int({ value: 'N', min: 1, help: 'videos per batch (one side-network call each)', default: DEFAULT_BATCH_SIZE }),
    cache: file({ value: 'DIR', help: 'feature cache (shared with `losa train --cache`)' }),
    ...WORKERS_OPTION,
    plot: file({ value: 'FILE', help: 'where to write the confusion matrix', defaultText: 'RUN_DIR/confusion.svg' }),
    json: flag({ help: 'one JSON object: top1, top5, perClass, confusion, …' }),
  },
  async run({ options: o, positionals }, io) {
    if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])} (see \`losa eval --help\`)`);
    const model = await loadModel(o.checkpoint, {
      checkpoint: o.last ? 'last' : 'best', device: o.device, chunk: o.chunk, weights: o.weights, tfBackend: o.tfBackend,
      batchSize: o.batchSize, workers: o.workers, cache: o.cache,
    });
    const mode = pickRenderMode({ isTTY: io.isTTY, quietWhenPlain: true });
    const renderer = createRenderer(mode, io, { kind: 'progress' });
    try {
      const dataset = await openDataset(o.data, { split: o.split, classes: model.classes });
      if (dataset.items.length === 0) throw new LosaError(`${o.data}: no videos in split "${o.split}"`);
      const skipped: { path: string; reason: string }[] = [];
      const tally = new ClassificationTally(model.classes);
      const started = Date.now();
      for await (const r of model.predict(dataset.items, {
        views: o.views, crops: o.crops,
        onProgress: (done, total) => renderer.emit({ type: 'progress', label: `eval ${o.split}`, done, total: total ?? dataset.items.length }),
      })) {
        if (r.error === undefined) tally.add(r.input.label, r.probabilities);
        else {
          skipped.push({ path: r.input.path, reason: r.error });
          reportInputError(renderer, mode, io, r.error.includes(r.input.path) ? r.error : `${r.input.path}: ${r.error}`, 'skipped');
        }
      }
      await renderer.close();
      const result: Evaluation = tally.summary();
      const plot = o.plot ?? path.join(model.runDir, RUN_FILES.confusion);
      await writeConfusion(plot, model.classes, result.confusion);
      const report = {
        split: o.split, videos: dataset.items.length, evaluated: result.count, skipped, views: o.views, crops: o.crops, viewsPerVideo: o.views * o.crops,
        loss: result.loss, top1: result.top1, top5: result.top5, perClass: result.perClass, classes: model.classes,
        confusion: result.confusion, checkpoint: model.weightsFile, randomWeights: model.backbone.randomWeights,
        seconds: (Date.now() - started) / 1000, plot, listingProblems: dataset.problems,
      };
      // Text names the checkpoint as a user would type it: relative to the working folder.
      io.stdout.write(o.json ? JSON.stringify(report) + '\n' : formatReport({ ...report, checkpoint: path.relative(io.cwd, model.weightsFile) }));
      return 0;
    } finally {
      await renderer.close();
      await model.dispose();
    }
  },
});

function pct(x: number | null): string {
  return x === null ? '   n/a' : `${(100 * x).toFixed(1).padStart(5)}%`;
}

/** Up to this many classes the confusion matrix is printed whole; above, its largest errors. */
const PRINTED_MATRIX_CLASSES = 20;

/** The confusion matrix as text: whole for a few classes, else the most frequent mistakes. */
export function confusionLines(classes: string[], confusion: number[][]): string[] {
  if (classes.length <= PRINTED_MATRIX_CLASSES) {
    const labels = classes.map((c, i) => `${i} ${c}`);
    const width = Math.max(...labels.map((l) => l.length));
    const cell = Math.max(4, ...confusion.flat().map((n) => String(n).length)) + 1;
    return [
      'confusion (rows: true class, columns: predicted):',
      `  ${''.padEnd(width)}${classes.map((_, j) => String(j).padStart(cell)).join('')}`,
      ...confusion.map((row, i) => `  ${labels[i]!.padEnd(width)}${row.map((n) => String(n).padStart(cell)).join('')}`),
    ];
  }
  const mistakes = confusion
    .flatMap((row, i) => row.map((n, j) => ({ n, i, j })))
    .filter((m) => m.i !== m.j && m.n > 0)
    .sort((a, b) => b.n - a.n || a.i - b.i || a.j - b.j)
    .slice(0, 10);
  if (mistakes.length === 0) return ['confusion: no mistakes'];
  return [
    `most frequent mistakes (${classes.length} classes; the whole matrix is in --json and the plot):`,
    ...mistakes.map((m) => `  ${String(m.n).padStart(5)} × ${classes[m.i]} → ${classes[m.j]}`),
  ];
}

function formatReport(r: {
  split: string; videos: number; evaluated: number; skipped: { path: string; reason: string }[]; views: number; crops: number;
  top1: number; top5: number; loss: number; perClass: Record<string, number | null>; classes: string[]; confusion: number[][];
  checkpoint: string; randomWeights: boolean; plot: string; listingProblems: { path: string; reason: string }[];
}): string {
  const width = Math.max(5, ...r.classes.map((c) => c.length));
  const views = `${r.views} ${r.views === 1 ? 'view' : 'views'} × ${r.crops} ${r.crops === 1 ? 'crop' : 'crops'}`;
  const lines = [
    `split ${r.split}: ${r.evaluated} of ${r.videos} videos evaluated, ${views} = ${r.views * r.crops} ${r.views * r.crops === 1 ? 'clip' : 'clips'} each`,
    `checkpoint ${r.checkpoint}${r.randomWeights ? ' (backbone: random weights)' : ''}`,
    `top-1 ${pct(r.top1)}   top-5 ${pct(r.top5)}   loss ${r.loss.toFixed(4)}`,
    '',
    'per class:',
    ...r.classes.map((c) => `  ${c.padEnd(width)} ${pct(r.perClass[c] ?? null)}`),
    '',
    ...confusionLines(r.classes, r.confusion),
    '',
    `confusion matrix plot: ${r.plot}`,
  ];
  if (r.skipped.length) lines.push(`skipped ${r.skipped.length} unreadable video(s): ${r.skipped.map((s) => s.path).join(', ')}`);
  if (r.listingProblems.length) lines.push(`missing or empty entries: ${r.listingProblems.length}`);
  return lines.join('\n') + '\n';
}
