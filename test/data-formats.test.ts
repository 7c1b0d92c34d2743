// The three data set layouts: folders, Kinetics CSV annotations and list files. Listing looks
// at names and sizes only, so the "videos" here are small files of bytes.
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDataset, parseCsv, kineticsStem, type Dataset } from '../src/data/index.js';
import { IMAGE_EXTENSIONS, VIDEO_EXTENSIONS } from '../src/media.js';

let root: string;

async function put(rel: string, content = 'video bytes'): Promise<string> {
  const file = path.join(root, rel);
  await fs.mkdir(path.dirname(file), { recursive: true });
  await fs.writeFile(file, content);
  return file;
}

const rel = (d: Dataset): string[] => d.items.map((i) => `${path.relative(root, i.path)} ${i.label} ${i.className}`);
const problems = (d: Dataset): string[] => d.problems.map((p) => `${p.path.startsWith(root) ? path.relative(root, p.path) : p.path}: ${p.reason}`);

beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'losa-data-'));
});
afterAll(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

describe('folder layout ROOT/<split>/<class>/<video>', () => {
  beforeAll(async () => {
    await put('folder/train/walking/b.mp4');
    await put('folder/train/walking/a clip é.MP4');
    await put('folder/train/walking/notes.txt');
    await put('folder/train/walking/empty.mp4', '');
    await put('folder/train/abseiling/x.webm');
    await put('folder/train/abseiling/still.jpg');
    await fs.mkdir(path.join(root, 'folder/train/zumba'), { recursive: true });
    await put('folder/train/loose.mp4');
    await put('folder/validate/walking/v.mkv');
    await put('folder/validate/zzz-new/w.mp4');
  });

  it('lists classes in sorted order, skips other endings, reports empty files', async () => {
    const d = await openDataset(path.join(root, 'folder'), { split: 'train' });
    expect(d.format).toBe('folder');
    expect(d.classes).toEqual(['abseiling', 'walking', 'zumba']);
    expect(rel(d)).toEqual([
      'folder/train/abseiling/still.jpg 0 abseiling',
      'folder/train/abseiling/x.webm 0 abseiling',
      'folder/train/walking/a clip é.MP4 1 walking',
      'folder/train/walking/b.mp4 1 walking',
    ]);
    expect(problems(d)).toEqual(['folder/train/walking/empty.mp4: empty file']);
    expect(d.ignored).toBe(2); // notes.txt, and loose.mp4 which has no class folder
  });

  it('finds `validate` for val and uses the training classes', async () => {
    const d = await openDataset(path.join(root, 'folder'), { split: 'val', classes: ['abseiling', 'walking', 'zumba'] });
    expect(d.classes).toEqual(['abseiling', 'walking', 'zumba']);
    expect(rel(d)).toEqual(['folder/validate/walking/v.mkv 1 walking']);
    expect(problems(d)).toEqual(['folder/validate/zzz-new/w.mp4: class "zzz-new" is not one of the model\'s classes']);
  });

  it('fails with one line naming the folder when the split is absent', async () => {
    await expect(openDataset(path.join(root, 'folder'), { split: 'test' })).rejects.toThrow(`${path.join(root, 'folder')}: no "test" split here`);
    await expect(openDataset(path.join(root, 'nowhere'), { split: 'train' })).rejects.toThrow(`${path.join(root, 'nowhere')}: no such file or folder`);
  });
});

describe('Kinetics CSV', () => {
  const csv = [
    'label,youtube_id,time_start,time_end,split,is_cc',
    'abseiling,AAA-_1,14,24,train,0',
    '"passing American football (in game)",BBB,5,15,train,0',
    '"say ""hi"", loudly",CCC,0,10,train,0',
    'abseiling,DDD,1,11,train,0',
    'abseiling,EEE,2,12,train,0',
    'abseiling,VVV,3,13,validate,0',
    'abseiling,FFF',
    'abseiling,GGG,300,310,train,1',
    '',
  ].join('\r\n');

  beforeAll(async () => {
    await put('kinetics/annotations/train.csv', csv);
    await put('kinetics/train/abseiling/AAA-_1_000014_000024.mp4');
    await put('kinetics/train/abseiling/GGG_000300_000310.part'); // an interrupted download
    await put('kinetics/train/passing_American_football_in_game/BBB_000005_000015.mkv');
    await put('kinetics/train/CCC_000000_000010.webm'); // flat in the split folder
    await put('kinetics/train/abseiling/EEE_000002_000012.mp4', '');
    await put('kinetics/val/abseiling/VVV_000003_000013.mp4');
  });

  it('parses quoted fields with commas, quotes and CRLF', () => {
    const rows = parseCsv(csv);
    expect(rows[2]!.fields[0]).toBe('passing American football (in game)');
    expect(rows[3]!.fields.slice(0, 2)).toEqual(['say "hi", loudly', 'CCC']);
    expect(rows[7]!).toEqual({ line: 8, fields: ['abseiling', 'FFF'] });
    expect(parseCsv('a,"multi\nline",c\nd,e,f')).toEqual([{ line: 1, fields: ['a', 'multi\nline', 'c'] }, { line: 3, fields: ['d', 'e', 'f'] }]);
    expect(kineticsStem('x_y', 7, 17)).toBe('x_y_000007_000017');
  });

  it('finds clips in label folders (lenient names) or flat, and reports the rest', async () => {
    const source = path.join(root, 'kinetics/annotations/train.csv');
    const d = await openDataset(source, { split: 'train', root: path.join(root, 'kinetics') });
    expect(d.format).toBe('kinetics-csv');
    expect(d.source).toBe(source);
    expect(d.classes).toEqual(['abseiling', 'passing American football (in game)', 'say "hi", loudly']);
    expect(rel(d)).toEqual([
      'kinetics/train/abseiling/AAA-_1_000014_000024.mp4 0 abseiling',
      'kinetics/train/passing_American_football_in_game/BBB_000005_000015.mkv 1 passing American football (in game)',
      'kinetics/train/CCC_000000_000010.webm 2 say "hi", loudly',
    ]);
    expect(problems(d)).toEqual([
      'kinetics/annotations/train.csv:8: malformed row',
      'kinetics/train/abseiling/DDD_000001_000011.mp4: missing',
      'kinetics/train/abseiling/GGG_000300_000310.mp4: missing',
      'kinetics/train/abseiling/EEE_000002_000012.mp4: empty file',
    ]);
    expect(d.ignored).toBe(1);
  });

  it('selects the validation rows (`validate`) and maps them with the training classes', async () => {
    const source = path.join(root, 'kinetics/annotations/train.csv');
    const d = await openDataset(source, { split: 'val', root: path.join(root, 'kinetics'), classes: ['abseiling', 'other'] });
    expect(rel(d)).toEqual(['kinetics/val/abseiling/VVV_000003_000013.mp4 0 abseiling']);
    expect(d.classes).toEqual(['abseiling', 'other']);
  });

  it('defaults the root to the CSV folder and names what is wrong', async () => {
    await put('kinetics/k.csv', csv);
    const d = await openDataset(path.join(root, 'kinetics/k.csv'), { split: 'train' });
    expect(d.items).toHaveLength(3);
    await expect(openDataset(path.join(root, 'kinetics/annotations/train.csv'), { split: 'train' })).rejects.toThrow(/no "train" folder/);
    const bad = await put('kinetics/bad.csv', 'name,url\nx,y\n');
    await expect(openDataset(bad, { split: 'train' })).rejects.toThrow(`${bad}: not a Kinetics CSV`);
  });
});

describe('list file of `<path> <label>` lines', () => {
  beforeAll(async () => {
    await put('list/videos/a b.mp4');
    await put('list/videos/x.mp4');
    await put('list/videos/y.avi');
    await put('list/train.txt', [
      '# path label',
      'videos/a b.mp4 cat',
      '',
      'videos/x.mp4   dog',
      'videos/missing.mp4 dog',
      'notes/readme.md cat',
      'lonely-word',
      `${path.join(root, 'list/videos/y.avi')} bird`,
    ].join('\n'));
    await put('list/indexed.lst', 'videos/x.mp4 2\nvideos/a b.mp4 0\n');
  });

  it('reads names as classes, paths relative to the list, absolute paths as given', async () => {
    const source = path.join(root, 'list/train.txt');
    const d = await openDataset(source, { split: 'train' });
    expect(d.format).toBe('list');
    expect(d.classes).toEqual(['bird', 'cat', 'dog']);
    expect(rel(d)).toEqual(['list/videos/a b.mp4 1 cat', 'list/videos/x.mp4 2 dog', 'list/videos/y.avi 0 bird']);
    expect(problems(d)).toEqual(['list/train.txt:7: malformed line (expected "<path> <label>")', 'list/videos/missing.mp4: missing']);
    expect(d.ignored).toBe(1);
  });

  it('reads integer labels as class indices', async () => {
    const d = await openDataset(path.join(root, 'list/indexed.lst'), { split: 'whatever' });
    expect(d.classes).toEqual(['0', '1', '2']);
    expect(rel(d)).toEqual(['list/videos/x.mp4 2 2', 'list/videos/a b.mp4 0 0']);
    const named = await openDataset(path.join(root, 'list/indexed.lst'), { split: 'val', classes: ['cat', 'dog', 'fish'] });
    expect(rel(named)).toEqual(['list/videos/x.mp4 2 fish', 'list/videos/a b.mp4 0 cat']);
  });

  it('picks <dir>/<split>.txt when the source is a folder of list files, and reports unknown labels', async () => {
    const d = await openDataset(path.join(root, 'list'), { split: 'train', classes: ['cat', 'dog'] });
    expect(d.source).toBe(path.join(root, 'list/train.txt'));
    expect(rel(d)).toEqual(['list/videos/a b.mp4 0 cat', 'list/videos/x.mp4 1 dog']);
    expect(problems(d)).toContain('list/videos/y.avi: class "bird" is not one of the model\'s classes');
  });
});

it('a folder data set lists every video and image ending in any case, and ignores the rest', async () => {
  const endings = [...VIDEO_EXTENSIONS, ...IMAGE_EXTENSIONS];
  for (const [i, ext] of endings.entries()) await put(`endings/train/c/f${i}${i % 2 ? ext.toUpperCase() : ext}`);
  for (const other of ['.txt', '.json', '.mp3', '.srt', '']) await put(`endings/train/c/other${other}`);
  const d = await openDataset(path.join(root, 'endings'), { split: 'train' });
  expect(d.items).toHaveLength(endings.length);
  expect(d.ignored).toBe(5);
});
