/**
 * A client's connection to a zmx server: a CurveZMQ DEALER, the hello
 * exchange, pipelined requests matched by id, and pty streams. Used by the
 * CLI, the raw attach client and (later) the TUI.
 */
import { randomBytes } from 'node:crypto';
import type { HostEntry } from './hosts.js';
import { helloProof } from '../common/curve.js';
import { ZmxError } from '../common/errors.js';
import { FLOW, TIMING } from '../common/constants.js';
import { LinkReceiver, LinkSender } from '../common/link.js';
import { runtimePaths, ensurePrivateDir, checkSocketDir, type RuntimePaths } from '../common/paths.js';
import {
  MsgType, CAPABILITIES, DIRECT_CAPABILITY, LINK_CAPABILITIES, PROTOCOL_VERSION, MIN_PROTOCOL_VERSION, decode, encode, isSequencedType,
  type DirectGrant, type Header, type Message, type OpArgs, type OpName, type OpResult, type StreamEndReason,
} from '../common/protocol.js';
import { ClientLink } from '../platform/zmq.js';
import { KeyStore, fingerprint } from '../platform/keystore.js';
import { isAlive, readPid, spawnDaemon } from '../platform/daemon.js';
import { VERSION } from '../common/version.js';
import { entryPath } from '../common/entries.js';

const SERVER_SCRIPT = entryPath('front');
/** Streams whose early output is kept, and messages kept for each, before handlers register. */
/** Bytes of randomness in a connection's routing id: unguessable, so no one can take another's. */
const ROUTING_ID_BYTES = 16;
const EARLY_STREAMS_MAX = 16;
const EARLY_OUTPUT_MAX = 1024;

export interface StreamHandlers {
  output(seq: number, data: Buffer): void;
  end(reason: StreamEndReason, exitCode: number | null): void;
  /**
   * The stream fell further behind than the server keeps (a stopped or slow
   * client): `skipped` bytes were left out and `screen` is the pane's
   * current screen (VT; plain text for a tail). Output after `seq` follows.
   */
  resync?(seq: number, screen: Buffer, skipped: number): void;
}

/** What a stream's consumer has taken: the server's credit comes back as Acks of it. */
interface Consumption {
  /** The last seq delivered to the handlers. */
  delivered: number;
  /** The last seq acknowledged to the server. */
  acked: number;
  /** Bytes delivered since the last Ack. */
  unacked: number;
  /** Holds by the consumer (its terminal is not keeping up): no Acks while any. */
  holds: number;
}

/** How the link came back: `resumed` when the server kept our state (nothing was lost). */
export type LinkState = 'lost' | 'restored' | 'resumed';

export interface RequestOptions {
  /** Milliseconds to wait for the reply; 0 waits for ever (run, wait). */
  timeoutMs?: number;
}

interface Pending {
  resolve(r: { result: Record<string, unknown>; frames: Buffer[] }): void;
  reject(e: ZmxError): void;
  timer: NodeJS.Timeout | null;
}

/**
 * Makes sure a front serves this ZMX_DIR. Starts one when `spawn` is set or
 * when sessions exist (a pty host is alive). Returns false when there is no
 * server and none was started, which means there are no sessions.
 */
export async function ensureServer(paths: RuntimePaths, spawn: boolean): Promise<boolean> {
  if (isAlive(readPid(paths.frontPid))) return true;
  if (!spawn && !isAlive(readPid(paths.ptyhostPid))) return false;
  checkSocketDir(paths.dir);
  ensurePrivateDir(paths.dir);
  await spawnDaemon(SERVER_SCRIPT, paths.frontLog, TIMING.serverStartTimeoutMs);
  return true;
}

export class Connection {
  private readonly link: ClientLink;
  private readonly pending = new Map<number, Pending>();
  private readonly streams = new Map<number, StreamHandlers>();
  /**
   * Output for a stream whose handlers are not registered yet: the server
   * may send it right behind the reply that opened the stream.
   */
  private readonly early = new Map<number, { seq: number; data: Buffer }[]>();
  /** A stream that ended before its handlers were registered. */
  private readonly earlyEnd = new Map<number, { reason: StreamEndReason; exitCode: number | null }>();
  private nextId = 1;
  private welcome: Promise<void>;
  private resolveWelcome!: () => void;
  private rejectWelcome!: (e: ZmxError) => void;
  private heartbeat: NodeJS.Timeout | null = null;
  private closed = false;
  private failure: ZmxError | null = null;
  /** Why the connection can no longer serve (a revoked key, no common version), or null. */
  get failed(): ZmxError | null {
    return this.failure;
  }
  /** Round-trip time of the last ping, in ms. */
  rttMs: number | null = null;
  /** Whether the server has answered our hello on the current connection. */
  private welcomed = false;
  /** Set while the link to the server is down (after a first welcome). */
  lostSince: number | null = null;
  private readonly linkListeners: ((state: LinkState) => void)[] = [];
  /** Link sequencing, once the server's Welcome announced `resume`. */
  private resumable = false;
  private readonly out = new LinkSender();
  private readonly in = new LinkReceiver();
  private receivedTimer: NodeJS.Timeout | null = null;
  /** A hello is on its way and its Welcome not in yet: sequenced messages wait in the backlog. */
  private greeting = false;
  private readonly consumed = new Map<number, Consumption>();
  private ackTimer: NodeJS.Timeout | null = null;
  private pongWaiters: ((rttMs: number) => void)[] = [];
  private readonly eventListeners: ((name: string, data: Record<string, unknown>) => void)[] = [];
  /** Callers of rehello() waiting for the server's Welcome. */
  private welcomeWaiters: (() => void)[] = [];
  /** Called when the link drops: brings a server back if sessions exist. */
  private recover: (() => Promise<unknown>) | null = null;
  private recoveryTimer: NodeJS.Timeout | null = null;
  /** This connection's routing id, the same on the direct link: the pty host checks a claim comes from the client it was granted to. */
  private readonly routingId = randomBytes(ROUTING_ID_BYTES).toString('hex');
  /** Announce `direct` (a local connection): pane streams may come straight from the pty host. */
  private directCapable = false;
  /** The link to the pty host's direct endpoint, opened on the first grant. */
  private direct: { link: ClientLink; endpoint: string; serverKey: string; dropped: boolean } | null = null;
  /** Streams on the direct link: the last output seq taken (a jump means output was lost), and whether a resume is on its way. */
  private readonly directStreams = new Map<number, { last: number; resuming: boolean }>();

  private constructor(endpoint: string, private readonly curve: { serverKey: string; publicKey: string; secretKey: string }, private readonly serverName: string) {
    this.welcome = new Promise((res, rej) => { this.resolveWelcome = res; this.rejectWelcome = rej; });
    this.welcome.catch(() => {});
    this.link = new ClientLink({
      endpoint,
      curve,
      onMessage: (frames) => this.onMessage(frames),
      onConnectionChange: (connected) => this.onConnectionChange(connected),
      onAuthFailure: () => this.fail(new ZmxError('EDENIED', `key not authorized on ${serverName} (fingerprint ${fingerprint(curve.publicKey)}); on that server run: zmx keys authorize ${curve.publicKey}`)),
      // A name of our own for this connection: the server learns our key by it.
      routingId: this.routingId,
    });
  }

  /** Connects to the local server of this ZMX_DIR, starting it if asked. */
  static async local(opts: { spawn: boolean; paths?: RuntimePaths; keys?: KeyStore }): Promise<Connection | null> {
    const paths = opts.paths ?? runtimePaths();
    if (!(await ensureServer(paths, opts.spawn))) return null;
    const keys = opts.keys ?? new KeyStore();
    const client = keys.loadOrCreate('client');
    const serverKey = keys.publicKey('server');
    if (!serverKey) throw new ZmxError('ENOENT', `no server key in ${keys.dir}; is the server running with another ZMX_CONFIG_DIR?`);
    const conn = new Connection(paths.frontEndpoint, { serverKey, publicKey: client.publicKey, secretKey: client.secretKey }, 'the local server');
    conn.directCapable = true;
    // If the front dies (even by SIGKILL) while sessions live, start another;
    // the link reconnects to it by itself.
    conn.recover = () => ensureServer(paths, false);
    await conn.start().catch(async (err: unknown) => { await conn.close(); throw err; });
    return conn;
  }

  /** Connects to a remote host (`zmx host add`); the link reconnects by itself when the network comes back. */
  static async remote(host: HostEntry, opts: { keys?: KeyStore } = {}): Promise<Connection> {
    return Connection.to(host.endpoint, host.serverKey, host.name, opts);
  }

  /**
   * Connects to any zmx endpoint whose server key is known (a host, a
   * pairing endpoint). `silence` is the error when nothing answers within
   * `timeoutMs` (a wrong server key looks exactly like that).
   */
  static async to(endpoint: string, serverKey: string, name: string, opts: { keys?: KeyStore; timeoutMs?: number; silence?: string } = {}): Promise<Connection> {
    const keys = opts.keys ?? new KeyStore();
    const client = keys.loadOrCreate('client');
    const conn = new Connection(endpoint, { serverKey, publicKey: client.publicKey, secretKey: client.secretKey }, name);
    await conn.start(opts.timeoutMs, opts.silence).catch(async (err: unknown) => { await conn.close(); throw err; });
    return conn;
  }

  /**
   * Says hello; `resume` asks the server to carry on this connection's state
   * (after a dropped link) rather than start afresh.
   */
  private hello(resume = false): void {
    const ts = Date.now();
    const { publicKey, secretKey, serverKey } = this.curve;
    this.greeting = true;
    this.transmit(encode({
      t: MsgType.Hello, min: MIN_PROTOCOL_VERSION, max: PROTOCOL_VERSION, agent: `zmx-cli/${VERSION}`,
      caps: [...CAPABILITIES, ...LINK_CAPABILITIES, ...(this.directCapable ? [DIRECT_CAPABILITY] : [])],
      key: publicKey, proof: helloProof(publicKey, secretKey, serverKey, ts), ts,
      ...(resume && this.resumable && this.out.canResume ? { resume: this.in.received } : {}),
    }));
  }

  /**
   * The link went down or came back. A new front knows nothing of us: say
   * hello again, and tell listeners (an attached client re-attaches). Requests
   * in flight when the link dropped fail with EUNAVAIL.
   */
  private onConnectionChange(connected: boolean): void {
    if (this.closed || this.failure) return;
    if (!connected) {
      if (!this.welcomed || this.lostSince !== null) return;
      this.markLost();
      return;
    }
    // A new connection (libzmq reconnected): resume on it.
    if (this.lostSince !== null || this.resumable) this.hello(true);
  }

  /**
   * The link is down. On a resumable link requests stay pending (their
   * replies come after the resume) and what we send waits in the backlog;
   * otherwise requests in flight fail with EUNAVAIL.
   */
  private markLost(): void {
    this.welcomed = false;
    this.lostSince = Date.now();
    if (!this.resumable) this.failPending(new ZmxError('EUNAVAIL', `lost the connection to ${this.serverName}`));
    for (const l of this.linkListeners) l('lost');
    this.startRecovery();
  }

  private failPending(err: ZmxError): void {
    for (const p of this.pending.values()) {
      if (p.timer) clearTimeout(p.timer);
      p.reject(err);
    }
    this.pending.clear();
  }

  /** Until the link is back, keeps making sure a server runs for it to reach. */
  private startRecovery(): void {
    if (!this.recover || this.recoveryTimer) return;
    const attempt = () => {
      if (this.closed || this.lostSince === null) {
        if (this.recoveryTimer) clearInterval(this.recoveryTimer);
        this.recoveryTimer = null;
        return;
      }
      this.recover?.().catch(() => {});
    };
    this.recoveryTimer = setInterval(attempt, TIMING.recoverRetryMs);
    attempt();
  }

  /**
   * Says hello again on the same link: after the server has forgotten this
   * client (silent too long: a suspended laptop, a stopped process).
   */
  rehello(): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.welcomeWaiters = this.welcomeWaiters.filter((w) => w !== done);
        reject(new ZmxError('ETIMEDOUT', `${this.serverName} did not answer hello`));
      }, TIMING.requestTimeoutMs);
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      this.welcomeWaiters.push(done);
      this.hello();
    });
  }

  /** Measures the round-trip time now (a Ping and its Pong), in ms. */
  ping(): Promise<number> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pongWaiters = this.pongWaiters.filter((w) => w !== done);
        reject(new ZmxError('ETIMEDOUT', `${this.serverName} did not answer a ping within ${TIMING.requestTimeoutMs / 1000} s`));
      }, TIMING.requestTimeoutMs);
      const done = (rtt: number) => {
        clearTimeout(timer);
        resolve(rtt);
      };
      this.pongWaiters.push(done);
      this.transmit(encode({ t: MsgType.Ping, ts: Date.now() }));
    });
  }

  /** Whether the link resumes after a drop (what is sent meanwhile is delivered then). */
  get resumes(): boolean {
    return this.resumable;
  }

  /** Listens for events the server sends this client (e.g. session.switch). */
  onEvent(listener: (name: string, data: Record<string, unknown>) => void): void {
    this.eventListeners.push(listener);
  }

  /**
   * Listens for the link going down ('lost') and coming back: 'resumed'
   * when the server kept our state (streams go on, nothing was lost),
   * 'restored' when it did not (a new front): streams must be opened again.
   */
  onLink(listener: (state: LinkState) => void): void {
    this.linkListeners.push(listener);
  }

  /** Forgets a stream's handlers (it ended, or it was replaced after a reconnect). */
  dropStream(sid: number): void {
    this.streams.delete(sid);
    this.directStreams.delete(sid);
    this.early.delete(sid);
    this.earlyEnd.delete(sid);
    this.consumed.delete(sid);
  }

  /**
   * The consumer of stream `sid` cannot take more now (its terminal's
   * buffer is full): withhold credit until release(), so the server stops
   * sending rather than this process buffering without bound.
   */
  hold(sid: number): void {
    const c = this.consumed.get(sid);
    if (c) c.holds++;
  }

  release(sid: number): void {
    const c = this.consumed.get(sid);
    if (!c || c.holds === 0) return;
    c.holds--;
    if (c.holds === 0) this.scheduleAcks();
  }

  /** Counts delivered output toward the stream's next Ack. */
  private consume(sid: number, seq: number, bytes: number): void {
    let c = this.consumed.get(sid);
    if (!c) this.consumed.set(sid, (c = { delivered: 0, acked: 0, unacked: 0, holds: 0 }));
    c.delivered = Math.max(c.delivered, seq);
    c.unacked += bytes;
    if (c.holds === 0 && c.unacked >= FLOW.ackEveryBytes) this.ack(sid, c);
    else this.scheduleAcks();
  }

  private ack(sid: number, c: Consumption): void {
    if (c.delivered <= c.acked) return;
    c.acked = c.delivered;
    c.unacked = 0;
    this.streamSend({ t: MsgType.Ack, sid, seq: c.acked });
  }

  /** Acks what was delivered in the next FLOW.ackIdleMs (one Ack per stream, not per chunk). */
  private scheduleAcks(): void {
    if (this.ackTimer) return;
    this.ackTimer = setTimeout(() => {
      this.ackTimer = null;
      for (const [sid, c] of this.consumed) if (c.holds === 0) this.ack(sid, c);
    }, FLOW.ackIdleMs);
    this.ackTimer.unref();
  }

  private async start(timeoutMs: number = TIMING.requestTimeoutMs, silence?: string): Promise<void> {
    this.link.connect();
    this.hello();
    const timer = setTimeout(() => this.fail(new ZmxError('ETIMEDOUT', silence ?? `${this.serverName} did not answer within ${timeoutMs / 1000} s`)), timeoutMs);
    try {
      await this.welcome;
    } finally {
      clearTimeout(timer);
    }
    // Pings even when idle: a long-lived client with nothing open (zmx mcp
    // between an agent's tool calls) would otherwise be forgotten by the
    // front after its idle grace and get "send hello first" on its next call.
    this.heartbeat = setInterval(() => this.send({ t: MsgType.Ping, ts: Date.now() }), TIMING.heartbeatIntervalMs);
    this.heartbeat.unref();
  }

  /**
   * Sends a message. On a resumable link it is numbered and kept until the
   * server confirms it; while the link is down it waits in that backlog and
   * goes out when the link resumes.
   */
  private send(header: Header, frames: Buffer[] = []): void {
    if (this.closed) return;
    if (!this.resumable || !isSequencedType(header.t)) {
      this.transmit(encode(header, frames));
      return;
    }
    const q = this.out.take();
    const wire = encode({ ...header, q } as Header, frames);
    this.out.keep(q, wire, undefined);
    if (this.welcomed) this.transmit(wire);
  }

  private transmit(frames: Buffer[]): void {
    if (!this.closed) this.link.send(frames);
  }

  /** Confirms receipt soon (at once when many messages are unconfirmed). */
  private confirmLater(): void {
    if (this.in.confirmDue) {
      this.confirmNow();
      return;
    }
    if (this.receivedTimer) return;
    this.receivedTimer = setTimeout(() => this.confirmNow(), FLOW.receivedDelayMs);
    this.receivedTimer.unref();
  }

  private confirmNow(): void {
    if (this.receivedTimer) clearTimeout(this.receivedTimer);
    this.receivedTimer = null;
    if (this.in.hasUnconfirmed && this.welcomed) this.transmit(encode({ t: MsgType.Received, recv: this.in.confirm() }));
  }

  /**
   * The server's answer to our hello. Resumed: send again what it missed,
   * and carry on. Not resumed after a drop (a new front, or it forgot us):
   * everything in flight is void — requests fail, streams must be reopened.
   */
  private onWelcome(h: { caps: string[]; resumed?: boolean; recv?: number }): void {
    const wasLost = this.lostSince !== null;
    const hadLink = this.resumable;
    this.greeting = false;
    if (h.resumed === true && hadLink) {
      const missing = this.out.after(h.recv ?? 0);
      if (!missing) {
        // We no longer have what it needs: start afresh.
        this.resumable = false;
        this.hello(false);
        return;
      }
      this.welcomed = true;
      for (const k of missing) this.transmit(k.frames);
      this.settleWelcome();
      if (wasLost) {
        this.lostSince = null;
        for (const l of this.linkListeners) l('resumed');
      }
      return;
    }
    // A fresh start on this connection.
    this.resumable = h.caps.includes('resume');
    this.out.reset();
    this.in.reset();
    this.consumed.clear();
    // A new front's hello made the pty host drop what the old one granted.
    this.directStreams.clear();
    // The streams the server knew are void, and a new front numbers its own
    // afresh: a handler left here would take a new stream's output or end.
    this.streams.clear();
    this.early.clear();
    this.earlyEnd.clear();
    if (hadLink) this.failPending(new ZmxError('EUNAVAIL', `lost the connection to ${this.serverName} (it restarted or forgot this client)`));
    this.welcomed = true;
    this.settleWelcome();
    if (wasLost) {
      this.lostSince = null;
      for (const l of this.linkListeners) l('restored');
    }
  }

  private settleWelcome(): void {
    for (const w of this.welcomeWaiters.splice(0)) w();
    this.resolveWelcome();
  }

  private fail(err: ZmxError): void {
    if (this.failure) return;
    this.failure = err;
    this.rejectWelcome(err);
    for (const p of this.pending.values()) {
      if (p.timer) clearTimeout(p.timer);
      p.reject(err);
    }
    this.pending.clear();
    for (const s of this.streams.values()) s.end('error', null);
    this.streams.clear();
  }

  private onMessage(frames: Buffer[]): void {
    let msg: Message;
    try {
      msg = decode(frames);
    } catch {
      return; // a server we cannot parse: ignore the message
    }
    const h = msg.header;
    if (this.resumable && isSequencedType(h.t) && 'q' in h && typeof h.q === 'number') {
      const arrival = this.in.arrive(h.q, frames.reduce((n, f) => n + f.length, 0));
      if (arrival === 'duplicate') return;
      if (arrival === 'gap') {
        // Messages were lost with a connection: resume, and the server sends them again.
        if (!this.greeting) this.hello(true);
        return;
      }
      this.confirmLater();
    }
    switch (h.t) {
      case MsgType.Welcome:
        this.onWelcome(h);
        return;
      case MsgType.Pong:
        this.rttMs = Date.now() - h.ts;
        for (const w of this.pongWaiters.splice(0)) w(this.rttMs);
        return;
      case MsgType.Received:
        this.out.confirm(h.recv);
        return;
      case MsgType.Reply:
      case MsgType.Error:
        this.settle(msg);
        return;
      case MsgType.Event:
        for (const l of this.eventListeners) l(h.name, h.data);
        return;
      case MsgType.Output:
      case MsgType.Resync:
      case MsgType.StreamEnd:
        this.onStreamMessage(msg);
        return;
      default:
        return;
    }
  }

  /** A stream's Output, Resync or StreamEnd, from the front or (a direct stream's) the pty host. */
  private onStreamMessage(msg: Message): void {
    const h = msg.header;
    switch (h.t) {
      case MsgType.Resync: {
        const d = this.directStreams.get(h.sid);
        if (d) {
          d.last = h.seq;
          d.resuming = false;
        }
        const s = this.streams.get(h.sid);
        const screen = msg.frames[0] ?? Buffer.alloc(0);
        if (s) {
          s.resync?.(h.seq, screen, h.skipped);
          this.consume(h.sid, h.seq, screen.length);
        }
        return;
      }
      case MsgType.Output: {
        const d = this.directStreams.get(h.sid);
        if (d) {
          if (h.seq <= d.last) return;
          if (h.seq !== d.last + 1 || d.resuming) {
            // Output was lost on the direct link (libzmq drops what it cannot deliver): the pty host sends the screen instead.
            this.resumeDirect(h.sid, d);
            return;
          }
          d.last = h.seq;
        }
        const data = msg.frames[0] ?? Buffer.alloc(0);
        const s = this.streams.get(h.sid);
        if (s) {
          s.output(h.seq, data);
          this.consume(h.sid, h.seq, data.length);
        } else this.keepEarly(h.sid, h.seq, data);
        return;
      }
      case MsgType.StreamEnd: {
        const s = this.streams.get(h.sid);
        this.streams.delete(h.sid);
        this.consumed.delete(h.sid);
        this.directStreams.delete(h.sid);
        if (s) s.end(h.reason, h.exitCode);
        else if (this.early.has(h.sid) || this.earlyEnd.size < EARLY_STREAMS_MAX) this.earlyEnd.set(h.sid, { reason: h.reason, exitCode: h.exitCode });
        return;
      }
      default:
        return;
    }
  }

  request<K extends OpName>(op: K, args: OpArgs<K>, frames: Buffer[] = [], opts: RequestOptions = {}): Promise<{ result: OpResult<K>; frames: Buffer[] }> {
    const reply = this.call(op, args, frames, opts);
    if (op !== 'session.attach' && op !== 'pane.subscribe') return reply;
    // A stream the front granted to the pty host: claim it there before the caller takes it.
    return reply.then(async (r) => {
      const { sid, seq, direct } = r.result as { sid: number; seq: number; direct?: DirectGrant };
      if (direct) await this.claim(sid, seq, direct);
      return r;
    });
  }

  private call<K extends OpName>(op: K, args: OpArgs<K>, frames: Buffer[], opts: RequestOptions, link: ClientLink | null = null): Promise<{ result: OpResult<K>; frames: Buffer[] }> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    const timeoutMs = opts.timeoutMs ?? TIMING.requestTimeoutMs;
    return new Promise((resolve, reject) => {
      const timer = timeoutMs > 0
        ? setTimeout(() => {
          this.pending.delete(id);
          reject(new ZmxError('ETIMEDOUT', `${this.serverName} did not answer ${op} within ${timeoutMs / 1000} s`));
        }, timeoutMs)
        : null;
      this.pending.set(id, { resolve: resolve as Pending['resolve'], reject, timer });
      const request: Header = { t: MsgType.Request, id, op, args: args as Record<string, unknown> };
      // The direct link is not sequenced: it is local, and a stream on it resumes by its seq (stream.resume).
      if (link) link.send(encode(request, frames));
      else this.send(request, frames);
    });
  }

  /**
   * Takes over granted stream `sid` on the pty host's direct endpoint
   * (opening the link the first time). If the claim fails the stream is
   * given up, with the front told.
   */
  private async claim(sid: number, seq: number, grant: DirectGrant): Promise<void> {
    this.directStreams.set(sid, { last: seq, resuming: false });
    try {
      const ts = Date.now();
      const { publicKey, secretKey } = this.curve;
      const proof = helloProof(publicKey, secretKey, grant.serverKey, ts);
      await this.call('stream.claim', { sid, token: grant.token, key: publicKey, proof, ts }, [], {}, this.directLink(grant));
    } catch (err) {
      this.directStreams.delete(sid);
      this.send({ t: MsgType.Detach, sid });
      throw err;
    }
  }

  private directLink(grant: DirectGrant): ClientLink {
    if (this.direct && this.direct.endpoint === grant.endpoint && this.direct.serverKey === grant.serverKey) return this.direct.link;
    // A pty host at another endpoint or with another key: the old link can serve no stream any more.
    void this.direct?.link.dispose();
    const link = new ClientLink({
      endpoint: grant.endpoint,
      curve: { serverKey: grant.serverKey, publicKey: this.curve.publicKey, secretKey: this.curve.secretKey },
      routingId: this.routingId,
      onMessage: (frames) => this.onDirectMessage(frames),
      onConnectionChange: (up) => this.onDirectConnection(up),
    });
    this.direct = { link, endpoint: grant.endpoint, serverKey: grant.serverKey, dropped: false };
    link.connect();
    return link;
  }

  /** The direct link dropped (a stopped process) and came back: streams that missed output get the screen. */
  private onDirectConnection(up: boolean): void {
    if (!this.direct || this.closed) return;
    if (!up) {
      this.direct.dropped = true;
      return;
    }
    if (!this.direct.dropped) return;
    this.direct.dropped = false;
    for (const [sid, d] of this.directStreams) this.resumeDirect(sid, d);
  }

  private resumeDirect(sid: number, d: { last: number; resuming: boolean }): void {
    if (d.resuming || !this.direct) return;
    d.resuming = true;
    this.call('stream.resume', { sid, seq: d.last }, [], {}, this.direct.link).then(({ result }) => {
      // Nothing was lost after all: output goes on from `last`; else the Resync ends the resume.
      if (!result.resync) d.resuming = false;
    }, () => { d.resuming = false; });
  }

  private onDirectMessage(frames: Buffer[]): void {
    let msg: Message;
    try {
      msg = decode(frames);
    } catch {
      return;
    }
    const h = msg.header;
    switch (h.t) {
      case MsgType.Reply:
      case MsgType.Error:
        this.settle(msg);
        return;
      default:
        this.onStreamMessage(msg);
    }
  }

  /** A Reply or Error: settles the request it answers (an Error for none may end the connection). */
  private settle(msg: Message): void {
    const h = msg.header;
    if (h.t !== MsgType.Reply && h.t !== MsgType.Error) return;
    if (h.t === MsgType.Error && h.id === 0) {
      // No common version, or our key was revoked: nothing more will work.
      if (h.code === 'EVERSION' || h.code === 'EDENIED') this.fail(new ZmxError(h.code, h.message));
      return;
    }
    const p = this.pending.get(h.id);
    if (!p) return;
    this.pending.delete(h.id);
    if (p.timer) clearTimeout(p.timer);
    if (h.t === MsgType.Reply) p.resolve({ result: h.result, frames: msg.frames });
    else p.reject(new ZmxError(h.code, h.message));
  }

  private keepEarly(sid: number, seq: number, data: Buffer): void {
    let list = this.early.get(sid);
    if (!list) {
      if (this.early.size >= EARLY_STREAMS_MAX) return; // not a stream we opened
      this.early.set(sid, (list = []));
    }
    if (list.length < EARLY_OUTPUT_MAX) list.push({ seq, data });
  }

  /** Routes Output and StreamEnd of stream `sid` to handlers, first any output that came early. */
  stream(sid: number, handlers: StreamHandlers): void {
    this.streams.set(sid, handlers);
    const early = this.early.get(sid);
    this.early.delete(sid);
    for (const o of early ?? []) {
      handlers.output(o.seq, o.data);
      this.consume(sid, o.seq, o.data.length);
    }
    const ended = this.earlyEnd.get(sid);
    if (ended) {
      this.earlyEnd.delete(sid);
      this.streams.delete(sid);
      handlers.end(ended.reason, ended.exitCode);
    }
  }

  input(sid: number, data: Buffer): void {
    this.streamSend({ t: MsgType.Input, sid }, [data]);
  }

  /** Input and Ack go where the stream lives: the direct link, or the front. */
  private streamSend(header: Header & { sid: number }, frames: Buffer[] = []): void {
    if (this.closed) return;
    if (this.direct && this.directStreams.has(header.sid)) this.direct.link.send(encode(header, frames));
    else this.send(header, frames);
  }

  resize(sid: number, cols: number, rows: number): void {
    this.send({ t: MsgType.Resize, sid, cols, rows });
  }

  detach(sid: number): void {
    this.send({ t: MsgType.Detach, sid });
  }

  /**
   * Stops bringing a front back when the link drops: for a client that asks
   * the front to stop (zmx server stop), whose own recovery would otherwise
   * start a new one as the old one goes.
   */
  stopRecovering(): void {
    this.recover = null;
    if (this.recoveryTimer) clearInterval(this.recoveryTimer);
    this.recoveryTimer = null;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.heartbeat) clearInterval(this.heartbeat);
    if (this.recoveryTimer) clearInterval(this.recoveryTimer);
    if (this.receivedTimer) clearTimeout(this.receivedTimer);
    if (this.ackTimer) clearTimeout(this.ackTimer);
    for (const p of this.pending.values()) if (p.timer) clearTimeout(p.timer);
    await this.direct?.link.dispose();
    await this.link.dispose();
  }
}

