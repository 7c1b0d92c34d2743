// `losa eval`'s confusion matrix as text: whole, with full class names, for a few classes; the
// most frequent mistakes for many.
import { describe, expect, it } from 'vitest';
import { confusionLines } from '../src/commands/eval.js';

describe('confusionLines', () => {
  it('prints the whole matrix with names that stay apart even when they share a prefix', () => {
    const lines = confusionLines(['rotating-ccw', 'rotating-cw'], [[16, 0], [1, 15]]);
    expect(lines).toEqual([
      'confusion (rows: true class, columns: predicted):',
      '                    0    1',
      '  0 rotating-ccw   16    0',
      '  1 rotating-cw     1   15',
    ]);
  });

  it('widens the cells for large counts', () => {
    const lines = confusionLines(['a', 'b'], [[123456, 2], [0, 7]]);
    expect(lines[2]).toBe('  0 a 123456      2');
  });

  it('lists the ten most frequent mistakes for many classes', () => {
    const k = 30;
    const classes = Array.from({ length: k }, (_, i) => `class ${i}`);
    // Each class i sends i clips to class (i + 1) mod k, and 50 to itself.
    const confusion = classes.map((_, i) => classes.map((_, j) => (j === i ? 50 : j === (i + 1) % k ? i : 0)));
    const lines = confusionLines(classes, confusion);
    expect(lines[0]).toBe('most frequent mistakes (30 classes; the whole matrix is in --json and the plot):');
    expect(lines.slice(1)).toEqual([29, 28, 27, 26, 25, 24, 23, 22, 21, 20].map((i) => `  ${String(i).padStart(5)} × class ${i} → class ${(i + 1) % k}`));
    const perfect = classes.map((_, i) => classes.map((_, j) => (i === j ? 3 : 0)));
    expect(confusionLines(classes, perfect)).toEqual(['confusion: no mistakes']);
  });
});
