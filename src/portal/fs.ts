/**
 * The agent portal's file service: the fs.* operations on one session's
 * root, answered by the front. Every client path goes through Root.resolve
 * first; what comes back is relative to the root, and error messages name
 * the path as the client gave it (never the server's absolute path).
 *
 * Memory: read and uploads hold at most one chunk of a file; readFiles,
 * grep and edit hold what their bounds allow (PORTAL.readFilesTotalBytes,
 * grepMaxFileBytes, editMaxBytes).
 *
 * Writes are atomic: the content goes to a temp file in the same directory
 * (created O_EXCL, so never through a symlink), which is then renamed over
 * the path. A reader sees the old file or the new one, never a part. The
 * file's owner is not kept (a rename makes a new inode owned by the server's
 * user); its permission bits are, setuid and setgid excepted.
 */
import { constants as FS, watch as fsWatch, type FSWatcher, type Stats } from 'node:fs';
import { lstat, mkdir, open, readdir, readlink, rename, rm as fsRm, rmdir, stat as fsStat, unlink, type FileHandle } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { PORTAL } from '../common/constants.js';
import { ZmxError, toZmxError } from '../common/errors.js';
import type { ChangeKind, FileStat, FileType, FsChange, GrepMatch, ReadFilesEntry } from '../common/portal.js';
import { Root, show } from './root.js';

/** Directories list and grep do not enter unless asked (`all`), nor a recursive watch below its top. */
const SKIPPED_DIRS: ReadonlySet<string> = new Set(['.git', 'node_modules']);
/** Mode of a new file before the umask, as open(2) callers use. */
const NEW_FILE_MODE = 0o666;
/** Random bytes in a temp file's name. */
const TEMP_RANDOM_BYTES = 6;
/** A temp file's name keeps at most this much of the target's (NAME_MAX is 255 with room for the rest). */
const TEMP_NAME_KEEP = 200;
/** Flags for reading a file the walk or resolve found: no blocking on a FIFO, no symlink swapped in since. */
const READ_FLAGS = FS.O_RDONLY | FS.O_NONBLOCK | FS.O_NOFOLLOW;

interface Upload {
  id: number;
  owner: string;
  root: Root;
  /** The path as the client gave it (for messages and re-resolution at commit). */
  shown: string;
  abs: string;
  tmp: string;
  handle: FileHandle;
  mode: number | null;
  lastActive: number;
  /** Chunk writes in progress: commit and abort wait for them. */
  writes: Set<Promise<unknown>>;
  /** A commit is checking the size: chunks wait for its answer (refused until it says the upload stays open). */
  committing: boolean;
}

interface Watch {
  id: number;
  owner: string;
  tree: TreeWatch;
}

export class FsService {
  private readonly now: () => number;
  private readonly uploads = new Map<number, Upload>();
  private readonly watches = new Map<number, Watch>();
  private nextUpload = 1;
  private nextWatch = 1;
  private idleTimer: NodeJS.Timeout | null = null;
  private disposed = false;

  constructor(opts: { now?: () => number } = {}) {
    this.now = opts.now ?? Date.now;
  }

  /** Up to `length` (at most PORTAL.chunkBytes) bytes at `offset`; past the end: none. */
  async read(root: Root, p: string, offset: number, length: number): Promise<{ size: number; mtimeMs: number; data: Buffer }> {
    checkOffset(offset);
    const abs = await root.resolve(p);
    try {
      const fh = await openRegular(abs, p);
      try {
        const st = await fh.stat();
        const want = Math.max(0, Math.min(length, PORTAL.chunkBytes, st.size - offset));
        const data = await readAt(fh, offset, want);
        return { size: st.size, mtimeMs: st.mtimeMs, data };
      } finally {
        await fh.close();
      }
    } catch (err) {
      throw osError(err, p);
    }
  }

  /** Several files at once, each cut at PORTAL.readFilesPerFileBytes, all at readFilesTotalBytes. */
  async readFiles(root: Root, paths: string[]): Promise<{ files: ReadFilesEntry[]; data: Buffer }> {
    const files: ReadFilesEntry[] = [];
    const parts: Buffer[] = [];
    let total = 0;
    for (const p of paths) {
      let shown = p;
      try {
        const abs = await root.resolve(p);
        shown = root.relative(abs);
        const fh = await openRegular(abs, p);
        try {
          const st = await fh.stat();
          const room = Math.min(PORTAL.readFilesPerFileBytes, PORTAL.readFilesTotalBytes - total);
          const data = await readAt(fh, 0, Math.min(st.size, room));
          parts.push(data);
          total += data.length;
          files.push({ path: shown, size: st.size, bytes: data.length, truncated: data.length < st.size, error: null });
        } finally {
          await fh.close();
        }
      } catch (err) {
        const e = osError(err, p);
        files.push({ path: shown, size: 0, bytes: 0, truncated: false, error: { code: e.code, message: e.message } });
      }
    }
    return { files, data: Buffer.concat(parts, total) };
  }

  /** Replaces the file's content atomically (temp file, rename). */
  async write(root: Root, p: string, data: Buffer, opts: { mode: number | null; parents: boolean }): Promise<{ path: string; bytes: number }> {
    checkMode(opts.mode);
    const abs = await root.resolve(p);
    const { handle, tmp } = await this.createTemp(abs, p, opts.parents);
    try {
      await writeAt(handle, 0, data);
      await finish(handle, tmp, abs, opts.mode);
    } catch (err) {
      await discard(root, handle, tmp);
      throw osError(err, p);
    }
    return { path: root.relative(abs), bytes: data.length };
  }

  /** Starts a write of any size: the temp file is created now; chunks follow. */
  async uploadBegin(owner: string, root: Root, p: string, opts: { mode: number | null; parents: boolean }): Promise<number> {
    this.open();
    checkMode(opts.mode);
    await this.expireIdle();
    let held = 0;
    for (const u of this.uploads.values()) if (u.owner === owner) held++;
    if (held >= PORTAL.maxUploadsPerClient) {
      throw new ZmxError('ETOOBIG', `already ${held} uploads open (at most ${PORTAL.maxUploadsPerClient}); commit or abort some first`);
    }
    const abs = await root.resolve(p);
    const { handle, tmp } = await this.createTemp(abs, p, opts.parents);
    if (this.disposed) {
      await discard(root, handle, tmp);
      throw new ZmxError('EINVAL', 'the file service is closed');
    }
    const id = this.nextUpload++;
    this.uploads.set(id, { id, owner, root, shown: p, abs, tmp, handle, mode: opts.mode, lastActive: this.now(), writes: new Set(), committing: false });
    this.armIdleTimer();
    return id;
  }

  /** Writes one chunk at `offset` (chunks may come in any order). */
  async uploadChunk(owner: string, id: number, offset: number, data: Buffer): Promise<number> {
    await this.expireIdle();
    const up = this.upload(owner, id);
    if (data.length > PORTAL.chunkBytes) {
      throw new ZmxError('ETOOBIG', `upload chunk of ${data.length} bytes is over ${PORTAL.chunkBytes}; send smaller chunks`);
    }
    checkOffset(offset);
    if (up.committing) throw new ZmxError('EINVAL', `upload ${id} is being committed; send chunks before the commit`);
    up.lastActive = this.now();
    const w = writeAt(up.handle, offset, data);
    up.writes.add(w);
    try {
      await w;
    } catch (err) {
      throw osError(err, up.shown);
    } finally {
      up.writes.delete(w);
      up.lastActive = this.now();
    }
    return data.length;
  }

  /** Renames the temp file over the path once it holds exactly `size` bytes. */
  async uploadCommit(owner: string, id: number, size: number): Promise<{ path: string; bytes: number }> {
    await this.expireIdle();
    const up = this.upload(owner, id);
    if (up.committing) throw new ZmxError('EINVAL', `upload ${id} is being committed already`);
    up.committing = true;
    let have: number;
    try {
      await Promise.allSettled([...up.writes]);
      have = (await up.handle.stat()).size;
    } finally {
      up.committing = false;
    }
    if (have !== size) {
      throw new ZmxError('EINVAL', `upload ${id} of ${show(up.shown)} holds ${have} bytes, not ${size}; send the missing chunks or abort`);
    }
    this.uploads.delete(id);
    this.disarmIfIdle();
    try {
      // The tree may have changed since begin: the path must still resolve where the temp file is.
      const abs = await up.root.resolve(up.shown);
      if (abs !== up.abs) throw new ZmxError('EINVAL', `${show(up.shown)} changed while it was uploaded; upload it again`);
      await finish(up.handle, up.tmp, up.abs, up.mode);
    } catch (err) {
      await discard(up.root, up.handle, up.tmp);
      throw osError(err, up.shown);
    }
    return { path: up.root.relative(up.abs), bytes: size };
  }

  /** Ends an upload without writing the path; its temp file is removed. */
  async uploadAbort(owner: string, id: number): Promise<void> {
    const up = this.upload(owner, id);
    await this.abort(up);
  }

  /** Replaces exactly `count` occurrences of `oldText` (plain text, not a pattern). */
  async edit(root: Root, p: string, oldText: string, newText: string, count: number): Promise<{ path: string; replaced: number }> {
    if (!Number.isInteger(count) || count < 1) throw new ZmxError('EINVAL', `count must be 1 or more, not ${count}`);
    if (oldText === '') throw new ZmxError('EINVAL', 'the text to replace is empty; give the text to find');
    const abs = await root.resolve(p);
    let content: Buffer;
    try {
      const fh = await openRegular(abs, p);
      try {
        const st = await fh.stat();
        if (st.size > PORTAL.editMaxBytes) {
          throw new ZmxError('ETOOBIG', `${show(p)} is ${st.size} bytes, over ${PORTAL.editMaxBytes} for edit; write it instead`);
        }
        content = await readAt(fh, 0, st.size);
      } finally {
        await fh.close();
      }
    } catch (err) {
      throw osError(err, p);
    }
    // Bytewise on the UTF-8 encoding: a valid sequence can only match at character boundaries,
    // and bytes that are not valid UTF-8 elsewhere in the file survive untouched.
    const needle = Buffer.from(oldText, 'utf8');
    const at: number[] = [];
    for (let i = content.indexOf(needle); i !== -1; i = content.indexOf(needle, i + needle.length)) at.push(i);
    if (at.length !== count) {
      throw new ZmxError('EINVAL', `${show(p)}: found ${at.length} occurrences of the text, expected ${count}; nothing was written`);
    }
    const replacement = Buffer.from(newText, 'utf8');
    const parts: Buffer[] = [];
    let from = 0;
    for (const i of at) {
      parts.push(content.subarray(from, i), replacement);
      from = i + needle.length;
    }
    parts.push(content.subarray(from));
    await this.write(root, p, Buffer.concat(parts), { mode: null, parents: false });
    return { path: root.relative(abs), replaced: count };
  }

  /** lstat: a symlink shows as 'symlink'. */
  async stat(root: Root, p: string): Promise<FileStat> {
    const abs = await root.resolve(p, { followLeaf: false });
    try {
      return fileStat(root.relative(abs), await lstat(abs));
    } catch (err) {
      throw osError(err, p);
    }
  }

  /** Entries under `path`, in tree order (each directory's names sorted, a directory right before its contents). */
  async list(root: Root, p: string, opts: { recursive: boolean; glob: string; all: boolean; max: number }): Promise<{ entries: FileStat[]; truncated: boolean }> {
    const max = opts.max > 0 ? Math.min(opts.max, PORTAL.listMaxEntries) : PORTAL.listMaxEntries;
    const abs = await root.resolve(p);
    const entries: FileStat[] = [];
    let truncated = false;
    const top = await statOf(abs, p);
    if (!top.isDirectory()) {
      if (globMatches(path.basename(abs), opts.glob)) entries.push(fileStat(root.relative(abs), top));
      return { entries, truncated };
    }
    await walk(abs, p, { recursive: opts.recursive, all: opts.all }, async (entryAbs, rel, st) => {
      if (!globMatches(rel, opts.glob)) return true;
      if (entries.length >= max) {
        truncated = true;
        return false;
      }
      entries.push(fileStat(root.relative(entryAbs), st));
      return true;
    });
    return { entries, truncated };
  }

  /** Lines matching the JS regular expression `pattern` in the text files under `path`. */
  async grep(root: Root, p: string, opts: { pattern: string; glob: string; ignoreCase: boolean; max: number }): Promise<{ matches: GrepMatch[]; truncated: boolean }> {
    let re: RegExp;
    try {
      re = new RegExp(opts.pattern, opts.ignoreCase ? 'i' : '');
    } catch (err) {
      throw new ZmxError('EINVAL', `bad pattern ${show(opts.pattern)}: ${(err as Error).message}; give a JavaScript regular expression`);
    }
    const max = opts.max > 0 ? Math.min(opts.max, PORTAL.grepMaxResults) : PORTAL.grepMaxResults;
    const abs = await root.resolve(p);
    const matches: GrepMatch[] = [];
    let truncated = false;
    /** false once `max` is reached and one more match was seen. */
    const search = async (fileAbs: string): Promise<boolean> => {
      const text = await readText(fileAbs);
      if (text === null) return true;
      const rel = root.relative(fileAbs);
      const lines = text.split('\n');
      for (let i = 0; i < lines.length; i++) {
        let line = lines[i] as string;
        if (line.endsWith('\r')) line = line.slice(0, -1);
        if (!re.test(line)) continue;
        if (matches.length >= max) {
          truncated = true;
          return false;
        }
        matches.push({ path: rel, line: i + 1, text: line.length > PORTAL.grepMaxLineChars ? line.slice(0, PORTAL.grepMaxLineChars) : line });
      }
      return true;
    };
    const top = await statOf(abs, p);
    if (!top.isDirectory()) {
      if (!top.isFile()) throw new ZmxError('EINVAL', `${show(p)} is not a file or directory`);
      await search(abs);
      return { matches, truncated };
    }
    await walk(abs, p, { recursive: true, all: false }, async (entryAbs, rel, st) => {
      if (!st.isFile() || !globMatches(rel, opts.glob)) return true;
      return search(entryAbs);
    });
    return { matches, truncated };
  }

  async mkdir(root: Root, p: string, parents: boolean): Promise<{ path: string }> {
    const abs = await root.resolve(p);
    try {
      await mkdir(abs, { recursive: parents });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new ZmxError('ENOENT', `the parent directory of ${show(p)} does not exist; pass parents to create it`);
      }
      throw osError(err, p);
    }
    return { path: root.relative(abs) };
  }

  /** Removes a file, a symlink (not its target) or a directory (recursive if it is not empty). */
  async rm(root: Root, p: string, recursive: boolean): Promise<{ path: string }> {
    const abs = await root.resolve(p, { followLeaf: false });
    if (abs === root.path) throw new ZmxError('EINVAL', `${show(p)} is the root; it cannot be removed`);
    try {
      const st = await lstat(abs);
      if (!st.isDirectory()) await unlink(abs);
      else if (recursive) await fsRm(abs, { recursive: true });
      else await rmdir(abs);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOTEMPTY' || code === 'EEXIST') {
        throw new ZmxError('EINVAL', `${show(p)} is a directory that is not empty; pass recursive to remove it and its contents`);
      }
      throw osError(err, p);
    }
    return { path: root.relative(abs) };
  }

  /** Renames within the root; an existing `to` needs `overwrite`. */
  async mv(root: Root, from: string, to: string, overwrite: boolean): Promise<{ from: string; to: string }> {
    const src = await root.resolve(from, { followLeaf: false });
    const dst = await root.resolve(to, { followLeaf: false });
    if (src === root.path) throw new ZmxError('EINVAL', `${show(from)} is the root; it cannot be moved`);
    if (dst === root.path) throw new ZmxError('EINVAL', `${show(to)} is the root; give a path inside it`);
    const both = `${show(from)} to ${show(to)}`;
    try {
      await lstat(src);
    } catch (err) {
      throw osError(err, from);
    }
    if (!overwrite && (await exists(dst))) {
      throw new ZmxError('EEXIST', `${show(to)} exists already; pass overwrite to replace it`);
    }
    try {
      await rename(src, dst);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOTEMPTY' || code === 'EEXIST') throw new ZmxError('EEXIST', `cannot move ${both}: ${show(to)} is a directory that is not empty`);
      if (code === 'EINVAL') throw new ZmxError('EINVAL', `cannot move ${both}: a directory cannot move into itself`);
      if (code === 'ENOENT') throw new ZmxError('ENOENT', `cannot move ${both}: the directory of ${show(to)} does not exist; make it first`);
      throw osError(err, both);
    }
    return { from: root.relative(src), to: root.relative(dst) };
  }

  /** Reports changes under `path` to onChange until unwatch, dropOwner or dispose. */
  async watch(owner: string, root: Root, p: string, recursive: boolean, onChange: (c: FsChange) => void): Promise<number> {
    this.open();
    const abs = await root.resolve(p);
    const st = await statOf(abs, p);
    let held = 0;
    for (const w of this.watches.values()) if (w.owner === owner) held++;
    if (held >= PORTAL.maxWatchesPerClient) {
      throw new ZmxError('ETOOBIG', `already ${held} watches open (at most ${PORTAL.maxWatchesPerClient}); unwatch some first`);
    }
    const id = this.nextWatch++;
    const tree = new TreeWatch(root, abs, st.isDirectory(), recursive, (kind, changed) => {
      if (this.watches.has(id)) onChange({ watch: id, kind, path: root.relative(changed) });
    }, () => this.closeWatch(id));
    this.watches.set(id, { id, owner, tree });
    try {
      await tree.start();
    } catch (err) {
      this.closeWatch(id);
      if ((err as NodeJS.ErrnoException).code === 'ENOSPC') {
        throw new ZmxError('ETOOBIG', `cannot watch ${show(p)}: the system's inotify watches are used up (fs.inotify.max_user_watches); unwatch something`);
      }
      throw osError(err, p);
    }
    if (!this.watches.has(id)) {
      throw this.disposed ? new ZmxError('EINVAL', 'the file service is closed') : new ZmxError('ENOENT', `${show(p)} went away while the watch started`);
    }
    return id;
  }

  unwatch(owner: string, id: number): void {
    const w = this.watches.get(id);
    if (!w || w.owner !== owner) throw new ZmxError('EINVAL', `no watch ${id}`);
    this.closeWatch(id);
  }

  /** The client `owner` went away: abort its uploads (temp files removed) and close its watches. */
  async dropOwner(owner: string): Promise<void> {
    for (const w of [...this.watches.values()]) if (w.owner === owner) this.closeWatch(w.id);
    await Promise.all([...this.uploads.values()].filter((u) => u.owner === owner).map((u) => this.abort(u)));
  }

  /** Everything ends: uploads aborted, watches closed, timers cleared. */
  async dispose(): Promise<void> {
    this.disposed = true;
    for (const id of [...this.watches.keys()]) this.closeWatch(id);
    await Promise.all([...this.uploads.values()].map((u) => this.abort(u)));
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
  }

  /** For tests: open uploads and watches. */
  get openCount(): { uploads: number; watches: number } {
    return { uploads: this.uploads.size, watches: this.watches.size };
  }

  // ---- internals

  private open(): void {
    if (this.disposed) throw new ZmxError('EINVAL', 'the file service is closed');
  }

  private upload(owner: string, id: number): Upload {
    const up = this.uploads.get(id);
    if (!up || up.owner !== owner) throw new ZmxError('EINVAL', `no upload ${id}; begin one first`);
    return up;
  }

  private async abort(up: Upload): Promise<void> {
    if (this.uploads.get(up.id) !== up) return;
    this.uploads.delete(up.id);
    this.disarmIfIdle();
    await Promise.allSettled([...up.writes]);
    await discard(up.root, up.handle, up.tmp);
  }

  private closeWatch(id: number): void {
    const w = this.watches.get(id);
    if (!w) return;
    this.watches.delete(id);
    w.tree.close();
  }

  /** Aborts the uploads no chunk came for in PORTAL.uploadIdleMs. */
  private async expireIdle(): Promise<void> {
    const now = this.now();
    const idle = [...this.uploads.values()].filter((u) => u.writes.size === 0 && now - u.lastActive >= PORTAL.uploadIdleMs);
    await Promise.all(idle.map((u) => this.abort(u)));
  }

  /** One timer for all uploads, set for the earliest moment one of them may become idle. */
  private armIdleTimer(): void {
    if (this.idleTimer || this.uploads.size === 0 || this.disposed) return;
    // One with a chunk still being written is not idle: count it from now.
    let oldest = Infinity;
    for (const u of this.uploads.values()) oldest = Math.min(oldest, u.writes.size > 0 ? this.now() : u.lastActive);
    const delay = Math.max(0, oldest + PORTAL.uploadIdleMs - this.now());
    this.idleTimer = setTimeout(() => {
      this.idleTimer = null;
      void this.expireIdle().finally(() => this.armIdleTimer());
    }, delay);
    this.idleTimer.unref();
  }

  private disarmIfIdle(): void {
    if (this.uploads.size === 0 && this.idleTimer) {
      clearTimeout(this.idleTimer);
      this.idleTimer = null;
    }
  }

  /** The temp file beside `abs` (its directory made first if `parents`), open for writing. */
  private async createTemp(abs: string, shown: string, parents: boolean): Promise<{ handle: FileHandle; tmp: string }> {
    const dir = path.dirname(abs);
    try {
      const st = await lstat(abs).catch(() => null);
      if (st?.isDirectory()) throw new ZmxError('EINVAL', `${show(shown)} is a directory; give a file path`);
      if (parents) await mkdir(dir, { recursive: true });
      else {
        const d = await fsStat(dir).catch(() => null);
        if (!d) throw new ZmxError('ENOENT', `the directory of ${show(shown)} does not exist; pass parents to create it`);
        if (!d.isDirectory()) throw new ZmxError('ENOENT', `the parent of ${show(shown)} is not a directory`);
      }
      const base = path.basename(abs).slice(0, TEMP_NAME_KEEP);
      const tmp = path.join(dir, `.${base}.zmx-${randomBytes(TEMP_RANDOM_BYTES).toString('hex')}.tmp`);
      const handle = await open(tmp, FS.O_WRONLY | FS.O_CREAT | FS.O_EXCL | FS.O_NOFOLLOW, NEW_FILE_MODE);
      return { handle, tmp };
    } catch (err) {
      throw osError(err, shown);
    }
  }
}

/** The temp files write and uploads make (`.NAME.zmx-HEX.tmp`): watches do not report them. */
const TEMP_NAME = /^\.[\s\S]*\.zmx-[0-9a-f]+\.tmp$/;

/**
 * A watch on a file or a directory tree. Node 20's recursive fs.watch on
 * Linux walks the tree synchronously (stalling the server on a large one)
 * and holds an inotify watch per file, following symlinks out of the root;
 * this holds one fs.watch per directory instead, added as directories
 * appear (their entries reported as created), never through a symlink, and
 * not into .git or node_modules below the watched path. A file is watched
 * through its directory, so an atomic replace (rename over it) keeps being
 * seen. Events are handled one after another (lstat is async), in order.
 */
class TreeWatch {
  private readonly dirs = new Map<string, FSWatcher>();
  private chain: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(
    private readonly root: Root,
    private readonly top: string,
    private readonly isDir: boolean,
    private readonly recursive: boolean,
    private readonly emit: (kind: ChangeKind, abs: string) => void,
    /** The watched directory failed (removed, unreadable): the watch ends. */
    private readonly onFail: () => void,
  ) {}

  /** Watches the top (its directory for a file) and, if recursive, every directory under it; resolves once they are. */
  async start(): Promise<void> {
    this.add(this.isDir ? this.top : path.dirname(this.top), true);
    if (this.isDir && this.recursive) await this.scan(this.top, false);
  }

  close(): void {
    this.closed = true;
    for (const w of this.dirs.values()) w.close();
    this.dirs.clear();
  }

  private add(dir: string, isTop: boolean): void {
    if (this.closed || this.dirs.has(dir)) return;
    if (!isTop && this.dirs.size >= PORTAL.watchMaxDirs) return;
    const w = fsWatch(dir, { persistent: false });
    w.on('change', (type, filename) => {
      const name = filename === null ? '' : String(filename);
      this.chain = this.chain.then(() => this.event(dir, type, name)).catch(() => undefined);
    });
    w.on('error', () => {
      if (isTop) this.onFail();
      else this.drop(dir);
    });
    this.dirs.set(dir, w);
  }

  /** Watches the directories under `dir`; `report`: its entries are new (a directory that just appeared). */
  private async scan(dir: string, report: boolean): Promise<void> {
    let entries;
    try {
      entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    } catch {
      return; // gone or unreadable: nothing to watch there
    }
    for (const e of entries) {
      if (this.closed) return;
      const abs = path.join(dir, e.name);
      if (report && !TEMP_NAME.test(e.name)) this.emit('create', abs);
      if (!e.isDirectory() || SKIPPED_DIRS.has(e.name)) continue; // a Dirent of a symlink is not a directory
      try {
        this.add(abs, false);
      } catch {
        continue; // could not watch it (inotify watches used up, or it went away)
      }
      await this.scan(abs, report);
    }
  }

  private async event(dir: string, type: string, name: string): Promise<void> {
    if (this.closed) return;
    let full: string;
    if (!this.isDir) {
      if (name !== path.basename(this.top)) return; // another file in the same directory
      full = this.top;
    } else full = name === '' ? dir : path.join(dir, name);
    if (TEMP_NAME.test(path.basename(full))) return;
    let st = await lstat(full).catch(() => null);
    if (!st && this.isDir && name === path.basename(dir) && !(await exists(dir))) {
      // libuv names the watched directory itself by its basename: it was removed or moved.
      if (dir !== this.top) return; // its parent's watch reports it
      full = dir;
      st = null;
    }
    if (this.closed || !this.root.contains(full)) return;
    if (type === 'change') {
      if (st) this.emit('write', full);
      return;
    }
    if (st) {
      this.emit('create', full);
      if (this.recursive && this.isDir && st.isDirectory() && full !== dir && !SKIPPED_DIRS.has(name)) {
        try {
          this.add(full, false);
        } catch {
          return;
        }
        await this.scan(full, true);
      }
    } else {
      this.emit('remove', full);
      this.drop(full);
    }
  }

  /** Stops watching `dir` and everything under it (it was removed). */
  private drop(dir: string): void {
    for (const [d, w] of this.dirs) {
      if (d !== this.top && (d === dir || d.startsWith(dir + '/'))) {
        w.close();
        this.dirs.delete(d);
      }
    }
  }
}

/**
 * Sets the mode (given, else the existing file's permission bits, else the umask's), syncs, closes and renames
 * over `abs`. An existing setuid or setgid bit is not carried over to new content, as the kernel clears it on a write.
 */
async function finish(handle: FileHandle, tmp: string, abs: string, mode: number | null): Promise<void> {
  let want = mode;
  if (want === null) {
    const old = await fsStat(abs).catch(() => null);
    if (old) want = old.mode & 0o777;
  }
  if (want !== null) await handle.chmod(want & 0o777);
  await handle.datasync();
  await rename(tmp, abs); // still open: if this fails, discard finds the file by its descriptor
  await handle.close();
}

/**
 * Closes and removes a temp file that will not be renamed. Its directory may
 * have been moved, or swapped for a symlink that leads out, since it was
 * made: so the file is found by its open descriptor (/proc/self/fd), or
 * failing that by its path only if that still resolves where it did, and
 * removed only inside the root. A temp file that cannot be found so stays.
 */
async function discard(root: Root, handle: FileHandle, tmp: string): Promise<void> {
  let where: string | null = null;
  if (handle.fd >= 0) {
    const cur = await readlink(`/proc/self/fd/${handle.fd}`).catch(() => null);
    if (cur !== null && path.isAbsolute(cur) && root.contains(cur) && TEMP_NAME.test(path.basename(cur))) where = cur;
  }
  if (where === null) {
    const dir = path.dirname(tmp);
    const real = await root.resolve(root.relative(dir)).catch(() => null);
    if (real === dir) where = tmp;
  }
  await handle.close().catch(() => undefined);
  if (where !== null) await unlink(where).catch(() => undefined);
}

/** Opens an existing regular file for reading; anything else answers EINVAL. */
async function openRegular(abs: string, shown: string): Promise<FileHandle> {
  let fh: FileHandle;
  try {
    fh = await open(abs, READ_FLAGS);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ELOOP') throw new ZmxError('EINVAL', `${show(shown)} changed to a symlink; try again`);
    throw err;
  }
  const st = await fh.stat();
  if (!st.isFile()) {
    await fh.close();
    throw new ZmxError('EINVAL', st.isDirectory() ? `${show(shown)} is a directory; list it instead` : `${show(shown)} is not a regular file`);
  }
  return fh;
}

/** Modes a client may set: permission bits only (no setuid, setgid or sticky bit on a file others could run). */
function checkMode(mode: number | null): void {
  if (mode === null) return;
  if (!Number.isInteger(mode) || mode < 0 || (mode & ~0o777) !== 0) {
    throw new ZmxError('EINVAL', `mode ${Number.isInteger(mode) ? '0o' + mode.toString(8) : mode} is not permission bits; give 0o000 to 0o777`);
  }
}

function checkOffset(offset: number): void {
  if (!Number.isSafeInteger(offset) || offset < 0) throw new ZmxError('EINVAL', `offset ${offset} is not a byte offset; give an integer from 0`);
}

/** Up to `length` bytes at `position` (fewer at the end of the file). */
async function readAt(fh: FileHandle, position: number, length: number): Promise<Buffer> {
  const buf = Buffer.alloc(length);
  let got = 0;
  while (got < length) {
    const { bytesRead } = await fh.read(buf, got, length - got, position + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return got === length ? buf : buf.subarray(0, got);
}

async function writeAt(fh: FileHandle, position: number, data: Buffer): Promise<void> {
  let done = 0;
  while (done < data.length) {
    const { bytesWritten } = await fh.write(data, done, data.length - done, position + done);
    done += bytesWritten;
  }
}

/** A text file's content for grep; null for one too large, binary, or not readable any more. */
async function readText(abs: string): Promise<string | null> {
  let fh: FileHandle;
  try {
    fh = await open(abs, READ_FLAGS);
  } catch {
    return null;
  }
  try {
    const st = await fh.stat();
    if (!st.isFile() || st.size > PORTAL.grepMaxFileBytes) return null;
    const data = await readAt(fh, 0, st.size);
    if (data.subarray(0, PORTAL.grepBinaryCheckBytes).includes(0)) return null;
    return data.toString('utf8');
  } finally {
    await fh.close();
  }
}

/**
 * Walks `dir` depth first, each directory's names sorted, calling `visit`
 * with the entry's absolute path, its path relative to `dir` and its lstat.
 * Symlinks are reported, never entered; .git and node_modules are neither
 * unless `all`. Stops when `visit` answers false. Subdirectories that cannot
 * be read are skipped; the top one answers its error.
 */
async function walk(
  dir: string,
  shown: string,
  opts: { recursive: boolean; all: boolean },
  visit: (abs: string, rel: string, st: Stats) => Promise<boolean>,
): Promise<void> {
  const go = async (d: string, rel: string): Promise<boolean> => {
    let names: string[];
    try {
      names = (await readdir(d)).sort();
    } catch (err) {
      if (rel === '') throw osError(err, shown);
      return true;
    }
    for (const name of names) {
      const abs = path.join(d, name);
      const r = rel === '' ? name : `${rel}/${name}`;
      const st = await lstat(abs).catch(() => null);
      if (!st) continue; // gone since readdir
      if (st.isDirectory() && !opts.all && SKIPPED_DIRS.has(name)) continue;
      if (!(await visit(abs, r, st))) return false;
      if (st.isDirectory() && opts.recursive && !(await go(abs, r))) return false;
    }
    return true;
  };
  await go(dir, '');
}

/** '' matches everything. */
function globMatches(rel: string, glob: string): boolean {
  return glob === '' || path.matchesGlob(rel, glob);
}

function fileType(st: Stats): FileType {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'dir';
  if (st.isSymbolicLink()) return 'symlink';
  return 'other';
}

function fileStat(rel: string, st: Stats): FileStat {
  return { path: rel, type: fileType(st), size: st.size, mode: st.mode & 0o7777, mtimeMs: st.mtimeMs };
}

async function statOf(abs: string, shown: string): Promise<Stats> {
  try {
    return await fsStat(abs);
  } catch (err) {
    throw osError(err, shown);
  }
}

async function exists(abs: string): Promise<boolean> {
  try {
    await lstat(abs);
    return true;
  } catch {
    return false;
  }
}

/** An OS error as a ZmxError whose message names the path as the client gave it, not the server's. */
function osError(err: unknown, shown: string): ZmxError {
  if (err instanceof ZmxError) return err;
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const s = show(shown);
  switch (code) {
    case 'ENOENT': return new ZmxError('ENOENT', `${s} does not exist`);
    case 'ENOTDIR': return new ZmxError('ENOENT', `a parent of ${s} is not a directory`);
    case 'EEXIST': return new ZmxError('EEXIST', `${s} exists already`);
    case 'EISDIR': return new ZmxError('EINVAL', `${s} is a directory`);
    case 'EACCES':
    case 'EPERM': return new ZmxError('EACCES', `permission denied on ${s}`);
    case 'ENAMETOOLONG': return new ZmxError('EINVAL', `${s} is too long a name`);
    case 'ELOOP': return new ZmxError('EINVAL', `${s} has too many levels of symbolic links`);
    case 'ENOSPC': return new ZmxError('EINTERNAL', `no space left on the device writing ${s}`);
    case 'EROFS': return new ZmxError('EACCES', `${s} is on a read-only filesystem`);
    case 'EXDEV': return new ZmxError('EINVAL', `${s}: cannot move across filesystems`);
    default: {
      const mapped = toZmxError(err);
      return new ZmxError(mapped.code, code ? `${code} on ${s}` : `failed on ${s}`);
    }
  }
}
