/**
 * Pane output on its way to the user's terminal (`zmx attach --raw`).
 *
 * Messages that arrive together (a backlog libzmq hands over one after the
 * other, in one turn of the event loop) are written together: the stream
 * is corked at the first chunk and uncorked once the turn's messages are
 * handled (process.nextTick runs after that chain of promise jobs), so a
 * flood takes one writev per batch instead of one write per message, and
 * nothing is copied. A lone echo still goes out in the turn it arrived.
 *
 * Credit follows the bytes: a stream is held (no Acks) from its first chunk
 * in a batch until the batch has been handed to the terminal, and after
 * that for as long as the terminal has not taken it (a stream that must
 * drain; a TTY on Linux is written synchronously and never needs to).
 */
import type { Writable } from 'node:stream';
import type { Connection } from './connection.js';

export type Credit = Pick<Connection, 'hold' | 'release'>;

export class TerminalOutput {
  private open = false;
  /** Streams whose chunks are in the open batch (their credit is held). */
  private readonly batched = new Set<number>();
  /** Streams held until the terminal drains. */
  private readonly draining = new Set<number>();

  constructor(private readonly out: Writable, private readonly credit: Credit) {}

  /** Writes bytes at the end of this batch: output of stream `sid`, or (sid null) the client's own. */
  write(sid: number | null, data: Buffer | string): void {
    if (!this.open) {
      this.open = true;
      this.out.cork();
      process.nextTick(this.flush);
    }
    if (sid !== null && !this.batched.has(sid)) {
      this.batched.add(sid);
      this.credit.hold(sid);
    }
    this.out.write(data);
  }

  /** Hands the open batch to the terminal now (the client calls it before it leaves). */
  readonly flush = (): void => {
    if (!this.open) return;
    this.open = false;
    this.out.uncork();
    const backedUp = this.out.writableNeedDrain;
    const listening = this.draining.size > 0;
    for (const sid of this.batched) {
      if (backedUp && !this.draining.has(sid)) {
        this.draining.add(sid);
        this.credit.hold(sid);
      }
      this.credit.release(sid);
    }
    this.batched.clear();
    if (backedUp && !listening) {
      this.out.once('drain', () => {
        for (const sid of this.draining) this.credit.release(sid);
        this.draining.clear();
      });
    }
  };
}
