/**
 * Stored Curve keypairs, made on first use. The public key sits in
 * `<role>.pub`. The secret key goes to the OS keychain when one answers
 * (`<role>.keyring` then records the account name, nothing secret), else to
 * `<role>.key` with mode 0600, like an ssh private key. Secret keys are never
 * logged or printed.
 *
 * ZMX_KEYRING=auto (default) | keyring | file chooses the store.
 */
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { configDir, ensurePrivateDir } from '../common/paths.js';
import { ZmxError } from '../common/errors.js';
import { isZ85Key } from '../common/z85.js';
import { generateKeyPair, type KeyPair } from './zmq.js';
import { keyring, openKeyring, type SecretStore } from './keyring.js';

export type KeyRole = 'client' | 'server' | 'ptyhost';
export type KeyringMode = 'auto' | 'keyring' | 'file';

/** How long a creation lock may be held before another process breaks it. */
const STALE_LOCK_MS = 10_000;
/** How long to wait for another process creating the same key. */
const LOCK_WAIT_MS = 5_000;

/** A short, printable fingerprint of a public key (SHA-256, first 16 hex digits). */
export { fingerprint } from '../common/z85.js';

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

export class KeyStore {
  readonly dir: string;
  private readonly mode: KeyringMode;
  private keyring: SecretStore | null | undefined;

  constructor(dir = join(configDir(), 'keys'), mode = (process.env['ZMX_KEYRING'] ?? 'auto') as KeyringMode) {
    if (!['auto', 'keyring', 'file'].includes(mode)) {
      throw new ZmxError('EINVAL', `ZMX_KEYRING must be auto, keyring or file, not ${JSON.stringify(mode)}`);
    }
    this.dir = dir;
    this.mode = mode;
  }

  private store(): SecretStore | null {
    if (this.mode === 'file') return null;
    if (this.keyring === undefined) this.keyring = openKeyring();
    if (!this.keyring && this.mode === 'keyring') {
      throw new ZmxError('EUNAVAIL', 'ZMX_KEYRING=keyring but no keychain answers (is a Secret Service running in this D-Bus session?)');
    }
    return this.keyring;
  }

  private account(role: KeyRole): string {
    return `${this.dir}#${role}`;
  }

  private paths(role: KeyRole) {
    return {
      pub: join(this.dir, `${role}.pub`),
      key: join(this.dir, `${role}.key`),
      keyring: join(this.dir, `${role}.keyring`),
      lock: join(this.dir, `${role}.lock`),
    };
  }

  /** The public key, or null when the keypair does not exist yet. */
  publicKey(role: KeyRole): string | null {
    const { pub } = this.paths(role);
    if (!existsSync(pub)) return null;
    const key = readFileSync(pub, 'utf8').trim();
    if (!isZ85Key(key)) throw new ZmxError('EINVAL', `${pub} does not hold a Z85 public key`);
    return key;
  }

  /** Where the secret key of a role lives. */
  location(role: KeyRole): 'keyring' | 'file' | null {
    const p = this.paths(role);
    if (existsSync(p.keyring)) return 'keyring';
    if (existsSync(p.key)) return 'file';
    return null;
  }

  load(role: KeyRole): KeyPair | null {
    const p = this.paths(role);
    const publicKey = this.publicKey(role);
    if (!publicKey) return null;
    let secretKey: string | null = null;
    if (existsSync(p.keyring)) {
      const unavailable = new ZmxError('EUNAVAIL', `the ${role} secret key is in the keychain, which does not answer now; unlock it or start its D-Bus session`);
      if (this.mode === 'file') throw unavailable;
      // A plain read: the keychain was chosen when the key was made, no probe needed.
      try {
        secretKey = keyring.get(readFileSync(p.keyring, 'utf8').trim());
      } catch {
        throw unavailable;
      }
      if (!secretKey) throw new ZmxError('ENOENT', `the ${role} secret key is missing from the keychain; remove ${p.pub} to make a new keypair`);
    } else if (existsSync(p.key)) {
      const mode = statSync(p.key).mode & 0o777;
      if (mode & 0o077) throw new ZmxError('EACCES', `${p.key} is readable by others (mode ${mode.toString(8)}); run: chmod 600 ${p.key}`);
      secretKey = readFileSync(p.key, 'utf8').trim();
    } else {
      return null;
    }
    if (!isZ85Key(secretKey)) throw new ZmxError('EINVAL', `the stored ${role} secret key is not a Z85 key`);
    return { publicKey, secretKey };
  }

  /**
   * The public key, making the keypair on first use. For a peer's key, or
   * one's own when the secret is not needed: the secret is not read.
   */
  publicKeyOrCreate(role: KeyRole): string {
    return this.publicKey(role) ?? this.loadOrCreate(role).publicKey;
  }

  /** Loads the keypair, making and storing it on first use. Safe across processes. */
  loadOrCreate(role: KeyRole): KeyPair {
    const existing = this.load(role);
    if (existing) return existing;
    ensurePrivateDir(this.dir);
    const p = this.paths(role);
    this.lock(p.lock);
    try {
      const raced = this.load(role);
      if (raced) return raced;
      const pair = generateKeyPair();
      const store = this.store();
      if (store) {
        const account = this.account(role);
        store.set(account, pair.secretKey);
        writeFileSync(p.keyring, account + '\n', { mode: 0o600 });
      } else {
        writeSecretFile(p.key, pair.secretKey + '\n');
      }
      // The public key is written last: its presence means the pair is complete.
      const tmp = `${p.pub}.${process.pid}.tmp`;
      writeFileSync(tmp, pair.publicKey + '\n', { mode: 0o644 });
      renameSync(tmp, p.pub);
      return pair;
    } finally {
      rmSync(p.lock, { recursive: true, force: true });
    }
  }

  private lock(path: string): void {
    const deadline = Date.now() + LOCK_WAIT_MS;
    for (;;) {
      try {
        mkdirSync(path);
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        try {
          if (Date.now() - statSync(path).mtimeMs > STALE_LOCK_MS) rmSync(path, { recursive: true, force: true });
        } catch {
          /* gone already */
        }
        if (Date.now() > deadline) throw new ZmxError('ETIMEDOUT', `could not lock ${path}; remove it if no zmx process is making keys`);
        sleepSync(20);
      }
    }
  }
}

/** Writes a secret file created with mode 0600 from the start (never briefly readable). */
function writeSecretFile(path: string, content: string): void {
  const tmp = `${path}.${process.pid}.tmp`;
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    writeSync(fd, content);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}
