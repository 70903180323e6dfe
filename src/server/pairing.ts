/**
 * The server's side of `zmx pair`: one pairing endpoint at a time, keyed by
 * the code (src/common/pairing.ts), open for PAIRING_TTL_MS and closed after
 * its first successful claim. The claimant's public key comes from the ZAP
 * handshake; it is authorized under the name the client gives.
 */
import { MsgType, decode, encode, negotiateVersion, requestIdOf, validateArgs, type OpArgs } from '../common/protocol.js';
import { ZmxError, toZmxError } from '../common/errors.js';
import { PAIRING_TTL_MS, newPairingCode, pairingEndpoint, pairingKeyPair } from '../common/pairing.js';
import { ServerEndpoint, type PeerId } from '../platform/zmq.js';
import { fingerprint } from '../common/z85.js';
import { verifyHelloProof } from '../common/curve.js';

/** The ZAP domain of pairing sockets: any key may knock; the code is the credential. */
export const PAIRING_DOMAIN = 'zmx-pair';
/** Time for the reply to a successful claim to leave before the endpoint closes. */
const REPLY_FLUSH_MS = 1_000;

export interface PairingDeps {
  /** The TCP address the server listens on (the pairing endpoint is the next port). */
  listen: string;
  serverPublicKey: string;
  authorize(key: string, name: string): void;
  log(msg: string, extra?: Record<string, unknown>): void;
}

interface Open {
  code: string;
  endpoint: string;
  expires: number;
  socket: ServerEndpoint;
  /** The pairing keypair: claims prove their key against it. */
  secretKey: string;
  timer: NodeJS.Timeout;
  claimed: boolean;
}

/** A pairing port closed a moment ago may still be held by libzmq's I/O thread: try again for this long. */
const REBIND_WINDOW_MS = 2_000;
const REBIND_EVERY_MS = 50;

async function bindRetrying(socket: ServerEndpoint): Promise<void> {
  const deadline = Date.now() + REBIND_WINDOW_MS;
  for (;;) {
    try {
      await socket.bind();
      return;
    } catch (err) {
      if (!/in use/i.test(String((err as Error)?.message)) || Date.now() > deadline) {
        await socket.dispose();
        throw err;
      }
      await new Promise((r) => setTimeout(r, REBIND_EVERY_MS));
    }
  }
}

export class Pairing {
  private open: Open | null = null;

  constructor(private readonly deps: PairingDeps) {}

  /** ZAP, for the pairing domain: any key may knock while a code is open (the code is the credential). */
  admits(): boolean {
    return this.open !== null && !this.open.claimed;
  }

  /** Opens a new pairing endpoint (closing any earlier one: only the latest code works). */
  async start(): Promise<{ code: string; endpoint: string; expires: number }> {
    await this.close();
    const code = newPairingCode();
    const endpoint = pairingEndpoint(this.deps.listen);
    const keys = pairingKeyPair(code);
    const socket: ServerEndpoint = new ServerEndpoint({
      endpoints: [endpoint],
      secretKey: keys.secretKey,
      zapDomain: PAIRING_DOMAIN,
      lingerMs: REPLY_FLUSH_MS,
      onMessage: (peer, frames) => this.onMessage(peer, frames),
    });
    await bindRetrying(socket);
    const expires = Date.now() + PAIRING_TTL_MS;
    const open: Open = { code, endpoint, expires, socket, secretKey: keys.secretKey, claimed: false, timer: setTimeout(() => void this.close(), PAIRING_TTL_MS) };
    this.open = open;
    this.deps.log('pairing endpoint open', { endpoint });
    return { code, endpoint, expires };
  }

  private onMessage(peer: PeerId, frames: Buffer[]): void {
    const open = this.open;
    if (!open) return;
    const reply = (header: Parameters<typeof encode>[0]) => open.socket.send(peer, encode(header));
    let id = 0;
    try {
      const msg = decode(frames);
      const h = msg.header;
      if (h.t === MsgType.Hello) {
        reply({ t: MsgType.Welcome, version: negotiateVersion(h.min, h.max), caps: [], agent: 'zmx-pair' });
        return;
      }
      if (h.t === MsgType.Ping) {
        reply({ t: MsgType.Pong, ts: h.ts });
        return;
      }
      if (h.t !== MsgType.Request || h.op !== 'pair.claim') throw new ZmxError('EPROTO', 'a pairing endpoint answers pair.claim only');
      id = h.id;
      validateArgs('pair.claim', h.args);
      const args = h.args as OpArgs<'pair.claim'>;
      // The claim names the client's key and proves it holds the secret (as a Hello does).
      const key = args.key;
      if (!verifyHelloProof(key, args.proof, args.ts, open.secretKey, Date.now())) throw new ZmxError('EDENIED', 'the claim did not prove its key');
      if (open.claimed) throw new ZmxError('EDENIED', 'this pairing code was used already; run zmx pair on the server for a new one');
      open.claimed = true;
      const name = args.name.slice(0, 64);
      this.deps.authorize(key, name ? `paired: ${name}` : 'paired');
      this.deps.log('paired a client', { fingerprint: fingerprint(key), name });
      reply({ t: MsgType.Reply, id, result: { serverKey: this.deps.serverPublicKey } });
      // Single use: no one else gets in, and the endpoint goes once the reply has left.
      clearTimeout(open.timer);
      setTimeout(() => void this.close(open), REPLY_FLUSH_MS);
    } catch (err) {
      const e = toZmxError(err);
      reply({ t: MsgType.Error, id: id || requestIdOf(frames), code: e.code, message: e.message });
    }
  }

  async close(which: Open | null = this.open): Promise<void> {
    if (!which) return;
    clearTimeout(which.timer);
    if (this.open === which) this.open = null;
    await which.socket.dispose();
  }
}
