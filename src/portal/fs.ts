/**
 * The agent portal's file service: the fs.* operations on one session's
 * root, answered by the front. Every client path is walked by Root.locate
 * (root.ts), and the operation acts on the name it found relative to the
 * directory descriptor the walk holds, so nothing swapped in between is
 * followed. What comes back is relative to the root, and error messages
 * name the path as the client gave it (never the server's absolute path).
 *
 * grep, list and readFiles run in worker threads (pool.ts, search.ts), with
 * a deadline, off the front's event loop.
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
import { constants as FS, watch as fsWatch, type FSWatcher } from 'node:fs';
import { lstat, mkdir, open, readdir, rename, rmdir, unlink, type FileHandle } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { PORTAL } from '../common/constants.js';
import { ZmxError } from '../common/errors.js';
import type { ChangeKind, FileStat, FsChange, GrepMatch, ReadFilesEntry } from '../common/portal.js';
import { Root, at, openDirAt, show } from './root.js';
import { SKIPPED_DIRS, TEMP_NAME, fileStat, osError, readAt, writeAt } from './io.js';
import { SearchPool, type Asker, type PoolOptions } from './pool.js';
import type { GrepOpts, ListOpts } from './search.js';

/** Mode of a new file before the umask, as open(2) callers use. */
const NEW_FILE_MODE = 0o666;
/** Random bytes in a temp file's name. */
const TEMP_RANDOM_BYTES = 6;
/** A temp file's name keeps at most this much of the target's (NAME_MAX is 255 with room for the rest). */
const TEMP_NAME_KEEP = 200;
/** Flags of a temp file: new (never an existing file or a symlink), write only. */
const TEMP_FLAGS = FS.O_WRONLY | FS.O_CREAT | FS.O_EXCL | FS.O_NOFOLLOW;

/** A temp file being written beside its target, in the directory the walk holds. */
interface Temp {
  /** The target's directory (held open until the rename or the discard). */
  dir: FileHandle;
  /** The target's name in `dir`. */
  name: string;
  /** The temp file's name in `dir`. */
  tmp: string;
  handle: FileHandle;
  /** The target's path relative to the root. */
  rel: string;
}

interface Upload {
  id: number;
  owner: string;
  root: Root;
  /** The path as the client gave it (for messages and re-resolution at commit). */
  shown: string;
  temp: Temp;
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
  readonly searches: SearchPool;
  private nextUpload = 1;
  private nextWatch = 1;
  private idleTimer: NodeJS.Timeout | null = null;
  private disposed = false;

  constructor(opts: { now?: () => number; search?: PoolOptions } = {}) {
    this.now = opts.now ?? Date.now;
    this.searches = new SearchPool(opts.search);
  }

  /** Up to `length` (at most PORTAL.chunkBytes) bytes at `offset`; past the end: none. */
  async read(root: Root, p: string, offset: number, length: number): Promise<{ size: number; mtimeMs: number; data: Buffer }> {
    checkOffset(offset);
    try {
      const { handle } = await root.openFile(p);
      try {
        const st = await handle.stat();
        const want = Math.max(0, Math.min(length, PORTAL.chunkBytes, st.size - offset));
        const data = await readAt(handle, offset, want);
        return { size: st.size, mtimeMs: st.mtimeMs, data };
      } finally {
        await handle.close();
      }
    } catch (err) {
      throw osError(err, p);
    }
  }

  /** Several files at once, each cut at PORTAL.readFilesPerFileBytes, all at readFilesTotalBytes (in a worker). */
  readFiles(asker: Asker, root: Root, paths: string[]): Promise<{ files: ReadFilesEntry[]; data: Buffer }> {
    return this.searches.run(asker, { op: 'readFiles', root: root.path, confined: root.confined, paths });
  }

  /** Entries under `path`, in tree order (each directory's names sorted, a directory right before its contents), in a worker. */
  list(asker: Asker, root: Root, p: string, opts: ListOpts): Promise<{ entries: FileStat[]; truncated: boolean }> {
    return this.searches.run(asker, { op: 'list', root: root.path, confined: root.confined, path: p, opts });
  }

  /** Lines matching the JS regular expression `pattern` in the text files under `path`, in a worker. */
  grep(asker: Asker, root: Root, p: string, opts: GrepOpts): Promise<{ matches: GrepMatch[]; truncated: boolean }> {
    return this.searches.run(asker, { op: 'grep', root: root.path, confined: root.confined, path: p, opts });
  }

  /** Replaces the file's content atomically (temp file, rename). */
  async write(root: Root, p: string, data: Buffer, opts: { mode: number | null; parents: boolean }): Promise<{ path: string; bytes: number }> {
    checkMode(opts.mode);
    const temp = await createTemp(root, p, opts.parents);
    try {
      await writeAt(temp.handle, 0, data);
      await finish(temp, opts.mode);
    } catch (err) {
      await discard(temp);
      throw osError(err, p);
    }
    return { path: temp.rel, bytes: data.length };
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
    const temp = await createTemp(root, p, opts.parents);
    if (this.disposed) {
      await discard(temp);
      throw new ZmxError('EINVAL', 'the file service is closed');
    }
    const id = this.nextUpload++;
    this.uploads.set(id, { id, owner, root, shown: p, temp, mode: opts.mode, lastActive: this.now(), writes: new Set(), committing: false });
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
    const w = writeAt(up.temp.handle, offset, data);
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
      have = (await up.temp.handle.stat()).size;
    } finally {
      up.committing = false;
    }
    if (have !== size) {
      throw new ZmxError('EINVAL', `upload ${id} of ${show(up.shown)} holds ${have} bytes, not ${size}; send the missing chunks or abort`);
    }
    this.uploads.delete(id);
    this.disarmIfIdle();
    try {
      // The tree may have changed since begin: the path must still lead to the directory the temp file is in.
      if (!(await stillThere(up.root, up.shown, up.temp))) throw new ZmxError('EINVAL', `${show(up.shown)} changed while it was uploaded; upload it again`);
      await finish(up.temp, up.mode);
    } catch (err) {
      await discard(up.temp);
      throw osError(err, up.shown);
    }
    return { path: up.temp.rel, bytes: size };
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
    let content: Buffer;
    let rel: string;
    try {
      const opened = await root.openFile(p);
      rel = opened.rel;
      try {
        const st = await opened.handle.stat();
        if (st.size > PORTAL.editMaxBytes) {
          throw new ZmxError('ETOOBIG', `${show(p)} is ${st.size} bytes, over ${PORTAL.editMaxBytes} for edit; write it instead`);
        }
        content = await readAt(opened.handle, 0, st.size);
      } finally {
        await opened.handle.close();
      }
    } catch (err) {
      throw osError(err, p);
    }
    // Bytewise on the UTF-8 encoding: a valid sequence can only match at character boundaries,
    // and bytes that are not valid UTF-8 elsewhere in the file survive untouched.
    const needle = Buffer.from(oldText, 'utf8');
    const found: number[] = [];
    for (let i = content.indexOf(needle); i !== -1; i = content.indexOf(needle, i + needle.length)) found.push(i);
    if (found.length !== count) {
      throw new ZmxError('EINVAL', `${show(p)}: found ${found.length} occurrences of the text, expected ${count}; nothing was written`);
    }
    const replacement = Buffer.from(newText, 'utf8');
    const parts: Buffer[] = [];
    let from = 0;
    for (const i of found) {
      parts.push(content.subarray(from, i), replacement);
      from = i + needle.length;
    }
    parts.push(content.subarray(from));
    await this.write(root, rel, Buffer.concat(parts), { mode: null, parents: false });
    return { path: rel, replaced: count };
  }

  /** lstat: a symlink shows as 'symlink'. */
  async stat(root: Root, p: string): Promise<FileStat> {
    const spot = await root.locate(p, { followLeaf: false });
    await spot.close();
    if (!spot.stat) throw new ZmxError('ENOENT', `${show(p)} does not exist`);
    return fileStat(spot.rel, spot.stat);
  }

  async mkdir(root: Root, p: string, parents: boolean): Promise<{ path: string }> {
    const spot = await root.locate(p);
    try {
      if (spot.stat) {
        if (parents && spot.stat.isDirectory()) return { path: spot.rel };
        throw new ZmxError('EEXIST', `${show(p)} exists already`);
      }
      if (spot.missing.length > 1 && !parents) throw new ZmxError('ENOENT', `the parent directory of ${show(p)} does not exist; pass parents to create it`);
      const { dir, name } = await root.parentFor(spot, p, parents);
      try {
        await mkdir(at(dir, name));
      } finally {
        await dir.close();
      }
      return { path: spot.rel };
    } catch (err) {
      throw osError(err, p);
    } finally {
      await spot.close();
    }
  }

  /** Removes a file, a symlink (not its target) or a directory (recursive if it is not empty). */
  async rm(root: Root, p: string, recursive: boolean): Promise<{ path: string }> {
    const spot = await root.locate(p, { followLeaf: false });
    try {
      if (spot.name === '') throw new ZmxError('EINVAL', `${show(p)} is the root; it cannot be removed`);
      if (!spot.stat) throw new ZmxError('ENOENT', `${show(p)} does not exist`);
      if (!spot.stat.isDirectory()) await unlink(spot.at());
      else if (recursive) await removeTree(spot.dir, spot.name, 0);
      else await rmdir(spot.at());
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOTEMPTY' || code === 'EEXIST') {
        throw new ZmxError('EINVAL', `${show(p)} is a directory that is not empty; pass recursive to remove it and its contents`);
      }
      throw osError(err, p);
    } finally {
      await spot.close();
    }
    return { path: spot.rel };
  }

  /** Renames within the root; an existing `to` needs `overwrite`. */
  async mv(root: Root, from: string, to: string, overwrite: boolean): Promise<{ from: string; to: string }> {
    const src = await root.locate(from, { followLeaf: false });
    try {
      const dst = await root.locate(to, { followLeaf: false });
      try {
        if (src.name === '') throw new ZmxError('EINVAL', `${show(from)} is the root; it cannot be moved`);
        if (dst.name === '') throw new ZmxError('EINVAL', `${show(to)} is the root; give a path inside it`);
        const both = `${show(from)} to ${show(to)}`;
        if (!src.stat) throw new ZmxError('ENOENT', `${show(from)} does not exist`);
        if (dst.stat && !overwrite) throw new ZmxError('EEXIST', `${show(to)} exists already; pass overwrite to replace it`);
        if (dst.missing.length > 1) throw new ZmxError('ENOENT', `cannot move ${both}: the directory of ${show(to)} does not exist; make it first`);
        try {
          await rename(src.at(), dst.at(dst.leaf));
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          if (code === 'ENOTEMPTY' || code === 'EEXIST') throw new ZmxError('EEXIST', `cannot move ${both}: ${show(to)} is a directory that is not empty`);
          if (code === 'EINVAL') throw new ZmxError('EINVAL', `cannot move ${both}: a directory cannot move into itself`);
          if (code === 'ENOENT') throw new ZmxError('ENOENT', `cannot move ${both}: the directory of ${show(to)} does not exist; make it first`);
          throw osError(err, both);
        }
        return { from: src.rel, to: dst.rel };
      } finally {
        await dst.close();
      }
    } finally {
      await src.close();
    }
  }

  /** Reports changes under `path` to onChange until unwatch, dropOwner or dispose. */
  async watch(owner: string, root: Root, p: string, recursive: boolean, onChange: (c: FsChange) => void): Promise<number> {
    this.open();
    const spot = await root.locate(p);
    await spot.close();
    if (!spot.stat) throw new ZmxError('ENOENT', `${show(p)} does not exist`);
    let held = 0;
    for (const w of this.watches.values()) if (w.owner === owner) held++;
    if (held >= PORTAL.maxWatchesPerClient) {
      throw new ZmxError('ETOOBIG', `already ${held} watches open (at most ${PORTAL.maxWatchesPerClient}); unwatch some first`);
    }
    const id = this.nextWatch++;
    const tree = new TreeWatch(root, spot.rel, spot.stat.isDirectory(), recursive, (kind, rel) => {
      if (this.watches.has(id)) onChange({ watch: id, kind, path: rel });
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

  /** The client `owner` went away: its searches stop, its uploads are aborted (temp files removed), its watches closed. */
  async dropOwner(owner: string): Promise<void> {
    this.searches.cancel(owner);
    for (const w of [...this.watches.values()]) if (w.owner === owner) this.closeWatch(w.id);
    await Promise.all([...this.uploads.values()].filter((u) => u.owner === owner).map((u) => this.abort(u)));
  }

  /** Everything ends: searches stopped, uploads aborted, watches closed, timers cleared. */
  async dispose(): Promise<void> {
    this.disposed = true;
    for (const id of [...this.watches.keys()]) this.closeWatch(id);
    await Promise.all([...this.uploads.values()].map((u) => this.abort(u)));
    await this.searches.dispose();
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
    await discard(up.temp);
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
}

/** The temp file beside the target of `p` (its directories made first if `parents`), open for writing. */
async function createTemp(root: Root, p: string, parents: boolean): Promise<Temp> {
  const spot = await root.locate(p);
  try {
    if (spot.stat?.isDirectory()) throw new ZmxError('EINVAL', `${show(p)} is a directory; give a file path`);
    const { dir, name } = await root.parentFor(spot, p, parents);
    try {
      const tmp = `.${name.slice(0, TEMP_NAME_KEEP)}.zmx-${randomBytes(TEMP_RANDOM_BYTES).toString('hex')}.tmp`;
      const handle = await open(at(dir, tmp), TEMP_FLAGS, NEW_FILE_MODE);
      return { dir, name, tmp, handle, rel: spot.rel };
    } catch (err) {
      await dir.close();
      throw err;
    }
  } catch (err) {
    throw osError(err, p);
  } finally {
    await spot.close();
  }
}

/** Whether `p` still leads to the name the temp file will replace (its directory the same one). */
async function stillThere(root: Root, p: string, temp: Temp): Promise<boolean> {
  const spot = await root.locate(p);
  try {
    if (spot.missing.length > 1 || spot.leaf !== temp.name) return false;
    const [a, b] = await Promise.all([spot.dir.stat(), temp.dir.stat()]);
    return a.dev === b.dev && a.ino === b.ino;
  } finally {
    await spot.close();
  }
}

/**
 * Sets the mode (given, else the existing file's permission bits, else the umask's), syncs, closes and renames
 * over the target. An existing setuid or setgid bit is not carried over to new content, as the kernel clears it on a write.
 */
async function finish(temp: Temp, mode: number | null): Promise<void> {
  let want = mode;
  if (want === null) {
    const old = await lstat(at(temp.dir, temp.name)).catch(() => null);
    if (old?.isFile()) want = old.mode & 0o777;
  }
  if (want !== null) await temp.handle.chmod(want & 0o777);
  await temp.handle.datasync();
  await rename(at(temp.dir, temp.tmp), at(temp.dir, temp.name));
  await temp.handle.close();
  await temp.dir.close();
}

/** Closes and removes a temp file that will not be renamed: by its name in the directory held open, wherever that directory is now. */
async function discard(temp: Temp): Promise<void> {
  await temp.handle.close().catch(() => undefined);
  await unlink(at(temp.dir, temp.tmp)).catch(() => undefined);
  await temp.dir.close().catch(() => undefined);
}

/** Removes directory `name` in `dir` and everything in it, each entry relative to its directory's descriptor. */
async function removeTree(dir: FileHandle, name: string, depth: number): Promise<void> {
  const sub = await openDirAt(dir, name).catch((err) => {
    if ((err as NodeJS.ErrnoException).code === 'ENOTDIR') return null; // swapped for a file or a symlink: remove that
    throw err;
  });
  if (!sub) return unlink(at(dir, name));
  try {
    if (depth >= PORTAL.walkMaxDepth) throw new ZmxError('EINVAL', `a directory is nested deeper than ${PORTAL.walkMaxDepth} levels; remove its lower part first`);
    for (const entry of await readdir(at(sub, ''))) {
      const st = await lstat(at(sub, entry)).catch(() => null);
      if (!st) continue;
      if (st.isDirectory()) await removeTree(sub, entry, depth + 1);
      else await unlink(at(sub, entry));
    }
  } finally {
    await sub.close();
  }
  await rmdir(at(dir, name));
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

/** One directory a TreeWatch watches. */
interface WatchedDir {
  watcher: FSWatcher;
  /** The directory's inode, to notice it was moved away (its events then no longer say anything about the root). */
  dev: number;
  ino: number;
  /** The name libuv gives events about the directory itself (the last part of the /proc path it was watched by). */
  selfName: string;
}

/**
 * A watch on a file or a directory tree. Node 20's recursive fs.watch on
 * Linux walks the tree synchronously (stalling the server on a large one)
 * and holds an inotify watch per file, following symlinks out of the root;
 * this holds one fs.watch per directory instead, added as directories
 * appear (their entries reported as created), never through a symlink (each
 * directory is opened relative to its parent's descriptor and watched
 * through that descriptor), and not into .git or node_modules below the
 * watched path. A file is watched through its directory, so an atomic
 * replace (rename over it) keeps being seen. A watched directory moved away
 * (out of the root, say) is dropped. Events are handled one after another
 * (lstat is async), in order. Paths are relative to the root.
 */
class TreeWatch {
  private readonly dirs = new Map<string, WatchedDir>();
  private chain: Promise<void> = Promise.resolve();
  private closed = false;
  private readonly topDir: string;

  constructor(
    private readonly root: Root,
    private readonly top: string,
    private readonly isDir: boolean,
    private readonly recursive: boolean,
    private readonly emit: (kind: ChangeKind, rel: string) => void,
    /** The watched directory failed (removed, unreadable): the watch ends. */
    private readonly onFail: () => void,
  ) {
    this.topDir = isDir ? top : parentOf(top);
  }

  /** Watches the top (its directory for a file) and, if recursive, every directory under it; resolves once they are. */
  async start(): Promise<void> {
    const spot = await this.root.locate(this.topDir);
    try {
      const fd = await openDirAt(spot.dir, spot.name);
      try {
        await this.add(this.topDir, fd, true);
        if (this.isDir && this.recursive) await this.scan(fd, this.topDir, false, 0);
      } finally {
        await fd.close();
      }
    } finally {
      await spot.close();
    }
  }

  close(): void {
    this.closed = true;
    for (const d of this.dirs.values()) d.watcher.close();
    this.dirs.clear();
  }

  private async add(rel: string, fd: FileHandle, isTop: boolean): Promise<void> {
    if (this.closed || this.dirs.has(rel)) return;
    if (!isTop && this.dirs.size >= PORTAL.watchMaxDirs) return;
    const st = await fd.stat();
    if (this.closed || this.dirs.has(rel)) return;
    const watcher = fsWatch(at(fd, ''), { persistent: false });
    const entry: WatchedDir = { watcher, dev: st.dev, ino: st.ino, selfName: String(fd.fd) };
    watcher.on('change', (type, filename) => {
      const name = filename === null ? '' : String(filename);
      this.chain = this.chain.then(() => this.event(rel, entry, type, name)).catch(() => undefined);
    });
    watcher.on('error', () => {
      if (isTop) this.onFail();
      else this.drop(rel);
    });
    this.dirs.set(rel, entry);
  }

  /** Watches the directories under `fd` (at `rel`); `report`: its entries are new (a directory that just appeared). */
  private async scan(fd: FileHandle, rel: string, report: boolean, depth: number): Promise<void> {
    let entries;
    try {
      entries = (await readdir(at(fd, ''), { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    } catch {
      return; // gone or unreadable: nothing to watch there
    }
    for (const e of entries) {
      if (this.closed) return;
      const child = join(rel, e.name);
      if (report && !TEMP_NAME.test(e.name)) this.emit('create', child);
      if (!e.isDirectory() || SKIPPED_DIRS.has(e.name) || depth + 1 >= PORTAL.walkMaxDepth) continue; // a Dirent of a symlink is not a directory
      const sub = await openDirAt(fd, e.name).catch(() => null); // swapped for a symlink since: not entered
      if (!sub) continue;
      try {
        await this.add(child, sub, false);
        await this.scan(sub, child, report, depth + 1);
      } catch {
        continue; // could not watch it (inotify watches used up, or it went away)
      } finally {
        await sub.close();
      }
    }
  }

  private async event(dir: string, entry: WatchedDir, type: string, name: string): Promise<void> {
    if (this.closed || this.dirs.get(dir) !== entry) return;
    // Still the directory that was watched, where it was? If not, its events say nothing about the root.
    const here = await this.root.locate(dir, { followLeaf: false }).catch(() => null);
    await here?.close();
    if (!here?.stat?.isDirectory() || here.stat.ino !== entry.ino || here.stat.dev !== entry.dev) {
      if (dir === this.topDir && this.isDir) this.emit('remove', dir);
      this.drop(dir);
      if (dir === this.topDir) this.onFail();
      return;
    }
    if (name === '' || name === entry.selfName) {
      // libuv names the watched directory itself by the last part of the path it was watched by.
      const child = await this.root.locate(join(dir, name), { followLeaf: false }).catch(() => null);
      await child?.close();
      if (name === '' || !child?.stat) return;
    }
    let full: string;
    if (!this.isDir) {
      if (name !== path.posix.basename(this.top)) return; // another file in the same directory
      full = this.top;
    } else full = join(dir, name);
    if (TEMP_NAME.test(path.posix.basename(full))) return;
    const spot = await this.root.locate(full, { followLeaf: false }).catch(() => null);
    const st = spot?.stat ?? null;
    try {
      if (this.closed) return;
      if (type === 'change') {
        if (st) this.emit('write', full);
        return;
      }
      if (st && spot) {
        this.emit('create', full);
        if (this.recursive && this.isDir && st.isDirectory() && !SKIPPED_DIRS.has(name)) {
          const fd = await openDirAt(spot.dir, spot.name).catch(() => null);
          if (!fd) return;
          try {
            await this.add(full, fd, false);
            await this.scan(fd, full, true, depthOf(full) - depthOf(this.topDir));
          } catch {
            return;
          } finally {
            await fd.close();
          }
        }
      } else {
        this.emit('remove', full);
        this.drop(full);
      }
    } finally {
      await spot?.close();
    }
  }

  /** Stops watching `dir` and everything under it (it was removed). */
  private drop(dir: string): void {
    for (const [d, w] of this.dirs) {
      if (d !== this.topDir && (d === dir || d.startsWith(dir + '/'))) {
        w.watcher.close();
        this.dirs.delete(d);
      }
    }
  }
}

/** A root-relative path joined with a name ('.' is the root). */
function join(rel: string, name: string): string {
  return rel === '.' ? name : `${rel}/${name}`;
}

function parentOf(rel: string): string {
  const i = rel.lastIndexOf('/');
  return i < 0 ? '.' : rel.slice(0, i);
}

function depthOf(rel: string): number {
  return rel === '.' ? 0 : rel.split('/').length;
}
