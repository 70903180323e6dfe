/**
 * Proving which Curve key a connection uses. ZAP admits a connection for
 * some authorized key but libzmq does not tell zeromq.js which key each
 * peer used; so the client's Hello names its key and proves it holds the
 * secret: an HMAC keyed with the X25519 secret it shares with the server
 * (only the holder of either secret key can compute it), over its key and
 * the time, which bounds replay.
 */
import { createHmac, createPrivateKey, createPublicKey, diffieHellman, timingSafeEqual, type KeyObject } from 'node:crypto';
import { z85Decode, isZ85Key } from './z85.js';

/** DER headers that wrap raw 32-byte X25519 keys for node:crypto. */
const PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');
const SPKI_PREFIX = Buffer.from('302a300506032b656e032100', 'hex');
/** How far a Hello's clock may be from the server's: within this, a captured proof could be replayed. */
export const PROOF_WINDOW_MS = 5 * 60_000;
const PROOF_LABEL = 'zmx-hello-v1';

function privateKey(secretZ85: string): KeyObject {
  return createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, z85Decode(secretZ85)]), format: 'der', type: 'pkcs8' });
}

function publicKey(publicZ85: string): KeyObject {
  return createPublicKey({ key: Buffer.concat([SPKI_PREFIX, z85Decode(publicZ85)]), format: 'der', type: 'spki' });
}

/**
 * Shared secrets a verifier has computed, by server secret and client key:
 * a client's every Hello (each reconnect, and a hostile peer's flood of
 * them) needs the same one, and making the key objects and the X25519
 * product was ≈ 130 µs a Hello. Bounded: past this many entries the oldest
 * goes (a Map keeps insertion order), so a peer naming ever new keys costs
 * the computation, never memory.
 */
const SHARED_CACHE_MAX = 256;
const sharedCache = new Map<string, Buffer>();

function sharedSecret(serverSecret: string, clientKey: string): Buffer {
  const id = `${serverSecret}|${clientKey}`;
  let shared = sharedCache.get(id);
  if (!shared) {
    shared = diffieHellman({ privateKey: privateKey(serverSecret), publicKey: publicKey(clientKey) });
    if (sharedCache.size >= SHARED_CACHE_MAX) sharedCache.delete(sharedCache.keys().next().value!);
    sharedCache.set(id, shared);
  }
  return shared;
}

function mac(shared: Buffer, clientKey: string, ts: number): string {
  return createHmac('sha256', shared).update(`${PROOF_LABEL}|${clientKey}|${ts}`).digest('hex');
}

/** The client's proof that it holds the secret of `clientKey`, for a server with public key `serverKey`. */
export function helloProof(clientKey: string, clientSecret: string, serverKey: string, ts: number): string {
  return mac(diffieHellman({ privateKey: privateKey(clientSecret), publicKey: publicKey(serverKey) }), clientKey, ts);
}

/** Whether a Hello's proof shows its sender holds the secret of `clientKey`. */
export function verifyHelloProof(clientKey: string, proof: string, ts: number, serverSecret: string, now: number): boolean {
  if (!isZ85Key(clientKey) || !/^[0-9a-f]{64}$/.test(proof) || Math.abs(now - ts) > PROOF_WINDOW_MS) return false;
  let expected: string;
  try {
    expected = mac(sharedSecret(serverSecret, clientKey), clientKey, ts);
  } catch {
    return false; // not a usable public key
  }
  return timingSafeEqual(Buffer.from(expected), Buffer.from(proof));
}
