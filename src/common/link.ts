/**
 * Resumable links, transport-free (as Eternal Terminal's BackedReader and
 * BackedWriter, at message granularity). Each side numbers the messages it
 * sends on the client ↔ front link (`q`: 1, 2, 3...) and keeps them until the
 * peer confirms receipt (Received); the receiver takes each number exactly
 * once and in order. After a dropped connection each side tells the other the
 * last number it took, and the other sends again everything after it — so no
 * reply, output or keystroke is lost or repeated. docs/protocol.md, "Resume".
 */
import { FLOW } from './constants.js';

/** A sent message kept for replay. */
export interface Kept<M> {
  q: number;
  frames: Buffer[];
  bytes: number;
  /** What the owner wants to know about it at replay time (e.g. the stream it belongs to). */
  meta: M;
}

/** The sending half: numbers messages and keeps them until they are confirmed. */
export class LinkSender<M = undefined> {
  private next = 1;
  private kept: Kept<M>[] = [];
  /** Index of the first entry still kept (entries before it were confirmed). */
  private head = 0;
  private bytes = 0;
  /** Set when the backlog outgrew its bound: this link cannot resume any more. */
  private overflowed = false;

  constructor(private readonly maxBytes: number = FLOW.backlogMaxBytes) {}

  /** The number the next message will carry. */
  take(): number {
    return this.next++;
  }

  /** The last number handed out (0 before any). */
  get last(): number {
    return this.next - 1;
  }

  /** Keeps a numbered message (its encoded frames) for replay. */
  keep(q: number, frames: Buffer[], meta: M): void {
    if (this.overflowed) return;
    let bytes = 0;
    for (const f of frames) bytes += f.length;
    this.kept.push({ q, frames, bytes, meta });
    this.bytes += bytes;
    if (this.bytes > this.maxBytes) {
      // Replay is no longer possible: stop paying for it.
      this.overflowed = true;
      this.kept = [];
      this.head = 0;
      this.bytes = 0;
    }
  }

  /** The peer has every message up to `recv`: forget them. */
  confirm(recv: number): void {
    while (this.head < this.kept.length && this.kept[this.head]!.q <= recv) {
      const done = this.kept[this.head]!;
      this.bytes -= done.bytes;
      // Let go of its bytes now: the entry itself lingers until the next compaction.
      done.frames = [];
      this.head++;
    }
    // Compact now and then, so confirmed entries do not pile up at the front.
    if (this.head > 1024 && this.head * 2 > this.kept.length) {
      this.kept = this.kept.slice(this.head);
      this.head = 0;
    }
  }

  /**
   * What the peer, having taken everything up to `recv`, is missing, in
   * order; null when that cannot be given (the backlog overflowed or no
   * longer reaches back to `recv`, or `recv` is ahead of what was sent).
   */
  after(recv: number): Kept<M>[] | null {
    if (this.overflowed || recv > this.last) return null;
    this.confirm(recv);
    const first = this.kept[this.head];
    const firstKept = first ? first.q : this.next;
    if (firstKept !== recv + 1) return null;
    return this.kept.slice(this.head);
  }

  /** Bytes kept for replay now. */
  get keptBytes(): number {
    return this.bytes;
  }

  get canResume(): boolean {
    return !this.overflowed;
  }

  /** A fresh start: numbering from 1, nothing kept. */
  reset(): void {
    this.next = 1;
    this.kept = [];
    this.head = 0;
    this.bytes = 0;
    this.overflowed = false;
  }
}

export type Arrival = 'next' | 'duplicate' | 'gap';

/** The receiving half: takes each number once, in order, and says when to confirm. */
export class LinkReceiver {
  /** The last number taken in order (0 before any). */
  received = 0;
  private unconfirmed = 0;
  private unconfirmedBytes = 0;

  /** Classifies an arriving number (of a message of `bytes`); only 'next' is to be handled. */
  arrive(q: number, bytes = 0): Arrival {
    if (q <= this.received) return 'duplicate';
    if (q !== this.received + 1) return 'gap';
    this.received = q;
    this.unconfirmed++;
    this.unconfirmedBytes += bytes;
    return 'next';
  }

  /** Whether enough has arrived (messages, or bytes the sender keeps meanwhile) that a Received should go now rather than later. */
  get confirmDue(): boolean {
    return this.unconfirmed >= FLOW.receivedEveryMessages || this.unconfirmedBytes >= FLOW.receivedEveryBytes;
  }

  get hasUnconfirmed(): boolean {
    return this.unconfirmed > 0;
  }

  /** The number to confirm; clears the count. */
  confirm(): number {
    this.unconfirmed = 0;
    this.unconfirmedBytes = 0;
    return this.received;
  }

  reset(): void {
    this.received = 0;
    this.unconfirmed = 0;
    this.unconfirmedBytes = 0;
  }
}
