/**
 * One parser queue for every pane of the pty host.
 *
 * Left to itself each xterm terminal parses its writes from its own timer, up
 * to 12 ms a turn, and Node runs all due timers before it reads a socket
 * again: with 200 busy panes one event-loop turn could parse for seconds
 * while a keystroke for the pane being typed in waited behind it. Here pane
 * output waits in one queue instead and is parsed in slices of at most
 * PARSE_SLICE_MS per turn, the panes someone watches first and the rest in
 * turn, so sockets are read between slices. A pane's queued bytes are parsed
 * at once when its state is read (snapshot, capture, resize), so nothing
 * anyone sees is behind what the pane was sent.
 *
 * Transport-free and xterm-free: a target only has to parse bytes when told.
 */

/** Longest stretch of parsing between two reads of the sockets. */
export const PARSE_SLICE_MS = 4;
/**
 * Most bytes one pane parses per visit of a slice, so one pane printing
 * megabytes takes turns with the others (xterm parses ≈ 30–60 MB/s here,
 * so this is ≈ 1–2 ms).
 */
export const PARSE_VISIT_BYTES = 64 * 1024;

export interface ParseTarget {
  /** Parses `data` now, synchronously. */
  parseNow(data: Buffer): void;
  /** True while someone watches the pane: its bytes go first. */
  readonly watched: boolean;
}

type Clock = () => number;
type Defer = (fn: () => void) => void;

export class ParseScheduler {
  /** Bytes waiting per target, in the order targets get their turn (a Map keeps insertion order). */
  private readonly queues = new Map<ParseTarget, Buffer[]>();
  private scheduled = false;
  private disposed = false;

  constructor(
    private readonly now: Clock = () => performance.now(),
    // A timer, not setImmediate: timers run before Node polls the sockets and
    // immediates after, so a pane's output, numbered and sent from an
    // immediate right after the poll that read it (Pane.flushOutput), never
    // waits behind a slice of other panes' parsing.
    private readonly defer: Defer = (fn) => { setTimeout(fn, 0); },
  ) {}

  /** Queues `data` for `target`, to be parsed in a later slice. */
  enqueue(target: ParseTarget, data: Buffer): void {
    if (this.disposed || data.length === 0) return;
    const queue = this.queues.get(target);
    if (queue) queue.push(data);
    else this.queues.set(target, [data]);
    this.schedule();
  }

  /** True while `target` has bytes not yet parsed. */
  pending(target: ParseTarget): boolean {
    return this.queues.has(target);
  }

  /** Parses everything queued for `target` now (before its state is read). */
  flush(target: ParseTarget): void {
    const queue = this.queues.get(target);
    if (!queue) return;
    this.queues.delete(target);
    target.parseNow(queue.length === 1 ? queue[0]! : Buffer.concat(queue));
  }

  /** Forgets `target`'s queued bytes (its pane is gone). */
  drop(target: ParseTarget): void {
    this.queues.delete(target);
  }

  dispose(): void {
    this.disposed = true;
    this.queues.clear();
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    this.defer(() => this.slice());
  }

  /**
   * One slice: passes over the queue until the slice's time is up, each pass
   * visiting the watched panes first and then every other pane once.
   */
  private slice(): void {
    this.scheduled = false;
    if (this.disposed) return;
    const start = this.now();
    const due = () => this.now() - start >= PARSE_SLICE_MS;
    while (this.queues.size > 0 && !due()) {
      const order = [...this.queues.keys()];
      const pass = [...order.filter((t) => t.watched), ...order.filter((t) => !t.watched)];
      for (const target of pass) {
        this.visit(target);
        if (due()) break;
      }
    }
    if (this.queues.size > 0) this.schedule();
  }

  /** Parses up to PARSE_VISIT_BYTES of `target`'s queue; a target with more left goes to the back of the line. */
  private visit(target: ParseTarget): void {
    const queue = this.queues.get(target);
    if (!queue) return;
    this.queues.delete(target);
    const taken: Buffer[] = [];
    let bytes = 0;
    while (queue.length > 0 && bytes < PARSE_VISIT_BYTES) {
      const head = queue[0]!;
      const room = PARSE_VISIT_BYTES - bytes;
      if (head.length <= room) {
        taken.push(head);
        bytes += head.length;
        queue.shift();
      } else {
        // Cutting a chunk is safe: xterm's parser keeps its state (a split
        // escape sequence or UTF-8 character) between writes.
        taken.push(head.subarray(0, room));
        queue[0] = head.subarray(room);
        bytes += room;
      }
    }
    if (queue.length > 0) this.queues.set(target, queue);
    target.parseNow(taken.length === 1 ? taken[0]! : Buffer.concat(taken));
  }
}
