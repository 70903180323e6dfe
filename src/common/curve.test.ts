/**
 * The Hello proof (curve.ts) with real X25519 keys from node:crypto, and
 * the error type every layer answers with (errors.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { helloProof, verifyHelloProof, PROOF_WINDOW_MS } from './curve.js';
import { newPairingCode, pairingKeyPair } from './pairing.js';
import { ZmxError, toZmxError, withoutStack } from './errors.js';

/**
 * A fresh Curve keypair as zmx stores it (Z85 of the raw 32-byte keys):
 * the one a random pairing code stands for. Not generateKeyPairSync and a
 * JWK export: on Node 20 that export can deadlock when a collection runs
 * inside it and frees an earlier key-generation job (seen here one run in
 * six: ExportJWKEdKey holding the key's mutex that ~KeyGenJob waits on).
 */
function keypair(): { publicKey: string; secretKey: string } {
  return pairingKeyPair(newPairingCode());
}

test('a proof verifies for its own key only, within the time window, again and again', () => {
  const server = keypair();
  const client = keypair();
  const other = keypair();
  const now = Date.now();
  const proof = helloProof(client.publicKey, client.secretKey, server.publicKey, now);
  assert.equal(verifyHelloProof(client.publicKey, proof, now, server.secretKey, now), true);
  // The second time comes from the verifier's cache of shared secrets: the same answer.
  assert.equal(verifyHelloProof(client.publicKey, proof, now, server.secretKey, now), true);
  assert.equal(verifyHelloProof(other.publicKey, proof, now, server.secretKey, now), false, 'another key cannot use the proof');
  assert.equal(verifyHelloProof(client.publicKey, proof, now, other.secretKey, now), false, 'another server does not accept it');
  assert.equal(verifyHelloProof(client.publicKey, proof, now + 1, server.secretKey, now), false, 'the time is part of the proof');
  assert.equal(verifyHelloProof(client.publicKey, proof, now, server.secretKey, now + PROOF_WINDOW_MS + 1), false, 'too old');
  const forged = helloProof(client.publicKey, other.secretKey, server.publicKey, now);
  assert.equal(verifyHelloProof(client.publicKey, forged, now, server.secretKey, now), false, 'a proof made without the secret');
});

test('many different keys: the cache of shared secrets evicts and every proof still verifies', () => {
  const server = keypair();
  const now = Date.now();
  const clients = Array.from({ length: 300 }, keypair);
  const proofs = clients.map((c) => helloProof(c.publicKey, c.secretKey, server.publicKey, now));
  for (let round = 0; round < 2; round++) {
    clients.forEach((c, i) => assert.equal(verifyHelloProof(c.publicKey, proofs[i]!, now, server.secretKey, now), true, `client ${i}, round ${round}`));
  }
  // A key that is not a point X25519 accepts is refused, not thrown.
  assert.equal(verifyHelloProof('0'.repeat(40), 'a'.repeat(64), now, server.secretKey, now), false);
});

test('ZmxError: code and one-line message; only EINTERNAL carries a stack', () => {
  const e = new ZmxError('EPROTO', 'a malformed message');
  assert.equal(e.code, 'EPROTO');
  assert.equal(e.message, 'a malformed message');
  assert.ok(e instanceof Error);
  assert.equal(e.stack, 'ZmxError: a malformed message', 'no frames: made by the hundred thousand under hostile traffic');
  const bug = new ZmxError('EINTERNAL', 'a bug');
  assert.match(bug.stack ?? '', /\n\s+at /, 'a bug keeps where it happened');
  assert.ok(Error.stackTraceLimit > 0, 'the limit is put back');
  assert.match(new Error('after').stack ?? '', /\n\s+at /);
  assert.equal(toZmxError(Object.assign(new Error('gone'), { code: 'ENOENT' })).code, 'ENOENT');
  // withoutStack: the same for a library's errors, and the limit comes back even when it throws.
  assert.equal(withoutStack(() => new Error('bad bytes')).stack, 'Error: bad bytes');
  assert.throws(() => withoutStack(() => { throw new Error('thrown'); }), /thrown/);
  assert.match(new Error('after').stack ?? '', /\n\s+at /);
});
