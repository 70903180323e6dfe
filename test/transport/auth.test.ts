/**
 * CurveZMQ + ZAP on a real server: only keys in authorized_keys.json reach
 * the protocol layer of the front, only the server's own key reaches the pty
 * host, a refused client learns it (handshake:error:auth → EDENIED with the
 * key's fingerprint), and authorized_keys.json changes take effect without a
 * restart. Every "nothing happens" check is a short bounded wait paired with
 * an authorized client that, over the same path, does get answers.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateKeyPair } from '../../src/platform/zmq.js';
import { fingerprint } from '../../src/platform/keystore.js';
import { AuthorizedKeys } from '../../src/platform/authorized.js';
import { MsgType } from '../../src/common/protocol.js';
import {
  withServer, quiet, readKey, sessionNames, ptyhostEndpoint, type WireClient,
} from './wire.js';

/** How long a refused peer must stay unanswered. */
const SILENCE_MS = 1_500;

async function assertServes(c: WireClient, what: string): Promise<void> {
  const list = await c.request('session.list', {});
  assert.deepEqual(sessionNames(list), ['a'], `${what}: session.list should list "a"`);
}

test('a DEALER without Curve gets no reply to a valid hello; an authorized client does', async () => {
  await withServer(async ({ open, openUser }) => {
    const plain = open(null);
    plain.hello();
    plain.sendRequest('session.list', {});
    // Positive control on the same endpoint, while the plaintext peer waits.
    const user = await openUser();
    await assertServes(user, 'authorized client');
    await quiet(SILENCE_MS);
    assert.equal(plain.received.length, 0, `plaintext peer got ${plain.describe()}`);
    assert.ok(!plain.connectionChanges.includes(true), 'a plaintext peer must never complete a handshake');
    // And the plaintext attempt did not disturb the server.
    await assertServes(user, 'after the plaintext attempt');
  });
});

test('a Curve client with an unauthorized key fails authentication and gets no reply; the user key still works', async () => {
  await withServer(async ({ sb, open, openUser }) => {
    const stranger = generateKeyPair();
    const bad = open(stranger);
    bad.hello();
    bad.sendRequest('session.list', {});
    // Several strangers at once, to be sure refusals do not disturb the ZAP handler.
    const more = [generateKeyPair(), generateKeyPair(), generateKeyPair()].map((p) => { const c = open(p); c.hello(); return c; });
    const user = await openUser();
    await assertServes(user, 'authorized client while strangers knock');
    await bad.authFailure();
    await Promise.all(more.map((c) => c.authFailure()));
    await quiet(SILENCE_MS);
    for (const c of [bad, ...more]) {
      assert.equal(c.received.length, 0, `an unauthorized client got ${c.describe()}`);
      assert.ok(!c.connectionChanges.includes(true), 'an unauthorized client must never complete a handshake');
    }
    await assertServes(user, 'after the refusals');
    // The refusal is logged by fingerprint, never by key.
    const log = readFileSync(join(sb.dir, 'front.log'), 'utf8');
    assert.ok(log.includes(fingerprint(stranger.publicKey)), `front.log should name the refused key's fingerprint:\n${log}`);
    assert.ok(!log.includes(stranger.secretKey), 'front.log must not hold a secret key');
  });
});

/**
 * Runs Connection.local in a child process with a key store that holds the
 * server's public key and a fresh (unauthorized) client keypair. The child
 * prints what it got as JSON, then must exit by itself: a socket left open
 * keeps it alive, and after 3 s it prints LEAKED and exits 3.
 */
function refusedConnection(runDir: string, keysDir: string): Promise<{ result: { ok: boolean; code?: string; message?: string }; leaked: boolean; status: number | null; stderr: string }> {
  const script = `
    const { Connection } = await import(process.env.T_CONNECTION);
    const { KeyStore } = await import(process.env.T_KEYSTORE);
    const { runtimePaths } = await import(process.env.T_PATHS);
    let out;
    try {
      const c = await Connection.local({ spawn: false, paths: runtimePaths(process.env.T_DIR), keys: new KeyStore(process.env.T_KEYS, 'file') });
      out = { ok: true };
      await c.close();
    } catch (e) {
      out = { ok: false, code: e.code, message: e.message };
    }
    process.stdout.write(JSON.stringify(out) + '\\n');
    setTimeout(() => { process.stdout.write('LEAKED\\n'); process.exit(3); }, 3000).unref();
  `;
  const env = {
    ...process.env,
    T_CONNECTION: new URL('../../src/client/connection.js', import.meta.url).href,
    T_KEYSTORE: new URL('../../src/platform/keystore.js', import.meta.url).href,
    T_PATHS: new URL('../../src/common/paths.js', import.meta.url).href,
    T_DIR: runDir,
    T_KEYS: keysDir,
  };
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`the Connection child hung: ${stdout} ${stderr}`)); }, 30_000);
    child.on('close', (status) => {
      clearTimeout(timer);
      const line = stdout.split('\n').find((l) => l.startsWith('{'));
      if (!line) return reject(new Error(`the Connection child printed no result (status ${status}): ${stdout} ${stderr}`));
      resolve({ result: JSON.parse(line), leaked: stdout.includes('LEAKED'), status, stderr });
    });
  });
}

/** A key store with the server's public key and no client key yet (made on first use). */
function strangerKeyStore(sb: { base: string; configDir: string }): string {
  const dir = join(sb.base, 'stranger-keys');
  mkdirSync(dir, { mode: 0o700 });
  copyFileSync(join(sb.configDir, 'keys', 'server.pub'), join(dir, 'server.pub'));
  return dir;
}

test('Connection reports an unauthorized key as EDENIED naming "not authorized" and the fingerprint, on one line', async () => {
  await withServer(async ({ sb, openUser }) => {
    const keysDir = strangerKeyStore(sb);
    const { result } = await refusedConnection(sb.dir, keysDir);
    const pub = readFileSync(join(keysDir, 'client.pub'), 'utf8').trim();
    assert.equal(result.ok, false, 'an unauthorized key must not connect');
    assert.equal(result.code, 'EDENIED', `got ${JSON.stringify(result)}`);
    assert.match(result.message!, /not authorized/);
    assert.ok(result.message!.includes(fingerprint(pub)), `message should name ${fingerprint(pub)}: ${result.message}`);
    assert.ok(!result.message!.includes('\n'), 'the message is one line');
    const secret = readFileSync(join(keysDir, 'client.key'), 'utf8').trim();
    assert.ok(!result.message!.includes(secret), 'the message must not hold the secret key');
    await assertServes(await openUser(), 'authorized client after the refusal');
  });
});

test('a Connection refused by ZAP releases its socket (the process can exit)', async () => {
  await withServer(async ({ sb }) => {
    const { result, leaked, status, stderr } = await refusedConnection(sb.dir, strangerKeyStore(sb));
    assert.equal(result.code, 'EDENIED');
    assert.equal(leaked, false, 'Connection.local threw but left its DEALER open: the process stays alive (see src/client/connection.ts, Connection.local)');
    assert.equal(status, 0, stderr);
  });
});

test('the pty host admits only the server key: the client key, a stranger and a plaintext peer get nothing', async () => {
  await withServer(async ({ sb, open, openUser, userPair }) => {
    const endpoint = ptyhostEndpoint(sb);
    const ptyhostKey = readKey(sb, 'ptyhost.pub');
    const withClientKey = open(userPair, { endpoint, serverKey: ptyhostKey });
    const withStranger = open(generateKeyPair(), { endpoint, serverKey: ptyhostKey });
    const plain = open(null, { endpoint });
    for (const c of [withClientKey, withStranger, plain]) {
      c.hello();
      c.sendRequest('host.subscribe', { name: 'a', pane: 0, interactive: true });
      c.sendRequest('session.kill', { names: ['a'], force: true });
    }
    // Positive control: the server's key is admitted and answered. It sends a
    // Ping, not a hello, so the real front stays the pty host's only peer.
    const asServer = open({ publicKey: readKey(sb, 'server.pub'), secretKey: readKey(sb, 'server.key') }, { endpoint, serverKey: ptyhostKey });
    asServer.send({ t: MsgType.Ping, ts: 1 });
    const e = await asServer.error(0, 'the pty host answering the server key');
    assert.equal(e.code, 'EPROTO');
    assert.match(e.message, /hello/);

    await withClientKey.authFailure();
    await withStranger.authFailure();
    await quiet(SILENCE_MS);
    for (const [name, c] of [['client key', withClientKey], ['stranger', withStranger], ['plaintext', plain]] as const) {
      assert.equal(c.received.length, 0, `${name} got ${c.describe()} from the pty host`);
      assert.ok(!c.connectionChanges.includes(true), `${name} must not complete a handshake with the pty host`);
    }
    // The session survived the attempts (session.kill was never seen) and the front still serves.
    await assertServes(await openUser(), 'after the pty host was probed');
  });
});

test('a key added to authorized_keys.json is admitted without restarting the server, and a removed one is refused', async () => {
  await withServer(async ({ sb, open }) => {
    const frontPid = sb.frontPid();
    const pair = generateKeyPair();
    const before = open(pair);
    before.hello();
    await before.authFailure();

    const authorized = new AuthorizedKeys(join(sb.configDir, 'authorized_keys.json'));
    authorized.add({ key: pair.publicKey, name: 'test peer', root: null, allow: ['fs.read', 'fs.write', 'exec', 'pty', 'admin'], readOnly: false });

    const after = open(pair);
    const w = await after.handshake();
    assert.equal(w.header.t, MsgType.Welcome, `the newly authorized key should be welcome: ${JSON.stringify(w.header)}`);
    await assertServes(after, 'newly authorized key');
    assert.equal(sb.frontPid(), frontPid, 'the server was not restarted');

    assert.ok(authorized.remove(pair.publicKey));
    const revoked = open(pair);
    revoked.hello();
    await revoked.authFailure();
    await quiet(SILENCE_MS);
    assert.equal(revoked.received.length, 0, `a removed key got ${revoked.describe()}`);
  });
});
