#!/usr/bin/env node
// Assembles src/side/kernels.wat (the side network's SIMD products, see that file) into
// dist/side/kernels.wasm with the `wabt` package. Part of `npm run build`.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import createWabt from 'wabt';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const source = path.join(root, 'src/side/kernels.wat');
const target = path.join(root, 'dist/side/kernels.wasm');
const wabt = await createWabt();
const module = wabt.parseWat(source, fs.readFileSync(source, 'utf8'), { simd: true });
module.validate();
const { buffer } = module.toBinary({});
module.destroy();
fs.mkdirSync(path.dirname(target), { recursive: true });
const tmp = `${target}.tmp-${process.pid}`;
fs.writeFileSync(tmp, buffer);
fs.renameSync(tmp, target);
