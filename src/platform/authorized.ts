/**
 * The server's authorized keys: which client public keys the ZAP handler
 * admits, each with the limits it carries (root, allowed operations,
 * read-only). Stored as JSON in the config directory, mode 0600; re-read
 * when the file changes, so `zmx keys authorize` takes effect at once.
 */
import { existsSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ZmxError } from '../common/errors.js';
import { isZ85Key } from '../common/z85.js';
import { configDir, ensurePrivateDir } from '../common/paths.js';

import type { Operation } from '../common/portal.js';
export { OPERATIONS, type Operation } from '../common/portal.js';

export interface AuthorizedKey {
  key: string;
  name: string;
  root: string | null;
  allow: Operation[];
  readOnly: boolean;
  added: string;
}

export class AuthorizedKeys {
  readonly path: string;
  private cache: { mtimeMs: number; size: number; keys: AuthorizedKey[] } | null = null;

  constructor(path = join(configDir(), 'authorized_keys.json')) {
    this.path = path;
  }

  list(): AuthorizedKey[] {
    if (!existsSync(this.path)) return [];
    const st = statSync(this.path);
    if (this.cache && this.cache.mtimeMs === st.mtimeMs && this.cache.size === st.size) return this.cache.keys;
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(this.path, 'utf8'));
    } catch {
      throw new ZmxError('EINVAL', `${this.path} is not valid JSON; fix or remove it`);
    }
    const keys = (parsed as { keys?: unknown }).keys;
    if (!Array.isArray(keys)) throw new ZmxError('EINVAL', `${this.path}: "keys" must be a list`);
    const valid = keys.filter((k): k is AuthorizedKey => typeof k === 'object' && k !== null && isZ85Key((k as AuthorizedKey).key));
    this.cache = { mtimeMs: st.mtimeMs, size: st.size, keys: valid };
    return valid;
  }

  find(key: string): AuthorizedKey | null {
    try {
      return this.list().find((k) => k.key === key) ?? null;
    } catch {
      return null; // a broken file admits nobody
    }
  }

  add(entry: Omit<AuthorizedKey, 'added'>): AuthorizedKey {
    if (!isZ85Key(entry.key)) throw new ZmxError('EINVAL', 'a public key is 40 characters of Z85');
    const keys = this.list().filter((k) => k.key !== entry.key);
    const full = { ...entry, added: new Date().toISOString() };
    keys.push(full);
    this.save(keys);
    return full;
  }

  remove(key: string): boolean {
    const keys = this.list();
    const rest = keys.filter((k) => k.key !== key);
    if (rest.length === keys.length) return false;
    this.save(rest);
    return true;
  }

  private save(keys: AuthorizedKey[]): void {
    ensurePrivateDir(join(this.path, '..'));
    const tmp = `${this.path}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify({ keys }, null, 2) + '\n', { mode: 0o600 });
    renameSync(tmp, this.path);
    this.cache = null;
  }
}
