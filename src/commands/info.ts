// `losa info`: what a backbone costs before you run it: exact parameters, GFLOPs per frame,
// weight memory in fp32 and fp16, activation memory per frame, and the chunk that fits a
// memory budget. Computed from the config alone: no weights are read, onnxruntime is not loaded.
// For a model folder it also says which layout and family it found, the preprocessing, and,
// from the weight files' headers, the tensors the features will ignore.
import os from 'node:os';
import path from 'node:path';
import { expected } from '../errors.js';
import { formatBytes } from '../fsutil.js';
import { ffmpegSummary } from '../video/index.js';
import { BACKBONE_OPTIONS, SAMPLING_OPTIONS, backboneOption } from './common.js';
import { defineCommand } from './command.js';
import { bytes, flag, type OptionTable } from './options.js';
import {
  BACKBONE_PRESETS, backboneDescription, backboneStats, inspectWeights, parseLayers, parsePool, pooledTokens, resolveBackbone,
  withDefaults, type BackboneConfig, type BackboneStats, type ResolvedFolder,
} from '../backbone/index.js';

function formatParams(n: number): string {
  const short = n >= 1e9 ? `${(n / 1e9).toFixed(2)}B` : n >= 1e6 ? `${(n / 1e6).toFixed(1)}M` : `${(n / 1e3).toFixed(1)}K`;
  return `${n.toLocaleString('en-US')} (${short})`;
}

/** What a model folder adds to `losa info`: where the tower came from and what is ignored. */
interface FolderInfo {
  folder: string;
  layout: string;
  family: string;
  arch: string;
  configFile: string;
  weights: string[];
  naming: string;
  dtypes: string[];
  otherLayouts: { layout: string; status: string }[];
  preprocessing: { imageSize: number; mean: number[]; std: number[]; interpolation: string; source: string; notes: string[] };
  usedTensors: number;
  ignoredTensors: string[];
}

interface InfoRow extends BackboneStats {
  description?: string;
  pool: string;
  layers: number;
  pooledTokens: number;
  featureShape: number[];
  featureBytesPerClip: number;
  config: BackboneConfig;
  source?: FolderInfo;
}

async function folderInfo(folder: ResolvedFolder, config: BackboneConfig): Promise<FolderInfo> {
  const m = folder.model;
  const report = await inspectWeights(m.weights, config);
  const { imageSize, mean, std, interpolation, source, notes } = m.preprocessing;
  return {
    folder: folder.dir, layout: m.layout, family: m.family, arch: m.arch, configFile: m.configFile, weights: report.files,
    naming: `${report.naming.kind}${report.naming.prefix ? ` under ${report.naming.prefix}` : ''}`, dtypes: report.dtypes,
    otherLayouts: folder.others, preprocessing: { imageSize, mean, std, interpolation, source, notes },
    usedTensors: report.used, ignoredTensors: report.ignored,
  };
}

async function describe(nameOrFile: string, budget: number, frames: number, pool: string, layers: string): Promise<InfoRow> {
  const resolved = await resolveBackbone(nameOrFile);
  const { config } = resolved;
  const stats = backboneStats(config, budget, frames);
  const poolSpec = parsePool(pool, config);
  const tapped = parseLayers(layers, config.depth);
  const P = pooledTokens(poolSpec, config);
  const featureShape = [frames, tapped.length, P, config.width];
  const description = resolved.folder ? undefined : await backboneDescription(nameOrFile);
  return {
    ...stats,
    ...(description ? { description } : {}),
    pool,
    layers: tapped.length,
    pooledTokens: P,
    featureShape,
    featureBytesPerClip: featureShape.reduce((a, v) => a * v, 4),
    config,
    ...(resolved.folder ? { source: await folderInfo(resolved.folder, config) } : {}),
  };
}

/** "text_model.encoder.* (96), logit_scale, …": names grouped by their first two parts. */
function summarizeNames(names: string[]): string {
  const groups = new Map<string, string[]>();
  for (const name of names) {
    const parts = name.split('.');
    const key = parts.length > 2 ? parts.slice(0, 2).join('.') : name;
    groups.set(key, [...(groups.get(key) ?? []), name]);
  }
  return [...groups].map(([key, members]) => (members.length > 1 ? `${key}.* (${members.length})` : members[0]!)).join(', ');
}

/** The architecture in words: what departs from a plain ViT. */
function shapeLine(r: InfoRow): string {
  const c = withDefaults(r.config);
  const parts = [
    `${r.imageSize} px, patch ${r.patchSize}, ${r.tokens} tokens, width ${r.width}, depth ${r.depth}, ${r.heads} heads, MLP ${r.mlpDim}`,
    c.classToken ? 'class token' : 'no class token',
    ...(c.registers ? [`${c.registers} registers`] : []),
    ...(c.lnPre ? ['ln_pre'] : []),
    ...(c.patchBias ? [] : ['no patch bias']),
    ...(c.layerScale ? ['LayerScale'] : []),
    `GELU ${c.gelu}`, `LayerNorm eps ${c.layerNormEps}`,
  ];
  return parts.join(', ');
}

function folderLines(f: FolderInfo): [string, string][] {
  const p = f.preprocessing;
  const others = f.otherLayouts.map((o) => `; also ${o.layout}: ${o.status}`).join('');
  const fmt = (v: number[]) => `[${v.map((x) => Number(x.toFixed(4))).join(', ')}]`;
  return [
    ['folder', `${f.folder}: ${f.layout} layout, ${f.family} (${f.arch})${others}`],
    ['files', `${path.basename(f.configFile)}; weights ${f.weights.map((w) => path.basename(w)).join(', ')} (${f.dtypes.join(', ')}, ${f.naming})`],
    ['preprocessing', `${p.imageSize} px, ${p.interpolation} resize, mean ${fmt(p.mean)}, std ${fmt(p.std)} (from ${p.source})`],
    ...p.notes.map((n): [string, string] => ['note', n]),
    ['tensors', `${f.usedTensors} used; ${f.ignoredTensors.length} ignored${f.ignoredTensors.length ? `: ${summarizeNames(f.ignoredTensors)}` : ''}`],
  ];
}

function detail(r: InfoRow): string {
  const lines: [string, string][] = [
    ['backbone', r.description ? `${r.name}: ${r.description}` : r.name],
    ...(r.source ? folderLines(r.source) : []),
    ['shape', shapeLine(r)],
    ['parameters', `${formatParams(r.params)}, backbone only`],
    ['GFLOPs/frame', r.gflopsPerFrame.toFixed(2)],
    ['weights', `${formatBytes(r.weightBytesFp32)} fp32, ${formatBytes(r.weightBytesFp16)} fp16`],
    ['activations', `${formatBytes(r.activationBytesPerFrame)} per frame (estimate)`],
    ['memory budget', r.chunk > 0
      ? `${formatBytes(r.memoryBudget)}: chunk ${r.chunk} frames per run, about ${formatBytes(r.peakBytes)} at peak`
      : `${formatBytes(r.memoryBudget)}: does not fit (the weights alone need ${formatBytes(r.weightBytesFp32)})`],
    [`clip of ${r.frames}`, `${r.gflopsPerClip.toFixed(1)} GFLOPs${r.chunk > 0 ? `, ${r.runsPerClip} run${r.runsPerClip === 1 ? '' : 's'}` : ''}`],
    ['features', `[${r.featureShape.join(', ')}] float32 (${r.pool}, ${r.layers} layer${r.layers === 1 ? '' : 's'}): ${formatBytes(r.featureBytesPerClip)} per clip`],
  ];
  const width = Math.max(...lines.map(([k]) => k.length));
  return lines.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n') + '\n';
}

function table(rows: InfoRow[]): string {
  const head = ['backbone', 'params', 'GFLOPs/frame', 'fp32', 'fp16', 'act/frame', `chunk @ ${formatBytes(rows[0]!.memoryBudget)}`];
  const body = rows.map((r) => [
    r.name,
    r.params >= 1e9 ? `${(r.params / 1e9).toFixed(2)}B` : `${(r.params / 1e6).toFixed(1)}M`,
    r.gflopsPerFrame.toFixed(1),
    formatBytes(r.weightBytesFp32),
    formatBytes(r.weightBytesFp16),
    formatBytes(r.activationBytesPerFrame),
    r.chunk > 0 ? String(r.chunk) : 'does not fit',
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd();
  return [line(head), ...body.map(line)].join('\n') + '\n';
}

const options = {
  backbone: backboneOption({ help: `a preset (${BACKBONE_PRESETS.join(', ')}), a config JSON file, or a model folder` }),
  numFrames: { ...SAMPLING_OPTIONS.numFrames, help: 'frames per clip, for the per-clip figures', deprecated: ['frames'] },
  memory: bytes({ value: 'SIZE', help: 'memory budget for the backbone: weights plus one chunk of frames, e.g. 8GiB, 512MB', defaultText: "half this machine's memory" }),
  pool: { ...BACKBONE_OPTIONS.pool, help: `${BACKBONE_OPTIONS.pool.help}, for the feature size` },
  layers: { ...BACKBONE_OPTIONS.layers, help: `${BACKBONE_OPTIONS.layers.help}, for the feature size` },
  json: flag({ help: 'one JSON object (with --backbone) or {"backbones": [...]} (without)' }),
} satisfies OptionTable;

export const command = defineCommand({
  name: 'info',
  usage: 'losa info [--backbone NAME|FILE|FOLDER] [--num-frames T] [--memory SIZE] [--pool P] [--layers L] [--json]',
  description: `Parameters, compute and memory of a frozen backbone, from its config alone.
Without --backbone, one line per preset. For a model folder (transformers, timm or open_clip
layout, as downloaded from the Hugging Face hub): the layout and family found, the
preprocessing, and the tensors of its weight files that the features ignore.`,
  options,
  notes: `Parameters are of the backbone alone (no classifier head), as timm counts them: ViT-B/16 at 224
has 85,798,656 (timm's 86.6M includes its 1000-class head). GFLOPs are 2 × multiply-adds (timm
and fvcore tables quote multiply-adds: 17.6 G for ViT-B/16, 35.1 GFLOPs here). Activation memory
and the chunk are estimates of what onnxruntime keeps alive per frame.`,
  async run({ options: o, positionals }, io) {
    if (positionals.length > 0) throw expected('losa info', 'given options only (the backbone goes in --backbone)', positionals.join(' '));
    const frames = o.numFrames;
    const budget = o.memory ?? Math.floor(os.totalmem() / 2);
    const { pool, layers, json, backbone } = o;
    const ffmpeg = await ffmpegSummary(); // which ffmpeg decodes videos, and why
    if (backbone !== undefined) {
      const row = await describe(backbone, budget, frames, pool, layers);
      if (json) io.stdout.write(JSON.stringify({ ...row, ffmpeg: ffmpeg.binaries }) + '\n');
      else io.stdout.write(detail(row) + ffmpeg.lines.join('\n') + '\n');
      return 0;
    }
    const rows: InfoRow[] = [];
    for (const name of BACKBONE_PRESETS) rows.push(await describe(name, budget, frames, pool, layers));
    if (json) io.stdout.write(JSON.stringify({ backbones: rows, ffmpeg: ffmpeg.binaries }) + '\n');
    else io.stdout.write(table(rows) + '\nParameters: backbone only. GFLOPs: 2 × multiply-adds. `losa info --backbone NAME` for details.\n\n' + ffmpeg.lines.join('\n') + '\n');
    return 0;
  },
});
