import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LinkReceiver, LinkSender } from './link.js';
import { FLOW } from './constants.js';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** A full garbage collection, without starting node with --expose-gc. */
function collectGarbage(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

const frame = (n: number) => [Buffer.alloc(n, 1)];

test('a sender numbers from 1, keeps until confirmed, and gives what a peer missed', () => {
  const out = new LinkSender<string>();
  for (const name of ['a', 'b', 'c', 'd']) out.keep(out.take(), frame(10), name);
  assert.equal(out.last, 4);
  assert.equal(out.keptBytes, 40);
  assert.deepEqual(out.after(2)?.map((k) => [k.q, k.meta]), [[3, 'c'], [4, 'd']]);
  // after() confirms what the peer says it has.
  assert.equal(out.keptBytes, 20);
  out.confirm(3);
  assert.deepEqual(out.after(3)?.map((k) => k.q), [4]);
  assert.deepEqual(out.after(4), [], 'nothing missing');
});

test('a sender cannot resume a peer further back than it kept, or ahead of what it sent', () => {
  const out = new LinkSender();
  for (let i = 0; i < 5; i++) out.keep(out.take(), frame(1), undefined);
  out.confirm(3);
  assert.equal(out.after(2), null, 'messages 3 was confirmed and forgotten');
  assert.equal(out.after(9), null, 'the peer claims messages never sent');
  assert.deepEqual(out.after(3)?.map((k) => k.q), [4, 5]);
});

test('a backlog past its bound gives up resuming instead of growing', () => {
  const out = new LinkSender(100);
  out.keep(out.take(), frame(60), undefined);
  assert.ok(out.canResume);
  out.keep(out.take(), frame(60), undefined);
  assert.ok(!out.canResume);
  assert.equal(out.keptBytes, 0);
  assert.equal(out.after(0), null);
  out.reset();
  assert.ok(out.canResume);
  assert.equal(out.take(), 1);
});

test('many confirmed messages are compacted away', () => {
  const out = new LinkSender();
  for (let i = 0; i < 5000; i++) out.keep(out.take(), frame(1), undefined);
  out.confirm(4990);
  assert.equal(out.keptBytes, 10);
  assert.deepEqual(out.after(4995)?.map((k) => k.q), [4996, 4997, 4998, 4999, 5000]);
});

test('a receiver takes each number once and in order, and says when to confirm', () => {
  const inn = new LinkReceiver();
  assert.equal(inn.arrive(2), 'gap');
  assert.equal(inn.arrive(1), 'next');
  assert.equal(inn.arrive(1), 'duplicate');
  assert.equal(inn.arrive(3), 'gap');
  assert.equal(inn.arrive(2), 'next');
  assert.equal(inn.received, 2);
  assert.ok(inn.hasUnconfirmed && !inn.confirmDue);
  assert.equal(inn.confirm(), 2);
  assert.ok(!inn.hasUnconfirmed);
  for (let q = 3; q < 3 + FLOW.receivedEveryMessages; q++) inn.arrive(q);
  assert.ok(inn.confirmDue);
  inn.confirm();
  // A few large messages are due as soon as their bytes add up: the sender holds them meanwhile.
  const q0 = inn.received;
  inn.arrive(q0 + 1, FLOW.receivedEveryBytes / 2);
  assert.ok(!inn.confirmDue);
  inn.arrive(q0 + 2, FLOW.receivedEveryBytes / 2);
  assert.ok(inn.confirmDue);
  inn.confirm();
  assert.ok(!inn.confirmDue);
});

test('a confirmed message\'s bytes are let go at once, not at the next compaction', async () => {
  // 1 MiB portal chunks: a few hundred confirmed but still referenced would be hundreds of MiB.
  const s = new LinkSender();
  const keepOne = (): WeakRef<Buffer> => {
    const frame = Buffer.alloc(1024 * 1024, 1);
    s.keep(s.take(), [frame], undefined);
    return new WeakRef(frame);
  };
  const ref = keepOne();
  for (let i = 0; i < 10; i++) s.keep(s.take(), [Buffer.alloc(16)], undefined);
  s.confirm(1);
  assert.equal(s.keptBytes, 10 * 16);
  await new Promise((r) => setImmediate(r));
  collectGarbage();
  assert.equal(ref.deref(), undefined, 'the confirmed frame was collected');
  assert.deepEqual(s.after(1)?.map((k) => k.q), [2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
});
