/**
 * The portal's CPU-bound file operations — grep, list (a glob over a whole
 * tree) and readFiles — as plain functions of a Root. They run in the
 * search worker (search-worker.ts, through pool.ts), never on the front's
 * event loop: a pattern that backtracks for minutes, or a walk over a
 * million files, then costs one worker until its deadline, not every
 * client's latency.
 *
 * Trees are walked through directory descriptors (root.ts): each directory
 * is opened relative to its parent with O_NOFOLLOW, each file likewise, so
 * a directory swapped for a symlink mid-walk is not followed out of the root.
 */
import type { Stats } from 'node:fs';
import { lstat, open, readdir, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { PORTAL } from '../common/constants.js';
import { ZmxError } from '../common/errors.js';
import type { FileStat, GrepMatch, ReadFilesEntry } from '../common/portal.js';
import { READ_FLAGS, Root, at, openDirAt, show } from './root.js';
import { SKIPPED_DIRS, fileStat, osError, readAt } from './io.js';

export interface ListOpts { recursive: boolean; glob: string; all: boolean; max: number }
export interface GrepOpts { pattern: string; glob: string; ignoreCase: boolean; max: number }

/** Entries under `path`, in tree order (each directory's names sorted, a directory right before its contents). */
export async function list(root: Root, p: string, opts: ListOpts): Promise<{ entries: FileStat[]; truncated: boolean }> {
  const max = opts.max > 0 ? Math.min(opts.max, PORTAL.listMaxEntries) : PORTAL.listMaxEntries;
  const entries: FileStat[] = [];
  let truncated = false;
  await underPath(root, p, { recursive: opts.recursive, all: opts.all }, async (rel, name, st) => {
    if (!globMatches(name, opts.glob)) return true;
    if (entries.length >= max) {
      truncated = true;
      return false;
    }
    entries.push(fileStat(rel, st));
    return true;
  });
  return { entries, truncated };
}

/** Lines matching the JS regular expression `pattern` in the text files under `path`. */
export async function grep(root: Root, p: string, opts: GrepOpts): Promise<{ matches: GrepMatch[]; truncated: boolean }> {
  let re: RegExp;
  try {
    re = new RegExp(opts.pattern, opts.ignoreCase ? 'i' : '');
  } catch (err) {
    throw new ZmxError('EINVAL', `bad pattern ${show(opts.pattern)}: ${(err as Error).message}; give a JavaScript regular expression`);
  }
  const max = opts.max > 0 ? Math.min(opts.max, PORTAL.grepMaxResults) : PORTAL.grepMaxResults;
  const matches: GrepMatch[] = [];
  let truncated = false;
  /** false once `max` is reached and one more match was seen. */
  const search = (rel: string, text: string): boolean => {
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
  const spot = await root.locate(p);
  const isDir = spot.stat?.isDirectory() ?? false;
  await spot.close();
  if (!isDir) {
    const { handle, rel } = await root.openFile(p);
    const text = await readText(handle);
    if (text !== null) search(rel, text);
    return { matches, truncated };
  }
  await underPath(root, p, { recursive: true, all: false }, async (rel, name, st, dir, leaf) => {
    if (!st.isFile() || !globMatches(name, opts.glob)) return true;
    if (root.confined && st.nlink > 1) return true; // may be a name of a file outside (root.ts)
    const fh = await open(at(dir, leaf), READ_FLAGS).catch(() => null);
    const text = fh ? await readText(fh) : null;
    return text === null || search(rel, text);
  });
  return { matches, truncated };
}

/** Several files at once, each cut at PORTAL.readFilesPerFileBytes, all at readFilesTotalBytes. */
export async function readFiles(root: Root, paths: string[]): Promise<{ files: ReadFilesEntry[]; data: Buffer }> {
  const files: ReadFilesEntry[] = [];
  const parts: Buffer[] = [];
  let total = 0;
  for (const p of paths) {
    try {
      const { handle, rel } = await root.openFile(p);
      try {
        const st = await handle.stat();
        const room = Math.min(PORTAL.readFilesPerFileBytes, PORTAL.readFilesTotalBytes - total);
        const data = await readAt(handle, 0, Math.min(st.size, room));
        parts.push(data);
        total += data.length;
        files.push({ path: rel, size: st.size, bytes: data.length, truncated: data.length < st.size, error: null });
      } finally {
        await handle.close();
      }
    } catch (err) {
      const e = osError(err, p);
      files.push({ path: p, size: 0, bytes: 0, truncated: false, error: { code: e.code, message: e.message } });
    }
  }
  return { files, data: Buffer.concat(parts, total) };
}

/** '' matches everything. */
function globMatches(rel: string, glob: string): boolean {
  return glob === '' || path.matchesGlob(rel, glob);
}

/** A text file's content for grep (the handle is closed); null for one too large, binary, or not a regular file. */
async function readText(fh: FileHandle): Promise<string | null> {
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

type Visit = (rel: string, relToTop: string, st: Stats, dir: FileHandle, name: string) => Promise<boolean>;

/**
 * Calls `visit` for `p` itself when it is not a directory, else for every
 * entry under it: depth first, each directory's names sorted, with the
 * entry's path relative to the root and to `p`, its lstat, and its
 * directory's descriptor and name (to open it without a path). Symlinks are
 * reported, never entered; .git and node_modules neither unless `all`;
 * nothing deeper than PORTAL.walkMaxDepth. Stops when `visit` answers false.
 * Subdirectories that cannot be read are skipped; the top one answers its error.
 */
async function underPath(root: Root, p: string, opts: { recursive: boolean; all: boolean }, visit: Visit): Promise<void> {
  const spot = await root.locate(p);
  try {
    if (spot.stat === null) throw new ZmxError('ENOENT', `${show(p)} does not exist`);
    if (!spot.stat.isDirectory()) {
      await visit(spot.rel, spot.name, spot.stat, spot.dir, spot.name);
      return;
    }
    const top = await openDirAt(spot.dir, spot.name).catch((err) => { throw osError(err, p); });
    const prefix = spot.rel === '.' ? '' : `${spot.rel}/`;
    const go = async (dir: FileHandle, rel: string, depth: number): Promise<boolean> => {
      let names: string[];
      try {
        names = (await readdir(at(dir, ''))).sort();
      } catch (err) {
        if (depth === 0) throw osError(err, p);
        return true;
      }
      for (const name of names) {
        const r = rel === '' ? name : `${rel}/${name}`;
        const st = await lstat(at(dir, name)).catch(() => null);
        if (!st) continue; // gone since readdir
        if (st.isDirectory() && !opts.all && SKIPPED_DIRS.has(name)) continue;
        if (!(await visit(prefix + r, r, st, dir, name))) return false;
        if (!st.isDirectory() || !opts.recursive || depth + 1 >= PORTAL.walkMaxDepth) continue;
        const sub = await openDirAt(dir, name).catch(() => null); // swapped for a symlink or a file since: not entered
        if (!sub) continue;
        try {
          if (!(await go(sub, r, depth + 1))) return false;
        } finally {
          await sub.close();
        }
      }
      return true;
    };
    try {
      await go(top, '', 0);
    } finally {
      await top.close();
    }
  } finally {
    await spot.close();
  }
}
