// `losa features INPUT... --backbone B --out FILE`: run the frozen backbone over videos or
// images and write the DESIGN.md features file: safetensors with `features` [T, L, P, D]
// float32 and metadata (backbone, digest, pool, layers, frame indices). Several inputs give one
// file each in the folder --out; a failing input gets its one-line error and the rest go on.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Command, CommandIO } from './command.js';
import { choice, int, requireStr, str } from './args.js';
import { UsageError, errorMessage, expected } from '../errors.js';
import { formatBytes, parseBytes } from '../fsutil.js';
import { createRng } from '../random.js';
import { writeSafetensors } from '../safetensors.js';
import { isImagePath, loadClips } from '../video/index.js';
import { createRenderer, pickRenderMode } from '../ui/index.js';
import { reportInputError } from './report.js';
import {
  BACKBONE_PRESETS, BackboneCrash, canonicalConfigJson, loadBackbone, resolveBackbone, DEFAULT_LAYERS, DEFAULT_POOL, type Backbone,
} from '../backbone/index.js';

const USAGE = `Usage: losa features INPUT... --backbone NAME|FILE|FOLDER --out PATH [options]

Run the frozen backbone over videos or images and write per-layer pooled features:
a safetensors file with tensor \`features\` [T, L, P, D] float32 (T frames, L tapped layers,
P pooled tokens, D width; layers in block order, each block's output before the final norm;
tokens: class token, registers, then patches row-major) and metadata (backbone, weights digest,
pool, layers, frame indices).

Options:
  --backbone NAME|FILE|FOLDER
                        a preset (${BACKBONE_PRESETS.join(', ')}), a config JSON file,
                        or a model folder from the Hugging Face hub (transformers, timm or
                        open_clip layout), whose config, preprocessing and weights are used
  --weights FILE        safetensors weights (timm, Hugging Face or open_clip names; F32, F16,
                        BF16; or a shard index); default: the folder's, else seeded random
  --seed N              seed of the random weights (default 0)
  --out PATH            the features file; with several inputs, a folder (one file per input)
  --num-frames T        frames sampled per video, evenly across it (default 8); an image is one
                        frame unless --num-frames is given, then it is repeated T times
  --pool P              none | cls | mean | grid:G (default ${DEFAULT_POOL}: the class token plus a
                        G×G average-pooled patch grid)
  --layers L            all | every:K | 3,6,9 (blocks counted from 1; default ${DEFAULT_LAYERS})
  --chunk C             frames per backbone run (default: from --memory)
  --memory SIZE         memory budget for the backbone, e.g. 4GiB (sets the chunk)
  --device cpu|cuda     execution provider (default cpu, all cores)

Frames take the test-time transform: the short side scaled to the model's size, a centre
crop, then (x/255 - mean) / std with the config's mean and std.
Exit status 1 when any input failed (the others are still written).
`;

/** Output file of each input: --out itself for one input, else <out>/<name>.safetensors (deduplicated). */
async function outputPaths(inputs: string[], out: string): Promise<string[]> {
  const isDir = inputs.length > 1 || out.endsWith('/') || out.endsWith(path.sep) ||
    (await fs.stat(out).then((s) => s.isDirectory(), () => false));
  if (!isDir) return [out];
  const used = new Map<string, number>();
  return inputs.map((input) => {
    const stem = path.basename(input, path.extname(input)) || 'input';
    const n = (used.get(stem) ?? 0) + 1;
    used.set(stem, n);
    return path.join(out, `${n === 1 ? stem : `${stem}-${n}`}.safetensors`);
  });
}

interface Decoded {
  frames: Uint8Array; // [T, S, S, 3] rgb24, cropped to the model's size
  numFrames: number;
  indices: number[];
  timestamps: number[];
  fps: number;
  image: boolean;
}

async function decode(input: string, backbone: Backbone, numFrames: number | undefined): Promise<Decoded> {
  const { config } = backbone;
  const T = numFrames ?? (isImagePath(input) ? 1 : 8);
  const { info, clips } = await loadClips(input, { numFrames: T, size: config.imageSize, mode: 'test', interpolation: config.interpolation }, createRng(0));
  const clip = clips[0]!;
  return {
    frames: clip.frames,
    numFrames: T,
    indices: clip.indices,
    timestamps: clip.timestamps,
    fps: info.fps,
    image: info.image === true,
  };
}

function oneLineFor(input: string, error: unknown): string {
  const message = errorMessage(error);
  return message.includes(input) ? message : `${input}: ${message}`;
}

function banner(bb: Backbone, io: CommandIO): void {
  const weights = bb.randomWeights ? 'random weights' : `weights ${bb.weightsFile}`;
  io.stdout.write(
    `backbone ${bb.name} (${(bb.params / 1e6).toFixed(1)}M parameters, ${weights}) on ${bb.device}, ` +
    `chunk ${bb.chunk}, pool ${bb.pool} (P=${bb.tokens}), layers ${bb.layersSpec} (L=${bb.layers.length}), ` +
    `loaded in ${bb.loadSeconds.toFixed(1)}s\n`,
  );
}

export const command: Command = {
  name: 'features',
  summary: 'run the frozen backbone and write per-layer pooled features',
  usage: USAGE,
  options: {
    backbone: { type: 'string' },
    weights: { type: 'string' },
    seed: { type: 'string' },
    out: { type: 'string' },
    'num-frames': { type: 'string' },
    pool: { type: 'string' },
    layers: { type: 'string' },
    chunk: { type: 'string' },
    memory: { type: 'string' },
    device: { type: 'string' },
  },
  async run(args, io) {
    const { values } = args;
    const inputs = args.positionals.map((p) => path.resolve(io.cwd, p));
    if (inputs.length === 0) throw new UsageError('`losa features` needs at least one INPUT (video or image); see `losa features --help`');
    const backboneArg = requireStr(values, 'backbone');
    const out = path.resolve(io.cwd, requireStr(values, 'out'));
    const numFrames = str(values, 'num-frames') === undefined ? undefined : int(values, 'num-frames', 8, 1, 4096);
    const chunk = str(values, 'chunk') === undefined ? undefined : int(values, 'chunk', 1, 1, 65536);
    const memoryText = str(values, 'memory');
    const memoryBudget = memoryText === undefined ? undefined : parseBytes(memoryText);
    if (memoryBudget !== undefined && !(memoryBudget > 0)) throw expected('--memory', 'a size such as 4GiB or 512MB', memoryText);
    const device = choice(values, 'device', ['cpu', 'cuda'] as const, 'cpu');
    const seed = int(values, 'seed', 0);
    const weightsArg = str(values, 'weights');
    const resolved = await resolveBackbone(BACKBONE_PRESETS.includes(backboneArg as never) ? backboneArg : path.resolve(io.cwd, backboneArg));
    const weights = weightsArg ? path.resolve(io.cwd, weightsArg) : resolved.weights;
    const outputs = await outputPaths(inputs, out);
    if (resolved.folder) io.stdout.write(`backbone folder ${resolved.folder.note}\n`);

    const backbone = await loadBackbone({
      config: resolved.config,
      ...(weights ? { weights } : {}),
      pool: str(values, 'pool') ?? DEFAULT_POOL,
      layers: str(values, 'layers') ?? DEFAULT_LAYERS,
      device,
      ...(chunk !== undefined ? { chunk } : {}),
      ...(memoryBudget !== undefined ? { memoryBudget } : {}),
      seed,
    });
    banner(backbone, io);
    let failed = 0;
    // Over many inputs: a progress bar on a terminal (and no line per file), quiet otherwise.
    const many = inputs.length > 1;
    const mode = many ? pickRenderMode({ isTTY: io.isTTY, quietWhenPlain: true }) : 'quiet';
    const renderer = createRenderer(mode, io, { kind: 'progress' });
    try {
      // Decode the next input while the backbone runs on this one.
      const start = (i: number) => decode(inputs[i]!, backbone, numFrames).then((d) => ({ ok: true as const, d }), (e: unknown) => ({ ok: false as const, e }));
      let next = start(0);
      for (let i = 0; i < inputs.length; i++) {
        const input = inputs[i]!;
        const decoded = await next;
        if (i + 1 < inputs.length) next = start(i + 1);
        try {
          if (!decoded.ok) throw decoded.e;
          const d = decoded.d;
          const t0 = performance.now();
          const features = await backbone.forward(d.frames, d.numFrames); // [T, L, P, D]
          const shape = [d.numFrames, backbone.layers.length, backbone.tokens, backbone.width];
          await writeSafetensors(outputs[i]!, [{ name: 'features', shape, data: features }], {
            format: 'losa-features',
            version: '1',
            source: input,
            backbone: backbone.name,
            backbone_config: canonicalConfigJson(backbone.config),
            digest: backbone.digest,
            weights: backbone.weightsFile ?? `random:${seed}`,
            random_weights: String(backbone.randomWeights),
            pool: backbone.pool,
            layers: backbone.layersSpec,
            blocks: JSON.stringify(backbone.layers),
            indices: JSON.stringify(d.indices),
            timestamps: JSON.stringify(d.timestamps.map((t) => Number(t.toFixed(6)))),
            fps: String(d.fps),
            image: String(d.image),
          });
          const seconds = (performance.now() - t0) / 1000;
          if (!many) io.stdout.write(`${path.relative(io.cwd, outputs[i]!) || outputs[i]}  [${shape.join(', ')}]  ${formatBytes(features.byteLength)}  ${(d.numFrames / seconds).toFixed(1)} frames/s\n`);
        } catch (error) {
          if (error instanceof BackboneCrash) throw error; // no input after it can be computed
          failed++;
          reportInputError(renderer, mode, io, oneLineFor(input, error));
        }
        renderer.emit({ type: 'progress', label: 'features', done: i + 1, total: inputs.length });
      }
    } finally {
      await renderer.close();
      await backbone.dispose();
    }
    if (inputs.length > 1) io.stdout.write(`${inputs.length - failed} of ${inputs.length} inputs written${failed ? `, ${failed} failed` : ''}\n`);
    return failed > 0 ? 1 : 0;
  },
};
