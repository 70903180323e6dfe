/**
 * TerminalOutput on a real Writable (the terminal's stand-in) and a
 * recording credit: a batch of chunks is one writev, the stream's credit is
 * held until its bytes are written, and until a backed-up terminal drains.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { TerminalOutput, type Credit } from './terminal-output.js';

/**
 * A terminal that records each write call; a slow one (with a 4-byte
 * high-water mark) keeps each write pending until complete() is called.
 */
class Terminal extends Writable {
  calls: string[][] = [];
  private pending: (() => void)[] = [];

  constructor(private readonly slow = false) {
    super(slow ? { highWaterMark: 4 } : {});
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.calls.push([chunk.toString()]);
    if (this.slow) this.pending.push(() => cb()); else cb();
  }

  override _writev(chunks: { chunk: Buffer }[], cb: (err?: Error | null) => void): void {
    this.calls.push(chunks.map((c) => c.chunk.toString()));
    if (this.slow) this.pending.push(() => cb()); else cb();
  }

  complete(): void {
    for (const cb of this.pending.splice(0)) cb();
  }
}

function recorder(): Credit & { log: string[] } {
  const log: string[] = [];
  return { log, hold: (sid) => { log.push(`hold ${sid}`); }, release: (sid) => { log.push(`release ${sid}`); } };
}

const tick = () => new Promise<void>((r) => process.nextTick(r));

test('chunks that arrive together are written together, in order, with the credit held until then', async () => {
  const term = new Terminal();
  const credit = recorder();
  const out = new TerminalOutput(term, credit);
  out.write(null, 'clear;');
  out.write(7, 'a');
  out.write(7, 'b');
  out.write(7, 'c');
  assert.deepEqual(term.calls, [], 'nothing is written before the batch ends');
  assert.deepEqual(credit.log, ['hold 7']);
  await tick();
  assert.deepEqual(term.calls, [['clear;', 'a', 'b', 'c']]);
  assert.deepEqual(credit.log, ['hold 7', 'release 7']);
  // A later chunk is a batch of its own.
  out.write(7, 'd');
  await tick();
  assert.deepEqual(term.calls, [['clear;', 'a', 'b', 'c'], ['d']]);
});

test('flush writes the open batch at once', () => {
  const term = new Terminal();
  const credit = recorder();
  const out = new TerminalOutput(term, credit);
  out.write(3, 'bye');
  out.flush();
  assert.deepEqual(term.calls, [['bye']]);
  assert.deepEqual(credit.log, ['hold 3', 'release 3']);
  out.flush();
  assert.equal(term.calls.length, 1, 'a second flush has nothing to write');
});

test('a terminal that has not taken the bytes keeps the credit held until it drains', async () => {
  const term = new Terminal(true);
  const credit = recorder();
  const out = new TerminalOutput(term, credit);
  out.write(5, 'more than the high-water mark');
  await tick();
  assert.deepEqual(credit.log, ['hold 5', 'hold 5', 'release 5'], 'still held once after the batch');
  // More output meanwhile: its batch ends, and the stream stays held.
  out.write(5, 'x');
  await tick();
  assert.deepEqual(credit.log.slice(3), ['hold 5', 'release 5']);
  term.complete();
  await tick();
  term.complete();
  await new Promise<void>((r) => setImmediate(r));
  assert.deepEqual(credit.log.slice(5), ['release 5'], 'released once the terminal drained');
});
