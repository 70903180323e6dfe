/**
 * Per-stream credit, transport-free: the one place the rules of
 * docs/protocol.md "Credits" live, used by the front for the streams it
 * fans out and by the pty host for direct streams.
 *
 * A stream may have FLOW.streamWindowBytes of output in flight (sent, not
 * yet acknowledged by the client). Past it the stream falls *behind*:
 * further output is only counted (`skipped`), and once the client has
 * caught up below FLOW.resyncBelowFraction of the window the owner sends
 * the pane's current screen (Resync) instead of the backlog.
 */
import { FLOW } from './constants.js';

/** Acknowledged entries are dropped from the head of the list in batches of at least this many. */
const COMPACT_AFTER = 1024;

export class StreamCredit {
  /** Output sent and not yet acknowledged, oldest first (from `head`). */
  private inflight: { seq: number; bytes: number }[] = [];
  private head = 0;
  private bytes = 0;
  /** Output went unsent because the window was full; a Resync will replace it. */
  behind = false;
  /** Bytes not sent while behind, reported in the Resync. */
  skipped = 0;
  /** A snapshot for a Resync is being taken: the owner buffers output meanwhile. */
  resyncing = false;

  constructor(private readonly windowBytes: number = FLOW.streamWindowBytes) {}

  /**
   * Whether chunk `seq` of `bytes` may be sent now. True counts it in
   * flight; false means the stream is (now) behind and the chunk was only
   * counted as skipped.
   */
  offer(seq: number, bytes: number): boolean {
    if (this.behind) {
      this.skipped += bytes;
      return false;
    }
    if (this.bytes > 0 && this.bytes + bytes > this.windowBytes) {
      this.behind = true;
      this.skipped += bytes;
      return false;
    }
    this.inflight.push({ seq, bytes });
    this.bytes += bytes;
    return true;
  }

  /** The client consumed output up to `seq`; true when a behind stream should be resynced now. */
  ack(seq: number): boolean {
    while (this.head < this.inflight.length && this.inflight[this.head]!.seq <= seq) {
      this.bytes -= this.inflight[this.head]!.bytes;
      this.head++;
    }
    if (this.head === this.inflight.length) {
      this.inflight = [];
      this.head = 0;
    } else if (this.head > COMPACT_AFTER && this.head * 2 > this.inflight.length) {
      this.inflight = this.inflight.slice(this.head);
      this.head = 0;
    }
    return this.resyncDue;
  }

  /** Behind, no snapshot on its way, and the client has caught up far enough. */
  get resyncDue(): boolean {
    return this.behind && !this.resyncing && this.bytes <= this.windowBytes * FLOW.resyncBelowFraction;
  }

  /** Forgets everything in flight (the link that carried it is gone, or a Resync replaces it). */
  clear(): void {
    this.inflight = [];
    this.head = 0;
    this.bytes = 0;
  }

  /**
   * A Resync of `screenBytes` at `seq` goes out: the stream is caught up,
   * with only the screen in flight. Returns the bytes that were skipped.
   */
  resynced(seq: number, screenBytes: number): number {
    const skipped = this.skipped;
    this.behind = false;
    this.skipped = 0;
    this.resyncing = false;
    this.clear();
    this.inflight.push({ seq, bytes: screenBytes });
    this.bytes = screenBytes;
    return skipped;
  }

  /** Bytes in flight now. */
  get inflightBytes(): number {
    return this.bytes;
  }
}
