import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StreamCredit } from './credit.js';
import { FLOW } from './constants.js';

test('credit: a chunk fits while the window has room; the first chunk always goes, however large', () => {
  const c = new StreamCredit(100);
  assert.equal(c.offer(1, 250), true, 'an empty window takes any chunk');
  assert.equal(c.offer(2, 1), false, 'past the window the stream falls behind');
  assert.equal(c.behind, true);
  assert.equal(c.offer(3, 7), false, 'behind: counted, not sent');
  assert.equal(c.skipped, 8);
});

test('credit: acks return credit; a behind stream is due for a Resync once below the resync fraction', () => {
  const c = new StreamCredit(100);
  for (let seq = 1; seq <= 10; seq++) assert.equal(c.offer(seq, 10), true);
  assert.equal(c.offer(11, 10), false);
  assert.equal(c.ack(3), false, '70 bytes still in flight: above half the window');
  assert.equal(c.inflightBytes, 70);
  assert.equal(c.ack(5), FLOW.resyncBelowFraction >= 0.5, 'at half the window the Resync is due');
  c.resyncing = true;
  assert.equal(c.resyncDue, false, 'not twice while a snapshot is on its way');
  const skipped = c.resynced(11, 30);
  assert.equal(skipped, 10);
  assert.equal(c.behind, false);
  assert.equal(c.inflightBytes, 30, 'only the screen is in flight after a Resync');
  assert.equal(c.offer(12, 10), true);
  c.ack(12);
  assert.equal(c.inflightBytes, 0);
});

test('credit: many acknowledged entries are compacted without losing the ones in flight', () => {
  const c = new StreamCredit(1 << 30);
  for (let seq = 1; seq <= 5000; seq++) c.offer(seq, 1);
  c.ack(4000);
  assert.equal(c.inflightBytes, 1000);
  c.ack(4999);
  assert.equal(c.inflightBytes, 1);
  c.clear();
  assert.equal(c.inflightBytes, 0);
});
