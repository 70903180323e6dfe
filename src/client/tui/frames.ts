/**
 * When the full-screen client draws. A lone change (a keystroke's echo, a
 * prompt, a status tick) is drawn at the end of the turn it arrives in, so
 * it reaches the user's terminal without waiting for a timer. While output
 * streams in (a build log, `cat` of a big file) frames come at most once per
 * `frameMs`: a flood costs one frame per interval, not one per chunk, and
 * each frame shows the screen as it is by then (frames are skipped, never
 * queued).
 *
 * "Streaming" is measured as a leaky bucket of output bytes: arriving output
 * fills it, time drains it at `drainBytesPerMs`; above `burstBytes` the
 * output is a stream. Interactive output (echoes, an editor's repaint per
 * key) stays far below; a flood fills it within a few milliseconds. The
 * bucket holds at most BUCKET_BURSTS bursts, so once a flood stops, lone
 * changes are drawn at once again within burstBytes / drainBytesPerMs ms.
 */

/** The bucket's size, in bursts: more would keep a finished flood counting as a stream for longer. */
const BUCKET_BURSTS = 2;

/** The clock and timers the scheduler runs on (a fake one in its unit test). */
export interface FrameTimers {
  /** Milliseconds, monotonic. */
  now(): number;
  /** Runs `fn` once this turn of the event loop has handled its I/O; returns a cancel. */
  soon(fn: () => void): () => void;
  /** Runs `fn` after `ms`; returns a cancel. */
  later(ms: number, fn: () => void): () => void;
}

export const NODE_TIMERS: FrameTimers = {
  now: () => performance.now(),
  soon(fn) {
    const h = setImmediate(fn);
    return () => clearImmediate(h);
  },
  later(ms, fn) {
    const h = setTimeout(fn, ms);
    return () => clearTimeout(h);
  },
};

export interface FrameOptions {
  /** While output streams, at most one frame per this many ms. */
  frameMs: number;
  /** Output bytes that may arrive at once without counting as a stream. */
  burstBytes: number;
  /** The output rate (bytes per ms) that never counts as a stream. */
  drainBytesPerMs: number;
}

export class FrameScheduler {
  private cancel: (() => void) | null = null;
  /** When the last frame was drawn. */
  private lastFrame = Number.NEGATIVE_INFINITY;
  /** Bytes in the bucket as of `levelAt`. */
  private level = 0;
  private levelAt = 0;
  private disposed = false;

  constructor(private readonly draw: () => void, private readonly opts: FrameOptions, private readonly timers: FrameTimers = NODE_TIMERS) {}

  /** Counts `bytes` of output that arrived now toward the stream measure. */
  output(bytes: number): void {
    this.level = Math.min(this.levelNow() + bytes, BUCKET_BURSTS * this.opts.burstBytes);
    this.levelAt = this.timers.now();
  }

  /** Whether output is streaming in now (the bucket is over its burst). */
  get streaming(): boolean {
    return this.levelNow() > this.opts.burstBytes;
  }

  /** Whether a frame is asked for and not drawn yet. */
  get pending(): boolean {
    return this.cancel !== null;
  }

  /**
   * Asks for a frame: at the end of this turn, unless output is streaming
   * and the last frame was less than `frameMs` ago — then when that
   * interval is over. Asking again before it is drawn changes nothing.
   */
  request(): void {
    if (this.cancel || this.disposed) return;
    const wait = this.streaming ? this.lastFrame + this.opts.frameMs - this.timers.now() : 0;
    this.cancel = wait > 0 ? this.timers.later(wait, this.fire) : this.timers.soon(this.fire);
  }

  dispose(): void {
    this.disposed = true;
    this.cancel?.();
    this.cancel = null;
  }

  private readonly fire = () => {
    this.cancel = null;
    this.lastFrame = this.timers.now();
    this.draw();
  };

  private levelNow(): number {
    const drained = (this.timers.now() - this.levelAt) * this.opts.drainBytesPerMs;
    return Math.max(0, this.level - drained);
  }
}
