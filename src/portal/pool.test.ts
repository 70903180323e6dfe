/**
 * The search pool with real worker threads: a pattern that backtracks for
 * ever is stopped at its deadline (ETIMEDOUT) while the event loop goes on
 * serving; a search whose connection goes is cancelled; one key's share and
 * the pool's size are bounded; a stopped worker is replaced.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rejects } from '../common/testing.js';
import { SearchPool } from './pool.js';

/** Lines that make /(a+)+$/ backtrack exponentially: a run of a's that does not end the line. */
const HOSTILE_LINE = 'a'.repeat(40) + '!';
const HOSTILE = { pattern: '(a+)+$', glob: '', ignoreCase: false, max: 0 };

function tree(t: TestContext): string {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), 'zmx-t-pool-')));
  mkdirSync(join(dir, 'src'));
  writeFileSync(join(dir, 'src', 'evil.txt'), `${HOSTILE_LINE}\n`.repeat(4));
  writeFileSync(join(dir, 'src', 'ok.txt'), 'needle\n');
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const A = { client: 'c1', key: 'k1' };
const B = { client: 'c2', key: 'k2' };

test('a backtracking pattern ends with ETIMEDOUT at its deadline; the event loop keeps turning; others are served meanwhile', async (t) => {
  const root = tree(t);
  const pool = new SearchPool({ deadlineMs: 1_500 });
  t.after(() => pool.dispose());
  let ticks = 0;
  const ticker = setInterval(() => ticks++, 10);
  t.after(() => clearInterval(ticker));
  const hostile = pool.run(A, { op: 'grep', root, confined: false, path: '.', opts: HOSTILE });
  // Another key's search is answered while the hostile one runs.
  const other = await pool.run(B, { op: 'grep', root, confined: false, path: 'src/ok.txt', opts: { pattern: 'needle', glob: '', ignoreCase: false, max: 0 } });
  assert.deepEqual(other.matches, [{ path: 'src/ok.txt', line: 1, text: 'needle' }]);
  const ticksDuring = ticks;
  const err = await rejects(hostile, 'ETIMEDOUT', 'the hostile grep');
  assert.match(err.message, /deadline/);
  assert.ok(ticks > ticksDuring, `the front's event loop ran timers while the pattern backtracked (${ticks} ticks)`);
  // The pool replaced the terminated worker: the next search works.
  const after = await pool.run(A, { op: 'list', root, confined: false, path: 'src', opts: { recursive: false, glob: '', all: false, max: 0 } });
  assert.deepEqual(after.entries.map((e) => e.path), ['src/evil.txt', 'src/ok.txt']);
});

test('cancel (the connection went away) stops its running search at once with EUNAVAIL', async (t) => {
  const root = tree(t);
  const fds = readdirSync('/proc/self/fd').length;
  const pool = new SearchPool({ deadlineMs: 60_000 });
  const hostile = pool.run(A, { op: 'grep', root, confined: false, path: '.', opts: HOSTILE });
  setImmediate(() => pool.cancel(A.client));
  await rejects(hostile, 'EUNAVAIL', 'cancelled grep');
  const ok = await pool.run(A, { op: 'readFiles', root, confined: false, paths: ['src/ok.txt'] });
  assert.equal(ok.data.toString(), 'needle\n');
  await pool.dispose();
  assert.equal(pool.size, 0);
  assert.ok(readdirSync('/proc/self/fd').length <= fds, 'the terminated workers left no files open');
});

test('one key holds at most perKey searches (ETOOBIG past it); the pool never runs more than its workers', async (t) => {
  const root = tree(t);
  const pool = new SearchPool({ deadlineMs: 60_000, workers: 2, perKey: 2 });
  t.after(() => pool.dispose());
  const first = [pool.run(A, { op: 'grep', root, confined: false, path: '.', opts: HOSTILE }), pool.run(A, { op: 'grep', root, confined: false, path: '.', opts: HOSTILE })];
  await rejects(pool.run(A, { op: 'grep', root, confined: false, path: '.', opts: HOSTILE }), 'ETOOBIG', 'a third search of the same key');
  const queued = pool.run(B, { op: 'list', root, confined: false, path: '.', opts: { recursive: true, glob: '', all: false, max: 0 } });
  assert.ok(pool.size <= 2, `at most 2 workers (${pool.size})`);
  pool.cancel(A.client);
  await Promise.all(first.map((p) => rejects(p, 'EUNAVAIL', 'cancelled')));
  assert.equal((await queued).entries.length, 3, 'the queued search of another key ran once workers were free');
});
