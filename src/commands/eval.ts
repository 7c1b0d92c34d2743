// `losa eval`: multi-view evaluation of a trained run on a labelled split.
import path from 'node:path';
import { openDataset } from '../data/index.js';
import { LosaError, UsageError } from '../errors.js';
import { FeatureCache, RUN_FILES, evaluateFeatures } from '../train/index.js';
import { createRenderer, pickRenderMode, writeConfusion } from '../ui/index.js';
import { bool, int, requireStr, str } from './args.js';
import { TRAINED_RUN_OPTIONS, openTrainedRun, testViews } from './run-options.js';
import type { Command } from './command.js';
import { reportInputError } from './report.js';

const usage = `Usage: losa eval --data SRC --checkpoint RUN_DIR [options]

Top-1, top-5, per-class accuracy and the confusion matrix of a trained run. Each video is
sampled as V temporal clips × C spatial crops (V×C views); the prediction is the mean softmax
over the views. Writes confusion.svg into the run directory (or --plot FILE).

  --data SRC            folder, Kinetics CSV or list file
  --checkpoint RUN_DIR  a directory written by \`losa train\`
  --split NAME          split to evaluate (default val)
  --views V             temporal clips per video (default 1)
  --crops 1|3           spatial crops per clip: centre, or start/centre/end (default 1)
  --weights FILE        the backbone weights, if they moved since training
  --device cpu|cuda     (default cpu)      --chunk C   frames per backbone call
  --batch-size N        clips per side-network call (default 8)
  --cache DIR           feature cache (shared with \`losa train --cache\`)
  --workers N           concurrent decoders (default 2)
  --last                use the last checkpoint instead of the best
  --plot FILE           where to write the confusion matrix (default RUN_DIR/confusion.svg)
  --json                one JSON object: top1, top5, perClass, confusion, …
`;

export const command: Command = {
  name: 'eval',
  summary: 'evaluate a trained run: top-1, top-5, per-class accuracy, confusion matrix',
  usage,
  options: {
    ...TRAINED_RUN_OPTIONS, data: { type: 'string' }, split: { type: 'string' }, 'batch-size': { type: 'string' },
    cache: { type: 'string' }, plot: { type: 'string' },
  },
  async run({ values, positionals }, io) {
    if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])} (see \`losa eval --help\`)`);
    const data = requireStr(values, 'data');
    const split = str(values, 'split') ?? 'val';
    const { views, crops, workers } = testViews(values);
    const batchSize = int(values, 'batch-size', 8, 1);
    const json = bool(values, 'json');
    const run = await openTrainedRun(values);
    const mode = pickRenderMode({ isTTY: io.isTTY, quietWhenPlain: true });
    const renderer = createRenderer(mode, io, { kind: 'progress' });
    try {
      const { manifest, backbone } = run;
      const dataset = await openDataset(data, { split, classes: manifest.classes });
      if (dataset.items.length === 0) throw new LosaError(`${data}: no videos in split "${split}"`);
      const skipped: { path: string; reason: string }[] = [];
      const cache = values.cache ? new FeatureCache(path.resolve(String(values.cache)), backbone.digest) : undefined;
      const started = Date.now();
      const result = await evaluateFeatures(run.net, dataset.items, manifest.classes, {
        backbone, numFrames: manifest.sampling.numFrames, batchSize, concurrency: workers, cache,
        clip: { numFrames: manifest.sampling.numFrames, size: manifest.sampling.size, mode: 'test', stride: manifest.sampling.stride, views, crops },
        seed: `${(manifest.training as { seed?: number }).seed ?? 0}/val`,
        onSkip: (item, reason) => {
          skipped.push({ path: item.path, reason });
          reportInputError(renderer, mode, io, reason.includes(item.path) ? reason : `${item.path}: ${reason}`, 'skipped');
        },
        onProgress: (done, total) => renderer.emit({ type: 'progress', label: `eval ${split}`, done, total }),
      });
      await renderer.close();
      const plot = path.resolve(str(values, 'plot') ?? path.join(run.runDir, RUN_FILES.confusion));
      await writeConfusion(plot, manifest.classes, result.confusion);
      const report = {
        split, videos: dataset.items.length, evaluated: result.count, skipped, views, crops, viewsPerVideo: views * crops,
        loss: result.loss, top1: result.top1, top5: result.top5, perClass: result.perClass, classes: manifest.classes,
        confusion: result.confusion, checkpoint: run.weightsFile, randomWeights: backbone.randomWeights,
        seconds: (Date.now() - started) / 1000, plot, listingProblems: dataset.problems,
      };
      if (json) {
        io.stdout.write(JSON.stringify(report) + '\n');
      } else {
        io.stdout.write(formatReport(report));
      }
      return 0;
    } finally {
      await renderer.close();
      await run.dispose();
    }
  },
};

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
