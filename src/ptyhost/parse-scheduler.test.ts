import { test } from 'node:test';
import assert from 'node:assert/strict';
import xtermHeadless from '@xterm/headless';
import { ParseScheduler, PARSE_SLICE_MS, PARSE_VISIT_BYTES, type ParseTarget } from './parse-scheduler.js';

/** A clock the test moves, and a defer that queues slices for the test to run one by one. */
function harness() {
  let t = 0;
  const slices: (() => void)[] = [];
  const sched = new ParseScheduler(() => t, (fn) => slices.push(fn));
  return {
    sched,
    advance: (ms: number) => { t += ms; },
    runSlice: () => { const fn = slices.shift(); assert.ok(fn, 'a slice is scheduled'); fn(); },
    scheduled: () => slices.length,
  };
}

class Target implements ParseTarget {
  parsed: string[] = [];
  constructor(public watched = false, private readonly cost = 0, private readonly h?: { advance(ms: number): void }) {}
  parseNow(data: Buffer): void {
    this.parsed.push(data.toString());
    this.h?.advance(this.cost);
  }
}

test('bytes are parsed in a later slice, in order, coalesced per pane', () => {
  const h = harness();
  const a = new Target();
  h.sched.enqueue(a, Buffer.from('one '));
  h.sched.enqueue(a, Buffer.from('two'));
  assert.deepEqual(a.parsed, [], 'nothing is parsed inside enqueue');
  assert.equal(h.scheduled(), 1, 'one slice for many writes');
  h.runSlice();
  assert.deepEqual(a.parsed, ['one two']);
  assert.equal(h.sched.pending(a), false);
  assert.equal(h.scheduled(), 0, 'no slice once the queue is empty');
});

test('a slice stops when its time is up and the rest waits for the next one, after the sockets are read', () => {
  const h = harness();
  const panes = Array.from({ length: 10 }, () => new Target(false, 1, h));
  for (const p of panes) h.sched.enqueue(p, Buffer.from('x'));
  h.runSlice();
  const first = panes.filter((p) => p.parsed.length > 0).length;
  assert.equal(first, PARSE_SLICE_MS, 'one slice parses only as many 1 ms panes as fit in it');
  assert.equal(h.scheduled(), 1, 'the rest goes to another slice');
  while (h.scheduled() > 0) h.runSlice();
  assert.ok(panes.every((p) => p.parsed.join('') === 'x'), 'every pane is parsed in the end');
});

test('watched panes go first, however late they queued', () => {
  const h = harness();
  const busy = Array.from({ length: 20 }, () => new Target(false, 1, h));
  for (const p of busy) h.sched.enqueue(p, Buffer.from('b'));
  const typed = new Target(true, 1, h);
  h.sched.enqueue(typed, Buffer.from('echo'));
  h.runSlice();
  assert.deepEqual(typed.parsed, ['echo']);
  assert.equal(busy.filter((p) => p.parsed.length > 0).length, PARSE_SLICE_MS - 1);
});

test('one pane printing a lot takes turns with the others, cut at PARSE_VISIT_BYTES', () => {
  const h = harness();
  const flood = new Target();
  const quiet = new Target();
  h.sched.enqueue(flood, Buffer.alloc(PARSE_VISIT_BYTES * 2 + 5, 'f'));
  h.sched.enqueue(quiet, Buffer.from('q'));
  h.runSlice();
  assert.deepEqual(flood.parsed.map((s) => s.length), [PARSE_VISIT_BYTES, PARSE_VISIT_BYTES, 5]);
  assert.deepEqual(quiet.parsed, ['q']);
  // The order within the slice: flood's first visit, quiet, then flood again.
  assert.equal(h.sched.pending(flood), false);
});

test('flush parses a pane at once; drop forgets it', () => {
  const h = harness();
  const a = new Target();
  const b = new Target();
  h.sched.enqueue(a, Buffer.from('a1'));
  h.sched.enqueue(a, Buffer.from('a2'));
  h.sched.enqueue(b, Buffer.from('b'));
  h.sched.flush(a);
  assert.deepEqual(a.parsed, ['a1a2']);
  h.sched.drop(b);
  h.runSlice();
  assert.deepEqual(b.parsed, []);
  h.sched.flush(a);
  assert.deepEqual(a.parsed, ['a1a2'], 'flushing an empty queue parses nothing');
});

test('xterm still parses synchronously through its core (Pane relies on it; if this fails, panes fall back to xterm timers)', () => {
  const term = new xtermHeadless.Terminal({ cols: 20, rows: 3, allowProposedApi: true, logLevel: 'error' });
  const core = (term as unknown as { _core: { writeSync?: (d: Uint8Array) => void } })._core;
  assert.equal(typeof core.writeSync, 'function');
  core.writeSync!(Buffer.from('héllo\r\nw', 'utf8'));
  core.writeSync!(Buffer.from([0xc3]));
  core.writeSync!(Buffer.from([0xa9]));
  assert.equal(term.buffer.active.getLine(0)!.translateToString(true), 'héllo');
  assert.equal(term.buffer.active.getLine(1)!.translateToString(true), 'wé', 'a UTF-8 character split across writes');
  term.dispose();
});
