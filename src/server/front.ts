/**
 * The network front: clients (DEALERs, authenticated by ZAP) on one side,
 * the pty host on the other. It negotiates versions, routes requests,
 * fans pane output out to attached clients, applies the size policy (the
 * client that typed last sets the size, as zmx does) and notices clients
 * that went silent.
 *
 * Front is transport-free: main.ts gives it functions that send frames.
 */
import { randomBytes } from 'node:crypto';
import { ZmxError, toZmxError } from '../common/errors.js';
import { FLOW, TIMING } from '../common/constants.js';
import { LinkReceiver, LinkSender } from '../common/link.js';
import { StreamCredit } from '../common/credit.js';
import { CHROME } from '../common/layout.js';
import { fingerprint } from '../common/z85.js';
import { ALL_LIMITS, type AuditEntry, type ExecInfo, type FsChange, type KeyLimits } from '../common/portal.js';
import { authorize, isAudited, PORTAL_OPS, type Caller } from './policy.js';
import {
  MsgType, CAPABILITIES, DIRECT_CAPABILITY, LINK_CAPABILITIES, PROTOCOL_VERSION, MIN_PROTOCOL_VERSION, decode, encode, isSequencedType, negotiateVersion, requestIdOf, validateArgs,
  type DirectGrant, type Header, type HelloMsg, type Message, type OpArgs, type OpName, type OpResult, type SessionInfo, type StreamEndReason,
} from '../common/protocol.js';

export type PeerId = Buffer;

export interface FrontDeps {
  sendToClient(peer: PeerId, frames: Buffer[]): void;
  sendToHost(frames: Buffer[]): void;
  info(): { version: string; pid: number; ptyhostPid: number; endpoints: string[] };
  /** Whether a client key may use the server now (authorized_keys.json, re-read on change). */
  isAuthorized?(key: string): boolean;
  /**
   * Checks a Hello's proof of key (src/common/curve.ts). When given, every
   * client must prove an authorized key; the front then knows each
   * connection's key (for revocation, limits and audit).
   */
  verifyKey?(key: string, proof: string, ts: number): boolean;
  /** Opens a one-time pairing endpoint (zmx pair); absent when the server does not listen on TCP. */
  pair?(): Promise<{ code: string; endpoint: string; expires: number }>;
  log(msg: string, extra?: Record<string, unknown>): void;
  /** Called on server.stop after the reply is queued. */
  stop(): void;
  /** Asks for the pty host to be (re)started if it is not running. */
  wakeHost(): void;
  /** A key's name and limits (authorized_keys.json); absent or null: no limits (a server that checks no keys). */
  limitsOf?(publicKey: string): { name: string; limits: KeyLimits } | null;
  /** The portal's file and command services (portal-router.ts); absent: fs.* and exec.* answer EUNAVAIL. */
  portal?: PortalHandler;
  /** Appends one line to the audit log. */
  audit?(entry: AuditEntry): void;
  /** Whether the audit log's last records hold this command end (AuditLog.hasRecent). */
  auditedEnd?(end: string): boolean;
  /** Who sets a session's size: the client active last (zmx, tmux's `latest`), or the smallest. */
  sizePolicy?(): SizePolicy;
  /**
   * server.upgrade: the pty host script of this front's install, whether a
   * pid is alive, and word of the new pty host's pid. Absent: no upgrade.
   */
  upgrade?: { script: string; alive(pid: number): boolean; newHost(pid: number): void };
  /** The pty host's direct endpoint and its Curve server key; absent: no stream is granted direct. */
  direct?: { endpoint: string; serverKey: string };
  now?(): number;
  /**
   * Runs `fn` after `ms` and returns how to cancel it; absent: an unref'd
   * setTimeout. The unit tests pass a clock of their own, so a confirmation
   * that falls due never lands between two of a test's steps.
   */
  later?(ms: number, fn: () => void): () => void;
}

/** What the front needs of the portal router: a way in, and word when a connection goes. */
export interface PortalHandler {
  handle(caller: Caller, op: OpName, args: Record<string, unknown>, frames: Buffer[]): Promise<{ result: Record<string, unknown>; frames: Buffer[] }>;
  /** Before an op of the pty host or the front: its paths confined to the key's root, or an answer of its own (portal-router.ts). */
  confine?(caller: Caller, op: OpName, args: Record<string, unknown>, frames: Buffer[]): Promise<{ args: Record<string, unknown> } | { answer: { result: Record<string, unknown>; frames: Buffer[] } }>;
  dropClient(client: string): Promise<void>;
  uploadPath(id: number): { session: string; path: string } | null;
}

interface Client {
  /** The routing id, as hex: what the client is known by. */
  key: string;
  /** The client's public key (Z85), as ZAP admitted it for this routing id; null if unknown. */
  publicKey: string | null;
  peer: PeerId;
  version: number;
  lastSeen: number;
  streams: Map<number, Stream>;
  /** Both ends announced `resume`: messages are numbered, kept until confirmed, replayed after a drop. */
  resume: boolean;
  /** Both ends announced `credit`: streams are flow-controlled by the client's Acks. */
  credit: boolean;
  /** The client announced `direct` (a local one): its pane streams may be granted to the pty host. */
  direct: boolean;
  /** Messages sent to this client; an Output entry names its stream and seq. */
  out: LinkSender<{ sid: number; seq: number } | null>;
  in: LinkReceiver;
  /** Silent longer than the heartbeat timeout: kept for a resume, but not counted as attached. */
  away: boolean;
  /** Cancels the pending Received for this client (sent a moment after the first unconfirmed message). */
  receivedTimer: (() => void) | null;
}

export type SizePolicy = 'latest' | 'smallest';

/**
 * What a stream is: `attach`, a raw client's pane; `tail`, output followed
 * without attaching; `tui`, a full-screen client (no pane of its own: it
 * opens a `view` per pane it shows and hears the session's layout).
 */
type StreamKind = 'attach' | 'tail' | 'tui' | 'view';

interface Stream {
  sid: number;
  client: Client;
  session: string;
  kind: StreamKind;
  readOnly: boolean;
  /** The pane whose output this stream carries (0 for a tui stream). */
  paneSid: number;
  /** A view's tui stream; a tui stream's views. */
  parent: Stream | null;
  views: Set<Stream>;
  /** Waiting for the snapshot: output is buffered until it arrives. */
  pending: { seq: number; data: Buffer }[] | null;
  /** Output up to this sequence number is contained in the snapshot. */
  fromSeq: number;
  cols: number;
  rows: number;
  /** Output in flight, within the stream's window (src/common/credit.ts); used when the client announced `credit`. */
  credit: StreamCredit;
  /** Granted to the pty host: its output and keystrokes go between the client and the pty host (docs/protocol.md, "Direct streams"). */
  direct: DirectGrant | null;
}

interface HostReply { result: Record<string, unknown>; frames: Buffer[] }

/** Pty host requests that change nothing there: asked again of the next pty host when one stops before answering. */
const ASKED_AGAIN: ReadonlySet<OpName> = new Set<OpName>(['session.list', 'session.get']);

/** A pty host request's answer when that pty host stopped first. */
class HostStopped extends ZmxError {
  constructor() {
    super('EUNAVAIL', 'the pty host stopped');
  }
}

/** Ops the front answers itself; the rest go to the pty host as they are. */
const FRONT_OPS: ReadonlySet<OpName> = new Set<OpName>(['server.info', 'server.stop', 'server.upgrade', 'host.handover', 'host.handover.commit', 'server.pair', 'pair.claim', 'session.list', 'session.get', 'session.attach', 'session.tail', 'session.detach', 'session.switch', 'pane.subscribe']);

/** The window area a client's terminal gives: a tui keeps a status bar; a raw client shows one pane, less its title. */
function windowSize(s: Stream): { cols: number; rows: number } {
  if (s.kind === 'tui') return { cols: s.cols, rows: Math.max(1, s.rows - CHROME.statusRows) };
  return { cols: s.cols, rows: s.rows + CHROME.titleRows };
}

function frameBytes(frames: readonly Buffer[]): number {
  let n = 0;
  for (const f of frames) n += f.length;
  return n;
}

/**
 * Commands' ends (Event exec.end) this front has audited, remembered so
 * that one sent again (a Hello crossing its acknowledgement) is not
 * audited twice: the pty host forgets an end once acknowledged, so only
 * the last few can come again.
 */
const AUDITED_ENDS_KEPT = 1024;

/** Bytes of randomness in a direct stream's one-time token. */
const DIRECT_TOKEN_BYTES = 16;

/** Streams a client attaches with (the ones that count in `clients=` and may set the size). */
function isAttachment(s: Stream): boolean {
  return s.kind === 'attach' || s.kind === 'tui';
}

export class Front {
  private readonly clients = new Map<string, Client>();
  private readonly paneStreams = new Map<number, Set<Stream>>();
  /** Per session, the attach stream whose size the pane follows. */
  private readonly leaders = new Map<string, Stream>();
  private readonly hostPending = new Map<number, { resolve(r: HostReply): void; reject(e: ZmxError): void }>();
  private nextHostId = 1;
  private nextSid = 1;
  /**
   * While a host.subscribe is in flight, every Output from the host is kept
   * here: output can be sent just before or just after the subscribe reply,
   * and the new stream must get whatever its snapshot does not contain.
   */
  private subscribing = 0;
  private recentOutput: { paneSid: number; seq: number; data: Buffer }[] = [];
  /** Streams granted to the pty host, by sid (it names them in stream.typed). */
  private readonly directStreams = new Map<number, Stream>();
  /** The pty host announced `direct`: it serves direct streams, and takes forwarded Input without a reply. */
  private hostDirect = false;
  /** Keys (execEndKey) of the command ends audited lately, oldest first. */
  private readonly auditedEnds = new Set<string>();
  /** Resolved when the pty host has answered our hello; renewed when it is lost. */
  private hostReady: Promise<void> | undefined;
  private hostIsReady = false;
  private markHostReady!: () => void;
  /** An upgrade is under way; `awaitingHost`: its commit is sent, the next link up is the new pty host. */
  private upgrading = false;
  private awaitingHost = false;

  constructor(private readonly deps: FrontDeps) {
    this.renewHostReady();
  }

  /**
   * Requests wait on hostReady until the pty host has answered our hello.
   * Renewed only once it was settled: a request already waiting (on an
   * upgrade, or a pty host lost twice) must be woken by the next Welcome,
   * not left on a promise no one resolves.
   */
  private renewHostReady(): void {
    if (this.hostReady && !this.hostIsReady) return;
    this.hostIsReady = false;
    this.hostReady = new Promise((res) => { this.markHostReady = () => { this.hostIsReady = true; res(); }; });
  }

  private now(): number {
    return this.deps.now ? this.deps.now() : Date.now();
  }

  private later(ms: number, fn: () => void): () => void {
    if (this.deps.later) return this.deps.later(ms, fn);
    const timer = setTimeout(fn, ms);
    timer.unref();
    return () => clearTimeout(timer);
  }

  // ------------------------------------------------------------------ host

  /** Greets the pty host; call on start and whenever the link is renewed. */
  helloHost(): void {
    this.deps.sendToHost(encode({ t: MsgType.Hello, min: MIN_PROTOCOL_VERSION, max: PROTOCOL_VERSION, caps: [...CAPABILITIES], agent: 'zmx-front' }));
  }

  /** A new link to the pty host is up: greets it if an upgrade waits for the new pty host. */
  hostConnected(): void {
    if (!this.awaitingHost) return;
    this.awaitingHost = false;
    this.helloHost();
  }

  /**
   * server.upgrade: the pty host hands every session over to a new one
   * (src/ptyhost/handover.ts). Requests wait meanwhile; the ones the old
   * pty host had not answered fail (EUNAVAIL), and every stream ends
   * ('error': clients attach again).
   */
  private async upgradeHost(): Promise<OpResult<'server.upgrade'>> {
    const up = this.deps.upgrade;
    if (!up) throw new ZmxError('EINVAL', 'this server cannot upgrade its pty host');
    if (this.upgrading) throw new ZmxError('EINVAL', 'an upgrade is under way already');
    const from = this.deps.info().ptyhostPid;
    if (!from || !up.alive(from)) return { from: 0, to: 0, panes: 0 };
    this.upgrading = true;
    try {
      await this.hostReady;
      // From here on requests wait for the new pty host: none may change what is being handed over.
      this.renewHostReady();
      const id = this.nextHostId++;
      let handed: { pid: number; panes: number };
      try {
        const r = await new Promise<HostReply>((resolve, reject) => {
          this.hostPending.set(id, { resolve, reject });
          this.deps.sendToHost(encode({ t: MsgType.Request, id, op: 'host.handover', args: { script: up.script } }));
        });
        handed = r.result as OpResult<'host.handover'>;
      } catch (err) {
        this.markHostReady();
        const e = toZmxError(err);
        if (e.code === 'EPROTO' || (e.code === 'EINVAL' && /unknown op|not served/.test(e.message))) {
          throw new ZmxError('EINVAL', `the running pty host cannot hand its sessions over (${e.message}); it predates zmx server upgrade`);
        }
        throw e;
      }
      this.hostLost();
      up.newHost(handed.pid);
      this.awaitingHost = true;
      this.deps.sendToHost(encode({ t: MsgType.Request, id: this.nextHostId++, op: 'host.handover.commit', args: {} }));
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        this.hostReady,
        new Promise((_, reject) => { timer = setTimeout(() => reject(new ZmxError('ETIMEDOUT', `the new pty host (pid ${handed.pid}) did not answer`)), TIMING.serverStartTimeoutMs); }),
      ]).finally(() => clearTimeout(timer));
      this.deps.log('pty host upgraded', { from, to: handed.pid, panes: handed.panes });
      return { from, to: handed.pid, panes: handed.panes };
    } finally {
      this.upgrading = false;
      this.awaitingHost = false;
    }
  }

  /** The pty host went away: every request waiting on it fails. */
  hostLost(): void {
    this.renewHostReady();
    this.hostDirect = false;
    for (const [id, p] of this.hostPending) {
      p.reject(new HostStopped());
      this.hostPending.delete(id);
    }
    // Its panes are gone, and a new pty host numbers panes afresh: end every stream.
    for (const c of this.clients.values()) for (const s of [...c.streams.values()]) this.endStream(s, 'error', null, false);
    this.paneStreams.clear();
    this.leaders.clear();
  }

  /** A request to the pty host, for the portal router (host.exec.*). */
  host<K extends OpName>(op: K, args: OpArgs<K>, frames: Buffer[] = []): Promise<{ result: OpResult<K>; frames: Buffer[] }> {
    return this.hostRequest(op, args, frames);
  }

  /**
   * A request to the pty host. One that only reads (ASKED_AGAIN) is asked
   * again, once, of the next pty host when the one it went to stops before
   * answering: an idle pty host exits a second after its last session has
   * ended, and a `zmx ls` arriving just then should hear "no sessions", not
   * that a process it never asked for went away.
   */
  private async hostRequest<K extends OpName>(op: K, args: OpArgs<K>, frames: Buffer[] = []): Promise<{ result: OpResult<K>; frames: Buffer[] }> {
    try {
      return await this.hostRequestOnce(op, args, frames);
    } catch (err) {
      if (!(err instanceof HostStopped) || !ASKED_AGAIN.has(op)) throw err;
      return this.hostRequestOnce(op, args, frames);
    }
  }

  private async hostRequestOnce<K extends OpName>(op: K, args: OpArgs<K>, frames: Buffer[]): Promise<{ result: OpResult<K>; frames: Buffer[] }> {
    this.deps.wakeHost();
    await this.hostReady;
    const id = this.nextHostId++;
    return new Promise((resolve, reject) => {
      this.hostPending.set(id, { resolve: resolve as (r: HostReply) => void, reject });
      this.deps.sendToHost(encode({ t: MsgType.Request, id, op, args: args as Record<string, unknown> }, frames));
    });
  }

  onHostMessage(frames: Buffer[]): void {
    let msg: Message;
    try {
      msg = decode(frames);
    } catch (err) {
      this.deps.log('bad message from the pty host', { error: toZmxError(err).message });
      return;
    }
    const h = msg.header;
    switch (h.t) {
      case MsgType.Reply: {
        const p = this.hostPending.get(h.id);
        if (p) { this.hostPending.delete(h.id); p.resolve({ result: h.result, frames: msg.frames }); }
        return;
      }
      case MsgType.Error: {
        const p = this.hostPending.get(h.id);
        if (p) { this.hostPending.delete(h.id); p.reject(new ZmxError(h.code, h.message)); }
        else this.deps.log('pty host error', { code: h.code, message: h.message });
        return;
      }
      case MsgType.Output: {
        const data = msg.frames[0] ?? Buffer.alloc(0);
        if (this.subscribing > 0) this.recentOutput.push({ paneSid: h.sid, seq: h.seq, data });
        for (const s of this.paneStreams.get(h.sid) ?? []) {
          if (s.direct) continue; // the pty host sends it
          if (s.pending) s.pending.push({ seq: h.seq, data });
          else this.deliver(s, h.seq, data);
        }
        return;
      }
      case MsgType.Event: {
        const exitCode = typeof h.data['exitCode'] === 'number' ? h.data['exitCode'] : null;
        const reason: StreamEndReason = h.data['killed'] === true ? 'killed' : 'exited';
        if (h.name === 'session.exit') {
          const sids = Array.isArray(h.data['paneSids']) ? (h.data['paneSids'] as number[]) : [];
          for (const paneSid of sids) this.endPaneStreams(paneSid, reason, exitCode);
          for (const s of this.streamsOf(String(h.data['name']), 'tui')) this.endStream(s, reason, exitCode, false, true, true);
          this.leaders.delete(String(h.data['name']));
        } else if (h.name === 'pane.exit' && typeof h.data['paneSid'] === 'number') {
          this.endPaneStreams(h.data['paneSid'], reason, exitCode);
        } else if (h.name === 'stream.typed') {
          // A direct stream typed and was not the leader: it is now. Its keys
          // wait in the pty host for host.lead, sent behind the resize.
          const s = this.directStreams.get(Number(h.data['sid']));
          if (s && !s.readOnly) {
            const lead = s.parent ?? s;
            this.takeLead(lead, false);
            this.hostRequest('host.lead', { name: lead.session, sid: lead.sid }).catch(() => {});
          }
        } else if (h.name === 'exec.end') {
          this.execEnded(h.data);
        } else if (h.name === 'session.layout') {
          const session = h.data['session'] as SessionInfo;
          for (const s of this.streamsOf(String(h.data['name']), 'tui')) {
            this.sendClient(s.client, { t: MsgType.Event, name: 'session.layout', data: { sid: s.sid, session: this.withClients(session) } });
          }
        }
        return;
      }
      case MsgType.Welcome:
        this.hostDirect = h.caps.includes(DIRECT_CAPABILITY);
        this.markHostReady();
        return;
      case MsgType.Pong:
        return;
      default:
        this.deps.log('unexpected message from the pty host', { t: h.t });
    }
  }

  /**
   * A command the pty host runs has ended: its audit line (op 'exec', how it
   * ended, what it printed), then the acknowledgement that stops the pty host
   * sending it again. Written once: an end this front audited already is only
   * acknowledged again.
   */
  private execEnded(data: Record<string, unknown>): void {
    const info = data['exec'] as ExecInfo | undefined;
    if (!info || typeof info !== 'object' || !Number.isSafeInteger(info.id)) {
      this.deps.log('exec.end without a command', {});
      return;
    }
    const key = `${info.id}:${info.pid}:${info.started}`;
    // Sent again to this new front: the last one may have written it and died
    // before its acknowledgement reached the pty host.
    const written = this.auditedEnds.has(key) || (data['again'] === true && this.deps.auditedEnd?.(key) === true);
    if (!written) {
      const r = info.result;
      const entry: AuditEntry = {
        time: new Date(typeof data['ended'] === 'number' ? data['ended'] : this.now()).toISOString(),
        key: String(data['owner'] ?? ''), who: String(data['who'] ?? ''), session: String(data['session'] ?? ''),
        op: 'exec', argv: Array.isArray(info.argv) ? info.argv : [], result: 'OK',
        exitCode: r?.exitCode ?? null, signal: r?.signal ?? null, timedOut: r?.timedOut ?? false,
        end: key, bytes: typeof data['bytes'] === 'number' ? data['bytes'] : 0, durationMs: r?.durationMs ?? 0,
      };
      try {
        this.deps.audit?.(entry);
      } catch (err) {
        this.deps.log('could not write the audit log', { error: String(err) });
      }
    }
    this.auditedEnds.add(key); // a key it holds already keeps its place
    if (this.auditedEnds.size > AUDITED_ENDS_KEPT) this.auditedEnds.delete(this.auditedEnds.values().next().value!);
    this.hostRequest('host.exec.ack', { exec: info.id }).catch(() => {});
  }

  private endPaneStreams(paneSid: number, reason: StreamEndReason, exitCode: number | null): void {
    for (const s of [...(this.paneStreams.get(paneSid) ?? [])]) this.endStream(s, reason, exitCode, false, true, true);
    this.paneStreams.delete(paneSid);
  }

  private streamsOf(session: string, kind: StreamKind): Stream[] {
    const out: Stream[] = [];
    for (const c of this.clients.values()) for (const s of c.streams.values()) if (s.session === session && s.kind === kind) out.push(s);
    return out;
  }

  // --------------------------------------------------------------- clients

  /**
   * Sends to a client; on a resumable link the message is numbered and kept
   * until the client confirms it. It is sent even while the client is away:
   * libzmq drops what it cannot deliver, and a resume sends it again.
   */
  private sendClient(c: Client, header: Header, frames: Buffer[] = []): void {
    if (!c.resume || !isSequencedType(header.t)) {
      this.deps.sendToClient(c.peer, encode(header, frames));
      return;
    }
    const q = c.out.take();
    const wire = encode({ ...header, q } as Header, frames);
    c.out.keep(q, wire, header.t === MsgType.Output ? { sid: header.sid, seq: header.seq } : null);
    this.deps.sendToClient(c.peer, wire);
  }

  /**
   * One chunk of a pane's output to one stream, within the stream's credit:
   * past its window the stream falls behind and the chunk is only counted;
   * the client gets the current screen (Resync) once it has caught up.
   */
  private deliver(s: Stream, seq: number, data: Buffer): void {
    if (seq <= s.fromSeq) return;
    if (s.client.credit && !s.credit.offer(seq, data.length)) return;
    this.sendClient(s.client, { t: MsgType.Output, sid: s.sid, seq }, [data]);
  }

  /** The client has consumed stream output up to `seq`: its credit returns. */
  private credit(s: Stream, seq: number): void {
    if (s.credit.ack(seq)) this.resync(s);
  }

  /**
   * Replaces what a stream missed with the pane's current screen: a fresh
   * snapshot from the pty host, then the output after it. Output arriving
   * meanwhile waits in `pending`, as for a new stream.
   */
  private resync(s: Stream): void {
    s.credit.resyncing = true;
    s.pending = [];
    this.hostRequest('host.snapshot', { pane: s.paneSid, text: s.kind === 'tail' }).then(({ result, frames }) => {
      const buffered = s.pending ?? [];
      s.pending = null;
      s.credit.resyncing = false;
      if (!s.client.streams.has(s.sid)) return;
      const screen = frames[0] ?? Buffer.alloc(0);
      s.fromSeq = result.seq;
      const skipped = s.credit.resynced(result.seq, screen.length);
      this.deps.log('stream resynced', { sid: s.sid, session: s.session, skipped });
      this.sendClient(s.client, { t: MsgType.Resync, sid: s.sid, seq: result.seq, skipped }, [screen]);
      for (const o of buffered) this.deliver(s, o.seq, o.data);
    }, () => {
      // The pane is gone (its StreamEnd follows) or the pty host is: nothing to show.
      s.pending = null;
      s.credit.resyncing = false;
    });
  }

  /** Confirms receipt to a client soon (at once when many messages are unconfirmed). */
  private confirmLater(c: Client): void {
    if (c.in.confirmDue) {
      this.confirmNow(c);
      return;
    }
    if (c.receivedTimer) return;
    c.receivedTimer = this.later(FLOW.receivedDelayMs, () => this.confirmNow(c));
  }

  private confirmNow(c: Client): void {
    c.receivedTimer?.();
    c.receivedTimer = null;
    if (c.in.hasUnconfirmed && this.clients.get(c.key) === c) this.sendClient(c, { t: MsgType.Received, recv: c.in.confirm() });
  }

  private sendError(peer: PeerId, id: number, err: unknown): void {
    const e = toZmxError(err);
    this.deps.sendToClient(peer, encode({ t: MsgType.Error, id, code: e.code, message: e.message }));
  }

  onClientMessage(peer: PeerId, frames: Buffer[]): void {
    let msg: Message;
    try {
      msg = decode(frames);
    } catch (err) {
      this.sendError(peer, requestIdOf(frames), err);
      return;
    }
    const key = peer.toString('hex');
    const h = msg.header;
    if (h.t === MsgType.Hello) {
      try {
        this.hello(peer, key, h);
      } catch (err) {
        this.sendError(peer, 0, err);
      }
      return;
    }
    const client = this.clients.get(key);
    if (!client) {
      this.sendError(peer, h.t === MsgType.Request ? h.id : 0, new ZmxError('EPROTO', 'send hello first'));
      return;
    }
    client.lastSeen = this.now();
    if (client.away) this.comeBack(client);
    if (client.resume && isSequencedType(h.t)) {
      const q = (h as { q?: number }).q;
      if (q === undefined) {
        this.sendError(peer, h.t === MsgType.Request ? h.id : 0, new ZmxError('EPROTO', `message 0x${h.t.toString(16)} without a link sequence number on a resumable link`));
        return;
      }
      // A repeat is dropped; a gap means messages were lost with a connection:
      // the client says hello to resume and sends them again, in order.
      if (client.in.arrive(q, frameBytes(frames)) !== 'next') return;
      this.confirmLater(client);
    }
    switch (h.t) {
      case MsgType.Received:
        client.out.confirm(h.recv);
        return;
      case MsgType.Ping:
        this.sendClient(client, { t: MsgType.Pong, ts: h.ts });
        return;
      case MsgType.Request:
        this.request(client, h.id, h.op, h.args, msg.frames).then(
          (r) => this.sendClient(client, { t: MsgType.Reply, id: h.id, result: r.result }, r.frames),
          (err) => this.sendError(peer, h.id, err),
        );
        return;
      case MsgType.Input: {
        const s = client.streams.get(h.sid);
        if (!s || (s.kind !== 'attach' && s.kind !== 'view')) return this.sendError(peer, 0, new ZmxError('EPROTO', `no attached stream ${h.sid}`));
        if (s.readOnly) return;
        this.takeLead(s.parent ?? s);
        const data = msg.frames[0] ?? Buffer.alloc(0);
        // A pty host that takes Input needs no request and sends no reply per keystroke.
        if (this.hostDirect) this.deps.sendToHost(encode({ t: MsgType.Input, sid: s.paneSid }, [data]));
        else this.hostRequest('host.input', { pane: s.paneSid }, [data]).catch(() => {});
        return;
      }
      case MsgType.Resize: {
        const s = client.streams.get(h.sid);
        if (!s) return this.sendError(peer, 0, new ZmxError('EPROTO', `no stream ${h.sid}`));
        s.cols = h.cols;
        s.rows = h.rows;
        const leader = this.leaders.get(s.session);
        if (isAttachment(s) && !s.readOnly && (!leader || leader === s || this.policy() === 'smallest')) this.applySize(leader ?? s);
        return;
      }
      case MsgType.Detach: {
        const s = client.streams.get(h.sid);
        if (s) this.endStream(s, 'detached', null, true);
        return;
      }
      case MsgType.Ack: {
        const s = client.streams.get(h.sid);
        if (s) this.credit(s, h.seq);
        return;
      }
      default:
        this.sendError(peer, 0, new ZmxError('EPROTO', `clients may not send message 0x${h.t.toString(16)}`));
    }
  }

  /**
   * A Hello: a new client, a client starting afresh on a known connection
   * (its streams are void; it knows, and opens them again), or — with
   * `resume` — a client whose link dropped carrying on where it was.
   */
  private hello(peer: PeerId, key: string, h: HelloMsg): void {
    const publicKey = this.provenKey(h);
    const version = negotiateVersion(h.min, h.max);
    const agent = `zmx-front/${this.deps.info().version}`;
    const resume = h.caps.includes('resume');
    const caps = resume ? [...CAPABILITIES, ...LINK_CAPABILITIES] : [...CAPABILITIES];
    const existing = this.clients.get(key);
    if (existing && h.resume !== undefined && existing.resume && existing.publicKey === publicKey && existing.version === version) {
      const missing = existing.out.after(h.resume);
      if (missing) {
        existing.peer = peer;
        existing.lastSeen = this.now();
        if (existing.away) this.comeBack(existing);
        this.deps.sendToClient(peer, encode({ t: MsgType.Welcome, version, caps, agent, resumed: true, recv: existing.in.received }));
        for (const k of missing) {
          // Output of a stream that fell behind is replaced by a Resync right
          // after: send its numbers (the link needs them) without its bytes.
          const s = k.meta ? existing.streams.get(k.meta.sid) : undefined;
          if (k.meta && s?.credit.behind) this.deps.sendToClient(peer, encode({ t: MsgType.Output, sid: k.meta.sid, seq: k.meta.seq, q: k.q }, [Buffer.alloc(0)]));
          else this.deps.sendToClient(peer, k.frames);
        }
        for (const s of existing.streams.values()) {
          if (s.credit.behind && !s.credit.resyncing) {
            s.credit.clear();
            this.resync(s);
          }
        }
        this.deps.log('client resumed', { replayed: missing.length });
        return;
      }
    }
    if (existing) this.dropClient(existing, 'replaced', false);
    const credit = resume && h.caps.includes('credit');
    this.clients.set(key, {
      key, publicKey, peer, version, lastSeen: this.now(), streams: new Map(),
      resume, credit, direct: h.caps.includes(DIRECT_CAPABILITY), out: new LinkSender(), in: new LinkReceiver(), away: false, receivedTimer: null,
    });
    this.deps.sendToClient(peer, encode(resume ? { t: MsgType.Welcome, version, caps, agent, resumed: false, recv: 0 } : { t: MsgType.Welcome, version, caps, agent }));
  }

  /** An away client is heard again: it counts as attached once more. */
  private comeBack(c: Client): void {
    c.away = false;
    const sessions = new Set([...c.streams.values()].map((s) => s.session));
    for (const name of sessions) {
      const any = [...c.streams.values()].find((s) => s.session === name && isAttachment(s) && !s.readOnly);
      if (any && this.policy() === 'smallest') this.applySize(any);
    }
  }

  private policy(): SizePolicy {
    return this.deps.sizePolicy?.() ?? 'latest';
  }

  /** The client that typed last sets the size (zmx's policy, tmux's `latest`); `tell`: the pty host does not know yet. */
  private takeLead(s: Stream, tell = true): void {
    if (this.leaders.get(s.session) === s) return;
    this.setLeader(s.session, s, tell);
    this.applySize(s);
  }

  /**
   * Every change of a session's leader goes through here, so that a pty
   * host serving direct streams knows it too: it reports typing on a
   * direct stream that is not the leader (Event stream.typed), and only then.
   */
  private setLeader(name: string, s: Stream | null, tell = true): void {
    if (s) this.leaders.set(name, s);
    else this.leaders.delete(name);
    if (tell && this.hostDirect) this.hostRequest('host.lead', { name, sid: s?.sid ?? 0 }).catch(() => {});
  }

  /** The window area for a session: the leader's, or under `smallest` the least of every interactive client's. */
  private sizeFor(leader: Stream, joining?: Stream): { cols: number; rows: number } | null {
    const sized = (s: Stream) => isAttachment(s) && !s.readOnly && !s.client.away && s.cols > 0 && s.rows > 0;
    if (this.policy() !== 'smallest') return sized(leader) ? windowSize(leader) : null;
    let best: { cols: number; rows: number } | null = null;
    const all = [...this.clients.values()].flatMap((c) => [...c.streams.values()]);
    for (const s of joining ? [...all, joining] : all) {
      if (s.session !== leader.session || !sized(s)) continue;
      const w = windowSize(s);
      best = best ? { cols: Math.min(best.cols, w.cols), rows: Math.min(best.rows, w.rows) } : w;
    }
    return best;
  }

  /** Applies the session's size; `joining` counts a stream not registered yet. */
  private applySize(s: Stream, joining?: Stream): void {
    const size = this.sizeFor(s, joining);
    if (size) this.hostRequest('host.resize', { name: s.session, ...size }).catch(() => {});
  }

  private clientsOf(name: string): number {
    let n = 0;
    for (const c of this.clients.values()) {
      if (c.away) continue;
      for (const s of c.streams.values()) if (s.session === name && s.kind !== 'view') n++;
    }
    return n;
  }

  private withClients(info: SessionInfo): SessionInfo {
    return { ...info, clients: this.clientsOf(info.name) };
  }

  /** Who a client is, for policy and audit: its key's fingerprint, name and limits. */
  private callerOf(c: Client): Caller {
    const found = c.publicKey !== null ? this.deps.limitsOf?.(c.publicKey) ?? null : null;
    return {
      client: c.key,
      key: c.publicKey !== null ? fingerprint(c.publicKey) : 'local',
      who: found?.name ?? '',
      limits: found?.limits ?? ALL_LIMITS,
    };
  }

  /**
   * Every request: its arguments checked, the key's limits applied
   * (EDENIED), then served; the audit log gets a line for it — always for a
   * refusal, and for a success unless the op is a poll or a chunk of a whole
   * that is logged (policy.ts).
   */
  private async request(client: Client, id: number, op: string, args: Record<string, unknown>, frames: Buffer[]): Promise<{ result: Record<string, unknown>; frames: Buffer[] }> {
    validateArgs(op, args);
    if (op.startsWith('host.')) throw new ZmxError('EPROTO', `op "${op}" is internal`);
    if (op.startsWith('stream.')) throw new ZmxError('EPROTO', `op "${op}" is served only on the pty host's direct endpoint`);
    const caller = this.callerOf(client);
    const started = this.now();
    try {
      authorize(op, caller.limits);
      // A read-only key may watch a session, never type into it.
      const own = op === 'session.attach' && caller.limits.readOnly ? { ...args, readOnly: true } : args;
      const confined = this.deps.portal?.confine && !PORTAL_OPS.has(op) ? await this.deps.portal.confine(caller, op, own, frames) : { args: own };
      const served = 'answer' in confined ? confined.answer : await this.serve(client, caller, op, confined.args, frames);
      if (isAudited(op)) this.audit(caller, op, args, 'OK', frames, served, started);
      return served;
    } catch (err) {
      this.audit(caller, op, args, toZmxError(err).code, frames, null, started);
      throw err;
    }
  }

  private audit(caller: Caller, op: OpName, args: Record<string, unknown>, result: string, inFrames: Buffer[], served: { result: Record<string, unknown>; frames: Buffer[] } | null, started: number): void {
    if (!this.deps.audit) return;
    let bytes: number = frameBytes(inFrames) + frameBytes(served?.frames ?? []);
    if (typeof served?.result['bytes'] === 'number' && op === 'fs.upload.commit') bytes = served.result['bytes'];
    const upload = typeof args['upload'] === 'number' ? this.deps.portal?.uploadPath(args['upload']) : null;
    const names = Array.isArray(args['names']) ? (args['names'] as string[]).join(',') : '';
    const session = String(args['name'] ?? args['from'] ?? args['session'] ?? upload?.session ?? names);
    const path = typeof args['path'] === 'string' ? args['path']
      : Array.isArray(args['paths']) ? (args['paths'] as string[]).join(' ')
        : typeof args['from'] === 'string' && typeof args['to'] === 'string' && op === 'fs.mv' ? `${args['from']} -> ${args['to']}`
          : upload?.path ?? (typeof served?.result['path'] === 'string' ? served.result['path'] : undefined);
    const argv = op === 'exec.start' ? ((args['argv'] as string[]).length ? (args['argv'] as string[]) : ['sh', '-c', String(args['shell'])]) : undefined;
    const entry: AuditEntry = {
      time: new Date(started).toISOString(), key: caller.key, who: caller.who, session, op,
      ...(path !== undefined ? { path } : {}), ...(argv ? { argv } : {}),
      result, bytes, durationMs: this.now() - started,
    };
    try {
      this.deps.audit(entry);
    } catch (err) {
      this.deps.log('could not write the audit log', { error: String(err) });
    }
  }

  private async serve(client: Client, caller: Caller, op: OpName, args: Record<string, unknown>, frames: Buffer[]): Promise<{ result: Record<string, unknown>; frames: Buffer[] }> {
    if (PORTAL_OPS.has(op)) {
      if (!this.deps.portal) throw new ZmxError('EUNAVAIL', 'this server runs no file or command service');
      return this.deps.portal.handle(caller, op, args, frames);
    }
    if (!FRONT_OPS.has(op)) {
      const r = await this.hostRequest(op, args as never, frames);
      return { result: r.result as Record<string, unknown>, frames: r.frames };
    }
    const wrap = (result: unknown, out: Buffer[] = []) => ({ result: result as Record<string, unknown>, frames: out });
    switch (op as OpName) {
      case 'server.info':
        return wrap({ ...this.deps.info(), protocol: PROTOCOL_VERSION });
      case 'server.stop':
        setImmediate(() => this.deps.stop());
        return wrap({});
      case 'server.upgrade':
        return wrap(await this.upgradeHost());
      case 'host.handover':
      case 'host.handover.commit':
        throw new ZmxError('EPROTO', `${op} is sent by the front alone`);
      case 'server.pair':
        if (!this.deps.pair) throw new ZmxError('EINVAL', 'pairing needs a server listening on TCP: zmx server start --listen tcp://ADDRESS:PORT');
        return wrap(await this.deps.pair());
      case 'pair.claim':
        throw new ZmxError('EPROTO', 'pair.claim is answered only on a pairing endpoint');
      case 'session.list': {
        const r = await this.hostRequest('session.list', {});
        return wrap({ sessions: r.result.sessions.map((s) => this.withClients(s)) });
      }
      case 'session.get': {
        const r = await this.hostRequest('session.get', args as OpArgs<'session.get'>);
        return wrap({ session: this.withClients(r.result.session) });
      }
      case 'session.attach':
        return this.attach(client, args as OpArgs<'session.attach'>);
      case 'session.tail': {
        const a = args as OpArgs<'session.tail'>;
        const { stream } = await this.openStream(client, a.name, 'tail', false, 0, 0, 0, null);
        return wrap({ sid: stream.sid, seq: stream.fromSeq });
      }
      case 'session.switch': {
        const a = args as OpArgs<'session.switch'>;
        if (a.create && a.create.name !== a.to) throw new ZmxError('EINVAL', 'session.switch: create.name must equal to');
        // The client to move: the one leading `from`, else any attached to it.
        let target = this.leaders.get(a.from);
        if (!target) {
          for (const c of this.clients.values()) for (const s of c.streams.values()) if (!target && s.session === a.from && isAttachment(s)) target = s;
        }
        if (!target) throw new ZmxError('EINVAL', `no client is attached to session "${a.from}" to switch`);
        let created = false;
        if (a.create) created = (await this.hostRequest('session.create', { ...a.create, ifMissing: true })).result.created;
        else await this.hostRequest('session.get', { name: a.to });
        this.sendClient(target.client, { t: MsgType.Event, name: 'session.switch', data: { sid: target.sid, to: a.to } });
        this.endStream(target, 'replaced', null, true);
        return wrap({ created });
      }
      case 'session.detach': {
        const a = args as OpArgs<'session.detach'>;
        await this.hostRequest('session.get', { name: a.name });
        let detached = 0;
        for (const c of this.clients.values()) {
          for (const s of [...c.streams.values()]) {
            if (s.session === a.name && isAttachment(s)) { this.endStream(s, 'detached', null, true); detached++; }
          }
        }
        return wrap({ detached });
      }
      case 'pane.subscribe': {
        const a = args as OpArgs<'pane.subscribe'>;
        const parent = client.streams.get(a.attach);
        if (!parent || parent.kind !== 'tui') throw new ZmxError('EINVAL', `stream ${a.attach} is not a full-screen attach of this client`);
        const { stream, snapshot } = await this.openStream(client, parent.session, 'view', parent.readOnly, 0, 0, a.pane, parent);
        return wrap({ sid: stream.sid, seq: stream.fromSeq, ...(stream.direct ? { direct: stream.direct } : {}) }, [snapshot]);
      }
      default:
        throw new ZmxError('EPROTO', `op "${op}" is not served`);
    }
  }

  private async attach(client: Client, a: OpArgs<'session.attach'>): Promise<{ result: Record<string, unknown>; frames: Buffer[] }> {
    let created = false;
    if (a.create && a.create.name !== a.name) throw new ZmxError('EINVAL', 'session.attach: create.name must equal name');
    if (a.create) {
      const r = await this.hostRequest('session.create', { ...a.create, ifMissing: true });
      created = r.result.created;
    }
    if (a.mode === 'tui') {
      const stream = this.newStream(client, a.name, 'tui', a.readOnly, a.cols, a.rows, 0, null);
      await this.leadIfFirst(stream);
      if (this.clients.get(client.key) !== client) throw new ZmxError('EUNAVAIL', 'client gone');
      client.streams.set(stream.sid, stream);
      const session = (await this.hostRequest('session.get', { name: a.name })).result.session;
      const result: OpResult<'session.attach'> = { sid: stream.sid, seq: 0, session: this.withClients(session), created };
      return { result: result as unknown as Record<string, unknown>, frames: [] };
    }
    const { stream, snapshot, session } = await this.openStream(client, a.name, 'attach', a.readOnly, a.cols, a.rows, 0, null);
    const result: OpResult<'session.attach'> = { sid: stream.sid, seq: stream.fromSeq, session: this.withClients(session), created, ...(stream.direct ? { direct: stream.direct } : {}) };
    return { result: result as unknown as Record<string, unknown>, frames: [snapshot] };
  }

  private newStream(client: Client, name: string, kind: StreamKind, readOnly: boolean, cols: number, rows: number, pane: number, parent: Stream | null): Stream {
    return {
      sid: this.nextSid++, client, session: name, kind, readOnly, paneSid: pane, parent, views: new Set(), pending: [], fromSeq: 0, cols, rows,
      credit: new StreamCredit(), direct: null,
    };
  }

  /**
   * The first interactive client of a session leads, and the session is laid
   * out at its size. Under `smallest`, every client that joins may shrink it.
   */
  private async leadIfFirst(stream: Stream): Promise<void> {
    if (!isAttachment(stream) || stream.readOnly) return;
    if (this.leaders.has(stream.session)) {
      if (this.policy() === 'smallest') this.applySize(stream, stream);
      return;
    }
    this.setLeader(stream.session, stream);
    const size = this.sizeFor(stream);
    try {
      if (size) await this.hostRequest('host.resize', { name: stream.session, ...size });
    } catch (err) {
      if (this.leaders.get(stream.session) === stream) this.setLeader(stream.session, null);
      throw err;
    }
  }

  /**
   * Opens a pane stream: subscribes the front to the pane, or — for a local
   * client's attach or view, when the pty host serves direct streams —
   * grants the stream to the pty host, which then carries its output and
   * keystrokes (docs/protocol.md, "Direct streams").
   */
  private async openStream(client: Client, name: string, kind: StreamKind, readOnly: boolean, cols: number, rows: number, pane: number, parent: Stream | null): Promise<{ stream: Stream; snapshot: Buffer; session: SessionInfo }> {
    const stream = this.newStream(client, name, kind, readOnly, cols, rows, 0, parent);
    await this.leadIfFirst(stream);
    // A read-only viewer does not answer the program's terminal queries, so
    // it does not count as interactive: the server's emulator keeps answering.
    const interactive = (kind === 'attach' || kind === 'view') && !readOnly;
    const direct = (kind === 'attach' || kind === 'view') && client.direct && client.publicKey !== null && this.hostDirect && this.deps.direct !== undefined;
    let r;
    if (!direct) this.subscribing += 1;
    try {
      if (direct) {
        const token = randomBytes(DIRECT_TOKEN_BYTES).toString('hex');
        r = await this.hostRequest('host.grant', {
          name, pane, interactive, sid: stream.sid, client: client.key, key: client.publicKey!, token, readOnly, lead: (parent ?? stream).sid,
        });
        stream.direct = { ...this.deps.direct!, token };
        stream.pending = null;
      } else {
        r = await this.hostRequest('host.subscribe', { name, pane, interactive });
      }
      stream.paneSid = r.result.paneSid;
      stream.fromSeq = r.result.seq;
      if (this.clients.get(client.key) !== client || (parent && !client.streams.has(parent.sid))) {
        // The client (or the tui stream this view belongs to) went away while we waited.
        this.unsubscribe(stream);
        throw new ZmxError('EUNAVAIL', 'client gone');
      }
      parent?.views.add(stream);
      // Join the pane's fan-out with everything sent since the snapshot.
      if (!direct) stream.pending = this.recentOutput.filter((o) => o.paneSid === stream.paneSid && o.seq > stream.fromSeq).map(({ seq, data }) => ({ seq, data }));
      else this.directStreams.set(stream.sid, stream);
      client.streams.set(stream.sid, stream);
      let set = this.paneStreams.get(stream.paneSid);
      if (!set) this.paneStreams.set(stream.paneSid, (set = new Set()));
      set.add(stream);
    } catch (err) {
      if (this.leaders.get(name) === stream) this.setLeader(name, null);
      throw err;
    } finally {
      if (!direct) {
        this.subscribing -= 1;
        if (this.subscribing === 0) this.recentOutput = [];
      }
    }
    // Output that raced the snapshot: deliver what the snapshot does not
    // contain, after the reply. The reply is queued in this turn of the event
    // loop; until the next, output keeps collecting in `pending`, so order holds.
    if (!direct) {
      setImmediate(() => {
        const buffered = stream.pending ?? [];
        stream.pending = null;
        if (!client.streams.has(stream.sid)) return;
        for (const o of buffered) this.deliver(stream, o.seq, o.data);
      });
    }
    return { stream, snapshot: r.frames[0] ?? Buffer.alloc(0), session: r.result.session };
  }

  /** Tells the pty host a stream no longer needs its pane (a direct stream's grant ends). */
  private unsubscribe(s: Stream): void {
    if (s.direct) this.hostRequest('host.release', { sid: s.sid }).catch(() => {});
    else if (s.paneSid !== 0) this.hostRequest('host.unsubscribe', { pane: s.paneSid, interactive: (s.kind === 'attach' || s.kind === 'view') && !s.readOnly }).catch(() => {});
  }

  /**
   * Ends a stream: `unsubscribe` tells the pty host (the front decided);
   * `paneEnded`: the pty host ended the pane and has told direct streams'
   * clients itself, behind their last output.
   */
  private endStream(s: Stream, reason: StreamEndReason, exitCode: number | null, unsubscribe: boolean, notify = true, paneEnded = false): void {
    if (!s.client.streams.delete(s.sid)) return;
    for (const v of [...s.views]) this.endStream(v, reason, exitCode, unsubscribe, notify, paneEnded);
    s.parent?.views.delete(s);
    this.paneStreams.get(s.paneSid)?.delete(s);
    this.directStreams.delete(s.sid);
    if (this.leaders.get(s.session) === s) this.setLeader(s.session, null);
    // Under `smallest`, a client leaving may let the session grow.
    if (isAttachment(s) && this.policy() === 'smallest') {
      const other = [...this.clients.values()].flatMap((c) => [...c.streams.values()]).find((o) => o.session === s.session && isAttachment(o) && !o.readOnly);
      if (other) this.applySize(other);
    }
    if (unsubscribe) this.unsubscribe(s);
    if (notify && !(paneEnded && s.direct)) this.sendClient(s.client, { t: MsgType.StreamEnd, sid: s.sid, reason, exitCode });
  }

  /** The one place a client is forgotten: its streams end, its uploads and watches go. */
  private dropClient(c: Client, reason: StreamEndReason, notify = true): void {
    for (const s of [...c.streams.values()]) this.endStream(s, reason, null, true, notify);
    this.deps.portal?.dropClient(c.key).catch((err) => this.deps.log('portal cleanup failed', { error: String(err) }));
    c.receivedTimer?.();
    c.receivedTimer = null;
    this.clients.delete(c.key);
  }

  /**
   * Clients silent for longer than the heartbeat timeout (a client with
   * open streams pings; a killed or stopped one does not) stop counting as
   * attached, so `clients=` and the size stay true. One that can resume is
   * kept for a grace period — longer when it has streams to carry on —
   * then forgotten; one that cannot is forgotten at once.
   */
  tick(): void {
    const now = this.now();
    for (const c of [...this.clients.values()]) {
      const silent = now - c.lastSeen;
      if (silent <= TIMING.heartbeatTimeoutMs) continue;
      const grace = c.streams.size > 0 ? FLOW.resumeGraceMs : FLOW.resumeGraceIdleMs;
      if (c.resume && c.out.canResume && silent <= grace) {
        if (!c.away) this.goAway(c);
        continue;
      }
      this.dropClient(c, 'error');
    }
  }

  private goAway(c: Client): void {
    c.away = true;
    const sessions = new Set([...c.streams.values()].map((s) => s.session));
    for (const name of sessions) {
      const leader = this.leaders.get(name);
      if (leader?.client === c) this.setLeader(name, null);
      // Under `smallest`, an absent client no longer holds the session small.
      const other = [...this.clients.values()].flatMap((o) => [...o.streams.values()]).find((o) => o.session === name && isAttachment(o) && !o.readOnly && !o.client.away);
      if (other && this.policy() === 'smallest') this.applySize(other);
    }
  }

  /** The key a Hello proves, or null when the front does not check keys; throws EDENIED for a missing, bad or revoked one. */
  private provenKey(h: { key?: string; proof?: string; ts?: number }): string | null {
    if (!this.deps.verifyKey) return null;
    if (!h.key || !h.proof || h.ts === undefined || !this.deps.verifyKey(h.key, h.proof, h.ts)) {
      throw new ZmxError('EDENIED', 'hello did not prove its key (a client clock more than 5 minutes off, or not a zmx client)');
    }
    if (this.deps.isAuthorized && !this.deps.isAuthorized(h.key)) throw new ZmxError('EDENIED', `key ${fingerprint(h.key)} is not authorized on this server (revoked?)`);
    return h.key;
  }

  /**
   * Cuts every client whose key is no longer authorized (`zmx keys revoke`):
   * it gets EDENIED, its streams end, and it is forgotten; a Hello on the
   * same connection is refused the same way.
   */
  recheckKeys(): void {
    if (!this.deps.isAuthorized) return;
    for (const c of [...this.clients.values()]) {
      if (c.publicKey === null || this.deps.isAuthorized(c.publicKey)) continue;
      this.deps.log('cut a client whose key was revoked', { fingerprint: fingerprint(c.publicKey) });
      // The error first, so the client knows why its streams end; the pty
      // host refuses the key's direct claims by itself (ptyhost/main.ts).
      this.sendError(c.peer, 0, new ZmxError('EDENIED', `key ${fingerprint(c.publicKey)} was revoked on this server`));
      this.dropClient(c, 'error');
    }
  }

  /** A session's root, as the pty host knows it (a worktree session's is its worktree). */
  async sessionRoot(name: string): Promise<string> {
    const { session } = (await this.hostRequest('session.get', { name })).result;
    return session.worktree?.path ?? session.root;
  }

  /** A session as the pty host knows it (for the portal's confinement of paths). */
  async session(name: string): Promise<SessionInfo> {
    return (await this.hostRequest('session.get', { name })).result.session;
  }

  /** Every session's name (the portal counts them before a create). */
  async sessionNames(): Promise<string[]> {
    return (await this.hostRequest('session.list', {})).result.sessions.map((s) => s.name);
  }

  /** An fs.change event for a connection, if it is still here. */
  sendChange(clientKey: string, change: FsChange): void {
    const c = this.clients.get(clientKey);
    if (c) this.sendClient(c, { t: MsgType.Event, name: 'fs.change', data: { ...change } });
  }

  /** The public key a client connected with (for policy and audit), or null. */
  publicKeyOf(peer: PeerId): string | null {
    return this.clients.get(peer.toString('hex'))?.publicKey ?? null;
  }

  /** Clients heard from lately (away ones, kept only for a resume, do not count). */
  get clientCount(): number {
    let n = 0;
    for (const c of this.clients.values()) if (!c.away) n++;
    return n;
  }
}
