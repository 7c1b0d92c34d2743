// `losa info`: what a backbone costs before you run it: exact parameters, GFLOPs per frame,
// weight memory in fp32 and fp16, activation memory per frame, and the chunk that fits a
// memory budget. Computed from the config alone: no weights are read, onnxruntime is not loaded.
import os from 'node:os';
import type { Command } from './command.js';
import { bool, int, str } from './args.js';
import { expected } from '../errors.js';
import { formatBytes, parseBytes } from '../fsutil.js';
import { ffmpegSummary } from '../video/index.js';
import {
  BACKBONE_PRESETS, backboneDescription, backboneStats, parseLayers, parsePool, pooledTokens, resolveBackboneConfig,
  DEFAULT_LAYERS, DEFAULT_POOL, type BackboneConfig, type BackboneStats,
} from '../backbone/index.js';

const USAGE = `Usage: losa info [--backbone NAME|FILE] [--frames T] [--memory SIZE] [--pool P] [--layers L] [--json]

Parameters, compute and memory of a frozen backbone, from its config alone.
Without --backbone, one line per preset.

Options:
  --backbone NAME|FILE  a preset (${BACKBONE_PRESETS.join(', ')}) or a config JSON file
  --frames T            frames per clip, for the per-clip figures (default 8)
  --memory SIZE         memory budget for the backbone: weights plus one chunk of frames
                        (default: half this machine's memory); e.g. 8GiB, 512MB
  --pool P              none | cls | mean | grid:G (default ${DEFAULT_POOL}), for the feature size
  --layers L            all | every:K | 3,6,9 (default ${DEFAULT_LAYERS}), for the feature size
  --json                one JSON object (with --backbone) or {"backbones": [...]} (without)

Parameters are of the backbone alone (no classifier head), as timm counts them: ViT-B/16 at 224
has 85,798,656 (timm's 86.6M includes its 1000-class head). GFLOPs are 2 × multiply-adds (timm
and fvcore tables quote multiply-adds: 17.6 G for ViT-B/16, 35.1 GFLOPs here). Activation memory
and the chunk are estimates of what onnxruntime keeps alive per frame.
`;

function formatParams(n: number): string {
  const short = n >= 1e9 ? `${(n / 1e9).toFixed(2)}B` : n >= 1e6 ? `${(n / 1e6).toFixed(1)}M` : `${(n / 1e3).toFixed(1)}K`;
  return `${n.toLocaleString('en-US')} (${short})`;
}

interface InfoRow extends BackboneStats {
  description?: string;
  pool: string;
  layers: number;
  pooledTokens: number;
  featureShape: number[];
  featureBytesPerClip: number;
}

async function describe(nameOrFile: string, budget: number, frames: number, pool: string, layers: string): Promise<InfoRow> {
  const config: BackboneConfig = await resolveBackboneConfig(nameOrFile);
  const stats = backboneStats(config, budget, frames);
  const poolSpec = parsePool(pool, config);
  const tapped = parseLayers(layers, config.depth);
  const P = pooledTokens(poolSpec, config);
  const featureShape = [frames, tapped.length, P, config.width];
  const description = await backboneDescription(nameOrFile);
  return {
    ...stats,
    ...(description ? { description } : {}),
    pool,
    layers: tapped.length,
    pooledTokens: P,
    featureShape,
    featureBytesPerClip: featureShape.reduce((a, v) => a * v, 4),
  };
}

function detail(r: InfoRow, config: BackboneConfig): string {
  const lines: [string, string][] = [
    ['backbone', r.description ? `${r.name}: ${r.description}` : r.name],
    ['shape', `${r.imageSize} px, patch ${r.patchSize}, ${r.tokens} tokens, width ${r.width}, depth ${r.depth}, ${r.heads} heads, MLP ${r.mlpDim}, ${config.classToken ? 'class token' : 'no class token'}, GELU ${config.gelu}`],
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

export const command: Command = {
  name: 'info',
  summary: 'parameters, FLOPs, memory and chunk size of a backbone',
  usage: USAGE,
  options: {
    backbone: { type: 'string' },
    frames: { type: 'string' },
    memory: { type: 'string' },
    pool: { type: 'string' },
    layers: { type: 'string' },
    json: { type: 'boolean' },
  },
  async run(args, io) {
    const { values, positionals } = args;
    if (positionals.length > 0) throw expected('losa info', 'given options only (the backbone goes in --backbone)', positionals.join(' '));
    const frames = int(values, 'frames', 8, 1);
    const memoryText = str(values, 'memory');
    const budget = memoryText === undefined ? Math.floor(os.totalmem() / 2) : parseBytes(memoryText);
    if (!Number.isFinite(budget) || budget <= 0) throw expected('--memory', 'a size such as 8GiB or 512MB', memoryText);
    const pool = str(values, 'pool') ?? DEFAULT_POOL;
    const layers = str(values, 'layers') ?? DEFAULT_LAYERS;
    const json = bool(values, 'json');
    const backbone = str(values, 'backbone');
    const ffmpeg = await ffmpegSummary(); // which ffmpeg decodes videos, and why
    if (backbone !== undefined) {
      const row = await describe(backbone, budget, frames, pool, layers);
      if (json) io.stdout.write(JSON.stringify({ ...row, ffmpeg: ffmpeg.binaries }) + '\n');
      else io.stdout.write(detail(row, await resolveBackboneConfig(backbone)) + ffmpeg.lines.join('\n') + '\n');
      return 0;
    }
    const rows: InfoRow[] = [];
    for (const name of BACKBONE_PRESETS) rows.push(await describe(name, budget, frames, pool, layers));
    if (json) io.stdout.write(JSON.stringify({ backbones: rows, ffmpeg: ffmpeg.binaries }) + '\n');
    else io.stdout.write(table(rows) + '\nParameters: backbone only. GFLOPs: 2 × multiply-adds. `losa info --backbone NAME` for details.\n\n' + ffmpeg.lines.join('\n') + '\n');
    return 0;
  },
};
