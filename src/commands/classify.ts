// `losa classify`: top-K labels for video or image files, with a trained run.
import path from 'node:path';
import { UsageError, oneLine } from '../errors.js';
import { predictItems, rankClasses } from '../train/index.js';
import { createRenderer, pickRenderMode } from '../ui/index.js';
import { bool, int } from './args.js';
import { TRAINED_RUN_OPTIONS, openTrainedRun, testViews } from './run-options.js';
import type { Command } from './command.js';
import { reportInputError } from './report.js';

const usage = `Usage: losa classify INPUT... --checkpoint RUN_DIR [options]

Top-K labels with probabilities for each video (or image, repeated to the run's frame count).
The prediction is the mean softmax over V temporal clips × C spatial crops.
An input that fails gets a one-line error; the others are still classified (exit status 1).

  --checkpoint RUN_DIR  a directory written by \`losa train\`
  --top K               labels to show per input (default 3)
  --views V             temporal clips per video (default 1)
  --crops 1|3           spatial crops per clip (default 1)
  --weights FILE        the backbone weights, if they moved since training
  --device cpu|cuda     (default cpu)      --chunk C   frames per backbone call
  --last                use the last checkpoint instead of the best
  --json                one line per input: {"input","top":[{"label","probability"}]} or {"input","error"}
`;

export const command: Command = {
  name: 'classify',
  summary: 'classify video or image files with a trained run',
  usage,
  options: {
    ...TRAINED_RUN_OPTIONS, top: { type: 'string' },
  },
  async run({ values, positionals }, io) {
    if (positionals.length === 0) throw new UsageError('Expected at least one INPUT file (see `losa classify --help`)');
    const top = int(values, 'top', 3, 1);
    const { views, crops, workers } = testViews(values);
    const json = bool(values, 'json');
    const run = await openTrainedRun(values);
    const mode = pickRenderMode({ isTTY: io.isTTY && positionals.length > 1, quietWhenPlain: true });
    const renderer = createRenderer(mode, io, { kind: 'progress' });
    try {
      const { manifest, backbone } = run;
      if (backbone.randomWeights && !json) io.stderr.write('losa: note: the backbone has random weights (no pretrained ViT was given)\n');
      const items = positionals.map((p, index) => ({ path: p, label: -1, index }));
      const lines: (string | undefined)[] = items.map(() => undefined);
      let printed = 0;
      let failed = 0;
      // Results arrive in input order except that errors can overtake a batch still filling up:
      // hold lines until all earlier ones are out.
      const flush = (): void => {
        while (printed < lines.length && lines[printed] !== undefined) {
          const line = lines[printed++]!;
          if (line) io.stdout.write(line + '\n'); // '' marks a failed input in text mode (its error went to stderr)
        }
      };
      const fail = (index: number, input: string, reason: string): void => {
        failed++;
        const message = oneLine(reason.includes(input) ? reason : `${input}: ${reason}`);
        if (json) lines[index] = JSON.stringify({ input, error: message });
        else {
          reportInputError(renderer, mode, io, message);
          lines[index] = '';
        }
        flush();
      };
      for await (const { item, probabilities } of predictItems(run.net, items, {
        backbone, numFrames: manifest.sampling.numFrames, batchSize: 8, concurrency: workers,
        clip: { numFrames: manifest.sampling.numFrames, size: manifest.sampling.size, mode: 'test', stride: manifest.sampling.stride, views, crops },
        seed: 'classify',
        onSkip: (it, reason) => fail(it.index, it.path, reason),
        onProgress: (done, total) => renderer.emit({ type: 'progress', label: 'classify', done, total }),
      })) {
        const ranked = rankClasses(probabilities).slice(0, top);
        const best = ranked.map((k) => ({ label: manifest.classes[k]!, probability: probabilities[k]! }));
        lines[item.index] = json
          ? JSON.stringify({ input: item.path, top: best })
          : `${item.path}: ${best.map((b) => `${b.label} ${(100 * b.probability).toFixed(1)}%`).join(', ')}`;
        flush();
      }
      await renderer.close();
      if (!json && failed > 0) io.stderr.write(`losa: ${failed} of ${items.length} input(s) failed (${path.basename(run.runDir)})\n`);
      return failed > 0 ? 1 : 0;
    } finally {
      await renderer.close();
      await run.dispose();
    }
  },
};
