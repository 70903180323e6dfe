/**
 * Shared by the transport tests: a raw protocol client over a real
 * ClientLink (CurveZMQ DEALER), which records every message the server sends
 * and lets a test await one by predicate, and key helpers for a Sandbox.
 * Not a test file itself (no `.test` in its name).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Packr } from 'msgpackr';
import { randomBytes } from 'node:crypto';
import { ClientLink, type KeyPair } from '../../src/platform/zmq.js';
import { helloProof } from '../../src/common/curve.js';
import {
  MsgType, CAPABILITIES, PROTOCOL_VERSION, MIN_PROTOCOL_VERSION, decode,
  type Message, type ErrorMsg, type ReplyMsg, type OpName,
} from '../../src/common/protocol.js';
import { Sandbox } from '../helpers/harness.js';

/** Packs any value as a header would be, bypassing encode()'s typing. */
const rawPackr = new Packr({ useRecords: false, mapsAsObjects: true, int64AsType: 'number' });
export function pack(value: unknown): Buffer {
  return rawPackr.pack(value);
}

export function frontEndpoint(sb: Sandbox): string {
  return `ipc://${join(sb.dir, 'front.sock')}`;
}

export function ptyhostEndpoint(sb: Sandbox): string {
  return `ipc://${join(sb.dir, 'ptyhost.sock')}`;
}

export function directEndpoint(sb: Sandbox): string {
  return `ipc://${join(sb.dir, 'direct.sock')}`;
}

/** Reads a stored key of the sandbox (ZMX_KEYRING=file): keys/<role>.pub or .key. */
export function readKey(sb: Sandbox, file: string): string {
  return readFileSync(join(sb.configDir, 'keys', file), 'utf8').trim();
}

export function storedPair(sb: Sandbox, role: 'client' | 'server' | 'ptyhost'): KeyPair {
  return { publicKey: readKey(sb, `${role}.pub`), secretKey: readKey(sb, `${role}.key`) };
}

export interface Received {
  frames: Buffer[];
  /** The decoded message, or null when the server sent something undecodable. */
  msg: Message | null;
  /** Why decode failed, when it did. */
  undecodable: string | null;
}

interface Waiter {
  pred: (m: Message) => boolean;
  resolve: (m: Message) => void;
}

/** A protocol client on a real DEALER: records everything it receives. */
export class WireClient {
  readonly link: ClientLink;
  readonly received: Received[] = [];
  authFailures = 0;
  /** Every connection change reported by the link, in order. */
  readonly connectionChanges: boolean[] = [];
  private readonly claimed = new Set<Message>();
  private waiters: Waiter[] = [];
  private authWaiters: (() => void)[] = [];
  private connWaiters: { state: boolean; resolve: () => void }[] = [];
  private nextId = 1;
  private disposed = false;
  /** Timers of pending waits, cleared on dispose so no wait outlives its test. */
  private readonly timers = new Set<NodeJS.Timeout>();

  private timer(ms: number, onTimeout: () => void): NodeJS.Timeout {
    const t = setTimeout(() => { this.timers.delete(t); onTimeout(); }, ms);
    this.timers.add(t);
    return t;
  }

  private clear(t: NodeJS.Timeout): void {
    clearTimeout(t);
    this.timers.delete(t);
  }

  constructor(readonly endpoint: string, private readonly curve: { serverKey: string; pair: KeyPair } | null, routingId?: string) {
    this.link = new ClientLink({
      endpoint,
      curve: curve ? { serverKey: curve.serverKey, publicKey: curve.pair.publicKey, secretKey: curve.pair.secretKey } : null,
      onMessage: (frames) => this.onMessage(frames),
      onAuthFailure: () => {
        this.authFailures++;
        for (const w of this.authWaiters.splice(0)) w();
      },
      onConnectionChange: (connected) => {
        this.connectionChanges.push(connected);
        for (const w of [...this.connWaiters]) {
          if (w.state === connected) {
            this.connWaiters.splice(this.connWaiters.indexOf(w), 1);
            w.resolve();
          }
        }
      },
      // Every zmx client names its connection: the front learns each connection's key from it.
      routingId: routingId ?? randomBytes(16).toString('hex'),
    });
    this.link.connect();
  }

  private onMessage(frames: Buffer[]): void {
    let msg: Message | null = null;
    let undecodable: string | null = null;
    try {
      msg = decode(frames);
    } catch (err) {
      undecodable = (err as Error).message;
    }
    this.received.push({ frames, msg, undecodable });
    if (!msg) return;
    for (const w of this.waiters) {
      if (w.pred(msg)) {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        this.claimed.add(msg);
        w.resolve(msg);
        return;
      }
    }
  }

  /** Decoded messages received so far. */
  get messages(): Message[] {
    return this.received.flatMap((r) => (r.msg ? [r.msg] : []));
  }

  sendRaw(frames: Buffer[]): void {
    this.link.send(frames);
  }

  /** Sends any value as the header (it need not be a valid header). */
  send(header: unknown, frames: Buffer[] = []): void {
    this.link.send([pack(header), ...frames]);
  }

  /** The first unclaimed message, already received or still to come, that matches. */
  next(pred: (m: Message) => boolean, what: string, timeoutMs = 10_000): Promise<Message> {
    for (const m of this.messages) {
      if (!this.claimed.has(m) && pred(m)) {
        this.claimed.add(m);
        return Promise.resolve(m);
      }
    }
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        pred,
        resolve: (m) => { this.clear(timer); resolve(m); },
      };
      const timer = this.timer(timeoutMs, () => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`${this.endpoint}: timed out after ${timeoutMs} ms waiting for ${what}; received: ${this.describe()}`));
      });
      this.waiters.push(waiter);
    });
  }

  /** Marks every message received so far as seen: next() then looks only at later ones. */
  claimAll(): void {
    for (const m of this.messages) this.claimed.add(m);
  }

  /** Waits for an Error with this id (0: tied to no request). */
  error(id: number, what: string, timeoutMs?: number): Promise<ErrorMsg> {
    return this.next((m) => m.header.t === MsgType.Error && m.header.id === id, what, timeoutMs).then((m) => m.header as ErrorMsg);
  }

  /** Reply or Error answering request `id`. */
  answer(id: number, what: string, timeoutMs?: number): Promise<Message> {
    return this.next((m) => (m.header.t === MsgType.Reply || m.header.t === MsgType.Error) && m.header.id === id, what, timeoutMs);
  }

  hello(min = MIN_PROTOCOL_VERSION, max = PROTOCOL_VERSION, extraCaps: string[] = []): void {
    this.send({ t: MsgType.Hello, min, max, caps: [...CAPABILITIES, ...extraCaps], agent: 'zmx-test', ...this.proof() });
  }

  /** The fields by which a Hello proves this client's key (src/common/curve.ts); none for a plaintext client. */
  proof(): { key?: string; proof?: string; ts?: number } {
    const ts = Date.now();
    return this.curve ? { key: this.curve.pair.publicKey, proof: helloProof(this.curve.pair.publicKey, this.curve.pair.secretKey, this.curve.serverKey, ts), ts } : {};
  }

  /** Says hello and waits for Welcome (or an Error with id 0). */
  async handshake(timeoutMs?: number, extraCaps: string[] = []): Promise<Message> {
    this.hello(MIN_PROTOCOL_VERSION, PROTOCOL_VERSION, extraCaps);
    return this.next((m) => m.header.t === MsgType.Welcome || (m.header.t === MsgType.Error && m.header.id === 0), 'Welcome', timeoutMs);
  }

  /** Sends a request with a fresh id (or the given one); returns the id. */
  sendRequest(op: string, args: unknown, frames: Buffer[] = [], id = this.nextId++): number {
    this.send({ t: MsgType.Request, id, op, args }, frames);
    return id;
  }

  /** A request that must succeed: its Reply. */
  async request(op: OpName, args: Record<string, unknown>, frames: Buffer[] = [], timeoutMs?: number): Promise<Message<ReplyMsg>> {
    const id = this.sendRequest(op, args, frames);
    const m = await this.answer(id, `the answer to ${op} #${id}`, timeoutMs);
    if (m.header.t !== MsgType.Reply) throw new Error(`${op} failed: ${JSON.stringify(m.header)}`);
    return m as Message<ReplyMsg>;
  }

  /** Resolves on the next CURVE authentication failure (or at once if one happened). */
  authFailure(timeoutMs = 10_000): Promise<void> {
    if (this.authFailures > 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = this.timer(timeoutMs, () => reject(new Error(`${this.endpoint}: no authentication failure within ${timeoutMs} ms; received: ${this.describe()}`)));
      this.authWaiters.push(() => { this.clear(timer); resolve(); });
    });
  }

  /** Resolves on the next connection change to `state` (true: a handshake completed). */
  connection(state: boolean, timeoutMs = 10_000): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = this.timer(timeoutMs, () => reject(new Error(`${this.endpoint}: no ${state ? 'handshake' : 'disconnect'} within ${timeoutMs} ms (changes: ${this.connectionChanges.join(',')})`)));
      this.connWaiters.push({ state, resolve: () => { this.clear(timer); resolve(); } });
    });
  }

  describe(): string {
    const parts = this.received.slice(-8).map((r) => (r.msg ? JSON.stringify(r.msg.header).slice(0, 200) : `<undecodable: ${r.undecodable}>`));
    return `${this.received.length} message(s)${parts.length ? ': ' + parts.join(' | ') : ''}`;
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    await this.link.dispose();
  }
}

/** Bounded wait used only to prove that something does NOT happen. */
export function quiet(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Decodes the session names of a session.list reply. */
export function sessionNames(reply: Message<ReplyMsg>): string[] {
  const sessions = reply.header.result['sessions'] as { name: string }[];
  return sessions.map((s) => s.name);
}

export interface ServerContext {
  sb: Sandbox;
  serverKey: string;
  /** The local user's stored client keypair (authorized on first start). */
  userPair: KeyPair;
  /** A client on front.sock; curve null for a plaintext DEALER. Disposed at the end. */
  open(pair: KeyPair | null, opts?: { endpoint?: string; serverKey?: string; routingId?: string }): WireClient;
  /** An authorized client that has said hello. */
  openUser(): Promise<WireClient>;
}

/**
 * A private Sandbox with a real server holding session "a" (`zmx new -s a -d`);
 * every client opened through the context is closed and every server process
 * ended afterwards.
 */
export async function withServer(fn: (ctx: ServerContext) => Promise<void>, sandboxEnv: NodeJS.ProcessEnv = {}): Promise<void> {
  const sb = new Sandbox(sandboxEnv);
  const clients: WireClient[] = [];
  try {
    const r = await sb.zmx(['new', '-s', 'a', '-d']);
    if (r.status !== 0) throw new Error(`zmx new failed (${r.status}): ${r.stderr}`);
    const serverKey = readKey(sb, 'server.pub');
    const userPair = storedPair(sb, 'client');
    const open: ServerContext['open'] = (pair, opts = {}) => {
      const c = new WireClient(opts.endpoint ?? frontEndpoint(sb), pair ? { serverKey: opts.serverKey ?? serverKey, pair } : null, opts.routingId);
      clients.push(c);
      return c;
    };
    const openUser = async () => {
      const c = open(userPair);
      const w = await c.handshake();
      if (w.header.t !== MsgType.Welcome) throw new Error(`no Welcome for the user key: ${JSON.stringify(w.header)}`);
      return c;
    };
    await fn({ sb, serverKey, userPair, open, openUser });
  } finally {
    for (const c of clients) await c.dispose().catch(() => {});
    await sb.cleanup();
  }
}
