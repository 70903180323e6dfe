/**
 * The frame scheduler's policy, on a fake clock: lone changes are drawn in
 * the same turn, a stream is drawn once per frame interval with the latest
 * state, and a finished stream stops throttling.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FrameScheduler, type FrameOptions, type FrameTimers } from './frames.js';

const OPTS: FrameOptions = { frameMs: 16, burstBytes: 1000, drainBytesPerMs: 10 };

/** A clock that moves only when told; `soon` callbacks run at the end of the current "turn" (endTurn). */
class FakeTimers implements FrameTimers {
  t = 0;
  private turn: (() => void)[] = [];
  private timers: { at: number; fn: () => void }[] = [];

  now(): number {
    return this.t;
  }

  soon(fn: () => void): () => void {
    this.turn.push(fn);
    return () => { this.turn = this.turn.filter((f) => f !== fn); };
  }

  later(ms: number, fn: () => void): () => void {
    const entry = { at: this.t + ms, fn };
    this.timers.push(entry);
    return () => { this.timers = this.timers.filter((e) => e !== entry); };
  }

  endTurn(): void {
    for (const fn of this.turn.splice(0)) fn();
  }

  /** Moves the clock to `t`, running the timers due by then. */
  advance(ms: number): void {
    const until = this.t + ms;
    for (;;) {
      const due = this.timers.filter((e) => e.at <= until).sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      this.timers = this.timers.filter((e) => e !== due);
      this.t = due.at;
      due.fn();
      this.endTurn();
    }
    this.t = until;
  }

  get waiting(): number {
    return this.timers.length + this.turn.length;
  }
}

function rig(): { timers: FakeTimers; frames: FrameScheduler; drawn: number[] } {
  const timers = new FakeTimers();
  const drawn: number[] = [];
  const frames = new FrameScheduler(() => drawn.push(timers.now()), OPTS, timers);
  return { timers, frames, drawn };
}

test('a lone change is drawn at the end of its turn, even right after a frame', () => {
  const { timers, frames, drawn } = rig();
  frames.output(1);
  frames.request();
  timers.endTurn();
  assert.deepEqual(drawn, [0]);
  // The next echo, a millisecond later: drawn in its own turn, not at the next frame interval.
  timers.advance(1);
  frames.output(1);
  frames.request();
  timers.endTurn();
  assert.deepEqual(drawn, [0, 1]);
});

test('requests in one turn share one frame', () => {
  const { timers, frames, drawn } = rig();
  for (let i = 0; i < 5; i++) {
    frames.output(10);
    frames.request();
  }
  assert.ok(frames.pending);
  timers.endTurn();
  assert.deepEqual(drawn, [0]);
  assert.equal(frames.pending, false);
});

test('a stream is drawn once per frame interval, with what came meanwhile', () => {
  const { timers, frames, drawn } = rig();
  frames.output(OPTS.burstBytes + 1);
  assert.ok(frames.streaming);
  frames.request();
  timers.endTurn();
  // The first frame of a stream: the last frame was long ago.
  assert.deepEqual(drawn, [0]);
  // Chunk after chunk, each asking for a frame: none before the interval is over.
  for (let ms = 1; ms < 40; ms++) {
    timers.advance(1);
    frames.output(100);
    frames.request();
    timers.endTurn();
  }
  assert.deepEqual(drawn, [0, 16, 32]);
});

test('once a stream stops, lone changes are drawn at once again', () => {
  const { timers, frames, drawn } = rig();
  // A long flood: the bucket is capped, so it drains in bounded time.
  for (let ms = 0; ms < 1000; ms++) {
    frames.output(10_000);
    timers.advance(1);
  }
  assert.ok(frames.streaming);
  frames.request();
  timers.endTurn();
  assert.equal(drawn.length, 1);
  // Two bursts' worth at most, drained at drainBytesPerMs: 2 * 1000 / 10 = 200 ms.
  timers.advance(200);
  assert.equal(frames.streaming, false);
  const t = timers.now();
  timers.advance(1);
  frames.output(1);
  frames.request();
  timers.endTurn();
  assert.deepEqual(drawn.slice(1), [t + 1]);
});

test('interactive output at a low rate never counts as a stream', () => {
  const { timers, frames, drawn } = rig();
  // 50 bytes every 10 ms is 5 bytes/ms, under the drain rate.
  for (let i = 0; i < 100; i++) {
    frames.output(50);
    frames.request();
    timers.endTurn();
    assert.equal(frames.streaming, false);
    timers.advance(10);
  }
  assert.equal(drawn.length, 100);
});

test('dispose cancels a pending frame and refuses new ones', () => {
  const { timers, frames, drawn } = rig();
  frames.output(OPTS.burstBytes + 1);
  frames.request();
  timers.endTurn();
  timers.advance(1);
  frames.request();
  assert.ok(frames.pending);
  frames.dispose();
  frames.request();
  timers.advance(100);
  timers.endTurn();
  assert.deepEqual(drawn, [0]);
  assert.equal(timers.waiting, 0);
});
