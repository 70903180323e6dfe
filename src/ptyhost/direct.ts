/**
 * Direct streams (docs/protocol.md, "Direct streams"): pane output and
 * keystrokes of a local client, between the client and the pty host with
 * no front in between. The front keeps every decision — it admits the
 * client, picks the pane, and grants the stream here (host.grant) with a
 * one-time token; the client claims the stream with that token on the pty
 * host's direct endpoint, from the routing id the front saw, proving the
 * key the front admitted (ZAP admits only authorized keys). From then on this
 * module sends the stream's Output, Resync and StreamEnd (for the pane's
 * end) to the client, takes its Input and Ack, and applies the same credit
 * as the front (src/common/credit.ts).
 *
 * Transport-free, as PtyHost: it is handed functions that send frames.
 */
import { timingSafeEqual } from 'node:crypto';
import { ZmxError, toZmxError } from '../common/errors.js';
import { StreamCredit } from '../common/credit.js';
import { MsgType, decode, encode, validateArgs, type Header, type Message, type OpArgs, type StreamEndReason } from '../common/protocol.js';

/** What a direct stream needs of a pane. */
export interface DirectPane {
  input(data: Buffer): void;
  /** The screen as VT at output number `seq` (Pane.snapshot). */
  snapshot(): Promise<{ seq: number; vt: Buffer }>;
  /** Streams whose client's terminal answers the program's queries (Pane.interactive). */
  interactive: number;
  /** Direct streams on the pane, interactive or not (Pane.directViewers). */
  directViewers: number;
}

export interface DirectDeps {
  /** Sends a message to a client on the direct endpoint. */
  send(peer: Buffer, frames: Buffer[]): void;
  /** Sends a message to the front (Event stream.typed). */
  tellFront(header: Header): void;
  /** Checks a claim's proof of key (src/common/curve.ts, as for a Hello). */
  verifyKey(key: string, proof: string, ts: number): boolean;
  pane(id: number): DirectPane | null;
  log?(msg: string): void;
}

/** The ZAP domain of the direct endpoint: it admits the authorized client keys (the other endpoint admits only the front). */
export const DIRECT_ZAP_DOMAIN = 'zmx-direct';

/** Streams granted and never claimed that ended meanwhile: kept (this many at most) so the claim still gets their output and end. */
const ENDED_UNCLAIMED_MAX = 64;
/**
 * Keys of a stream that just took the lead wait at most this long for the
 * front's host.lead, the answer that comes behind the resize to the new
 * leader's size; past it (a front that does not answer) they go in anyway.
 */
const LEAD_WAIT_MS = 250;

interface DirectStream {
  sid: number;
  pane: number;
  session: string;
  /** The client's routing id (hex) and public key, as the front admitted them. */
  client: string;
  key: string;
  /** Until claimed: the token the claim must bring. */
  token: Buffer | null;
  /** Set by the claim: where output goes. */
  peer: Buffer | null;
  readOnly: boolean;
  interactive: boolean;
  /** The stream whose typing makes this client the session's size leader (itself, or a view's tui stream). */
  lead: number;
  /** Output up to this number is in the snapshot (or Resync) the client has; null while that snapshot is being taken. */
  fromSeq: number | null;
  /** Output that came while the snapshot was taken: sorted out once its seq is known. */
  waiting: { seq: number; data: Buffer }[];
  /** Output within credit, kept until the client claims the stream. */
  unclaimed: { seq: number; data: Buffer }[];
  credit: StreamCredit;
  /** The last output number sent (an Output's or a Resync's). */
  sent: number;
  /** The pane ended before the claim: the end to send once claimed. */
  ended: { reason: StreamEndReason; exitCode: number | null } | null;
  /** Keys typed since this stream took the lead, until the front has applied its size (host.lead); null when none wait. */
  held: Buffer[] | null;
  heldTimer: NodeJS.Timeout | null;
}

export class DirectStreams {
  private readonly streams = new Map<number, DirectStream>();
  private readonly byPane = new Map<number, Set<DirectStream>>();
  /** Each session's size leader, as the front last said or as typing here made it. */
  private readonly leaders = new Map<string, number>();
  /** Streams whose pane ended before their claim, oldest first (at most ENDED_UNCLAIMED_MAX). */
  private endedUnclaimed: DirectStream[] = [];

  constructor(private readonly deps: DirectDeps) {}

  /**
   * The front grants a stream: from this turn on, output of the pane is
   * kept for it, and the snapshot taken in the same turn says where the
   * client's screen starts, so nothing is lost or shown twice.
   */
  grant(a: OpArgs<'host.grant'>, paneId: number, pane: DirectPane): Promise<{ seq: number; vt: Buffer }> {
    if (this.streams.has(a.sid)) throw new ZmxError('EEXIST', `stream ${a.sid} is granted already`);
    const st: DirectStream = {
      sid: a.sid, pane: paneId, session: a.name, client: a.client, key: a.key, token: Buffer.from(a.token, 'utf8'), peer: null,
      readOnly: a.readOnly, interactive: a.interactive, lead: a.lead, fromSeq: null, waiting: [], unclaimed: [], credit: new StreamCredit(), sent: 0, ended: null, held: null, heldTimer: null,
    };
    this.streams.set(st.sid, st);
    let set = this.byPane.get(paneId);
    if (!set) this.byPane.set(paneId, (set = new Set()));
    set.add(st);
    if (st.interactive) pane.interactive += 1;
    pane.directViewers += 1;
    const snap = pane.snapshot();
    snap.then((s) => {
      st.sent = s.seq;
      this.started(st, s.seq);
    }, () => this.release(st.sid));
    return snap;
  }

  /** The snapshot (or a Resync's) is at `seq`: output after it that waited goes on. */
  private started(st: DirectStream, seq: number): void {
    st.fromSeq = seq;
    const waiting = st.waiting;
    st.waiting = [];
    for (const o of waiting) this.offer(st, o.seq, o.data);
  }

  /** One chunk of a pane's output, to every direct stream on it. */
  output(paneId: number, seq: number, data: Buffer): void {
    const set = this.byPane.get(paneId);
    if (set) for (const st of set) this.offer(st, seq, data);
  }

  private offer(st: DirectStream, seq: number, data: Buffer): void {
    if (st.fromSeq === null) {
      st.waiting.push({ seq, data });
      return;
    }
    if (seq <= st.fromSeq || !st.credit.offer(seq, data.length)) return;
    if (!st.peer) {
      st.unclaimed.push({ seq, data });
      return;
    }
    st.sent = seq;
    this.deps.send(st.peer, encode({ t: MsgType.Output, sid: st.sid, seq }, [data]));
  }

  /** The front ended the stream (detach, switch, a dropped or revoked client): it tells the client itself. */
  release(sid: number): void {
    const st = this.streams.get(sid);
    if (!st) return;
    this.forget(st);
  }

  private forget(st: DirectStream): void {
    this.dropHeld(st);
    this.streams.delete(st.sid);
    if (st.ended) this.endedUnclaimed = this.endedUnclaimed.filter((o) => o !== st);
    const set = this.byPane.get(st.pane);
    set?.delete(st);
    if (set?.size === 0) this.byPane.delete(st.pane);
    const pane = st.ended ? undefined : this.deps.pane(st.pane);
    if (pane) {
      if (st.interactive) pane.interactive = Math.max(0, pane.interactive - 1);
      pane.directViewers = Math.max(0, pane.directViewers - 1);
    }
  }

  /** A pane ended: its streams end here, behind their last output. */
  paneEnded(paneId: number, reason: StreamEndReason, exitCode: number | null): void {
    const set = this.byPane.get(paneId);
    if (!set) return;
    for (const st of [...set]) {
      if (st.peer) {
        this.forget(st);
        this.deps.send(st.peer, encode({ t: MsgType.StreamEnd, sid: st.sid, reason, exitCode }));
        continue;
      }
      st.ended = { reason, exitCode };
      this.endedUnclaimed.push(st);
      // A client that never claims must not make the pty host keep ended streams without bound.
      if (this.endedUnclaimed.length > ENDED_UNCLAIMED_MAX) this.forget(this.endedUnclaimed[0]!);
    }
  }

  /**
   * The front says who leads session `name` now (0: no one): after a
   * change it made, or in answer to stream.typed, behind the resize to that
   * stream's size; the keys that stream typed meanwhile go in now.
   */
  lead(name: string, sid: number): void {
    if (sid === 0) this.leaders.delete(name);
    else this.leaders.set(name, sid);
    for (const st of this.streams.values()) {
      if (st.held && st.session === name && st.lead === sid) this.releaseHeld(st);
    }
  }

  /** The keys a stream typed while its lead was being applied, to its pane in order. */
  private releaseHeld(st: DirectStream): void {
    const held = st.held;
    this.dropHeld(st);
    const pane = this.deps.pane(st.pane);
    if (held && pane) for (const data of held) pane.input(data);
  }

  private dropHeld(st: DirectStream): void {
    if (st.heldTimer) clearTimeout(st.heldTimer);
    st.heldTimer = null;
    st.held = null;
  }

  /**
   * A new front: what the old one granted is void (its clients re-attach).
   * The pty host resets the panes' interactive and viewer counts itself.
   */
  reset(): void {
    for (const st of this.streams.values()) this.dropHeld(st);
    this.streams.clear();
    this.endedUnclaimed = [];
    this.byPane.clear();
    this.leaders.clear();
  }

  /** Handles one message from a client on the direct endpoint. Never throws. */
  handle(peer: Buffer, frames: Buffer[]): void {
    let msg: Message;
    try {
      msg = decode(frames);
    } catch (err) {
      this.refuse(peer, 0, err);
      return;
    }
    const h = msg.header;
    const client = peer.toString('hex');
    switch (h.t) {
      case MsgType.Input: {
        const st = this.owned(client, h.sid);
        if (!st || st.readOnly) return;
        const data = msg.frames[0] ?? Buffer.alloc(0);
        if (st.held) {
          st.held.push(data);
          return;
        }
        // The client that types leads the session's size: the front decides, and hears only of a change.
        if (this.leaders.get(st.session) !== st.lead) {
          this.leaders.set(st.session, st.lead);
          // Its keys wait for the front's answer, which comes behind the resize
          // to this client's size, so that what they run sees that size — as
          // for keys the front takes itself (a resize, then the Input).
          st.held = [data];
          st.heldTimer = setTimeout(() => this.releaseHeld(st), LEAD_WAIT_MS);
          this.deps.tellFront({ t: MsgType.Event, name: 'stream.typed', data: { sid: st.sid } });
          return;
        }
        this.deps.pane(st.pane)?.input(data);
        return;
      }
      case MsgType.Ack: {
        const st = this.owned(client, h.sid);
        if (st && st.credit.ack(h.seq)) this.resync(st);
        return;
      }
      case MsgType.Request:
        try {
          validateArgs(h.op, h.args);
          if (h.op === 'stream.claim') this.claim(peer, client, h.args as OpArgs<'stream.claim'>, h.id);
          else if (h.op === 'stream.resume') this.resume(peer, client, h.args as OpArgs<'stream.resume'>, h.id);
          else throw new ZmxError('EPROTO', `op "${h.op}" is not served on the direct endpoint`);
        } catch (err) {
          this.refuse(peer, h.id, err);
        }
        return;
      default:
        this.refuse(peer, 0, new ZmxError('EPROTO', `message 0x${h.t.toString(16)} is not taken on the direct endpoint`));
    }
  }

  private refuse(peer: Buffer, id: number, err: unknown): void {
    const e = toZmxError(err);
    this.deps.send(peer, encode({ t: MsgType.Error, id, code: e.code, message: e.message }));
  }

  /** A stream this client (by routing id) has claimed; else undefined. */
  private owned(client: string, sid: number): DirectStream | undefined {
    const st = this.streams.get(sid);
    return st && st.peer && st.client === client ? st : undefined;
  }

  /** The client takes over a granted stream: what waited is sent, then output as it comes. */
  private claim(peer: Buffer, client: string, a: OpArgs<'stream.claim'>, id: number): void {
    const st = this.streams.get(a.sid);
    const token = Buffer.from(a.token, 'utf8');
    // One refusal for every reason: an unknown stream, a used token, another client's stream or key.
    if (!st || !st.token || st.client !== client || a.key !== st.key || token.length !== st.token.length || !timingSafeEqual(token, st.token) || !this.deps.verifyKey(a.key, a.proof, a.ts)) {
      throw new ZmxError('EDENIED', `stream ${a.sid} was not granted to this client (or was claimed already)`);
    }
    st.token = null;
    st.peer = peer;
    this.deps.send(peer, encode({ t: MsgType.Reply, id, result: {} }));
    const unclaimed = st.unclaimed;
    st.unclaimed = [];
    for (const o of unclaimed) {
      st.sent = o.seq;
      this.deps.send(peer, encode({ t: MsgType.Output, sid: st.sid, seq: o.seq }, [o.data]));
    }
    if (st.ended) {
      this.forget(st);
      this.deps.send(peer, encode({ t: MsgType.StreamEnd, sid: st.sid, ...st.ended }));
    } else if (st.credit.resyncDue) {
      this.resync(st);
    }
  }

  /**
   * The client's direct link came back (or it saw a gap): it has output up
   * to `seq`. If it missed any — libzmq dropped what could not be
   * delivered — it gets the pane's current screen instead.
   */
  private resume(peer: Buffer, client: string, a: OpArgs<'stream.resume'>, id: number): void {
    const st = this.owned(client, a.sid);
    if (!st) throw new ZmxError('EDENIED', `stream ${a.sid} is not this client's`);
    st.peer = peer;
    const missed = a.seq < st.sent;
    this.deps.send(peer, encode({ t: MsgType.Reply, id, result: { resync: missed } }));
    if (missed && !st.credit.resyncing) {
      st.credit.clear();
      st.credit.behind = true;
      this.resync(st);
    }
  }

  /** Replaces what the client missed with the pane's current screen; output meanwhile waits. */
  private resync(st: DirectStream): void {
    const pane = this.deps.pane(st.pane);
    if (!pane || !st.peer) return;
    st.credit.resyncing = true;
    st.fromSeq = null;
    pane.snapshot().then(({ seq, vt }) => {
      if (this.streams.get(st.sid) !== st || !st.peer) return;
      const skipped = st.credit.resynced(seq, vt.length);
      st.sent = seq;
      this.deps.send(st.peer, encode({ t: MsgType.Resync, sid: st.sid, seq, skipped }, [vt]));
      this.started(st, seq);
    }, () => {
      // The pane is gone; its end follows.
      st.credit.resyncing = false;
      st.fromSeq = st.sent;
    });
  }

  /** Streams granted now (claimed or not). */
  get size(): number {
    return this.streams.size;
  }
}
