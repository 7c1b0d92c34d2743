#!/usr/bin/env node
// Scale: the large presets on random weights, each in its own child process, running one
// 2-frame clip: load time (random init + graph + session), peak RSS, and time per frame.
// Models run one after another, never two at once; a model whose estimated peak does not fit
// the memory available now is skipped (say --force to try anyway).
//
//   node scripts/bench-scale.js [--models vit-g14,vit-bigg14,vit-e14] [--frames 2]
//                               [--prepack auto|on|off] [--force] [--json]
//
// Needs the compiled library: `npm run build` first. Linux only (reads /proc).
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { countBackboneParams, flopsPerFrame, loadBackbone, peakBytesForChunk, resolveBackboneConfig } from '../dist/backbone/index.js';

const { values } = parseArgs({
  options: {
    models: { type: 'string', default: 'vit-g14,vit-bigg14,vit-e14' },
    frames: { type: 'string', default: '2' },
    force: { type: 'boolean', default: false },
    prepack: { type: 'string', default: 'auto' },
    json: { type: 'boolean', default: false },
    child: { type: 'string' },
  },
});
const T = Number(values.frames);
const status = (key) => Number(new RegExp(`${key}:\\s+(\\d+) kB`).exec(readFileSync('/proc/self/status', 'utf8'))[1]) * 1024;
const gib = (b) => `${(b / 2 ** 30).toFixed(2)} GiB`;

if (values.child) {
  const config = await resolveBackboneConfig(values.child);
  const t0 = performance.now();
  const prepack = values.prepack === 'auto' ? undefined : values.prepack === 'on';
  const bb = await loadBackbone({ config, chunk: T, ...(prepack === undefined ? {} : { prepack }) });
  const loadSeconds = (performance.now() - t0) / 1000;
  const afterLoad = status('VmHWM');
  const S = config.imageSize;
  const frames = new Float32Array(T * 3 * S * S); // [T, 3, S, S]
  for (let i = 0; i < frames.length; i++) frames[i] = Math.sin(i * 0.001);
  const t1 = performance.now();
  const out = await bb.forward(frames, T);
  const runSeconds = (performance.now() - t1) / 1000;
  let finite = true;
  for (const v of out) if (!Number.isFinite(v)) { finite = false; break; }
  await bb.dispose();
  process.stdout.write(JSON.stringify({ loadSeconds, afterLoad, peak: status('VmHWM'), runSeconds, finite, shape: [T, bb.layers.length, bb.tokens, bb.width] }) + '\n');
  process.exit(0);
}

const script = fileURLToPath(import.meta.url);
const rows = [];
for (const name of values.models.split(',')) {
  const config = await resolveBackboneConfig(name);
  const params = countBackboneParams(config);
  const estimate = peakBytesForChunk(config, T);
  const available = Number(/MemAvailable:\s+(\d+) kB/.exec(readFileSync('/proc/meminfo', 'utf8'))[1]) * 1024;
  const row = { model: name, params, estimatedPeak: estimate, availableAtStart: available };
  if (estimate > available * 0.9 && !values.force) {
    rows.push({ ...row, skipped: `estimated peak ${gib(estimate)} > 90% of the ${gib(available)} available now` });
    continue;
  }
  const result = await new Promise((resolve) => {
    execFile(process.execPath, [script, '--child', name, '--frames', String(T), '--prepack', values.prepack], { maxBuffer: 1 << 20 }, (error, stdout, stderr) => {
      if (error) resolve({ failed: `${error.signal ? `killed by ${error.signal}` : `exit ${error.code}`}: ${stderr.trim().split('\n').pop() ?? ''}` });
      else resolve(JSON.parse(stdout.trim().split('\n').pop()));
    });
  });
  rows.push({ ...row, ...result, gflopsPerSecond: result.runSeconds ? (flopsPerFrame(config) * T) / result.runSeconds / 1e9 : undefined });
}

if (values.json) {
  console.log(JSON.stringify({ machine: { cpus: os.cpus().length, memory: os.totalmem() }, frames: T, rows }, null, 2));
} else {
  console.log(`${os.cpus().length} CPUs, ${gib(os.totalmem())}; random weights, prepack ${values.prepack}; one ${T}-frame clip, chunk ${T}; pool grid:2, all layers; each model in a fresh process`);
  const head = ['model', 'params', 'load', 'peak RSS', 'estimate', 's/frame', 'GFLOP/s', 'note'];
  const body = rows.map((r) => [
    r.model, `${(r.params / 1e9).toFixed(2)}B`,
    r.loadSeconds !== undefined ? `${r.loadSeconds.toFixed(1)} s` : '–',
    r.peak !== undefined ? gib(r.peak) : '–',
    gib(r.estimatedPeak),
    r.runSeconds !== undefined ? (r.runSeconds / T).toFixed(2) : '–',
    r.gflopsPerSecond !== undefined ? r.gflopsPerSecond.toFixed(0) : '–',
    r.skipped ?? r.failed ?? (r.finite ? 'ok' : 'non-finite output'),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  for (const line of [head, ...body]) console.log(line.map((c, i) => (i === 0 || i === 7 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ').trimEnd());
}
