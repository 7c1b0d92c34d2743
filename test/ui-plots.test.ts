// curves.svg and confusion.svg: well-formed SVG whose marks sit where the numbers say.
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CURVE_PANEL, curvePointFromSummary, renderConfusionSvg, mostConfusedClasses, CONFUSION_SHOWN, renderCurvesSvg, writeConfusion, writeCurves, type CurvePoint } from '../src/ui/index.js';

/** Checks that tags nest and close, attributes are quoted, and text has no raw '<' or bare '&'. */
function assertWellFormedSvg(svg: string): void {
  const tag = /<(\/?)([A-Za-z][\w:.-]*)((?:\s+[\w:.-]+="[^"<]*")*)\s*(\/?)>/g;
  const stack: string[] = [];
  let roots = 0;
  let last = 0;
  for (let m = tag.exec(svg); m; m = tag.exec(svg)) {
    const text = svg.slice(last, m.index);
    expect(text, `text before ${m[0].slice(0, 40)}`).not.toMatch(/<|&(?!(amp|lt|gt|quot|apos|#\d+|#x[0-9a-f]+);)/i);
    last = m.index + m[0].length;
    const [, closing, name, , selfClosing] = m;
    if (closing) expect(stack.pop()).toBe(name);
    else if (!selfClosing) {
      if (stack.length === 0) roots++;
      stack.push(name!);
    } else if (stack.length === 0) roots++;
  }
  expect(svg.slice(last).trim()).toBe('');
  expect(stack).toEqual([]);
  expect(roots).toBe(1);
  expect(svg.startsWith('<svg')).toBe(true);
}

function translate(el: string): [number, number] {
  const m = /transform="translate\(([-\d.e]+),([-\d.e]+)\)"/.exec(el)!;
  return [Number(m[1]), Number(m[2])];
}

/** The elements inside the mark group whose class contains `cls`. */
function marks(svg: string, cls: string, element: string): string[] {
  const start = svg.indexOf(`class="${cls}`);
  expect(start, cls).toBeGreaterThan(0);
  const end = svg.indexOf('</g>', start);
  return svg.slice(start, end).match(new RegExp(`<${element} [^>]*>(?:[^<]*</${element}>)?`, 'g')) ?? [];
}

/** The point marks of panel `i` of curves.svg (0 loss, 1 accuracy, 2 learning rate). */
function curvePoints(svg: string, i: number): string[] {
  const start = svg.indexOf(`class="panel panel-${i}"`);
  expect(start, `panel ${i}`).toBeGreaterThan(0);
  return svg.slice(start, svg.indexOf('</g>', start)).match(/<circle class="point" [^>]*\/>/g) ?? [];
}

function centre(el: string): [number, number] {
  return [Number(/ cx="([-\d.e]+)"/.exec(el)![1]), Number(/ cy="([-\d.e]+)"/.exec(el)![1])];
}

const records: CurvePoint[] = [1, 2, 3, 4].map((e) => ({
  epoch: e,
  trainLoss: 1.4 / e,
  valLoss: 1.5 / e,
  trainTop1: 0.2 * e,
  valTop1: 0.22 * e,
  valTop5: 1,
  lr: (1e-3 * (5 - e)) / 4,
}));

describe('curves.svg', () => {
  it('is well-formed and has the three panels and every series', async () => {
    const svg = await renderCurvesSvg(records);
    assertWellFormedSvg(svg);
    for (const name of ['loss', 'accuracy', 'learning rate', 'train loss', 'val loss', 'train top-1', 'val top-1', 'val top-5', 'epoch']) {
      expect(svg).toContain(`>${name}<`);
    }
  });

  it('puts each accuracy point where its value is (panel 260×200, accuracy axis 0..1)', async () => {
    const svg = await renderCurvesSvg(records);
    expect(CURVE_PANEL).toEqual({ width: 260, height: 200 });
    const points = curvePoints(svg, 1);
    expect(points).toHaveLength(12);
    for (const p of points) {
      const [, epoch, value, series] = /aria-label="epoch: (\d+); accuracy: (\d+)%; series: ([^"]+)"/.exec(p)!;
      const r = records[Number(epoch) - 1]!;
      const expected = series === 'train top-1' ? r.trainTop1 : series === 'val top-1' ? r.valTop1! : r.valTop5!;
      expect(Number(value)).toBeCloseTo(expected * 100, 0);
      const [x, y] = centre(p);
      expect(x).toBeCloseTo(((Number(epoch) - 1) / 3) * 260, 3);
      expect(y).toBeCloseTo(200 * (1 - expected), 3);
    }
    // Loss: the lower the loss, the lower on the page (larger y), inside the panel.
    const ys = curvePoints(svg, 0).filter((p) => p.includes('series: train loss')).map((p) => centre(p)[1]);
    expect(ys).toHaveLength(4);
    expect([...ys].sort((a, b) => a - b)).toEqual(ys);
    for (const y of ys) expect(y >= 0 && y <= 200).toBe(true);
    // Learning rate 1e-3 … 2.5e-4: an axis from 0 to 1e-3 (a round tick), the first at its top.
    const lr = curvePoints(svg, 2).map((p) => centre(p)[1]);
    expect(lr).toHaveLength(4);
    records.forEach((r, i) => expect(lr[i]).toBeCloseTo(200 * (1 - r.lr / 1e-3), 3));
  });

  it('labels the loss axis with its tick values, whole hundreds included', async () => {
    const svg = renderCurvesSvg([
      { epoch: 1, trainLoss: 250, trainTop1: 0.1, lr: 1e-3 },
      { epoch: 2, trainLoss: 120, trainTop1: 0.2, lr: 1e-3 },
    ]);
    const panel = /<g class="panel panel-0"[\s\S]*?<\/g>/.exec(svg)![0];
    const labels = [...panel.matchAll(/text-anchor="end">([^<]*)</g)].map((m) => Number(m[1]));
    // Ticks are a round step apart and cover the data; each label is its tick's value.
    expect(labels.length).toBeGreaterThan(2);
    expect(labels[0]).toBeLessThanOrEqual(120);
    expect(labels.at(-1)).toBeGreaterThanOrEqual(250);
    const step = labels[1]! - labels[0]!;
    labels.forEach((v, i) => expect(v).toBeCloseTo(labels[0]! + i * step, 6));
  });

  it('leaves out missing validation and non-finite values, and writes the file atomically', async () => {
    const partial: CurvePoint[] = [
      { epoch: 1, trainLoss: 1.2, trainTop1: 0.5, lr: 1e-3 },
      { epoch: 2, trainLoss: Number.NaN, trainTop1: 0.6, lr: 5e-4 },
    ];
    const svg = await renderCurvesSvg(partial);
    assertWellFormedSvg(svg);
    expect(svg).not.toContain('val loss');
    expect(curvePoints(svg, 0)).toHaveLength(1);
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'losa-ui-'));
    const file = path.join(dir, 'run', 'curves.svg');
    await writeCurves(file, partial);
    expect(await fs.readFile(file, 'utf8')).toBe(svg);
    expect((await fs.readdir(path.dirname(file))).filter((f) => f.includes('.tmp-'))).toEqual([]);
    await fs.rm(dir, { recursive: true });
  });

  it('turns epoch summaries into curve points', () => {
    expect(curvePointFromSummary({ epoch: 2, trainLoss: 1, trainTop1: 0.5, val: { loss: 2, top1: 0.25, top5: 0.75 }, seconds: 3, fromCache: true, lr: 1e-4, best: false }))
      .toEqual({ epoch: 2, trainLoss: 1, trainTop1: 0.5, valLoss: 2, valTop1: 0.25, valTop5: 0.75, lr: 1e-4 });
  });
});

describe('confusion.svg', () => {
  const classes = ['left', 'right', 'up', 'down']; // not alphabetical: the order must be kept
  const confusion = [
    [8, 0, 0, 0],
    [1, 7, 0, 0],
    [0, 0, 5, 3],
    [0, 2, 0, 6],
  ];

  it('is well-formed, names the classes in order, and writes each count in its cell', async () => {
    const svg = await renderConfusionSvg(classes, confusion);
    assertWellFormedSvg(svg);
    for (const c of classes) expect(svg).toContain(`>${c}<`);
    const cells = marks(svg, 'mark-rect role-mark', 'path');
    expect(cells).toHaveLength(16);
    const step = Number(/d="M0,0h([\d.]+)v/.exec(cells[0]!)![1]);
    const texts = marks(svg, 'mark-text role-mark', 'text');
    expect(texts).toHaveLength(16);
    for (const t of texts) {
      const [x, y] = translate(t);
      const column = Math.floor(x / step);
      const row = Math.floor(y / step);
      const count = Number(/>(\d+)<\/text>$/.exec(t)![1]);
      expect(count, `cell row ${row} column ${column}`).toBe(confusion[row]![column]);
      expect(t).toContain(`predicted: ${classes[column]}; true: ${classes[row]};`);
    }
    // Dark cells (most of a row) get white text.
    const diagonal = texts.find((t) => t.includes('predicted: left; true: left'))!;
    expect(diagonal).toContain('fill="white"');
  });

  it('writes the file and refuses a matrix of the wrong shape', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'losa-ui-'));
    const file = path.join(dir, 'confusion.svg');
    await writeConfusion(file, classes, confusion);
    assertWellFormedSvg(await fs.readFile(file, 'utf8'));
    await fs.rm(dir, { recursive: true });
    await expect(renderConfusionSvg(classes, [[1, 2], [3, 4]])).rejects.toThrow(/4×4 matrix/);
  });

  it('draws many classes without counts', async () => {
    const k = 40;
    const names = Array.from({ length: k }, (_, i) => `class_${i}`);
    const m = names.map((_, i) => names.map((__, j) => (i === j ? 5 : 0)));
    const svg = await renderConfusionSvg(names, m);
    assertWellFormedSvg(svg);
    expect(svg).toContain('>class_39<');
    expect(svg).not.toContain('mark-text role-mark');
  });

  it('shows only the most confused classes of a 700-class matrix, in a small file', async () => {
    const k = 700;
    const names = Array.from({ length: k }, (_, i) => `class_${i}`);
    const m: number[][] = names.map((_, i) => names.map((__, j) => (i === j ? 20 : 0)));
    // Planted mistakes: 650 ↔ 651 confused both ways, 400 → 10 one way.
    m[650]![651] = 9; m[651]![650] = 7; m[400]![10] = 4;
    const svg = await renderConfusionSvg(names, m);
    assertWellFormedSvg(svg);
    expect(Buffer.byteLength(svg)).toBeLessThan(1_000_000);
    expect(svg).toContain(`the ${CONFUSION_SHOWN} most confused of 700 classes`);
    for (const c of ['class_650', 'class_651', 'class_400', 'class_10']) expect(svg).toContain(`>${c}<`);
    expect(svg).not.toContain('>class_699<');
    expect(marks(svg, 'mark-rect role-mark', 'path')).toHaveLength(CONFUSION_SHOWN ** 2);
    // The planted cell keeps its count, and its row's share counts every clip of class 650.
    const cell = marks(svg, 'mark-text role-mark', 'text').find((t) => t.includes('predicted: class_651; true: class_650;'))!;
    expect(cell).toMatch(/>9<\/text>$/);
  });

  it('ranks classes by their errors both ways', () => {
    const m = [
      [5, 0, 0, 0],
      [0, 5, 3, 0],
      [0, 0, 5, 0],
      [2, 0, 0, 5],
    ];
    // errors: class 0: 2 (predicted for 3), 1: 3, 2: 3 (predicted for 1), 3: 2 → top 2 = {1, 2}; ties by index.
    expect(mostConfusedClasses(m, 2)).toEqual([1, 2]);
    expect(mostConfusedClasses(m, 3)).toEqual([0, 1, 2]);
  });
});
