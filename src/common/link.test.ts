import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LinkReceiver, LinkSender } from './link.js';
import { FLOW } from './constants.js';

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
});
