/**
 * The audit log: one JSON line per operation a client asked for (time, key
 * fingerprint, session, operation, path or argv, result, bytes, duration),
 * appended to a file of mode 0600 under the server's state directory.
 * Contents of files and commands' output never go in it; argv does (it is
 * what an operator needs to see), so SECURITY.md tells users not to pass
 * secrets on command lines.
 */
import { closeSync, openSync, readSync, statSync, watch, writeSync, type FSWatcher } from 'node:fs';
import { dirname } from 'node:path';
import { ensurePrivateDir } from '../common/paths.js';
import { PORTAL } from '../common/constants.js';
import { ZmxError } from '../common/errors.js';
import type { AuditEntry } from '../common/portal.js';

/** How much of the log one read looks at: enough for PORTAL.auditReadMaxLines lines of usual size. */
const READ_SLICE_BYTES = 1024 * 1024;

export class AuditLog {
  private fd: number;
  private waiters = new Set<() => void>();
  private watcher: FSWatcher | null = null;

  constructor(readonly path: string) {
    ensurePrivateDir(dirname(path));
    this.fd = openSync(path, 'a', 0o600);
  }

  /** Appends one entry; a failure to write is reported to the caller's log, never to the client. */
  append(entry: AuditEntry): void {
    writeSync(this.fd, JSON.stringify(entry) + '\n');
    for (const wake of this.waiters) wake();
  }

  /**
   * Entries from byte `offset` on (of `session`, or all when ''), at most
   * PORTAL.auditReadMaxLines; `offset` in the answer is where to go on
   * from. With none yet, waits up to `waitMs` for new ones.
   */
  async read(offset: number, session: string, waitMs: number): Promise<{ entries: AuditEntry[]; offset: number }> {
    let r = this.readNow(offset, session);
    const deadline = Date.now() + waitMs;
    while (r.entries.length === 0 && Date.now() < deadline) {
      await this.changed(deadline - Date.now());
      r = this.readNow(r.offset, session);
    }
    return r;
  }

  private readNow(offset: number, session: string): { entries: AuditEntry[]; offset: number } {
    const size = statSync(this.path).size;
    if (offset > size) throw new ZmxError('EINVAL', `audit offset ${offset} is past the log's end (${size} bytes); start from 0`);
    const entries: AuditEntry[] = [];
    let pos = offset;
    const fd = openSync(this.path, 'r');
    try {
      while (pos < size && entries.length < PORTAL.auditReadMaxLines) {
        const buf = Buffer.alloc(Math.min(READ_SLICE_BYTES, size - pos));
        const n = readSync(fd, buf, 0, buf.length, pos);
        const text = buf.subarray(0, n);
        const lastNl = text.lastIndexOf(0x0a);
        if (lastNl < 0) break; // a line still being written
        for (const line of text.subarray(0, lastNl).toString('utf8').split('\n')) {
          pos += Buffer.byteLength(line) + 1;
          if (!line) continue;
          try {
            const e = JSON.parse(line) as AuditEntry;
            if (!session || e.session === session) entries.push(e);
          } catch {
            /* a line someone else wrote into the file: skipped */
          }
          if (entries.length >= PORTAL.auditReadMaxLines) break;
        }
      }
    } finally {
      closeSync(fd);
    }
    return { entries, offset: pos };
  }

  /** Resolves when an entry is appended (by this process) or the file changes, or after ms. */
  private changed(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(done);
        if (this.waiters.size === 0) this.stopWatching();
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      this.waiters.add(done);
      if (!this.watcher) {
        this.watcher = watch(this.path, () => { for (const wake of [...this.waiters]) wake(); });
        this.watcher.on('error', () => this.stopWatching());
      }
    });
  }

  private stopWatching(): void {
    this.watcher?.close();
    this.watcher = null;
  }

  dispose(): void {
    for (const wake of [...this.waiters]) wake();
    this.stopWatching();
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }
}
