// `losa data synth DIR`: write the synthetic direction data set (classes differ only in time).
import path from 'node:path';
import type { Command } from './command.js';
import { int, num, str } from './args.js';
import { expected, UsageError } from '../errors.js';
import { formatBytes } from '../fsutil.js';
import { SYNTH_CLASSES, SYNTH_DEFAULTS, synthDataset } from '../video/synth.js';

const D = SYNTH_DEFAULTS;

export const command: Command = {
  name: 'data synth',
  summary: 'write a synthetic Kinetics-style data set whose classes differ only in time',
  usage: `Usage: losa data synth DIR [options]

Writes DIR/train/<class>/*.mp4 and DIR/val/<class>/*.mp4 (H.264). The classes come in pairs
that differ only in the order of time: a clip of one class played backwards is a clip of its
partner, so a model that averages frames is at chance within a pair. Shape, colour, size,
speed, start position and background noise vary per clip. The same seed gives the same files.

Classes, in order (--classes N takes the first N; N even):
  ${SYNTH_CLASSES.join(', ')}

Options:
  --classes N           number of classes, even, 2–${SYNTH_CLASSES.length} (default ${D.classes})
  --train-per-class N   training clips per class (default ${D.trainPerClass})
  --val-per-class N     validation clips per class (default ${D.valPerClass})
  --seconds S           clip length in seconds (default ${D.seconds})
  --fps F               frames per second (default ${D.fps})
  --size WxH            frame size, even sides (default ${D.width}x${D.height})
  --seed N              random seed (default ${D.seed})
  --jobs N              encoders running at once (default ${D.concurrency})
`,
  options: {
    classes: { type: 'string' },
    'train-per-class': { type: 'string' },
    'val-per-class': { type: 'string' },
    seconds: { type: 'string' },
    fps: { type: 'string' },
    size: { type: 'string' },
    seed: { type: 'string' },
    jobs: { type: 'string' },
  },
  async run(args, io) {
    const { values, positionals } = args;
    if (positionals.length !== 1) throw expected('DIR', 'one output directory', positionals.join(' ') || undefined);
    const dir = path.resolve(io.cwd, positionals[0]!);
    const sizeText = str(values, 'size') ?? `${D.width}x${D.height}`;
    const m = /^(\d+)x(\d+)$/i.exec(sizeText.trim());
    if (!m) throw expected('--size', 'WxH, e.g. 160x120', sizeText);
    const options = {
      classes: int(values, 'classes', D.classes, 2, SYNTH_CLASSES.length),
      trainPerClass: int(values, 'train-per-class', D.trainPerClass, 0, 100_000),
      valPerClass: int(values, 'val-per-class', D.valPerClass, 0, 100_000),
      seconds: num(values, 'seconds', D.seconds, 0.1, 600),
      fps: num(values, 'fps', D.fps, 1, 120),
      width: Number(m[1]),
      height: Number(m[2]),
      seed: int(values, 'seed', D.seed, 0),
      concurrency: int(values, 'jobs', D.concurrency ?? 2, 1, 64),
    };
    if (options.classes % 2 !== 0) throw new UsageError(`Expected \`--classes\` to be even (classes come in time-reversed pairs), got ${options.classes}`);
    const classes = SYNTH_CLASSES.slice(0, options.classes);
    const frames = Math.round(options.seconds * options.fps);
    io.stdout.write(
      `data synth: ${classes.length} classes (${classes.join(', ')}), ${options.trainPerClass} train + ${options.valPerClass} val clips per class, ` +
      `${options.seconds} s at ${options.fps} fps (${frames} frames), ${options.width}x${options.height}, seed ${options.seed}\n`,
    );
    const summary = await synthDataset(dir, {
      ...options,
      onProgress: (e) => {
        if (e.classDone === e.classTotal) io.stdout.write(`  ${e.split}/${e.className}: ${e.classTotal} clips  [${e.done}/${e.total}]\n`);
      },
    });
    io.stdout.write(`wrote ${summary.files} clips (${formatBytes(summary.bytes)}) to ${dir} in ${summary.seconds.toFixed(1)} s\n`);
    return 0;
  },
};
