// `losa features INPUT... --backbone B --out FILE` (or `--checkpoint RUN`): run the frozen
// backbone over videos or images and write the DESIGN.md features file: safetensors with
// `features` [T, L, P, D] float32 and metadata (backbone, digest, pool, layers, frame indices).
// With --checkpoint, the clip and the backbone are exactly the run's test-time view, so the file
// holds what `losa classify` feeds that run's side network. Several inputs give one file each in
// the folder --out; a failing input gets its one-line error and the rest go on.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import {
  BACKBONE_PRESETS, canonicalConfigJson, loadBackbone, resolveBackbone, type Backbone,
} from '../backbone/index.js';
import { UsageError, errorMessage } from '../errors.js';
import { featureBatches, isSkipped, type ClipSource, type FeatureStore, type PipelineItem, type ViewPlan } from '../features/index.js';
import { formatBytes } from '../fsutil.js';
import { isImagePath } from '../media.js';
// From their modules, not model/index.js: features needs no TensorFlow.js.
import { readRunManifest } from '../model/run.js';
import { loadRunBackbone, runTestPlan, testPlan } from '../model/view.js';
import { openSafetensorsWriter, type SafetensorsWriter } from '../safetensors.js';
import { createRenderer, pickRenderMode } from '../ui/index.js';
import { DEFAULT_NUM_FRAMES } from '../video/index.js';
import { BACKBONE_OPTIONS, DEVICE_OPTIONS, RUN_OPTIONS, SAMPLING_OPTIONS, WORKERS_OPTION, backboneOption } from './common.js';
import { defineCommand, type CommandArgs, type CommandIO } from './command.js';
import { bytes, file, flagName, text, type OptionTable } from './options.js';
import { reportInputError } from './report.js';

const options = {
  backbone: backboneOption({ help: `a preset (${BACKBONE_PRESETS.join(', ')}), a config JSON file, or a model folder from the Hugging Face hub (transformers, timm or open_clip layout), whose config, preprocessing and weights are used` }),
  checkpoint: file({ value: 'RUN_DIR', help: `${RUN_OPTIONS.checkpoint.help}: its backbone and test-time clips (frames, size, stride, pooling, layers)` }),
  // Text, not a file option: a trailing "/" asks for a folder, and resolving would drop it.
  out: text({ value: 'PATH', help: 'the features file; with several inputs (or ending in /), a folder of one file per input', required: true }),
  ...BACKBONE_OPTIONS,
  backboneSeed: { ...BACKBONE_OPTIONS.backboneSeed, deprecated: ['seed'] },
  numFrames: { ...SAMPLING_OPTIONS.numFrames, defaultText: `${DEFAULT_NUM_FRAMES}; an image is one frame unless given, then T repeats`, read: optionalFrames },
  stride: SAMPLING_OPTIONS.stride,
  ...DEVICE_OPTIONS,
  memory: bytes({ value: 'SIZE', help: 'memory budget for the backbone, e.g. 4GiB (sets the chunk)' }),
  ...WORKERS_OPTION,
} satisfies OptionTable;

/** --num-frames: absent means "by input" (8 for a video, 1 for an image). */
function optionalFrames(raw: string | boolean | undefined, ctx: { flag: string; cwd: string }): number | undefined {
  return raw === undefined ? undefined : SAMPLING_OPTIONS.numFrames.read(raw, ctx);
}

/** What --checkpoint fixes; giving one of these with it is a usage error. */
const FROM_RUN = ['backbone', 'imageSize', 'pool', 'layers', 'backboneSeed', 'numFrames', 'stride'] as const;

export const command = defineCommand({
  name: 'features',
  usage: 'losa features INPUT... (--backbone NAME|FILE|FOLDER | --checkpoint RUN_DIR) --out PATH [options]',
  description: `Run the frozen backbone over videos or images and write per-layer pooled features:
a safetensors file with tensor \`features\` [T, L, P, D] float32 (T frames, L tapped layers,
P pooled tokens, D width; layers in block order, each block's output before the final norm;
tokens: class token, registers, then patches row-major) and metadata (backbone, weights digest,
pool, layers, frame indices and timestamps).`,
  options,
  notes: `Frames take the test-time transform: the short side scaled to the model's size, a centre
crop, then (x/255 - mean) / std with the config's mean and std. With --checkpoint, exactly as
the run's validation, eval and classify sample them. Without --weights the weights are seeded
random, and the output says so. Exit status 1 when any input failed (the others are written).`,
  async run(args, io) {
    const { options: o } = args;
    const inputs = args.positionals.map((p) => path.resolve(io.cwd, p));
    if (inputs.length === 0) throw new UsageError('`losa features` needs at least one INPUT (video or image); see `losa features --help`');
    const { backbone, plan, run, note } = await openBackbone(args);
    if (note) io.stdout.write(`${note}\n`);
    banner(backbone, io);
    const outputs = await outputPaths(inputs, o.out, io.cwd);
    const many = inputs.length > 1;
    // Over many inputs: a progress bar on a terminal (and no line per file), quiet otherwise.
    const mode = many ? pickRenderMode({ isTTY: io.isTTY, quietWhenPlain: true }) : 'quiet';
    const renderer = createRenderer(mode, io, { kind: 'progress' });
    const items = inputs.map((input, index) => ({ path: input, label: -1, index }));
    // Each input's file is written as its features are computed, a chunk at a time.
    const files = new Map<number, FeaturesFile>();
    const store = async (item: (typeof items)[number], shape: number[], source: ClipSource): Promise<FeatureStore> => {
      const meta = { input: item.path, run, seed: o.backboneSeed, plan: plan(item), source };
      const opened = await openFeaturesFile(outputs[item.index]!, shape.slice(1), backbone, meta);
      files.set(item.index, opened);
      return opened.writer;
    };
    let done = 0;
    let failed = 0;
    try {
      for await (const result of featureBatches(items, { backbone, batchSize: 1, concurrency: o.workers, plan, store })) {
        const item = isSkipped(result) ? result.skipped : result.items[0]!;
        const file = files.get(item.index);
        files.delete(item.index);
        try {
          if (isSkipped(result)) throw new Error(result.reason);
          await file!.writer.commit();
          if (!many) io.stdout.write(`${path.relative(io.cwd, outputs[item.index]!) || outputs[item.index]}  ${file!.line(result.backboneMs)}\n`);
        } catch (error) {
          await file?.writer.abort();
          failed++;
          const message = errorMessage(error);
          reportInputError(renderer, mode, io, message.includes(item.path) ? message : `${item.path}: ${message}`);
        }
        renderer.emit({ type: 'progress', label: 'features', done: ++done, total: inputs.length });
      }
    } finally {
      // A crash of the backbone (fatal: no input after it can be computed) leaves a file unfinished.
      for (const file of files.values()) await file.writer.abort();
      await renderer.close();
      await backbone.dispose();
    }
    if (many) io.stdout.write(`${inputs.length - failed} of ${inputs.length} inputs written${failed ? `, ${failed} failed` : ''}\n`);
    return failed > 0 ? 1 : 0;
  },
});

/** The backbone and the test plan: the run's (--checkpoint), or from the flags. */
async function openBackbone({ options: o, given }: CommandArgs<typeof options>): Promise<{ backbone: Backbone; plan: (item: PipelineItem) => ViewPlan; run?: string; note?: string }> {
  const device = { device: o.device, chunk: o.chunk, memoryBudget: o.memory };
  if (o.checkpoint !== undefined) {
    const clash = FROM_RUN.find((k) => given.has(k));
    if (clash) throw new UsageError(`--${flagName(clash)} comes from the run with --checkpoint; leave it out`);
    const manifest = await readRunManifest(o.checkpoint);
    const backbone = await loadRunBackbone(manifest, o.checkpoint, { ...device, weights: o.weights });
    const plan = runTestPlan(manifest);
    return { backbone, plan: () => plan, run: o.checkpoint };
  }
  if (o.backbone === undefined) throw new UsageError('Expected `--backbone` to be given (or `--checkpoint RUN_DIR`), got nothing');
  // A preset, a config file, or a model folder (its config, preprocessing and weights together).
  const resolved = await resolveBackbone(o.backbone);
  const config = o.imageSize ? { ...resolved.config, imageSize: o.imageSize } : resolved.config;
  const weights = o.weights ?? resolved.weights;
  const backbone = await loadBackbone({ config, weights, pool: o.pool, layers: o.layers, seed: o.backboneSeed, ...device });
  const sampling = (file: string) => ({ numFrames: o.numFrames ?? (isImagePath(file) ? 1 : DEFAULT_NUM_FRAMES), size: config.imageSize, stride: o.stride });
  return { backbone, plan: (item) => testPlan(sampling(item.path), {}, 'features'), ...(resolved.folder ? { note: `backbone folder ${resolved.folder.note}` } : {}) };
}

/** An input's features file being written, and the line that reports it when done. */
interface FeaturesFile {
  writer: SafetensorsWriter;
  line(backboneMs: number): string;
}

/** Opens one input's features file: `features` [T, L, P, D] with its metadata, the values to come. */
async function openFeaturesFile(
  file: string, shape: number[], backbone: Backbone, meta: { input: string; run?: string; seed: number; plan: ViewPlan; source: ClipSource },
): Promise<FeaturesFile> {
  const { source } = meta;
  const writer = await openSafetensorsWriter(file, { name: 'features', shape }, {
    format: 'losa-features',
    version: '1',
    source: meta.input,
    backbone: backbone.name,
    backbone_config: canonicalConfigJson(backbone.config),
    digest: backbone.digest,
    weights: backbone.weightsFile ?? `random:${meta.seed}`,
    random_weights: String(backbone.randomWeights),
    pool: backbone.pool,
    layers: backbone.layersSpec,
    blocks: JSON.stringify(backbone.layers),
    image_size: String(backbone.config.imageSize),
    stride: String(meta.plan.clip.stride),
    indices: JSON.stringify(source.indices[0]),
    timestamps: JSON.stringify(source.timestamps[0]!.map((t) => Number(t.toFixed(6)))),
    fps: String(source.fps),
    image: String(source.image),
    ...(meta.run ? { run: meta.run } : {}),
  });
  const bytes = shape.reduce((a, d) => a * d, 4);
  return {
    writer,
    line: (backboneMs) => `[${shape.join(', ')}]  ${formatBytes(bytes)}  ${(shape[0]! / Math.max(backboneMs / 1000, 1e-6)).toFixed(1)} frames/s`,
  };
}

/** Output file of each input: --out itself for one input, else <out>/<name>.safetensors (deduplicated). */
async function outputPaths(inputs: string[], typed: string, cwd: string): Promise<string[]> {
  const out = path.resolve(cwd, typed);
  const isDir = inputs.length > 1 || typed.endsWith('/') || typed.endsWith(path.sep) ||
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

function banner(bb: Backbone, io: CommandIO): void {
  const weights = bb.randomWeights ? 'random weights' : `weights ${bb.weightsFile}`;
  io.stdout.write(
    `backbone ${bb.name} (${(bb.params / 1e6).toFixed(1)}M parameters, ${weights}) on ${bb.device}, ` +
    `chunk ${bb.chunk}, pool ${bb.pool} (P=${bb.tokens}), layers ${bb.layersSpec} (L=${bb.layers.length}), ` +
    `loaded in ${bb.loadSeconds.toFixed(1)}s\n`,
  );
}
