// The dashboard's words, as plain strings: shared by the Ink components (which add colour)
// and the plain renderer (which prints them as they are), so both say the same thing.
import { formatBytes } from '../fsutil.js';
import type { EpochSummary, RunInfo } from '../train/events.js';
import type { EndEvent, StepEvent } from './state.js';
import { formatCount, formatDuration, formatLoss, formatLr, formatMs, formatPercent, formatRate } from './format.js';

export type Tone = 'normal' | 'dim' | 'bold' | 'warn' | 'error' | 'good';
export interface ToneLine { text: string; tone: Tone }

/** The run's header, a few lines. The random-weights warning is its own line, tone 'warn'. */
export function headerLines(run: RunInfo): ToneLine[] {
  const b = run.backbone;
  const lines: ToneLine[] = [];
  const side = run.side
    ? ` · ${run.side.kind === 'losa' ? 'LoSA side network' : 'linear probe'} ${formatCount(run.side.params)} trainable`
    : '';
  lines.push({ text: `losa ${run.command} · ${b.name} backbone ${formatCount(b.params)} frozen${side}`, tone: 'bold' });
  const tf = run.side ? ` · tfjs ${run.side.tfBackend}` : '';
  const batch = run.batchSize !== undefined ? ` · batch ${run.batchSize}` : '';
  lines.push({ text: `device ${b.device} (chunk ${b.chunk})${tf} · ${run.numFrames} frames${batch}`, tone: 'normal' });
  if (run.data) {
    const d = run.data;
    const missing = d.missing > 0 ? ` · ${d.missing} missing` : '';
    const clips = d.validation === false ? `${d.trainClips} train clips · no validation (--no-val)` : `${d.trainClips} train / ${d.valClips} val clips`;
    lines.push({ text: `data ${d.root} · ${clips}${missing}`, tone: 'normal' });
    lines.push({ text: `${d.classes.length} classes: ${listClasses(d.classes)}`, tone: 'normal' });
  }
  if (run.decoder) lines.push({ text: `decoder ${run.decoder}`, tone: 'dim' });
  const where: string[] = [];
  if (run.epochs !== undefined) {
    where.push(`${run.epochs} epochs${run.stepsPerEpoch !== undefined ? ` × ${run.stepsPerEpoch} steps` : ''}`);
  }
  if (run.outDir) where.push(`out ${run.outDir}`);
  if (run.cache) where.push(`cache ${run.cache}`);
  if (where.length > 0) lines.push({ text: where.join(' · '), tone: 'normal' });
  if (run.resumedFrom) {
    const r = run.resumedFrom;
    const within = r.stepInEpoch === 0 ? `at the start of epoch ${r.epoch}` : `in epoch ${r.epoch} after ${r.stepInEpoch} of its steps`;
    lines.push({ text: `resumed after ${r.step} steps, ${within}`, tone: 'bold' });
  }
  if (b.randomWeights) {
    lines.push({
      text: '⚠ RANDOM WEIGHTS: the backbone is seeded random, not pretrained (give --weights FILE for a real ViT)',
      tone: 'warn',
    });
  } else if (b.weights) {
    lines.push({ text: `weights ${b.weights}`, tone: 'dim' });
  }
  return lines;
}

/** Up to 8 class names, then a count of the rest. */
export function listClasses(classes: string[], max = 8): string {
  const shown = classes.slice(0, max).join(', ');
  return classes.length > max ? `${shown}, … (+${classes.length - max} more)` : shown;
}

const COLUMNS: [string, number][] = [
  ['epoch', 7], ['train loss', 11], ['train top-1', 12], ['val loss', 9], ['val top-1', 10], ['val top-5', 10],
  ['time', 8], ['cache', 6],
];

/** The heading of the finished-epochs table. */
export function epochTableHead(): string {
  return COLUMNS.map(([name, width]) => name.padStart(width)).join('');
}

/** One finished epoch as a row under `epochTableHead()`; the best epoch ends with "★ best". */
export function epochTableRow(s: EpochSummary, epochs?: number): string {
  const cells = [
    epochs !== undefined ? `${s.epoch}/${epochs}` : String(s.epoch),
    formatLoss(s.trainLoss),
    formatPercent(s.trainTop1),
    s.val ? formatLoss(s.val.loss) : '–',
    s.val ? formatPercent(s.val.top1) : '–',
    s.val ? formatPercent(s.val.top5) : '–',
    formatDuration(s.seconds),
    s.fromCache ? 'yes' : 'no',
  ];
  const row = cells.map((c, i) => c.padStart(COLUMNS[i]![1])).join('');
  return s.best ? `${row}  ★ best` : row;
}

/** One finished epoch as a self-describing log line (the plain renderer). */
export function epochSummaryLine(s: EpochSummary, epochs?: number): string {
  const parts = [
    `epoch ${epochs !== undefined ? `${s.epoch}/${epochs}` : s.epoch} done`,
    `train loss ${formatLoss(s.trainLoss)} top-1 ${formatPercent(s.trainTop1)}`,
  ];
  if (s.val) parts.push(`val loss ${formatLoss(s.val.loss)} top-1 ${formatPercent(s.val.top1)} top-5 ${formatPercent(s.val.top5)}`);
  parts.push(formatDuration(s.seconds), `cache ${s.fromCache ? 'yes' : 'no'}`, `lr ${formatLr(s.lr)}`);
  if (s.best) parts.push('best');
  return parts.join(' · ');
}

/**
 * What the pipeline's load time was: decoding, or reading the feature cache when no clip of the
 * epoch so far needed the backbone.
 */
function loadLabel(step: StepEvent): string {
  return step.time.backboneMs === 0 ? 'cache read' : 'decode';
}

/** "speed 45.2 clips/s · per clip: decode 12ms · backbone 8.1ms · side 3.2ms" */
export function throughputLine(step: StepEvent): string {
  const t = step.time;
  return `speed ${formatRate(step.clipsPerSecond)} clips/s · per clip: ${loadLabel(step)} ${formatMs(t.decodeMs)} · backbone ${formatMs(t.backboneMs)} · side ${formatMs(t.sideMs)}`;
}

/** "memory rss 512 MiB · 1234 tensors" */
export function memoryLine(step: StepEvent): string {
  return `memory rss ${formatBytes(step.memory.rssBytes)} · ${step.memory.tensors} tensors`;
}

/** One step as a log line (the plain renderer). */
export function stepLine(step: StepEvent, epochs: number | undefined, etaSeconds?: number): string {
  const t = step.time;
  const parts = [
    `epoch ${epochs !== undefined ? `${step.epoch}/${epochs}` : step.epoch} step ${step.stepInEpoch}/${step.stepsInEpoch}`,
    `loss ${formatLoss(step.loss)}`,
    `acc ${formatPercent(step.accuracy)}`,
    `lr ${formatLr(step.lr)}`,
    `${formatRate(step.clipsPerSecond)} clips/s`,
    `${loadLabel(step)} ${formatMs(t.decodeMs)} backbone ${formatMs(t.backboneMs)} side ${formatMs(t.sideMs)} per clip`,
    `rss ${formatBytes(step.memory.rssBytes)}`,
  ];
  if (etaSeconds !== undefined) parts.push(`ETA ${formatDuration(etaSeconds)}`);
  return parts.join(' · ');
}

/** The first line after a run ends: status, time, best top-1, and the message if any. */
export function endLine(end: EndEvent): ToneLine {
  const after = end.seconds > 0 ? ` after ${formatDuration(end.seconds)}` : '';
  const best = end.bestTop1 !== undefined ? ` · best val top-1 ${formatPercent(end.bestTop1)}` : '';
  const message = end.message ? `: ${end.message}` : '';
  switch (end.status) {
    case 'done':
      return { text: `done in ${formatDuration(end.seconds)}${best}${message}`, tone: 'good' };
    case 'stopped':
      return { text: `stopped${after}${best}${message}`, tone: 'warn' };
    case 'failed':
      return { text: `failed${after}${best}${message}`, tone: 'error' };
  }
}

/** Lines naming the files a run left: "run directory …", "plots …", then the rest. */
export function filesLines(files: string[]): string[] {
  if (files.length === 0) return [];
  const plots = files.filter((f) => f.endsWith('.svg'));
  const others = files.filter((f) => !f.endsWith('.svg'));
  const lines: string[] = [];
  if (others.length > 0) lines.push(`files: ${others.join(', ')}`);
  if (plots.length > 0) lines.push(`plots: ${plots.join(', ')}`);
  return lines;
}
