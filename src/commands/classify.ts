// `losa classify`: top-K labels for video or image files with a trained run: a thin command over
// the model object (loadModel(run).classify), printing one line per input as results arrive.
import path from 'node:path';
import { UsageError, oneLine } from '../errors.js';
import { DEFAULT_TOP, loadModel } from '../model/index.js';
import { createRenderer, pickRenderMode } from '../ui/index.js';
import { RUN_OPTIONS, VIEW_OPTIONS, WORKERS_OPTION } from './common.js';
import { defineCommand } from './command.js';
import { flag, int } from './options.js';
import { reportInputError } from './report.js';

export const command = defineCommand({
  name: 'classify',
  usage: 'losa classify INPUT... --checkpoint RUN_DIR [options]',
  description: `Top-K labels with probabilities for each video (or image, repeated to the run's frame count).
The prediction is the mean softmax over V temporal clips × C spatial crops, sampled as the run's
validation samples them. An input that fails gets a one-line error; the others are still
classified (exit status 1).`,
  options: {
    ...RUN_OPTIONS,
    top: int({ value: 'K', min: 1, help: 'labels to show per input', default: DEFAULT_TOP }),
    ...VIEW_OPTIONS,
    ...WORKERS_OPTION,
    json: flag({ help: 'one line per input: {"input","top":[{"label","probability"}]} or {"input","error"}' }),
  },
  async run({ options: o, positionals }, io) {
    if (positionals.length === 0) throw new UsageError('Expected at least one INPUT file (see `losa classify --help`)');
    const model = await loadModel(o.checkpoint, {
      checkpoint: o.last ? 'last' : 'best', device: o.device, chunk: o.chunk, weights: o.weights, tfBackend: o.tfBackend, workers: o.workers,
    });
    const mode = pickRenderMode({ isTTY: io.isTTY && positionals.length > 1, quietWhenPlain: true });
    const renderer = createRenderer(mode, io, { kind: 'progress' });
    let failed = 0;
    try {
      if (model.backbone.randomWeights && !o.json) io.stderr.write('losa: note: the backbone has random weights (no pretrained ViT was given)\n');
      // Files are read from the working folder; lines name them as typed.
      const inputs = positionals.map((typed) => ({ path: path.resolve(io.cwd, typed), typed }));
      for await (const r of model.classify(inputs, {
        top: o.top, views: o.views, crops: o.crops,
        onProgress: (done, total) => renderer.emit({ type: 'progress', label: 'classify', done, total: total ?? inputs.length }),
      })) {
        const name = r.input.typed;
        if (r.error !== undefined) {
          failed++;
          const message = oneLine(r.error.includes(r.input.path) ? r.error : `${name}: ${r.error}`);
          if (o.json) io.stdout.write(JSON.stringify({ input: name, error: message }) + '\n');
          else reportInputError(renderer, mode, io, message);
        } else if (o.json) {
          io.stdout.write(JSON.stringify({ input: name, top: r.top }) + '\n');
        } else {
          io.stdout.write(`${name}: ${r.top.map((t) => `${t.label} ${(100 * t.probability).toFixed(1)}%`).join(', ')}\n`);
        }
      }
    } finally {
      await renderer.close();
      await model.dispose();
    }
    if (!o.json && failed > 0) io.stderr.write(`losa: ${failed} of ${positionals.length} input(s) failed\n`);
    return failed > 0 ? 1 : 0;
  },
});
