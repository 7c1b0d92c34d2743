// `losa data synth DIR`: write the synthetic direction data set (classes differ only in time).
import path from 'node:path';
import { expected, UsageError } from '../errors.js';
import { formatBytes } from '../fsutil.js';
import { SYNTH_CLASSES, SYNTH_DEFAULTS as D, synthDataset } from '../video/synth.js';
import { WORKERS_HELP } from './common.js';
import { defineCommand } from './command.js';
import { custom, int, num } from './options.js';

export const command = defineCommand({
  name: 'data synth',
  usage: 'losa data synth DIR [options]',
  description: `Writes DIR/train/<class>/*.mp4 and DIR/val/<class>/*.mp4 (H.264). The classes come in pairs
that differ only in the order of time: a clip of one class played backwards is a clip of its
partner, so a model that averages frames is at chance within a pair. Shape, colour, size,
speed, start position and background noise vary per clip. The same seed gives the same files.

Classes, in order (--classes N takes the first N; N even):
  ${SYNTH_CLASSES.join(', ')}`,
  options: {
    classes: int({ value: 'N', min: 2, max: SYNTH_CLASSES.length, help: `number of classes, even, 2–${SYNTH_CLASSES.length}`, default: D.classes }),
    trainPerClass: int({ value: 'N', max: 100_000, help: 'training clips per class', default: D.trainPerClass }),
    valPerClass: int({ value: 'N', max: 100_000, help: 'validation clips per class', default: D.valPerClass }),
    seconds: num({ value: 'S', min: 0.1, max: 600, help: 'clip length in seconds', default: D.seconds }),
    fps: num({ value: 'F', min: 1, max: 120, help: 'frames per second', default: D.fps }),
    size: custom({ value: 'WxH', help: 'frame size, even sides', default: [D.width, D.height] as const, defaultText: `${D.width}x${D.height}` }, frameSize),
    seed: int({ value: 'N', help: 'random seed', default: D.seed }),
    workers: int({ value: 'N', min: 1, max: 64, help: `${WORKERS_HELP} (encoders)`, default: D.concurrency, deprecated: ['jobs'] }),
  },
  async run({ options: o, positionals }, io) {
    if (positionals.length !== 1) throw expected('DIR', 'one output directory', positionals.join(' ') || undefined);
    const dir = path.resolve(io.cwd, positionals[0]!);
    const options = {
      classes: o.classes, trainPerClass: o.trainPerClass, valPerClass: o.valPerClass, seconds: o.seconds, fps: o.fps,
      width: o.size[0], height: o.size[1], seed: o.seed, concurrency: o.workers,
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
});

function frameSize(t: string, ctx: { flag: string }): readonly [number, number] {
  const m = /^(\d+)x(\d+)$/i.exec(t.trim());
  if (!m) throw expected(ctx.flag, 'WxH, e.g. 160x120', t);
  return [Number(m[1]), Number(m[2])];
}
