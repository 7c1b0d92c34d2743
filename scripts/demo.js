#!/usr/bin/env node
// `npm run demo`: the whole pipeline on the bundled synthetic data set, in a few minutes on a
// laptop CPU. It makes the data set (video/demo) if it is not there, trains LoSA on a seeded
// random ViT-Ti with the dashboard, evaluates, classifies one validation clip, and sums up.
import { spawnSync } from 'node:child_process';
import { existsSync, promises as fs, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const data = 'video/demo';
const run = 'models/demo';
const cache = 'models/demo-cache';
const started = Date.now();

function say(text) {
  process.stdout.write(`\n\x1b[1m▶ ${text}\x1b[0m\n`);
}

function losa(args, capture = false) {
  process.stdout.write(`  $ losa ${args.join(' ')}\n`);
  const result = spawnSync(process.execPath, [path.join(root, 'bin', 'losa.js'), ...args], {
    cwd: root,
    stdio: capture ? ['inherit', 'pipe', 'inherit'] : 'inherit',
    encoding: 'utf8',
  });
  if (result.status !== 0) {
    process.stderr.write(`demo: \`losa ${args[0]}\` failed (exit status ${result.status ?? result.signal})\n`);
    process.exit(result.status || 1);
  }
  return result.stdout;
}

if (!existsSync(path.join(root, 'dist', 'cli.js'))) {
  process.stderr.write('demo: dist/ is missing; run `npm ci` (or `npm run build`) first\n');
  process.exit(1);
}

say('Note: no pretrained ViT ships with losa (and losa downloads nothing), so this demo uses a ViT-Ti/16');
process.stdout.write(
  '  with seeded RANDOM weights. The synthetic classes differ only in the order of time (moving left vs\n' +
    '  right, turning clockwise vs anticlockwise), so the side network has to learn temporal order;\n' +
    '  a linear probe on frame-averaged features cannot. For real weights see "Real weights" in README.md.\n',
);

if (existsSync(path.join(root, data, 'train'))) {
  say(`Data set ${data} is already there`);
} else {
  say(`Making the synthetic data set in ${data}`);
  losa(['data', 'synth', data]);
}

if (existsSync(path.join(root, run))) {
  say(`Removing the previous demo run ${run}`);
  await fs.rm(path.join(root, run), { recursive: true, force: true });
}

say('Training LoSA on the frozen backbone (press q to stop; a checkpoint is written first)');
// --pool grid:4: a random ViT's features are close to a linear function of each cell's mean
// patch, so the demo pools patch tokens on a 4×4 grid (with a pretrained ViT, grid:2 is the
// default). --image-size 112: the demo clips are 160×120, so 112 px is their own scale, and the
// backbone costs a quarter of 224 px. --side-batch 8: the whole batch in one side-network call,
// faster than the default's memory-bounded calls for this many tokens.
losa(['train', '--data', data, '--out', run, '--cache', cache, '--pool', 'grid:4', '--image-size', '112', '--side-batch', '8']);

say('Evaluating the best checkpoint on the validation split');
losa(['eval', '--data', data, '--checkpoint', run, '--cache', cache]);

const valDir = path.join(root, data, 'val');
const firstClass = readdirSync(valDir).sort()[0];
const clip = path.join(data, 'val', firstClass, readdirSync(path.join(valDir, firstClass)).sort()[0]);
say(`Classifying one validation clip (its true class: ${firstClass})`);
losa(['classify', clip, '--checkpoint', run]);

const manifest = JSON.parse(await fs.readFile(path.join(root, run, 'run.json'), 'utf8'));
const best = manifest.progress.bestTop1;
const minutes = ((Date.now() - started) / 60000).toFixed(1);
say('Summary');
process.stdout.write(
  [
    `  validation top-1: ${best === null ? 'n/a' : `${(100 * best).toFixed(1)}%`} (best epoch ${manifest.progress.bestEpoch}, ${manifest.classes.length} classes, chance ${(100 / manifest.classes.length).toFixed(0)}%)`,
    `  time taken:       ${minutes} min`,
    `  run directory:    ${run}/ (run.json, best.safetensors, last.safetensors, metrics.jsonl)`,
    `  plots:            ${run}/curves.svg, ${run}/confusion.svg`,
    `  backbone:         ViT-Ti/16 with RANDOM weights (no pretrained ViT ships with losa)`,
    '',
    '  Next:',
    '    losa train --data path/to/your/videos --out models/mine          # ROOT/train/<class>/*.mp4, ROOT/val/<class>/*.mp4',
    '    losa train --data … --backbone vit-b16 --weights vit-b16.safetensors --out models/mine   # real weights (HF or timm names)',
    '    losa classify my-video.mp4 --checkpoint models/mine',
    '',
  ].join('\n'),
);
