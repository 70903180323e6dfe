import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PtyWriter } from './pty.js';
import { until } from '../../test/helpers/harness.js';

/** A file stands in for the pty master: what the pool's writes put there is read back. */
function target() {
  const dir = mkdtempSync(join(tmpdir(), 'zmx-ptywriter-'));
  const path = join(dir, 'master');
  const fd = openSync(path, 'w');
  return { fd, read: () => readFileSync(path, 'utf8'), done: () => { closeSync(fd); rmSync(dir, { recursive: true }); } };
}

const eagain = () => Object.assign(new Error('EAGAIN'), { code: 'EAGAIN' });

test('a write goes to the kernel at once when nothing waits, on this thread', () => {
  const t = target();
  const direct: string[] = [];
  const w = new PtyWriter(t.fd, (fd, buf) => { direct.push(buf.toString()); return writeSync(fd, buf); });
  w.write('ab');
  w.write(Buffer.from('c'));
  assert.deepEqual(direct, ['ab', 'c']);
  assert.equal(t.read(), 'abc', 'written before write() returned');
  t.done();
});

test('what a full buffer does not take waits, and later writes keep their order behind it', async () => {
  const t = target();
  let room = 2;
  let direct = 0;
  // The "kernel" takes 2 bytes, then answers EAGAIN as a full pty buffer does.
  const w = new PtyWriter(t.fd, (fd, buf) => {
    direct++;
    if (room === 0) throw eagain();
    const n = writeSync(fd, buf.subarray(0, room));
    room -= n;
    return n;
  });
  const first = Buffer.from('hello');
  w.write(first);
  first.fill(0x2a); // the caller's buffer is theirs again
  w.write(' world');
  w.write('!');
  assert.equal(direct, 1, 'while input waits, nothing jumps the queue');
  assert.equal(w.waiting, true);
  // The pool's last write lands before its callback runs: wait for the writer, not the file.
  await until(() => !w.waiting, 'the queued input written');
  assert.equal(t.read(), 'hello world!');
  w.write('?');
  assert.equal(direct, 2, 'once the queue is empty, writes go at once again');
  // The kernel is still full: '?' waits too; done before the file (and its fd number) goes.
  await until(() => !w.waiting, "'?' written");
  assert.equal(t.read(), 'hello world!?');
  t.done();
});

test('a pty whose program is gone drops its input; a closed writer writes nothing', () => {
  const t = target();
  let calls = 0;
  const w = new PtyWriter(t.fd, () => { calls++; throw Object.assign(new Error('EIO'), { code: 'EIO' }); });
  w.write('lost');
  assert.equal(calls, 1);
  w.close();
  w.write('after');
  assert.equal(calls, 1);
  assert.equal(t.read(), '');
  t.done();
});
