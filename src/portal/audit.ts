/**
 * The audit log: one JSON line per operation a client asked for (time, key
 * fingerprint, session, operation, path or argv, result, bytes, duration),
 * appended to a file of mode 0600 under the server's state directory.
 * Contents of files and commands' output never go in it; argv does (it is
 * what an operator needs to see), so SECURITY.md tells users not to pass
 * secrets on command lines.
 *
 * Rotation: when a line would take the file past `maxBytes`, the file is
 * renamed `audit.log.<BASE>` and a new one begun; the oldest rotated files
 * go so that `files` remain, the current one included. BASE is the log's
 * own position of the file's first byte: positions (the offsets readers
 * hold) count every byte ever written, across files, so a reader that
 * follows the log goes on from the rotated file into the new one without
 * losing or repeating a line. A reader left behind the oldest file kept
 * goes on from it.
 */
import { closeSync, fchmodSync, fstatSync, openSync, readSync, readdirSync, renameSync, statSync, unlinkSync, watch, writeSync, type FSWatcher } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { ensurePrivateDir } from '../common/paths.js';
import { AUDIT, PORTAL } from '../common/constants.js';
import { ZmxError } from '../common/errors.js';
import type { AuditEntry } from '../common/portal.js';

/** How much of the log one read looks at: enough for PORTAL.auditReadMaxLines lines of usual size. */
const READ_SLICE_BYTES = 1024 * 1024;
/** Mode of every audit file: the server's user only. */
const AUDIT_MODE = 0o600;

/** One file of the log: where its first byte sits in the whole log. */
interface Segment { path: string; base: number; size: number }

export class AuditLog {
  private fd: number;
  /** The position of the current file's first byte in the whole log. */
  private base: number;
  private readonly maxBytes: number;
  private readonly files: number;
  private waiters = new Set<() => void>();
  private watcher: FSWatcher | null = null;

  constructor(readonly path: string, opts: { maxBytes?: number; files?: number } = {}) {
    this.maxBytes = opts.maxBytes ?? AUDIT.maxBytes;
    this.files = opts.files ?? AUDIT.files;
    ensurePrivateDir(dirname(path));
    this.fd = this.openCurrent();
    const last = this.rotated().at(-1);
    this.base = last ? last.base + last.size : 0;
  }

  /** Appends one entry; a failure to write is reported to the caller's log, never to the client. */
  append(entry: AuditEntry): void {
    const line = Buffer.from(JSON.stringify(entry) + '\n');
    const size = fstatSync(this.fd).size;
    if (size > 0 && size + line.length > this.maxBytes) this.rotate(size);
    writeSync(this.fd, line);
    for (const wake of this.waiters) wake();
  }

  /**
   * Entries from position `offset` on (of `session`, or all when ''), at
   * most PORTAL.auditReadMaxLines; `offset` in the answer is where to go on
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

  /**
   * Whether one of the records in the last `lookback` bytes of the log
   * has `field` equal to `value` (a command's `end`). Lines are JSON with
   * every string escaped, so the field as written cannot appear inside
   * another value.
   */
  hasRecent(field: 'end', value: string, lookback: number = AUDIT.endLookbackBytes): boolean {
    const needle = `${JSON.stringify(field)}:${JSON.stringify(value)}`;
    let left = lookback;
    for (const seg of this.segments().reverse()) {
      if (left <= 0) break;
      const length = Math.min(seg.size, left);
      const buf = Buffer.alloc(length);
      let fd = -1;
      try {
        fd = openSync(seg.path, 'r'); // the writer's own fd is append-only
        readSync(fd, buf, 0, length, seg.size - length);
      } catch {
        continue; // rotated away meanwhile
      } finally {
        if (fd >= 0) closeSync(fd);
      }
      if (buf.includes(needle)) return true;
      left -= length;
    }
    return false;
  }

  dispose(): void {
    for (const wake of [...this.waiters]) wake();
    this.stopWatching();
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }

  // ---- internals

  private openCurrent(): number {
    const fd = openSync(this.path, 'a', AUDIT_MODE);
    fchmodSync(fd, AUDIT_MODE); // an existing file keeps its mode on open: make sure
    return fd;
  }

  /** The rotated files, oldest first. */
  private rotated(): Segment[] {
    const prefix = `${basename(this.path)}.`;
    const dir = dirname(this.path);
    const out: Segment[] = [];
    for (const name of readdirSync(dir)) {
      if (!name.startsWith(prefix) || !/^\d+$/.test(name.slice(prefix.length))) continue;
      const path = join(dir, name);
      try {
        out.push({ path, base: Number(name.slice(prefix.length)), size: statSync(path).size });
      } catch {
        /* removed meanwhile */
      }
    }
    return out.sort((a, b) => a.base - b.base);
  }

  /** Every file of the log, oldest first, the current one last. */
  private segments(): Segment[] {
    return [...this.rotated(), { path: this.path, base: this.base, size: fstatSync(this.fd).size }];
  }

  private rotate(size: number): void {
    closeSync(this.fd);
    this.fd = -1;
    renameSync(this.path, `${this.path}.${this.base}`);
    this.base += size;
    this.fd = this.openCurrent();
    const old = this.rotated();
    for (const s of old.slice(0, Math.max(0, old.length - (this.files - 1)))) unlinkSync(s.path);
    // A watcher follows the renamed file: watch the new one from the next wait on.
    this.stopWatching();
  }

  private readNow(offset: number, session: string): { entries: AuditEntry[]; offset: number } {
    const segs = this.segments();
    const end = (segs.at(-1) as Segment).base + (segs.at(-1) as Segment).size;
    if (offset > end) throw new ZmxError('EINVAL', `audit offset ${offset} is past the log's end (${end} bytes); start from 0`);
    const entries: AuditEntry[] = [];
    // Behind the oldest file kept (rotated away): go on from it.
    let pos = Math.max(offset, (segs[0] as Segment).base);
    for (const seg of segs) {
      if (pos >= seg.base + seg.size) continue;
      if (entries.length >= PORTAL.auditReadMaxLines) break;
      const next = readSegment(seg, pos - seg.base, session, entries);
      pos = seg.base + next;
      if (next < seg.size) break; // a line still being written, or enough lines
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
}

/**
 * Reads the whole lines of one file from byte `from`, adding the entries of
 * `session` ('' = all) until PORTAL.auditReadMaxLines; returns the byte
 * after the last line read.
 */
function readSegment(seg: Segment, from: number, session: string, entries: AuditEntry[]): number {
  let pos = from;
  let fd: number;
  try {
    fd = openSync(seg.path, 'r');
  } catch {
    return seg.size; // rotated away meanwhile: nothing more to read there
  }
  try {
    while (pos < seg.size && entries.length < PORTAL.auditReadMaxLines) {
      const buf = Buffer.alloc(Math.min(READ_SLICE_BYTES, seg.size - pos));
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
  return pos;
}
