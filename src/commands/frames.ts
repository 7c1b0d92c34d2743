// `losa frames VIDEO --out DIR`: write the sampled frames as PNG files exactly as the model
// sees them (after scale and crop, before normalisation) and print which frames were chosen.
// Test mode samples as validation, eval and classify do; train mode as `losa train` does, with
// the same defaults and the same random draws (--seed, --view), so its crops are training's.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { expected, errorMessage, LosaError, UsageError } from '../errors.js';
import type { ViewPlan } from '../features/pipeline.js';
import { writeFileAtomic } from '../fsutil.js';
import { testPlan } from '../model/view.js';
import { createRng } from '../random.js';
import { TRAIN_DEFAULTS } from '../train/options.js';
import { trainingPlan } from '../train/views.js';
import { loadClips } from '../video/clip.js';
import { encodePng } from '../video/image.js';
import { DEFAULT_CROP_RATIO, DEFAULT_CROP_SCALE, DEFAULT_IMAGE_SIZE } from '../video/sampling.js';
import { IMAGE_SIZE_HELP, SAMPLING_OPTIONS, TRAINING_VIEW_OPTIONS, VIEW_OPTIONS } from './common.js';
import { defineCommand, type CommandArgs, type CommandIO } from './command.js';
import { choice, file, flag, int, parseOptions, type OptionTable } from './options.js';

const options = {
  // Required, but checked after the arguments behind `--` are read (see videoAndOptions).
  out: file({ value: 'DIR', short: 'o', help: 'folder for the PNG files (created; required)' }),
  mode: choice({ values: ['test', 'train'] as const, help: 'sample as testing (eval, classify) or as training does', default: 'test' }),
  numFrames: SAMPLING_OPTIONS.numFrames,
  imageSize: int({ value: 'S', min: 8, max: 4096, help: IMAGE_SIZE_HELP, default: DEFAULT_IMAGE_SIZE, deprecated: ['size'] }),
  stride: SAMPLING_OPTIONS.stride,
  ...VIEW_OPTIONS,
  ...TRAINING_VIEW_OPTIONS,
  seed: int({ value: 'N', help: 'training: the run seed of `losa train --seed`', default: TRAIN_DEFAULTS.seed }),
  view: int({ value: 'K', help: 'training: the view; epoch E of `losa train` uses view (E-1) mod --cache-views with the feature cache, E-1 without', default: 0 }),
  json: flag({ help: 'print {"frameCount","fps","views":[{"indices","files",…}]} instead of text' }),
} satisfies OptionTable;

/**
 * The video and the options. Arguments after `--` arrive as positionals (so that
 * `losa frames -- -clip.mp4 --out d` works): the first is the video, the rest are parsed again
 * as options.
 */
function videoAndOptions(args: CommandArgs<typeof options>, io: CommandIO): { video: string; o: FramesOptions } {
  const [video, ...rest] = args.positionals;
  if (video === undefined || video === '') throw expected('VIDEO', 'a video or image file', undefined);
  const o = { ...args.options };
  if (rest.length > 0) {
    const again = parseOptions(options, rest, { command: 'frames', cwd: io.cwd, note: (line) => io.stderr.write(line + '\n') });
    if (again.positionals.length > 0) throw expected('VIDEO', 'one file', [video, ...again.positionals].join(' '));
    for (const key of again.given) (o as Record<string, unknown>)[key] = again.options[key];
  }
  if (o.out === undefined) throw expected('--out', 'given', undefined);
  return { video, o: { ...o, out: o.out } };
}

type FramesOptions = CommandArgs<typeof options>['options'] & { out: string };

/** How the clip is sampled: training's view of the file, or the test views. */
function planOf(o: FramesOptions, file: string): ViewPlan {
  const sampling = { numFrames: o.numFrames, size: o.imageSize, stride: o.stride };
  if (o.mode === 'test') return testPlan(sampling, { views: o.views, crops: o.crops }, String(o.seed));
  return trainingPlan({ ...sampling, sampling: o.sampling, flip: o.flip, scale: o.cropScale, ratio: DEFAULT_CROP_RATIO, seed: o.seed }, file, o.view);
}

export const command = defineCommand({
  name: 'frames',
  usage: 'losa frames VIDEO --out DIR [options]',
  description: `Samples a clip the way training (--mode train) or testing (--mode test) does, writes each frame
as a PNG exactly as the model sees it (after scaling and cropping, before normalisation), and
prints the frame indices and timestamps chosen for every view. A file name starting with "-"
goes after "--" (losa frames -- -clip.mp4 --out frames) or as ./-clip.mp4.`,
  options,
  notes: `Train mode crops a random area of ${DEFAULT_CROP_SCALE.join('–')} of the frame (--crop-scale) with aspect ratio
${DEFAULT_CROP_RATIO.map((r) => r.toFixed(2)).join('–')}, as \`losa train\` does; with the same --seed, --view and settings it draws the
same frames and crop as training does for that file (its draws are seeded by its folder and file name).`,
  async run(args, io) {
    const { video, o } = videoAndOptions(args, io);
    const { out, mode, crops } = o;
    const file = path.resolve(io.cwd, video);
    const plan = planOf(o, file);
    const clipOptions = plan.clip;
    const { info, clips } = await loadClips(file, clipOptions, createRng(plan.seed));

    try {
      await fs.mkdir(out, { recursive: true });
    } catch (error) {
      throw new LosaError(`${out}: cannot create the output folder (${(error as NodeJS.ErrnoException).code ?? errorMessage(error)})`);
    }
    const { size } = clipOptions;
    const frameBytes = size * size * 3;
    const views = [];
    for (const clip of clips) {
      const files: string[] = [];
      for (let t = 0; t < clip.numFrames; t++) {
        const name = `view${clip.view}-crop${clip.crop}-${String(t).padStart(2, '0')}-frame${clip.indices[t]}.png`;
        const target = path.join(out, name);
        await writeFileAtomic(target, await encodePng(clip.frames.subarray(t * frameBytes, (t + 1) * frameBytes), size, size));
        files.push(target);
      }
      views.push({
        view: clip.view, crop: clip.crop, indices: clip.indices,
        timestamps: clip.timestamps.map((s) => Math.round(s * 1e6) / 1e6), files, flipped: clip.flipped,
        ...(clip.partial ? { partial: true } : {}),
      });
    }
    if (o.json) {
      io.stdout.write(JSON.stringify({
        frameCount: info.frameCount, fps: info.fps, views,
        video: video, duration: info.duration, width: info.width, height: info.height, rotation: info.rotation,
        mode, numFrames: clipOptions.numFrames, size,
      }) + '\n');
      return 0;
    }
    const timing = info.image ? 'still image (one frame, repeated)' : `${info.frameCount} frames at ${+info.fps.toFixed(3)} fps (${info.duration.toFixed(2)} s)`;
    const lines = [
      `${video}: ${timing}, ${info.width}x${info.height}${info.rotation ? ` (rotated ${info.rotation}°)` : ''}, ${info.codec} ${info.pixFmt}`,
      `${mode} sampling: ${clips.length} clip${clips.length === 1 ? '' : 's'} of ${clipOptions.numFrames} frames at ${size}x${size}` +
      (mode === 'test' ? ` (${clipOptions.views} view${clipOptions.views === 1 ? '' : 's'} × ${crops} crop${crops === 1 ? '' : 's'})` : ''),
    ];
    for (const v of views) {
      lines.push(`view ${v.view} crop ${v.crop}${v.flipped ? ' (flipped)' : ''}${v.partial ? ' (file ends early: last frame repeated)' : ''}`);
      lines.push(`  indices    ${v.indices.join(' ')}`);
      lines.push(`  timestamps ${v.timestamps.map((s) => s.toFixed(3)).join(' ')}`);
    }
    lines.push(`wrote ${views.length * clipOptions.numFrames} PNG files to ${out}`);
    io.stdout.write(lines.join('\n') + '\n');
    return 0;
  },
});
