/**
 * Red team, check-then-use: a separate process swaps a directory of the
 * root for a symlink to outside and back in a tight loop while thousands
 * of reads, writes, mkdirs, lists, greps, stats, moves and removes go
 * through the file service. Nothing outside may be read or written: the
 * canary's bytes never come back, the outside tree never changes.
 *
 * For scale, the same loop of path-checked reads done the old way (resolve,
 * then open the path) is counted too and printed, not asserted: it shows
 * the race is real on this machine.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FsService } from '../../src/portal/fs.js';
import { Root } from '../../src/portal/root.js';
import { listing } from '../helpers/tree.js';
import { until } from '../helpers/harness.js';

const CANARY = 'CANARY-outside-bytes';
const ROUNDS = 600;

/** Swaps ROOT/d for a symlink to OUTSIDE and back, as fast as it can, until killed. */
const SWAPPER = `
const fs = require('node:fs');
const [root, outside] = process.argv.slice(1);
fs.writeFileSync(root + '/.swapper-ready', '');
for (;;) {
  try { fs.renameSync(root + '/d', root + '/d.real'); } catch {}
  try { fs.symlinkSync(outside, root + '/d'); } catch {}
  try { fs.unlinkSync(root + '/d'); } catch {}
  try { fs.renameSync(root + '/d.real', root + '/d'); } catch {}
}`;

test(`a racing symlink swapper: ${ROUNDS} rounds of every op, 0 escapes`, async (t) => {
  const base = realpathSync(mkdtempSync(join(tmpdir(), 'zmx-t-race-')));
  const dir = join(base, 'root');
  const outside = join(base, 'outside');
  mkdirSync(join(dir, 'd'), { recursive: true });
  mkdirSync(join(outside, 'sub'), { recursive: true });
  writeFileSync(join(dir, 'd', 'f'), 'inside');
  writeFileSync(join(outside, 'f'), CANARY);
  writeFileSync(join(outside, 'sub', 'f'), CANARY);
  const svc = new FsService();
  const root = await Root.open(dir, { confined: true });
  const swapper = spawn(process.execPath, ['-e', SWAPPER, dir, outside], { stdio: 'ignore' });
  t.after(async () => {
    swapper.kill('SIGKILL');
    await svc.dispose();
    rmSync(base, { recursive: true, force: true });
  });
  await until(() => { try { readFileSync(join(dir, '.swapper-ready')); return true; } catch { return false; } }, 'the swapper to start');
  const before = listing(outside);
  const me = { client: 'c', key: 'k' };
  const outcomes = new Map<string, number>();
  const count = (what: string) => outcomes.set(what, (outcomes.get(what) ?? 0) + 1);
  const leaks: string[] = [];
  const attempt = async (op: string, fn: () => Promise<unknown>): Promise<void> => {
    try {
      const r = await fn();
      count(`${op} OK`);
      if (JSON.stringify(r, (_k, v) => (Buffer.isBuffer(v) ? v.toString('latin1') : v)).includes(CANARY)) leaks.push(`${op} read the canary`);
    } catch (err) {
      count(`${op} ${(err as { code?: string }).code ?? 'throw'}`);
    }
  };
  for (let i = 0; i < ROUNDS; i++) {
    await attempt('read', () => svc.read(root, 'd/f', 0, 100));
    await attempt('write', () => svc.write(root, `d/w${i % 3}`, Buffer.from('pwned'), { mode: null, parents: false }));
    await attempt('mkdir', () => svc.mkdir(root, 'd/m', false));
    await attempt('stat', () => svc.stat(root, 'd/f'));
    await attempt('mv', () => svc.mv(root, `d/w${i % 3}`, 'd/moved', true));
    await attempt('rm', () => svc.rm(root, 'd/m', true));
    await attempt('edit', () => svc.edit(root, 'd/f', 'inside', 'inside', 1));
    if (i % 10 === 0) {
      await attempt('list', () => svc.list(me, root, 'd', { recursive: true, glob: '', all: true, max: 0 }));
      await attempt('grep', () => svc.grep(me, root, 'd', { pattern: 'CANARY', glob: '', ignoreCase: false, max: 0 }));
      await attempt('readFiles', () => svc.readFiles(me, root, ['d/f', 'd/sub/f']));
    }
  }
  // The old way, for scale: check the path, then open it.
  let naive = 0;
  for (let i = 0; i < ROUNDS; i++) {
    const abs = await root.resolve('d/f').catch(() => null);
    if (abs && (await readFile(abs, 'utf8').catch(() => '')) === CANARY) naive++;
  }
  swapper.kill('SIGKILL');
  assert.deepEqual(leaks, [], 'no answer carried the canary');
  assert.deepEqual(listing(outside), before, 'nothing outside was created, changed or removed');
  assert.equal(readFileSync(join(outside, 'f'), 'utf8'), CANARY);
  const ok = [...outcomes].filter(([k]) => k.endsWith(' OK')).reduce((n, [, v]) => n + v, 0);
  assert.ok(ok > 0, 'the operations also succeeded between swaps (the race was run, not only refused)');
  const total = [...outcomes.values()].reduce((a, b) => a + b, 0);
  process.stderr.write(`# red team race: ${total} operations against a swapper, 0 escapes; outcomes ${JSON.stringify(Object.fromEntries(outcomes))}; the old check-then-open read the canary ${naive} times in ${ROUNDS}\n`);
});
