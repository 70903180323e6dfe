/**
 * Path confinement for the agent portal: every client path is walked inside
 * one directory (the session's root, or the key's), or refused with EOUTSIDE.
 *
 * Node has no openat(2), and checking a path before opening it leaves a
 * window in which a directory can be swapped for a symlink that leads out.
 * So a path is never handed to the kernel whole. The walk emulates openat on
 * Linux: it opens the root as a directory descriptor, then each next
 * component relative to the previous descriptor through
 * `/proc/self/fd/<fd>/<name>` with O_NOFOLLOW | O_DIRECTORY. The kernel
 * resolves only the magic link (the descriptor we hold) and one plain name;
 * a symlink component is never followed by it. A symlink the walk meets is
 * read (readlink of that name) and followed by the walk itself — its target
 * spliced in front of the components still to go, an absolute one taken as
 * a path under the root or refused — so a symlink is followed only to where
 * it leads inside the root.
 *
 * The operation itself (open, create, mkdir, rename, unlink, lstat,
 * readdir, watch) then acts on one name relative to the parent's descriptor
 * the same way (`Spot.at`), so nothing swapped in after the walk is
 * followed: a symlink put in place of the last component makes the open
 * fail with ELOOP (O_NOFOLLOW), a symlink put in place of a directory above
 * it does not matter, since that directory is already held open.
 *
 * '..' goes back to the parent the walk came from (walked again from the
 * root, so a walk holds two descriptors at most); '..' at the root leaves it
 * and is refused, as openat2's RESOLVE_BENEATH would. An absolute client path
 * is taken relative to the root when it starts with the root's path;
 * otherwise its longest existing prefix is resolved (realpath) and the path
 * is accepted only if that lands in the root, then walked from the root.
 *
 * A key with a root of its own (`confined`) may not read a file that has
 * other hard links: one of them may lie outside the root, and nothing on the
 * inode says where. Writes replace a file by rename, so they never write
 * through a hard link.
 */
import { constants as FS, type Stats } from 'node:fs';
import { lstat, mkdir, open, readlink, realpath, stat, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { ZmxError, toZmxError } from '../common/errors.js';

/** Symlinks one resolution follows before it gives up, as the kernel's MAXSYMLINKS. */
const MAX_SYMLINKS = 40;
/** A path quoted in a message is cut to this many characters (messages are one short line). */
const MAX_SHOWN_PATH = 200;
/**
 * O_PATH (Linux): a descriptor that names a directory without opening it for
 * reading, so a walk passes through directories the server may enter (x)
 * but not list (r). Node's fs.constants does not export it.
 */
export const O_PATH = 0o10000000;
/** How the walk opens each directory: never through a symlink, never keeping it across exec. */
const DIR_FLAGS = O_PATH | FS.O_DIRECTORY | FS.O_NOFOLLOW;
/** Flags for reading a file: no blocking on a FIFO, no symlink swapped in since the walk. */
export const READ_FLAGS = FS.O_RDONLY | FS.O_NONBLOCK | FS.O_NOFOLLOW;

/** `name` in the directory open as `dir`, as a path the kernel resolves without following anything else. */
export function at(dir: FileHandle, name: string): string {
  return name === '' ? `/proc/self/fd/${dir.fd}` : `/proc/self/fd/${dir.fd}/${name}`;
}

/**
 * Opens `name` in `dir` as a directory, never through a symlink; throws the
 * OS error (ENOTDIR for a symlink or a file). '' opens `dir` itself again
 * (through its /proc magic link, which must be followed).
 */
export function openDirAt(dir: FileHandle, name: string): Promise<FileHandle> {
  return open(at(dir, name), name === '' ? DIR_FLAGS & ~FS.O_NOFOLLOW : DIR_FLAGS);
}

/**
 * Where a path leads, held open: the directory that holds the leaf (`dir`,
 * an O_PATH descriptor the caller closes with close()) and the leaf's name
 * in it. For the root itself `name` is '' and `dir` is the root.
 */
export class Spot {
  constructor(
    /** The deepest existing directory on the way. */
    readonly dir: FileHandle,
    /** The leaf's name in `dir` ('' for the root); when `missing` is not empty, its first name. */
    readonly name: string,
    /** lstat of the leaf (of the root for ''); null when it does not exist. */
    readonly stat: Stats | null,
    /** Names under `dir` that do not exist yet, the leaf last (empty when the leaf exists). */
    readonly missing: readonly string[],
    /** The path relative to the root, '/'-separated, '.' for the root. */
    readonly rel: string,
    /** The absolute path it names (for messages relative to the root, exec's cwd). */
    readonly abs: string,
  ) {}

  /** The leaf (or `name`) relative to the held directory. */
  at(name: string = this.name): string {
    return at(this.dir, name);
  }

  /** The leaf's name, whether it exists or not. */
  get leaf(): string {
    return this.missing.length > 0 ? (this.missing[this.missing.length - 1] as string) : this.name;
  }

  async close(): Promise<void> {
    await this.dir.close().catch(() => undefined);
  }
}

export class Root {
  /** The real path of the root (no symlinks, no trailing '/'). */
  readonly path: string;
  /** The caller's key has a root of its own: files with other hard links are not read. */
  readonly confined: boolean;

  private constructor(real: string, confined: boolean) {
    this.path = real;
    this.confined = confined;
  }

  /** realpath(dir); ENOENT (ZmxError) if it does not exist, EINVAL if not a directory. */
  static async open(dir: string, opts: { confined?: boolean } = {}): Promise<Root> {
    if (dir.includes('\0')) throw new ZmxError('EINVAL', 'a root path may not contain NUL bytes');
    let real: string;
    try {
      real = await realpath(dir);
    } catch (err) {
      const e = toZmxError(err);
      if (e.code === 'ENOENT') throw new ZmxError('ENOENT', `root ${dir} does not exist; create it or choose another`);
      throw new ZmxError(e.code, `cannot open root ${dir}: ${e.message}`);
    }
    const st = await stat(real);
    if (!st.isDirectory()) throw new ZmxError('EINVAL', `root ${dir} is not a directory; choose a directory`);
    return new Root(real, opts.confined ?? false);
  }

  /**
   * Walks a client path (relative to the root, or absolute and inside it;
   * '' and '.' = the root) and holds where it leads. With followLeaf false
   * the last component, if a symlink, is not followed (rm, mv, lstat act on
   * the link itself). Anything that leads outside: EOUTSIDE naming the path
   * as given. NUL bytes, symlink loops: EINVAL. The caller closes the Spot.
   */
  async locate(p: string, opts: { followLeaf?: boolean } = {}): Promise<Spot> {
    const followLeaf = opts.followLeaf ?? true;
    if (p.includes('\0')) throw new ZmxError('EINVAL', `path ${show(p)} contains a NUL byte`);
    const queue = await this.inRoot(p);
    /** The real directories from the root to `cur` (names only: '..' walks them again). */
    const names: string[] = [];
    let cur = await this.openTop(p);
    let links = 0;
    const missing: string[] = [];
    try {
      while (queue.length > 0) {
        const name = queue.shift() as string;
        if (missing.length > 0) {
          if (name === '..') throw new ZmxError('EOUTSIDE', `path ${show(p)} has '..' after a component that does not exist; give a path inside the root without it`);
          missing.push(name);
          continue;
        }
        if (name === '..') {
          if (names.length === 0) throw outside(p);
          names.pop();
          const up = await this.walkAgain(names, p);
          await cur.close();
          cur = up;
          continue;
        }
        const last = queue.length === 0;
        if (!last) {
          try {
            const next = await openDirAt(cur, name);
            await cur.close();
            cur = next;
            names.push(name);
            continue;
          } catch (err) {
            const code = (err as NodeJS.ErrnoException).code;
            if (code === 'ENOENT') {
              missing.push(name);
              continue;
            }
            if (code !== 'ENOTDIR') throw walkError(err, p);
            // A symlink (followed below) or a file (the operation will say so).
          }
        }
        let st: Stats;
        try {
          st = await lstat(at(cur, name));
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
            missing.push(name);
            continue;
          }
          throw walkError(err, p);
        }
        if (st.isSymbolicLink() && (followLeaf || !last)) {
          if (++links > MAX_SYMLINKS) throw new ZmxError('EINVAL', `path ${show(p)} has too many levels of symbolic links`);
          const target = await readlink(at(cur, name)).catch((err) => { throw walkError(err, p); });
          if (path.isAbsolute(target)) {
            const rest = this.underRoot(target);
            if (rest === null) throw outside(p);
            names.length = 0;
            const top = await this.openTop(p);
            await cur.close();
            cur = top;
            queue.unshift(...rest);
          } else queue.unshift(...components(target));
          continue;
        }
        if (!last) {
          // A file in the middle of the path: the rest cannot exist.
          throw new ZmxError('ENOENT', `a parent of ${show(p)} is not a directory`);
        }
        const rel = [...names, name].join('/');
        return new Spot(cur, name, st, [], rel, path.join(this.path, rel));
      }
      // The path ends at a directory the walk holds (the root, or after '..'),
      // or in names that do not exist: either way `cur` is where it is.
      if (missing.length > 0) {
        const rel = [...names, ...missing].join('/');
        return new Spot(cur, missing[0] as string, null, missing, rel, path.join(this.path, rel));
      }
      if (names.length === 0) return new Spot(cur, '', await cur.stat(), [], '.', this.path);
      // A directory reached by '..' (or a trailing one): hold its parent, as for any leaf.
      const leaf = names.pop() as string;
      const parent = await this.walkAgain(names, p);
      await cur.close();
      cur = parent;
      const st = await lstat(at(cur, leaf));
      const rel = [...names, leaf].join('/');
      return new Spot(cur, leaf, st, [], rel, path.join(this.path, rel));
    } catch (err) {
      await cur.close().catch(() => undefined);
      throw err;
    }
  }

  /** Where a path leads, as an absolute path (Spot.abs); nothing is kept open. */
  async resolve(p: string, opts: { followLeaf?: boolean } = {}): Promise<string> {
    const spot = await this.locate(p, opts);
    await spot.close();
    return spot.abs;
  }

  /**
   * Opens an existing regular file for reading, following a symlink leaf
   * inside the root; a directory or anything else answers EINVAL, a missing
   * one ENOENT.
   */
  async openFile(p: string): Promise<{ handle: FileHandle; rel: string }> {
    const spot = await this.locate(p);
    try {
      if (spot.missing.length > 0) throw new ZmxError('ENOENT', `${show(p)} does not exist`);
      if (spot.stat?.isDirectory()) throw new ZmxError('EINVAL', `${show(p)} is a directory; list it instead`);
      let handle: FileHandle;
      try {
        handle = await open(spot.at(), READ_FLAGS);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ELOOP') throw new ZmxError('EINVAL', `${show(p)} changed to a symlink; try again`);
        throw walkError(err, p);
      }
      try {
        const st = await handle.stat();
        if (!st.isFile()) throw new ZmxError('EINVAL', st.isDirectory() ? `${show(p)} is a directory; list it instead` : `${show(p)} is not a regular file`);
        if (this.confined && st.nlink > 1) {
          throw new ZmxError('EOUTSIDE', `${show(p)} has ${st.nlink} hard links, which may lie outside the root; this key may not read it`);
        }
      } catch (err) {
        await handle.close();
        throw err;
      }
      return { handle, rel: spot.rel };
    } finally {
      await spot.close();
    }
  }

  /**
   * The directory to create a leaf in: the spot's own when only the leaf is
   * missing; the missing directories made first (each relative to the one
   * before, never through a symlink) when `parents`; ENOENT otherwise.
   * Returns a new descriptor (the caller closes it) and the leaf's name.
   */
  async parentFor(spot: Spot, shown: string, parents: boolean): Promise<{ dir: FileHandle; name: string }> {
    const dirs = spot.missing.slice(0, -1);
    if (dirs.length > 0 && !parents) throw new ZmxError('ENOENT', `the directory of ${show(shown)} does not exist; pass parents to create it`);
    let cur = await openDirAt(spot.dir, '');
    try {
      for (const name of dirs) {
        await mkdir(at(cur, name)).catch((err) => { if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err; });
        const next = await openDirAt(cur, name);
        await cur.close();
        cur = next;
      }
    } catch (err) {
      await cur.close();
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOTDIR' || code === 'ELOOP') throw new ZmxError('EINVAL', `a directory of ${show(shown)} changed while it was made; try again`);
      throw err;
    }
    return { dir: cur, name: spot.leaf };
  }

  /** '/'-separated path of `abs` relative to the root, '.' for the root itself. */
  relative(abs: string): string {
    if (abs === this.path) return '.';
    const rel = path.relative(this.path, abs);
    return rel === '' ? '.' : rel.split(path.sep).join('/');
  }

  /** Whether the absolute, normalized `abs` is the root or lies under it. */
  contains(abs: string): boolean {
    if (abs === this.path) return true;
    const prefix = this.path.endsWith('/') ? this.path : this.path + '/';
    return abs.startsWith(prefix);
  }

  // ---- internals

  /** The components of a client path, relative to the root. */
  private async inRoot(p: string): Promise<string[]> {
    if (!path.isAbsolute(p)) return components(p);
    const rest = this.underRoot(p);
    if (rest !== null) return rest;
    // Another spelling of a path in the root (through a symlink outside it,
    // /proc/self/root...): only where its existing part really is counts.
    const parts = components(p);
    for (let i = parts.length; i >= 0; i--) {
      const head = parts.slice(0, i);
      if (head.includes('..')) continue;
      const real = await realpath('/' + head.join('/')).catch(() => null);
      if (real === null) continue;
      const inside = this.underRoot(real);
      if (inside === null || parts.slice(i).includes('..')) throw outside(p);
      return [...inside, ...parts.slice(i)];
    }
    throw outside(p);
  }

  /** The components of an absolute path under the root (lexically), or null. */
  private underRoot(abs: string): string[] | null {
    const norm = path.normalize(abs);
    if (!this.contains(norm.length > 1 && norm.endsWith('/') ? norm.slice(0, -1) : norm)) return null;
    return components(norm.slice(this.path.length));
  }

  private async openTop(p: string): Promise<FileHandle> {
    try {
      return await open(this.path, DIR_FLAGS);
    } catch (err) {
      throw new ZmxError('ENOENT', `the root of ${show(p)} is gone (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  }

  /** The directory `names` (real directories a walk went through) opened again from the root. */
  private async walkAgain(names: readonly string[], p: string): Promise<FileHandle> {
    let cur = await this.openTop(p);
    try {
      for (const name of names) {
        const next = await openDirAt(cur, name);
        await cur.close();
        cur = next;
      }
    } catch {
      await cur.close();
      throw new ZmxError('EINVAL', `a directory of ${show(p)} changed while it was resolved; try again`);
    }
    return cur;
  }
}

/** The non-empty, non-'.' components of a path. */
function components(p: string): string[] {
  return p.split('/').filter((c) => c !== '' && c !== '.');
}

function outside(p: string): ZmxError {
  return new ZmxError('EOUTSIDE', `path ${show(p)} resolves outside the session's root; give a path inside it`);
}

/** An OS error met while walking, naming the path as given (never a /proc/self/fd path). */
function walkError(err: unknown, p: string): ZmxError {
  if (err instanceof ZmxError) return err;
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENAMETOOLONG') return new ZmxError('EINVAL', `${show(p)} has a name that is too long`);
  if (code === 'ELOOP') return new ZmxError('EINVAL', `path ${show(p)} has too many levels of symbolic links`);
  if (code === 'EACCES' || code === 'EPERM') return new ZmxError('EACCES', `permission denied on ${show(p)}`);
  // readlink of a name that stopped being a symlink between lstat and readlink.
  if (code === 'EINVAL') return new ZmxError('EINVAL', `${show(p)} changed while it was resolved; try again`);
  return new ZmxError(toZmxError(err).code, `cannot resolve ${show(p)}: ${code ?? 'error'}`);
}

/** A path for a message: quoted, cut when long. */
export function show(p: string): string {
  const cut = p.length > MAX_SHOWN_PATH ? p.slice(0, MAX_SHOWN_PATH) + '...' : p;
  return JSON.stringify(cut);
}
