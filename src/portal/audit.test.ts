import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, rmSync, statSync } from 'node:fs';
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
