// The README's library example, run as it stands: its code block is written to a file in a
// folder laid out as after `npm run demo` (models/demo, video/demo) and run with node against
// the built package, imported by its name as a user would. It must print what `losa classify`
// prints for the same clips.
import { spawnSync } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { runCli } from './cli-helpers.js';
import { makeRunFixture, type RunFixture } from './run-fixture.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
let f: RunFixture;

beforeAll(async () => {
  if (!existsSync(path.join(root, 'dist', 'index.js'))) throw new Error('dist/ is missing: `npm test` builds it (npm run build)');
  f = await makeRunFixture('losa-readme-');
});
afterAll(async () => {
  if (f) await fs.rm(f.dir, { recursive: true, force: true });
});

/** The first ```js block of the README section `heading`. */
async function exampleOf(heading: string): Promise<string> {
  const readme = await fs.readFile(path.join(root, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf(`\n## ${heading}\n`));
  const block = /```js\n([\s\S]*?)```/.exec(section);
  if (!block) throw new Error(`README: no js block under "## ${heading}"`);
  return block[1]!;
}

it("the README's library example runs and prints what `losa classify` prints", async () => {
  const code = await exampleOf('As a library');
  const home = path.join(f.dir, 'user');
  await fs.mkdir(path.join(home, 'node_modules'), { recursive: true });
  await fs.mkdir(path.join(home, 'models'), { recursive: true });
  await fs.mkdir(path.join(home, 'video'), { recursive: true });
  await fs.symlink(root, path.join(home, 'node_modules', 'losa'));
  await fs.symlink(f.run, path.join(home, 'models', 'demo'));
  await fs.symlink(f.data, path.join(home, 'video', 'demo'));
  await fs.writeFile(path.join(home, 'example.mjs'), code);
  const run = spawnSync(process.execPath, ['example.mjs'], { cwd: home, encoding: 'utf8', env: { ...process.env, CI: '1' } });
  expect(run.stderr).toBe('');
  expect(run.status).toBe(0);
  const clips = ['video/demo/val/moving-left/moving-left-0000.mp4', 'video/demo/val/moving-right/moving-right-0000.mp4'];
  const cli = await runCli(['classify', ...clips, '--checkpoint', 'models/demo', '--top', '2'], home);
  expect(cli.status).toBe(0);
  expect(run.stdout).toBe(cli.stdout);
  expect(run.stdout.trim().split('\n')).toHaveLength(2);
}, 120_000);
