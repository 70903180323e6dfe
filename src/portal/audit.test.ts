import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditLog } from './audit.js';
import type { AuditEntry } from '../common/portal.js';

function entry(session: string, op: string, result = 'OK'): AuditEntry {
  return { time: new Date(0).toISOString(), key: 'SHA256:0123456789abcdef', who: '', session, op, result, bytes: 1, durationMs: 0 };
}

test('the audit log appends JSON lines (0600) and reads them from an offset, by session', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'zmx-t-audit-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const log = new AuditLog(join(dir, 'state', 'audit.log'));
  t.after(() => log.dispose());
  log.append(entry('a', 'fs.read'));
  log.append(entry('b', 'fs.write', 'EDENIED'));
  log.append(entry('a', 'exec.start'));
  assert.equal(statSync(log.path).mode & 0o777, 0o600);
  assert.equal(statSync(join(dir, 'state')).mode & 0o777, 0o700);
  const all = await log.read(0, '', 0);
  assert.deepEqual(all.entries.map((e) => e.op), ['fs.read', 'fs.write', 'exec.start']);
  assert.equal(all.offset, statSync(log.path).size);
  assert.deepEqual((await log.read(0, 'a', 0)).entries.map((e) => e.op), ['fs.read', 'exec.start']);
  assert.deepEqual((await log.read(all.offset, '', 0)).entries, []);
  // A line someone else wrote that is not JSON is skipped, not fatal.
  appendFileSync(log.path, 'not json\n');
  log.append(entry('a', 'fs.rm'));
  const after = await log.read(all.offset, '', 0);
  assert.deepEqual(after.entries.map((e) => e.op), ['fs.rm']);
  await assert.rejects(log.read(after.offset + 100, '', 0), /past the log's end/);
});

test('a read with nothing new waits for the next line', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'zmx-t-audit-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const log = new AuditLog(join(dir, 'audit.log'));
  t.after(() => log.dispose());
  const waiting = log.read(0, '', 60_000);
  setImmediate(() => log.append(entry('a', 'fs.stat')));
  const r = await waiting;
  assert.deepEqual(r.entries.map((e) => e.op), ['fs.stat']);
});

test('rotation by size: files kept bounded and 0600, a follower reads every line once, in order, across rotations', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'zmx-t-audit-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const lineBytes = JSON.stringify(entry('s', 'op-0000')).length + 1;
  const log = new AuditLog(join(dir, 'audit.log'), { maxBytes: lineBytes * 10, files: 3 });
  t.after(() => log.dispose());
  const total = 95;
  // The follower waits for lines while they are written, as `zmx audit --follow` does.
  const seen: string[] = [];
  const follow = (async () => {
    let offset = 0;
    while (seen.length < total) {
      const r = await log.read(offset, '', 5_000);
      seen.push(...r.entries.map((e) => e.op));
      offset = r.offset;
    }
  })();
  for (let i = 0; i < total; i++) {
    log.append(entry('s', `op-${String(i).padStart(4, '0')}`));
    if (i % 7 === 0) await new Promise((r) => setImmediate(r)); // let the follower in between rotations
  }
  await follow;
  assert.deepEqual(seen, Array.from({ length: total }, (_, i) => `op-${String(i).padStart(4, '0')}`), 'every line once, in order');
  const files = readdirSync(dir).filter((n) => n.startsWith('audit.log')).sort();
  assert.equal(files.length, 3, `the current file and two rotated: ${files.join(' ')}`);
  for (const f of files) {
    assert.equal(statSync(join(dir, f)).mode & 0o777, 0o600, `${f} is 0600`);
    assert.ok(statSync(join(dir, f)).size <= lineBytes * 10, `${f} is within the bound`);
  }
  // A reader from 0 (behind the oldest file kept) goes on from the oldest line still there.
  const fromStart = await log.read(0, '', 0);
  assert.equal(fromStart.entries[0]?.op, 'op-0070');
  // A new AuditLog on the same files (a restarted front) goes on numbering positions from where they were.
  const end = (await log.read(fromStart.offset, '', 0)).offset;
  log.dispose();
  const again = new AuditLog(join(dir, 'audit.log'), { maxBytes: lineBytes * 10, files: 3 });
  t.after(() => again.dispose());
  again.append(entry('s', 'after-restart'));
  assert.deepEqual((await again.read(end, '', 0)).entries.map((e) => e.op), ['after-restart']);
});

test('hasRecent finds a command end among the last records, across a rotation, and not further back or inside another value', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'zmx-t-audit-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const log = new AuditLog(join(dir, 'audit.log'), { maxBytes: 600, files: 3 });
  t.after(() => log.dispose());
  log.append({ ...entry('a', 'exec'), end: '1:100:5' });
  // A path that spells the field is escaped in its line: no match.
  log.append({ ...entry('a', 'fs.read'), path: '"end":"9:9:9"' });
  for (let i = 0; i < 6; i++) log.append(entry('a', 'fs.read')); // the first file rotates
  log.append({ ...entry('a', 'exec'), end: '2:200:6' });
  assert.ok(readdirSync(dir).some((f) => /^audit\.log\.\d+$/.test(f)), 'rotated');
  assert.equal(log.hasRecent('end', '2:200:6'), true, 'in the current file');
  assert.equal(log.hasRecent('end', '1:100:5'), true, 'in the rotated file');
  assert.equal(log.hasRecent('end', '9:9:9'), false, 'only as part of another value');
  assert.equal(log.hasRecent('end', '1:100:5', 200), false, 'beyond the look-back');
  assert.equal(log.hasRecent('end', '3:300:7'), false);
});
