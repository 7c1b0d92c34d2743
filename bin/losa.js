#!/usr/bin/env node
// The installed `losa` command: the compiled CLI lives in dist/ (built by `npm run build`, run by `prepare`).
import { main } from '../dist/cli.js';

process.exitCode = await main(process.argv.slice(2));
