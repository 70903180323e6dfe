/**
 * The one file that imports zeromq. Everything above it speaks in terms of
 * Endpoint/Link objects that send and receive frames, so logic can be
 * tested with a fake and the native boundary stays in one place.
 *
 * Security: a ROUTER here is always a CurveZMQ server, and binds only after
 * a ZAP handler is in place in this process, so no endpoint ever accepts a
 * client that is not in the authorized set.
 */
import { chmodSync } from 'node:fs';
import { createRequire } from 'node:module';
import type * as Zmq from 'zeromq';
import { FLOW, LIMITS, QUEUES, TIMING } from '../common/constants.js';
import { z85Encode } from '../common/z85.js';
import { noteTraffic } from './memory.js';

export interface KeyPair {
  publicKey: string;
  secretKey: string;
}

/**
 * The native module, loaded when the first socket or keypair is made: a
 * command that talks to no server (--version, help, keys list) never pays
 * for the addon, and zeromq's CommonJS entry is required rather than
 * imported, so Node's ESM loader does not scan its source for export names
 * (≈ 6 ms of every CLI call, docs/performance.md).
 */
let native: typeof Zmq | undefined;

function zmq(): typeof Zmq {
  return (native ??= createRequire(import.meta.url)('zeromq') as typeof Zmq);
}

export interface Disposable {
  dispose(): Promise<void> | void;
}

export function generateKeyPair(): KeyPair {
  const { publicKey, secretKey } = zmq().curveKeyPair();
  return { publicKey, secretKey };
}

/**
 * Serializes sends on one socket: zeromq.js allows one pending send at a
 * time, and messages must leave in the order they were queued. The next
 * send is chained on the last one's promise (no async function or await
 * per message): when the socket is writable zeromq.js sends at once and
 * resolves, so an idle queue costs one send call and one callback.
 */
class SendQueue {
  private queue: (readonly Buffer[])[] = [];
  private running = false;
  private closed = false;
  constructor(private readonly socket: Zmq.Socket & { send(msg: Zmq.MessageLike[]): Promise<void> }, private readonly onError: (err: unknown) => void) {}

  push(frames: readonly Buffer[]): void {
    if (this.closed) return;
    if (this.running) {
      this.queue.push(frames);
      return;
    }
    this.running = true;
    this.sendNow(frames);
  }

  get length(): number {
    return this.queue.length;
  }

  private sendNow(frames: readonly Buffer[]): void {
    let sending: Promise<void>;
    try {
      sending = this.socket.send(frames as Buffer[]);
    } catch (err) {
      // zeromq.js throws, rather than rejects, for a closed socket: the queue must not stall on it.
      queueMicrotask(() => this.failed(err));
      return;
    }
    sending.then(this.sent, this.failed);
  }

  private readonly sent = (): void => {
    const next = this.queue.shift();
    if (next && !this.closed) this.sendNow(next);
    else this.running = false;
  };

  private readonly failed = (err: unknown): void => {
    if (!this.closed) this.onError(err);
    this.sent();
  };

  close(): void {
    this.closed = true;
    this.queue = [];
  }
}

/**
 * Times a socket's creation, its event monitor's, its connect or its bind
 * is tried when a signal interrupts it. libzmq waits on its mailbox there,
 * and a signal arriving then (a profiler's SIGPROF, a terminal's SIGWINCH)
 * fails the call with EINTR: under `--cpu-prof` one `zmx ls` in ten did.
 * Trying again is what EINTR asks for.
 */
const EINTR_RETRIES = 50;
/**
 * Between two tries of a monitor. zeromq.js names a monitor's inproc
 * endpoint after its Observer's address, which the next try may reuse while
 * libzmq's reaper thread still holds the endpoint of the interrupted one
 * (EADDRINUSE): a millisecond lets that thread let go.
 */
const MONITOR_RETRY_WAIT_MS = 1;
const pause = new Int32Array(new SharedArrayBuffer(4));

/** Whether a try that failed with `err` is worth another (EINTR; with `busy`, EADDRINUSE), pausing first when `busy`. */
function tryAgain(err: unknown, attempt: number, busy: boolean): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  if (attempt >= EINTR_RETRIES || !(code === 'EINTR' || (busy && code === 'EADDRINUSE'))) return false;
  if (busy) Atomics.wait(pause, 0, 0, MONITOR_RETRY_WAIT_MS);
  return true;
}

/** `create()`, tried again while a signal interrupts it (and, with `busy`, while its endpoint is still held). */
function despiteSignals<T>(create: () => T, busy = false): T {
  for (let attempt = 1; ; attempt++) {
    try {
      return create();
    } catch (err) {
      if (!tryAgain(err, attempt, busy)) throw err;
    }
  }
}

/** `socket.bind(endpoint)`, tried again while a signal interrupts it (libzmq binds nothing before it fails so). */
async function bindDespiteSignals(socket: Zmq.Socket, endpoint: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await socket.bind(endpoint);
    } catch (err) {
      if (!tryAgain(err, attempt, false)) throw err;
    }
  }
}

/** A socket's event monitor (zeromq.js `socket.events`), made despite signals. */
function eventsOf<S extends Zmq.Socket>(socket: S): S['events'] {
  return despiteSignals(() => socket.events, true);
}

const ZAP_ENDPOINT = 'inproc://zeromq.zap.01';
const IPC_PREFIX = 'ipc://';
/** Mode of every IPC socket a server binds: read and write for its owner only. */
const OWNER_ONLY = 0o600;

/**
 * Hands every message a socket receives to `onMessage` until the socket
 * closes. A plain receive() loop rather than `for await`: the async
 * iterator wraps each receive in a second promise and a result object,
 * per message, on the keystroke path.
 */
async function receiveLoop(socket: Zmq.Dealer | Zmq.Router, onMessage: (frames: Buffer[]) => void): Promise<void> {
  while (!socket.closed) {
    let frames: Buffer[];
    try {
      frames = await socket.receive();
    } catch {
      return; // closed
    }
    onMessage(frames);
  }
}

function frameBytes(frames: readonly Buffer[]): number {
  let n = 0;
  for (const f of frames) n += f.length;
  return n;
}

/**
 * A ZAP handler (RFC 27) for this process: every CURVE handshake on any
 * server socket in the process asks it; it admits the keys `isAllowed`
 * accepts and refuses the rest (and every non-CURVE mechanism).
 */
export class ZapHandler implements Disposable {
  private readonly socket = despiteSignals(() => new (zmq().Reply)({ linger: TIMING.lingerMs }));
  private loop: Promise<void> | null = null;

  /**
   * `isAllowed` gets the client's public key, the request's identity frame
   * and the ZAP domain of the socket asking. libzmq fills the identity with
   * the *server* socket's own routing id, not the peer's, so ZAP does not
   * tell which connection has which key: a client proves its key in its
   * Hello (and in a direct claim) instead (src/common/curve.ts).
   */
  constructor(private readonly isAllowed: (publicKeyZ85: string, identity: Buffer, domain: string) => boolean, private readonly onDecision?: (key: string, allowed: boolean, identity: Buffer, domain: string) => void) {}

  async start(): Promise<void> {
    await bindDespiteSignals(this.socket, ZAP_ENDPOINT);
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    try {
      for await (const frames of this.socket) {
        const [version, requestId, domain, , identity, mechanism, credential] = frames;
        let status = '400';
        let text = 'not authorized';
        let userId = '';
        if (version?.toString() === '1.0' && mechanism?.toString() === 'CURVE' && credential?.length === 32) {
          const key = z85Encode(credential);
          const id = identity ?? Buffer.alloc(0);
          const zapDomain = domain?.toString() ?? '';
          const allowed = this.isAllowed(key, id, zapDomain);
          this.onDecision?.(key, allowed, id, zapDomain);
          if (allowed) {
            status = '200';
            text = 'OK';
            userId = key;
          }
        }
        await this.socket.send([version ?? '1.0', requestId ?? '', status, text, userId, '']);
      }
    } catch {
      // closed
    }
  }

  async dispose(): Promise<void> {
    this.socket.close();
    await this.loop;
  }
}

export type PeerId = Buffer;

export interface ServerOptions {
  /** Every address the socket binds: the local IPC one, and TCP ones when listening. */
  endpoints: string[];
  secretKey: string;
  onMessage(peer: PeerId, frames: Buffer[]): void;
  onDisconnect?(address: string): void;
  /** The ZAP domain its handshakes are checked under (default `zmx`). */
  zapDomain?: string;
  /** How long unsent messages may delay close (default TIMING.lingerMs: none). */
  lingerMs?: number;
}

/** A CurveZMQ ROUTER: many authenticated peers, addressed by routing id. */
export class ServerEndpoint implements Disposable {
  private readonly socket: Zmq.Router;
  private readonly queue: SendQueue;
  private loop: Promise<void> | null = null;

  constructor(private readonly opts: ServerOptions) {
    this.socket = despiteSignals(() => new (zmq().Router)({
      curveServer: true,
      curveSecretKey: opts.secretKey,
      maxMessageSize: LIMITS.maxMessageBytes,
      sendHighWaterMark: QUEUES.highWaterMark,
      receiveHighWaterMark: QUEUES.highWaterMark,
      heartbeatInterval: TIMING.heartbeatIntervalMs,
      heartbeatTimeout: TIMING.heartbeatTimeoutMs,
      linger: opts.lingerMs ?? TIMING.lingerMs,
      handshakeInterval: FLOW.handshakeTimeoutMs,
      zapDomain: opts.zapDomain ?? 'zmx',
      // A client that reconnects (same routing id) takes its place at once,
      // instead of waiting for the server to time the old connection out.
      handover: true,
      // Without a ZAP handler libzmq would admit any Curve client; refuse instead.
      zapEnforceDomain: true,
    }));
    this.queue = new SendQueue(this.socket, () => {
      /* a peer that went away: ROUTER drops, nothing to do */
    });
    eventsOf(this.socket).on('disconnect', (ev) => opts.onDisconnect?.(ev.address));
  }

  async bind(): Promise<void> {
    for (const e of this.opts.endpoints) {
      await bindDespiteSignals(this.socket, e);
      // The 0700 run-time directory already keeps other users out; the
      // socket itself is made owner-only too (SECURITY.md, "Local sockets").
      if (e.startsWith(IPC_PREFIX)) chmodSync(e.slice(IPC_PREFIX.length), OWNER_ONLY);
    }
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    await receiveLoop(this.socket, ([peer, ...frames]) => {
      if (!peer) return;
      noteTraffic(frameBytes(frames));
      this.opts.onMessage(peer, frames);
    });
  }

  send(peer: PeerId, frames: readonly Buffer[]): void {
    this.queue.push([peer, ...frames]);
  }

  async dispose(): Promise<void> {
    this.queue.close();
    this.socket.close();
    await this.loop;
  }
}

export interface ClientOptions {
  endpoint: string;
  /** Curve keys; null only in tests that prove a plaintext peer is refused. */
  curve: { serverKey: string; publicKey: string; secretKey: string } | null;
  onMessage(frames: Buffer[]): void;
  /** The server refused our key (ZAP said no). */
  onAuthFailure?(): void;
  onConnectionChange?(connected: boolean): void;
  routingId?: string;
}

/** A CurveZMQ DEALER connected to one server. */
export class ClientLink implements Disposable {
  private readonly socket: Zmq.Dealer;
  private readonly queue: SendQueue;
  private loop: Promise<void> | null = null;

  constructor(private readonly opts: ClientOptions) {
    const curve = opts.curve
      ? { curveServerKey: opts.curve.serverKey, curvePublicKey: opts.curve.publicKey, curveSecretKey: opts.curve.secretKey }
      : {};
    this.socket = despiteSignals(() => new (zmq().Dealer)({
      ...curve,
      ...(opts.routingId ? { routingId: opts.routingId } : {}),
      maxMessageSize: LIMITS.maxMessageBytes,
      sendHighWaterMark: QUEUES.highWaterMark,
      receiveHighWaterMark: QUEUES.highWaterMark,
      heartbeatInterval: TIMING.heartbeatIntervalMs,
      heartbeatTimeout: TIMING.heartbeatTimeoutMs,
      linger: TIMING.lingerMs,
      reconnectInterval: FLOW.reconnectIntervalMs,
      handshakeInterval: FLOW.handshakeTimeoutMs,
    }));
    this.queue = new SendQueue(this.socket, () => {});
    const events = eventsOf(this.socket);
    events.on('handshake:error:auth', () => opts.onAuthFailure?.());
    events.on('handshake', () => opts.onConnectionChange?.(true));
    events.on('disconnect', () => opts.onConnectionChange?.(false));
  }

  connect(): void {
    // libzmq connects nothing before it fails with EINTR: trying again is safe.
    despiteSignals(() => this.socket.connect(this.opts.endpoint));
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    await receiveLoop(this.socket, (frames) => {
      noteTraffic(frameBytes(frames));
      this.opts.onMessage(frames);
    });
  }

  send(frames: readonly Buffer[]): void {
    this.queue.push(frames);
  }

  /** Messages queued here and not yet handed to libzmq. */
  get pending(): number {
    return this.queue.length;
  }

  async dispose(): Promise<void> {
    this.queue.close();
    this.socket.close();
    await this.loop;
  }
}
