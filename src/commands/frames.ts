// `losa frames VIDEO --out DIR`: write the sampled frames as PNG files exactly as the model
// sees them (after scale and crop, before normalisation) and print which frames were chosen.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { Command, ParsedArgs } from './command.js';
import { bool, choice, int, requireStr, str } from './args.js';
import { errorMessage, expected, LosaError, UsageError } from '../errors.js';
import { writeFileAtomic } from '../fsutil.js';
import { createRng } from '../random.js';
import { loadClips, type ClipOptions } from '../video/clip.js';
import { encodePng } from '../video/image.js';
import { DEFAULT_CROP_RATIO, DEFAULT_CROP_SCALE, type Stride } from '../video/sampling.js';

const options: Command['options'] = {
  'num-frames': { type: 'string' },
  size: { type: 'string' },
  mode: { type: 'string' },
  sampling: { type: 'string' },
  stride: { type: 'string' },
  views: { type: 'string' },
  crops: { type: 'string' },
  seed: { type: 'string' },
  flip: { type: 'boolean' },
  out: { type: 'string', short: 'o' },
  json: { type: 'boolean' },
};

/**
 * The video and the option values. Arguments after `--` arrive as positionals (so that
 * `losa frames -- -clip.mp4 --out d` works): the first is the video, the rest are parsed again
 * as options.
 */
function videoAndValues(args: ParsedArgs): { video: string; values: ParsedArgs['values'] } {
  const [video, ...rest] = args.positionals;
  if (video === undefined || video === '') throw expected('VIDEO', 'a video or image file', undefined);
  let values = args.values;
  if (rest.length > 0) {
    let again;
    try {
      again = parseArgs({ args: rest, options, allowPositionals: true, strict: true });
    } catch (error) {
      throw new UsageError(`${errorMessage(error)} (see \`losa frames --help\`)`);
    }
    if (again.positionals.length > 0) throw expected('VIDEO', 'one file', [video, ...again.positionals].join(' '));
    values = { ...values, ...(again.values as ParsedArgs['values']) };
  }
  return { video, values };
}

function strideOf(values: ParsedArgs['values']): Stride {
  const text = str(values, 'stride');
  if (text === undefined || text === 'auto') return 'auto';
  return int(values, 'stride', 1, 1);
}

export const command: Command = {
  name: 'frames',
  summary: 'sample frames from a video exactly as the model sees them, as PNG files',
  usage: `Usage: losa frames VIDEO --out DIR [options]

Samples a clip the way training (--mode train) or testing (--mode test) does, writes each frame
as a PNG exactly as the model sees it (after scaling and cropping, before normalisation), and
prints the frame indices and timestamps chosen for every view. A file name starting with "-"
goes after "--" (losa frames -- -clip.mp4 --out frames) or as ./-clip.mp4.

Options:
  --out DIR, -o DIR   folder for the PNG files (created)
  --num-frames N      frames per clip (default 8)
  --size S            side of the square frames (default 224)
  --mode M            test (default) or train
  --views V           test: temporal views spread over the video (default 1)
  --crops C           test: spatial crops per view, 1 (centre) or 3 (start, centre, end) (default 1)
  --stride K          frames between samples of a window, or auto (default auto: one view spans
                      the whole video, one frame from each of N equal segments)
  --sampling S        train: segment (default; one random frame per segment) or window
  --flip              train: flip horizontally with probability 1/2
  --seed N            seed of the random choices in train mode (default 0)
  --json              print {"frameCount","fps","views":[{"indices","files",…}]} instead of text

Train mode crops a random area of ${DEFAULT_CROP_SCALE.join('–')} of the frame with aspect ratio ${DEFAULT_CROP_RATIO.map((r) => r.toFixed(2)).join('–')}.
`,
  options,
  async run(args, io) {
    const { video, values } = videoAndValues(args);
    const out = path.resolve(io.cwd, requireStr(values, 'out'));
    const mode = choice(values, 'mode', ['test', 'train'] as const, 'test');
    const crops = int(values, 'crops', 1, 1, 3);
    if (crops !== 1 && crops !== 3) throw expected('--crops', '1 or 3', String(crops));
    const clipOptions: ClipOptions = {
      numFrames: int(values, 'num-frames', 8, 1, 1024),
      size: int(values, 'size', 224, 8, 4096),
      mode,
      sampling: choice(values, 'sampling', ['segment', 'window'] as const, 'segment'),
      stride: strideOf(values),
      views: int(values, 'views', 1, 1, 1000),
      crops: crops as 1 | 3,
      flip: bool(values, 'flip'),
    };
    const seed = int(values, 'seed', 0, 0);
    const file = path.resolve(io.cwd, video);
    const { info, clips } = await loadClips(file, clipOptions, createRng(seed));

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
    if (bool(values, 'json')) {
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
};
