/**
 * Remote hosts this client knows (`zmx host add`): a name, the server's
 * address and its public key, in hosts.json in the config directory. The
 * server's key is what makes the connection authenticated: a server that
 * cannot prove it holds the matching secret key is never talked to.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ZmxError } from '../common/errors.js';
import { isZ85Key } from '../common/z85.js';
import { configDir, ensurePrivateDir } from '../common/paths.js';

export interface HostEntry {
  name: string;
  endpoint: string;
  serverKey: string;
  added: string;
}

/** Host names: short, printable, no separators (they appear in `-H NAME` and in lists). */
const HOST_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export class Hosts {
  readonly path: string;

  constructor(dir = configDir()) {
    this.path = join(dir, 'hosts.json');
  }

  list(): HostEntry[] {
    if (!existsSync(this.path)) return [];
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(this.path, 'utf8'));
    } catch {
      throw new ZmxError('EINVAL', `${this.path} is not valid JSON; fix or remove it`);
    }
    const hosts = (parsed as { hosts?: unknown }).hosts;
    if (!Array.isArray(hosts)) throw new ZmxError('EINVAL', `${this.path}: "hosts" must be a list`);
    return hosts.filter((h): h is HostEntry => typeof h === 'object' && h !== null && typeof (h as HostEntry).name === 'string' && isZ85Key((h as HostEntry).serverKey));
  }

  /** The host named `name`, or a one-line error saying how to add it. */
  get(name: string): HostEntry {
    const found = this.list().find((h) => h.name === name);
    if (!found) throw new ZmxError('ENOENT', `unknown host "${name}"; add it with: zmx host add ${name} tcp://HOST:PORT --key SERVER_KEY (or zmx pair)`);
    return found;
  }

  add(entry: Omit<HostEntry, 'added'>): HostEntry {
    if (!HOST_NAME.test(entry.name)) throw new ZmxError('EINVAL', `host name "${entry.name}": use letters, digits, '.', '_' and '-' (at most 64)`);
    if (!isZ85Key(entry.serverKey)) throw new ZmxError('EINVAL', 'the server key is 40 characters of Z85, as `zmx keys show --server` prints on the server');
    const full = { ...entry, added: new Date().toISOString() };
    this.save([...this.list().filter((h) => h.name !== entry.name), full]);
    return full;
  }

  remove(name: string): boolean {
    const hosts = this.list();
    const rest = hosts.filter((h) => h.name !== name);
    if (rest.length === hosts.length) return false;
    this.save(rest);
    return true;
  }

  private save(hosts: HostEntry[]): void {
    ensurePrivateDir(join(this.path, '..'));
    const tmp = `${this.path}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify({ hosts }, null, 2) + '\n', { mode: 0o600 });
    renameSync(tmp, this.path);
  }
}
