/**
 * The key store: the 0600 file fallback, creation races between processes,
 * and a real Secret Service (gnome-keyring on a private D-Bus session) when
 * the machine has one to start. Secrets are never printed: children report
 * a SHA-256 of the secret key, not the key.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { accessSync, chmodSync, constants as fsConstants, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { KeyStore, fingerprint } from './keystore.js';
import { ZmxError, type ErrorCode } from '../common/errors.js';
import { isZ85Key, z85Decode, z85Encode } from '../common/z85.js';
import type { KeyPair } from './zmq.js';

const KEYSTORE_URL = new URL('./keystore.js', import.meta.url).href;

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'zmx-keystore-test-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function mode(path: string): number {
  return statSync(path).mode & 0o777;
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

function assertZmxError(fn: () => unknown, code: ErrorCode, what = ''): ZmxError {
  let caught: ZmxError | undefined;
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof ZmxError, `${what}: expected a ZmxError, got ${String(err)}`);
    assert.equal(err.code, code, `${what}: ${err.message}`);
    caught = err;
    return true;
  }, what);
  return caught!;
}

function findExecutable(name: string): string | null {
  for (const dir of (process.env['PATH'] ?? '').split(delimiter)) {
    if (!dir) continue;
    const path = join(dir, name);
    try {
      accessSync(path, fsConstants.X_OK);
      return path;
    } catch {
      /* not here */
    }
  }
  return null;
}

// ---------------------------------------------------------------------------
// Child processes: each runs in its own process group, is killed (the whole
// group) if it outlives its deadline, and is always awaited.

interface Finished {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

interface Child {
  proc: ChildProcess;
  stdout(): string;
  /** Resolves once stdout holds `text`; rejects if the process ends first. */
  waitFor(text: string): Promise<void>;
  exited: Promise<Finished>;
}

function start(cmd: string, args: string[], env: NodeJS.ProcessEnv, deadlineMs: number): Child {
  const proc = spawn(cmd, args, { env, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
  let out = '';
  let err = '';
  let closed = false;
  const waiters: { text: string; resolve: () => void; reject: (e: Error) => void }[] = [];
  const check = () => {
    for (const w of [...waiters]) {
      if (out.includes(w.text)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  };
  proc.stdout!.setEncoding('utf8').on('data', (d: string) => {
    out += d;
    check();
  });
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => {
    err += d;
  });
  const timer = setTimeout(() => {
    try {
      process.kill(-proc.pid!, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }, deadlineMs);
  const exited = new Promise<Finished>((resolve, reject) => {
    proc.on('error', (e) => {
      closed = true;
      clearTimeout(timer);
      reject(e);
    });
    proc.on('close', (code, signal) => {
      closed = true;
      clearTimeout(timer);
      for (const w of waiters.splice(0)) w.reject(new Error(`process ended (${code ?? signal}) before printing ${JSON.stringify(w.text)}; stderr: ${err}`));
      resolve({ code, signal, stdout: out, stderr: err });
    });
  });
  return {
    proc,
    stdout: () => out,
    waitFor: (text) => new Promise<void>((resolve, reject) => {
      if (out.includes(text)) resolve();
      else if (closed) reject(new Error(`process ended before printing ${JSON.stringify(text)}; stderr: ${err}`));
      else waiters.push({ text, resolve, reject });
    }),
    exited,
  };
}

/** Kills what is still running of the given children and waits for all of them. */
async function reap(children: Child[]): Promise<void> {
  for (const c of children) {
    if (c.proc.exitCode === null && c.proc.signalCode === null) {
      try {
        process.kill(-c.proc.pid!, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
  }
  await Promise.allSettled(children.map((c) => c.exited));
}

/** Runs an ES module given as text in a fresh node and returns the JSON object on its last line. */
async function runNode(code: string, env: NodeJS.ProcessEnv): Promise<Record<string, unknown>> {
  const child = start(process.execPath, ['--input-type=module', '-e', code], env, 30_000);
  child.proc.stdin!.end();
  try {
    const done = await child.exited;
    assert.equal(done.code, 0, `child failed (${done.code ?? done.signal}): ${done.stderr}`);
    const last = done.stdout.trim().split('\n').pop() ?? '';
    return JSON.parse(last) as Record<string, unknown>;
  } finally {
    await reap([child]);
  }
}

// ---------------------------------------------------------------------------
// The file store

test('file store: a keypair is made on first use, persisted and reloaded identically', (t) => {
  const dir = join(tempDir(t), 'keys');
  const store = new KeyStore(dir, 'file');
  assert.equal(store.load('server'), null);
  assert.equal(store.publicKey('server'), null);
  assert.equal(store.location('server'), null);
  assert.equal(existsSync(dir), false, 'load() must not create anything');

  const pair = store.loadOrCreate('server');
  assert.ok(isZ85Key(pair.publicKey));
  assert.ok(isZ85Key(pair.secretKey));
  assert.notEqual(pair.publicKey, pair.secretKey);
  assert.equal(store.location('server'), 'file');
  assert.equal(store.publicKey('server'), pair.publicKey);
  assert.deepEqual(readdirSync(dir).sort(), ['server.key', 'server.pub']);
  assert.equal(readFileSync(join(dir, 'server.pub'), 'utf8'), pair.publicKey + '\n');
  assert.equal(readFileSync(join(dir, 'server.key'), 'utf8').trim(), pair.secretKey);

  // Another store on the same directory (as another process would) reads the same pair.
  const again = new KeyStore(dir, 'file');
  assert.deepEqual(again.load('server'), pair);
  assert.deepEqual(again.loadOrCreate('server'), pair);
  assert.deepEqual(store.loadOrCreate('server'), pair);

  // Roles have their own pairs.
  const client = store.loadOrCreate('client');
  assert.notEqual(client.publicKey, pair.publicKey);
  assert.notEqual(client.secretKey, pair.secretKey);
  assert.deepEqual(new KeyStore(dir, 'file').load('server'), pair);
});

test('file store: secret 0600, directory 0700 (even with umask 0), public key 0644 and free of the secret', (t) => {
  const dir = join(tempDir(t), 'nested', 'keys');
  const saved = process.umask(0);
  let pair: KeyPair;
  try {
    pair = new KeyStore(dir, 'file').loadOrCreate('client');
  } finally {
    process.umask(saved);
  }
  assert.equal(mode(join(dir, 'client.key')), 0o600);
  assert.equal(mode(dir), 0o700);
  assert.equal(mode(join(dir, 'client.pub')), 0o644);
  const pub = readFileSync(join(dir, 'client.pub'), 'utf8');
  assert.ok(!pub.includes(pair.secretKey), 'the secret key appears in client.pub');
  assert.ok(!pub.includes(z85Decode(pair.secretKey).toString('hex')), 'the secret key appears in client.pub (hex)');
  // No temporary file or lock is left behind.
  assert.deepEqual(readdirSync(dir).sort(), ['client.key', 'client.pub']);
});

test('file store: an existing loose directory is tightened to 0700', (t) => {
  const dir = join(tempDir(t), 'keys');
  mkdirSync(dir);
  chmodSync(dir, 0o755);
  new KeyStore(dir, 'file').loadOrCreate('server');
  assert.equal(mode(dir), 0o700);
});

test('file store: a group- or world-readable secret file is refused with EACCES', (t) => {
  const dir = join(tempDir(t), 'keys');
  const pair = new KeyStore(dir, 'file').loadOrCreate('server');
  const keyFile = join(dir, 'server.key');
  for (const loose of [0o640, 0o604, 0o660, 0o644, 0o606]) {
    chmodSync(keyFile, loose);
    const err = assertZmxError(() => new KeyStore(dir, 'file').load('server'), 'EACCES', `mode ${loose.toString(8)}`);
    assert.ok(err.message.includes(keyFile), 'the message names the file');
    assert.ok(err.message.includes('chmod 600'), 'the message says how to fix it');
    assert.ok(!err.message.includes(pair.secretKey), 'the message leaks the secret');
    // loadOrCreate must not quietly replace a key it refuses to read.
    assertZmxError(() => new KeyStore(dir, 'file').loadOrCreate('server'), 'EACCES', `loadOrCreate, mode ${loose.toString(8)}`);
    assert.equal(readFileSync(join(dir, 'server.pub'), 'utf8').trim(), pair.publicKey);
  }
  for (const tight of [0o600, 0o400]) {
    chmodSync(keyFile, tight);
    assert.deepEqual(new KeyStore(dir, 'file').load('server'), pair, `mode ${tight.toString(8)}`);
  }
});

test('file store: corrupt key files are refused with EINVAL', (t) => {
  const dir = join(tempDir(t), 'keys');
  const pair = new KeyStore(dir, 'file').loadOrCreate('server');
  writeFileSync(join(dir, 'server.pub'), 'not a key\n');
  assertZmxError(() => new KeyStore(dir, 'file').load('server'), 'EINVAL', 'corrupt .pub');
  writeFileSync(join(dir, 'server.pub'), pair.publicKey + '\n');
  writeFileSync(join(dir, 'server.key'), 'short\n', { mode: 0o600 });
  const err = assertZmxError(() => new KeyStore(dir, 'file').load('server'), 'EINVAL', 'corrupt .key');
  assert.ok(!err.message.includes('short'), 'the message quotes the stored secret');
});

test('file store: a stale creation lock left by a dead process is broken', (t) => {
  const dir = join(tempDir(t), 'keys');
  mkdirSync(dir, { mode: 0o700 });
  const lock = join(dir, 'server.lock');
  mkdirSync(lock);
  const old = new Date(Date.now() - 60_000);
  utimesSync(lock, old, old);
  const pair = new KeyStore(dir, 'file').loadOrCreate('server');
  assert.ok(isZ85Key(pair.publicKey));
  assert.equal(existsSync(lock), false);
});

test('ZMX_KEYRING chooses the store and is validated', (t) => {
  const dir = join(tempDir(t), 'keys');
  assertZmxError(() => new KeyStore(dir, 'bogus' as 'file'), 'EINVAL', 'constructor argument');
  const saved = process.env['ZMX_KEYRING'];
  try {
    process.env['ZMX_KEYRING'] = 'bogus';
    assertZmxError(() => new KeyStore(dir), 'EINVAL', 'from the environment');
    process.env['ZMX_KEYRING'] = 'file';
    new KeyStore(dir).loadOrCreate('ptyhost');
    assert.equal(new KeyStore(dir, 'file').location('ptyhost'), 'file');
  } finally {
    if (saved === undefined) delete process.env['ZMX_KEYRING'];
    else process.env['ZMX_KEYRING'] = saved;
  }
});

test('concurrent creation from several processes yields one keypair', async (t) => {
  const dir = join(tempDir(t), 'keys');
  const code = `
    const { KeyStore } = await import(process.env.KEYSTORE_URL);
    const { createHash } = await import('node:crypto');
    process.stdout.write('ready\\n');
    for await (const _ of process.stdin) { /* wait for the starting gun: EOF */ }
    const pair = new KeyStore(process.env.KEY_DIR, 'file').loadOrCreate('server');
    const secretSha = createHash('sha256').update(pair.secretKey).digest('hex');
    process.stdout.write(JSON.stringify({ publicKey: pair.publicKey, secretSha }) + '\\n');
  `;
  const env = { ...process.env, KEYSTORE_URL, KEY_DIR: dir };
  const children: Child[] = [];
  try {
    for (let i = 0; i < 6; i++) children.push(start(process.execPath, ['--input-type=module', '-e', code], env, 60_000));
    // All have loaded the module (and zeromq) before any starts creating.
    await Promise.all(children.map((c) => c.waitFor('ready\n')));
    for (const c of children) c.proc.stdin!.end();
    const results = await Promise.all(children.map((c) => c.exited));
    const reports = results.map((r, i) => {
      assert.equal(r.code, 0, `child ${i} failed (${r.code ?? r.signal}): ${r.stderr}`);
      return JSON.parse(r.stdout.trim().split('\n').pop()!) as { publicKey: string; secretSha: string };
    });
    assert.equal(new Set(reports.map((r) => r.publicKey)).size, 1, 'processes made different keypairs');
    assert.equal(new Set(reports.map((r) => r.secretSha)).size, 1, 'processes hold different secrets');
    const stored = new KeyStore(dir, 'file').load('server');
    assert.ok(stored);
    assert.equal(stored.publicKey, reports[0]!.publicKey);
    assert.equal(sha256(stored.secretKey), reports[0]!.secretSha);
    assert.deepEqual(readdirSync(dir).sort(), ['server.key', 'server.pub'], 'leftover temporary files or lock');
  } finally {
    await reap(children);
  }
});

test('fingerprint: SHA256: and 16 hex digits of the raw public key', (t) => {
  const dir = join(tempDir(t), 'keys');
  const store = new KeyStore(dir, 'file');
  const a = store.loadOrCreate('server').publicKey;
  const b = store.loadOrCreate('client').publicKey;
  const fa = fingerprint(a);
  assert.match(fa, /^SHA256:[0-9a-f]{16}$/);
  assert.equal(fa, 'SHA256:' + createHash('sha256').update(z85Decode(a)).digest('hex').slice(0, 16));
  assert.equal(fingerprint(a), fa, 'stable');
  assert.notEqual(fingerprint(b), fa);
  assert.equal(fingerprint(z85Encode(Buffer.alloc(32))), 'SHA256:' + createHash('sha256').update(Buffer.alloc(32)).digest('hex').slice(0, 16));
  // Not a Z85 key: the text itself is hashed.
  assert.equal(fingerprint('hello'), 'SHA256:' + sha256('hello').slice(0, 16));
});

// ---------------------------------------------------------------------------
// Keychains

/** An environment with no reachable D-Bus session and no display to autolaunch one. */
function noBusEnv(base: string, extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  delete env['DISPLAY'];
  delete env['WAYLAND_DISPLAY'];
  const run = join(base, 'run');
  mkdirSync(run, { recursive: true, mode: 0o700 });
  env['XDG_RUNTIME_DIR'] = run;
  env['DBUS_SESSION_BUS_ADDRESS'] = `unix:path=${join(base, 'no-such-bus')}`;
  return env;
}

test('without a keychain: auto falls back to a 0600 file, keyring refuses with EUNAVAIL', async (t) => {
  const base = tempDir(t);
  const code = `
    const { KeyStore } = await import(process.env.KEYSTORE_URL);
    const { readdirSync } = await import('node:fs');
    const auto = new KeyStore(process.env.KEY_DIR + '/auto', 'auto');
    auto.loadOrCreate('server');
    let refused = null;
    try { new KeyStore(process.env.KEY_DIR + '/strict', 'keyring').loadOrCreate('server'); } catch (err) { refused = err.code; }
    let strictFiles = [];
    try { strictFiles = readdirSync(process.env.KEY_DIR + '/strict'); } catch {}
    console.log(JSON.stringify({ location: auto.location('server'), autoFiles: readdirSync(process.env.KEY_DIR + '/auto').sort(), refused, strictFiles }));
  `;
  const report = await runNode(code, noBusEnv(base, { KEYSTORE_URL, KEY_DIR: join(base, 'keys') }));
  assert.deepEqual(report, { location: 'file', autoFiles: ['server.key', 'server.pub'], refused: 'EUNAVAIL', strictFiles: [] });
  assert.equal(mode(join(base, 'keys', 'auto', 'server.key')), 0o600);
});

/**
 * Runs in a private D-Bus session with gnome-keyring as its Secret Service.
 * Each step prints one JSON line; secrets appear only as hashes.
 */
const KEYRING_CHILD = `
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
const { KeyStore } = await import(process.env.KEYSTORE_URL);
const dir = process.env.KEY_DIR;
const step = process.argv[2];
const sha = (s) => createHash('sha256').update(s).digest('hex');
/** Files under dir whose bytes contain the secret. */
const leaks = (secret, d = dir) => readdirSync(d, { withFileTypes: true }).flatMap((e) => {
  const p = join(d, e.name);
  if (e.isDirectory()) return leaks(secret, p);
  return readFileSync(p, 'latin1').includes(secret) ? [p] : [];
});
let out;
try {
  if (step === 'create') {
    const store = new KeyStore(dir, 'keyring');
    const pair = store.loadOrCreate('server');
    out = { publicKey: pair.publicKey, secretSha: sha(pair.secretKey), location: store.location('server'),
      files: readdirSync(dir).sort(), marker: readFileSync(join(dir, 'server.keyring'), 'utf8'), leaks: leaks(pair.secretKey) };
  } else if (step === 'load') {
    const pair = new KeyStore(dir, 'keyring').load('server');
    out = { publicKey: pair.publicKey, secretSha: sha(pair.secretKey), viaAuto: sha(new KeyStore(dir, 'auto').load('server').secretKey), leaks: leaks(pair.secretKey) };
  } else if (step === 'file-mode') {
    try { new KeyStore(dir, 'file').load('server'); out = { code: null }; } catch (err) { out = { code: err.code }; }
  } else if (step === 'auto') {
    const store = new KeyStore(join(dir, 'auto'), 'auto');
    const pair = store.loadOrCreate('client');
    out = { location: store.location('client'), keyFile: existsSync(join(dir, 'auto', 'client.key')), leaks: leaks(pair.secretKey) };
  } else {
    throw new Error('unknown step ' + step);
  }
} catch (err) {
  out = { error: err.code ?? 'ERROR', message: String(err.message) };
  process.exitCode = 1;
}
console.log(JSON.stringify({ step, ...out }));
`;

test('real keychain: the secret goes to the Secret Service, not to a file', { timeout: 90_000 }, async (t) => {
  const tools = ['dbus-run-session', 'gnome-keyring-daemon'];
  const missing = tools.filter((tool) => !findExecutable(tool));
  if (missing.length > 0) {
    t.skip(`${missing.join(' and ')} not installed (CI installs them: apt-get install gnome-keyring dbus dbus-x11)`);
    return;
  }
  const base = tempDir(t);
  const home = join(base, 'home');
  const dir = join(base, 'keys');
  for (const d of [home, join(base, 'run')]) mkdirSync(d, { recursive: true, mode: 0o700 });
  const child = join(base, 'child.mjs');
  writeFileSync(child, KEYRING_CHILD);

  // gnome-keyring makes the "login" collection (the Secret Service default)
  // only when --unlock is given a non-empty password; with an empty one it
  // wants to prompt, and without a display the store stays unusable.
  // HOME and XDG_* point into the temp dir before dbus-run-session so the
  // bus, the daemon and anything the bus activates keep their files there.
  const script = [
    `printf '%s' "$ZMX_TEST_KEYRING_PASSWORD" | gnome-keyring-daemon --unlock --components=secrets >/dev/null`,
    `"$NODE" "$CHILD" create`,
    `"$NODE" "$CHILD" load`,
    `"$NODE" "$CHILD" file-mode`,
    `"$NODE" "$CHILD" auto`,
  ].join(' && ');
  const env: NodeJS.ProcessEnv = {
    ...noBusEnv(base, {}),
    HOME: home,
    XDG_DATA_HOME: join(home, '.local', 'share'),
    XDG_CONFIG_HOME: join(home, '.config'),
    XDG_CACHE_HOME: join(home, '.cache'),
    ZMX_TEST_KEYRING_PASSWORD: 'zmx-test-keyring',
    NODE: process.execPath,
    CHILD: child,
    KEYSTORE_URL,
    KEY_DIR: dir,
  };
  delete env['DBUS_SESSION_BUS_ADDRESS'];
  const session = start('dbus-run-session', ['--', 'sh', '-c', script], env, 75_000);
  session.proc.stdin!.end();
  let done: Finished;
  try {
    done = await session.exited;
  } finally {
    await reap([session]);
  }
  const steps = new Map<string, Record<string, unknown>>();
  for (const line of done.stdout.split('\n')) {
    if (!line.startsWith('{')) continue;
    const report = JSON.parse(line) as Record<string, unknown>;
    steps.set(String(report['step']), report);
  }
  const context = `exit ${done.code ?? done.signal}; steps: ${JSON.stringify([...steps.values()])}; stderr: ${done.stderr.slice(-2000)}`;
  assert.equal(done.code, 0, context);

  const create = steps.get('create');
  assert.ok(create, context);
  assert.equal(create['location'], 'keyring');
  assert.deepEqual(create['files'], ['server.keyring', 'server.pub'], 'no server.key may exist');
  assert.equal(create['marker'], `${dir}#server\n`, 'the marker holds the account name');
  assert.deepEqual(create['leaks'], []);
  assert.equal(existsSync(join(dir, 'server.key')), false);
  assert.equal(mode(join(dir, 'server.keyring')), 0o600);

  const load = steps.get('load');
  assert.ok(load, context);
  assert.equal(load['publicKey'], create['publicKey']);
  assert.equal(load['secretSha'], create['secretSha'], 'a new process reads the same secret from the keychain');
  assert.equal(load['viaAuto'], create['secretSha']);
  assert.deepEqual(load['leaks'], []);

  assert.deepEqual(steps.get('file-mode'), { step: 'file-mode', code: 'EUNAVAIL' }, 'file mode cannot read a keychain secret');
  assert.deepEqual(steps.get('auto'), { step: 'auto', location: 'keyring', keyFile: false, leaks: [] }, 'auto prefers a keychain that answers');

  // Outside that session the keychain is gone: the key is unavailable, never replaced.
  const after = await runNode(`
    const { KeyStore } = await import(process.env.KEYSTORE_URL);
    let code = null;
    try { new KeyStore(process.env.KEY_DIR, 'auto').loadOrCreate('server'); } catch (err) { code = err.code; }
    console.log(JSON.stringify({ code }));
  `, noBusEnv(base, { KEYSTORE_URL, KEY_DIR: dir, HOME: home }));
  assert.deepEqual(after, { code: 'EUNAVAIL' });
  assert.equal(readFileSync(join(dir, 'server.pub'), 'utf8').trim(), create['publicKey']);
});
