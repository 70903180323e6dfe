/**
 * Pairing (`zmx pair`): a one-time code stands in for the server's key.
 *
 * The code seeds a Curve keypair. The server opens a pairing endpoint (its
 * listening port + 1) with that keypair for a few minutes; a client that
 * typed the code derives the same public key, so the CurveZMQ handshake
 * itself proves both sides know the code — a wrong code never gets past
 * it. Over that channel the client gives its own public key and gets the
 * server's real one. Only public keys cross the wire; the code works once.
 */
import { createHash, createPrivateKey, createPublicKey, randomInt } from 'node:crypto';
import { ZmxError } from './errors.js';
import { z85Encode } from './z85.js';

/** Letters that cannot be misread for each other (no 0/O, 1/I/L). */
const ALPHABET = '23456789ABCDEFGHJKMNPQRSTUVWXYZ';
/** Characters in a code: 10 of 31 ≈ 49 bits, tried online against a listener that lives minutes and closes after one use. */
const CODE_LENGTH = 10;
/** How long a code is good for. */
export const PAIRING_TTL_MS = 5 * 60_000;
/** DER header of a PKCS#8 X25519 private key; the 32 raw bytes follow it. */
const X25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');
/** Bytes of an SPKI-encoded X25519 public key before the raw 32. */
const X25519_SPKI_HEADER = 12;

export function newPairingCode(): string {
  let code = '';
  for (let i = 0; i < CODE_LENGTH; i++) code += ALPHABET[randomInt(ALPHABET.length)];
  return `${code.slice(0, CODE_LENGTH / 2)}-${code.slice(CODE_LENGTH / 2)}`;
}

/** The code as typed (any case, with or without the dash), or a one-line error. */
export function normalizeCode(typed: string): string {
  const bare = typed.toUpperCase().replace(/[-\s]/g, '');
  if (bare.length !== CODE_LENGTH || [...bare].some((c) => !ALPHABET.includes(c))) {
    throw new ZmxError('EINVAL', `"${typed}" is not a pairing code; it looks like ABCDE-FGHJK (run zmx pair on the server for one)`);
  }
  return `${bare.slice(0, CODE_LENGTH / 2)}-${bare.slice(CODE_LENGTH / 2)}`;
}

/** The Curve keypair (Z85) a code stands for: the same on both sides. */
export function pairingKeyPair(code: string): { publicKey: string; secretKey: string } {
  const seed = createHash('sha256').update(`zmx-pair-v1:${normalizeCode(code)}`).digest();
  const priv = createPrivateKey({ key: Buffer.concat([X25519_PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
  const pub = createPublicKey(priv).export({ format: 'der', type: 'spki' }).subarray(X25519_SPKI_HEADER);
  return { publicKey: z85Encode(pub), secretKey: z85Encode(seed) };
}

/** Where pairing happens for a server listening on `endpoint`: the next port. */
export function pairingEndpoint(endpoint: string): string {
  const m = /^(tcp:\/\/.+):(\d+)$/.exec(endpoint);
  if (!m) throw new ZmxError('EINVAL', `pairing needs a tcp:// address, not ${endpoint}`);
  return `${m[1]}:${Number(m[2]) + 1}`;
}
