#!/usr/bin/env node
// Runs every compiled test file with node's test runner. Unit tests sit
// beside the logic (dist/src/**/*.test.js); transport and CLI tests under
// dist/test/. Pass file paths or a tier name (unit, transport, cli, security)
// to narrow; other arguments starting with -- (e.g. --test-name-pattern=x)
// go to every file's runner.
//
// Files run in a pool of ZMX_TEST_CONCURRENCY processes (default below),
// slowest first by the times of the last run (dist/.test-times.json, or on
// a clean clone the committed test/times.json), each
// file's output printed whole when it ends. The summary lists each file's
// wall time; with --profile also the zmx CLI processes it started, and the
// run's node processes and their CPU by kind (test/helpers/count-calls.ts).
// CONTRIBUTING.md, "Test suite".
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { spawn } from 'node:child_process';
import { pathToFileURL } from 'node:url';

/**
 * Test files at once. The suite is CPU-bound on 2 cores, and many files
 * also wait (heartbeat timeouts, link cuts, a terminal's redraw), so more
 * files than cores fill what the others leave idle. Measured on this
 * machine: 2 at once 370 s with both cores ≈ 70% busy; 3 at once 344 s at
 * 94% (when a CLI call cost 0.7 s of CPU; at 4 then, CLI calls missed the
 * harness's 30 s deadline). With CLI calls at ≈ 0.11 s (2026-12-07): 3 at
 * once 190 s at 87% busy (50 s of both cores idle), 4 at once 176 s at
 * 97%, every file passing. ZMX_TEST_CONCURRENCY overrides it.
 */
const DEFAULT_CONCURRENCY = 4;
/** One test (not one file) longer than this fails as timed out. */
const TEST_TIMEOUT_MS = 240_000;
const TIMES_FILE = 'dist/.test-times.json';
/**
 * The committed order for a clean clone (CI has no dist/.test-times.json):
 * in name order the slowest file started last and the suite ran ≈ 10 s
 * past its files' fair share of the pool.
 */
const TIMES_HINT = 'test/times.json';

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

const argv = process.argv.slice(2);
const profile = argv.includes('--profile');
const passOn = argv.filter((a) => a.startsWith('--') && a !== '--profile');
const args = argv.filter((a) => !a.startsWith('--'));
const tiers = { unit: ['dist/src'], transport: ['dist/test/transport'], cli: ['dist/test/cli'], security: ['dist/test/security'] };
let files;
if (args.length === 0) files = [...find('dist/src'), ...find('dist/test')];
else files = args.flatMap((a) => (tiers[a] ? tiers[a].flatMap((d) => find(d)) : [a]));
files = [...new Set(files)].sort();

const readTimes = (path) => { try { return JSON.parse(readFileSync(path, 'utf8')); } catch { return {}; } };
// This machine's own last times over the committed ones.
const known = { ...readTimes(TIMES_HINT), ...readTimes(TIMES_FILE) };
// Longest first, so that the slowest file does not start last; unknown ones first of all.
files.sort((a, b) => (known[b] ?? Infinity) - (known[a] ?? Infinity) || a.localeCompare(b));

const concurrency = Math.max(1, Number(process.env['ZMX_TEST_CONCURRENCY']) || DEFAULT_CONCURRENCY);
const reporter = process.stdout.isTTY ? ['--test-reporter=spec'] : [];
const profileDir = profile ? mkdtempSync(join(tmpdir(), 'zmx-profile-')) : null;
const counter = pathToFileURL(resolve('dist/test/helpers/count-calls.js')).href;
const results = [];
/** With --profile: node processes and their CPU by kind (cli, front, ptyhost, other). */
const cpuByKind = {};
const started = Date.now();

function runFile(file, index) {
  return new Promise((done) => {
    const env = { ...process.env };
    let calls = null;
    if (profileDir) {
      calls = join(profileDir, `${index}.calls`);
      writeFileSync(calls, '');
      env['ZMX_TEST_CALLS'] = calls;
      env['NODE_OPTIONS'] = `${env['NODE_OPTIONS'] ?? ''} --import=${counter}`.trim();
    }
    const t0 = Date.now();
    const child = spawn(process.execPath, ['--test', `--test-timeout=${TEST_TIMEOUT_MS}`, ...reporter, ...passOn, file], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const out = [];
    child.stdout.on('data', (d) => out.push(d));
    child.stderr.on('data', (d) => out.push(d));
    child.on('close', (code, signal) => {
      const ms = Date.now() - t0;
      process.stdout.write(`# ---- ${file} (${(ms / 1000).toFixed(1)} s) ----\n`);
      process.stdout.write(Buffer.concat(out));
      const lines = calls ? readFileSync(calls, 'utf8').split('\n').filter(Boolean).map((l) => l.split(' ')) : null;
      for (const [kind, cpu] of lines ?? []) {
        const k = (cpuByKind[kind] ??= { n: 0, ms: 0 });
        k.n++;
        k.ms += Number(cpu) || 0;
      }
      const cpu = lines ? lines.reduce((sum, [, ms]) => sum + (Number(ms) || 0), 0) : null;
      results.push({ file, ms, ok: code === 0, calls: lines ? lines.filter(([kind]) => kind === 'cli').length : null, cpu, signal });
      done();
    });
  });
}

const queue = files.map((f, i) => [f, i]);
await Promise.all(Array.from({ length: Math.min(concurrency, queue.length) }, async () => {
  for (let next = queue.shift(); next; next = queue.shift()) await runFile(...next);
}));

const wall = Date.now() - started;
results.sort((a, b) => b.ms - a.ms);
process.stdout.write(`\n# ${files.length} files, ${concurrency} at once, ${(wall / 1000).toFixed(1)} s\n`);
for (const r of results) {
  const counted = r.calls === null ? '' : `${String(r.calls).padStart(6)} calls ${(r.cpu / 1000).toFixed(1).padStart(6)} s CPU`;
  process.stdout.write(`# ${(r.ms / 1000).toFixed(1).padStart(7)} s${counted}  ${r.ok ? '  ' : 'FAIL'} ${r.file}\n`);
}
if (profileDir) {
  process.stdout.write(`# node processes by kind: ${Object.entries(cpuByKind).sort((a, b) => b[1].ms - a[1].ms).map(([kind, k]) => `${kind} ${k.n} (${(k.ms / 1000).toFixed(1)} s CPU)`).join(', ')}\n`);
}
const failed = results.filter((r) => !r.ok);
if (failed.length) process.stdout.write(`# failed: ${failed.map((r) => r.file).join(' ')}\n`);
// Only a whole, unfiltered file's time is worth keeping for the order.
if (!passOn.some((a) => a.startsWith('--test-name-pattern') || a.startsWith('--test-only'))) {
  try {
    const times = { ...known };
    for (const r of results) times[r.file] = r.ms;
    writeFileSync(TIMES_FILE, JSON.stringify(times, null, 1) + '\n');
  } catch { /* no dist: nothing to keep */ }
}
if (profileDir) rmSync(profileDir, { recursive: true, force: true });
process.exit(failed.length ? 1 : 0);
