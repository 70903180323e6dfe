#!/usr/bin/env node
// Runs every compiled test file with node's test runner. Unit tests sit
// beside the logic (dist/src/**/*.test.js); transport and CLI tests under
// dist/test/. Pass file paths or a tier name (unit, transport, cli, security) to narrow.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

function find(dir, out = []) {
  let entries;
  try { entries = readdirSync(dir); } catch { return out; }
  for (const name of entries) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) find(path, out);
    else if (name.endsWith('.test.js')) out.push(path);
  }
  return out;
}

const args = process.argv.slice(2);
const tiers = { unit: ['dist/src'], transport: ['dist/test/transport'], cli: ['dist/test/cli'], security: ['dist/test/security'] };
let files;
if (args.length === 0) files = [...find('dist/src'), ...find('dist/test')];
else files = args.flatMap((a) => (tiers[a] ? tiers[a].flatMap((d) => find(d)) : [a]));
files.sort();
const result = spawnSync(process.execPath, ['--test', '--test-concurrency=2', '--test-timeout=240000', ...files], { stdio: 'inherit' });
process.exit(result.status ?? 1);
