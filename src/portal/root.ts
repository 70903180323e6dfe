/**
 * Path confinement for the agent portal: every client path is turned into an
 * absolute path that lies inside one directory (the session's root), or
 * refused with EOUTSIDE.
 *
 * The walk resolves a path the way the kernel does, one component at a time:
 * '..' goes to the parent of the real directory reached so far, and a
 * symlink's target is spliced in front of the components still to walk (an
 * absolute target restarts from '/'). So chains, dangling links and the
 * /proc/self magic links (whose readlink is the path they stand for) are all
 * followed to where they really lead, without following anything twice and
 * without touching the filesystem beyond lstat and readlink. What the walk
 * returns has no symlink in its existing part, and its non-existing rest
 * (what a write or mkdir would create) holds no '..'; it must be the root or
 * lie under it.
 *
 * The check and the operation that follows are two steps: a process that can
 * change the tree between them (a command the same client runs) could swap a
 * directory for a symlink in that window. The services narrow it (O_NOFOLLOW,
 * O_EXCL temp files) but do not close it; the exec service gives that client
 * the same reach anyway.
 */
import { lstat, readlink, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { ZmxError, toZmxError } from '../common/errors.js';

/** Symlinks one resolution follows before it gives up, as the kernel's MAXSYMLINKS. */
const MAX_SYMLINKS = 40;
/** A path quoted in a message is cut to this many characters (messages are one short line). */
const MAX_SHOWN_PATH = 200;

export class Root {
  /** The real path of the root (no symlinks, no trailing '/'). */
  readonly path: string;

  private constructor(real: string) {
    this.path = real;
  }

  /** realpath(dir); ENOENT (ZmxError) if it does not exist, EINVAL if not a directory. */
  static async open(dir: string): Promise<Root> {
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
    return new Root(real);
  }

  /**
   * A client path (relative to the root, or absolute and inside it; '' and
   * '.' = the root) to an absolute path inside the root. With followLeaf
   * false the last component, if a symlink, is not followed (rm, mv, lstat
   * act on the link itself); its parent still is. Anything that leads
   * outside: EOUTSIDE naming the path as given. NUL bytes: EINVAL.
   */
  async resolve(p: string, opts: { followLeaf?: boolean } = {}): Promise<string> {
    const followLeaf = opts.followLeaf ?? true;
    if (p.includes('\0')) throw new ZmxError('EINVAL', `path ${show(p)} contains a NUL byte`);
    const absolute = path.isAbsolute(p);
    const queue = components(p);
    let cur = absolute ? '/' : this.path;
    let links = 0;
    /** Components under `cur` that do not exist (once one is missing, the rest are taken as names). */
    const missing: string[] = [];
    while (queue.length > 0) {
      const name = queue.shift() as string;
      if (missing.length > 0) {
        if (name === '..') {
          throw new ZmxError('EOUTSIDE', `path ${show(p)} has '..' after a component that does not exist; give a path inside the root without it`);
        }
        missing.push(name);
        continue;
      }
      if (name === '..') {
        cur = path.dirname(cur);
        continue;
      }
      const candidate = path.join(cur, name);
      let isLink: boolean;
      try {
        isLink = (await lstat(candidate)).isSymbolicLink();
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        // ENOTDIR: `cur` is a file; the operation will say so. Both end the existing part.
        if (code === 'ENOENT' || code === 'ENOTDIR') {
          missing.push(name);
          continue;
        }
        throw new ZmxError(toZmxError(err).code, `cannot resolve ${show(p)}: ${code ?? 'error'}`);
      }
      if (isLink && (followLeaf || queue.length > 0)) {
        if (++links > MAX_SYMLINKS) {
          throw new ZmxError('EINVAL', `path ${show(p)} has too many levels of symbolic links`);
        }
        const target = await readlink(candidate);
        if (target.includes('\0')) throw new ZmxError('EINVAL', `path ${show(p)} has a symlink with a NUL byte`);
        if (path.isAbsolute(target)) cur = '/';
        queue.unshift(...components(target));
        continue;
      }
      cur = candidate;
    }
    const result = missing.length > 0 ? path.join(cur, ...missing) : cur;
    if (!this.contains(result)) {
      throw new ZmxError('EOUTSIDE', `path ${show(p)} resolves outside the session's root; give a path inside it`);
    }
    return result;
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
}

/** The non-empty, non-'.' components of a path. */
function components(p: string): string[] {
  return p.split('/').filter((c) => c !== '' && c !== '.');
}

/** A path for a message: quoted, cut when long. */
export function show(p: string): string {
  const cut = p.length > MAX_SHOWN_PATH ? p.slice(0, MAX_SHOWN_PATH) + '...' : p;
  return JSON.stringify(cut);
}
