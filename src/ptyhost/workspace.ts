/**
 * Workspaces for parallel agents: git worktrees as session roots, and
 * snapshots of a session's root (save, restore, compare).
 *
 * Transport-free: plain functions over directories, run by the pty host
 * (the session's machine). Git runs as `git -C DIR ...` through execFile
 * with argv arrays — never a shell — and with an environment of its own, so
 * a GIT_DIR or GIT_INDEX_FILE the server inherited never leaks in and no
 * prompt ever waits for a terminal.
 *
 * Snapshots of a git root (the top of a repository or worktree) are commits
 * on private refs, refs/zmx/snapshots/<session>/<label>, made from a
 * temporary index (GIT_INDEX_FILE): untracked files are included, ignored
 * ones left alone, and the user's HEAD, branch and index are never written.
 * Any other root is copied under the server's state directory.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import {
  chmod, copyFile, lstat, mkdir, mkdtemp, readFile, readdir, readlink, realpath, rename, rm, rmdir, stat, symlink, unlink, utimes, writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { ZmxError } from '../common/errors.js';
import { LIMITS } from '../common/constants.js';
import { encodeName } from '../common/names.js';
import { STATE_DIRS } from '../common/paths.js';

// ---------------------------------------------------------------------------
// Tunables

/** Where worktrees live: inside the repository's git directory, so the user's tree never shows them. */
export const WORKTREES_DIR = 'zmx-worktrees';
/** The ref namespace of git snapshots: refs/zmx/snapshots/<session>/<label>. */
export const SNAPSHOT_REF_PREFIX = 'refs/zmx/snapshots';
/** Copy snapshots: <state dir>/snapshots/<session>/<label>/{meta.json,tree}. */
export const COPY_SNAPSHOTS_DIR = STATE_DIRS.snapshots;
/** A copy snapshot of more files than this is refused (ETOOBIG): the state dir is often in memory (tmpfs). */
export const COPY_MAX_FILES = 50_000;
/** ... or of more bytes than this. */
export const COPY_MAX_BYTES = 256 * 1024 * 1024;
/** The largest diff sent back: what a `session.write` may carry. */
export const MAX_DIFF_BYTES = LIMITS.maxWriteBytes;
/** Largest output of a git command other than diff (ref lists, porcelain status). */
const GIT_MAX_OUTPUT = 16 * 1024 * 1024;
/** Snapshot labels: what a ref component and a file name both take. */
const LABEL_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
/** The identity snapshot commits are made with, so they work where git has none configured. */
const SNAPSHOT_IDENTITY = { name: 'zmx', email: 'zmx@localhost' };
/** Environment variables that point git somewhere else; removed from every git the pty host runs. */
const GIT_LOCATION_VARS = [
  'GIT_DIR', 'GIT_WORK_TREE', 'GIT_INDEX_FILE', 'GIT_OBJECT_DIRECTORY', 'GIT_ALTERNATE_OBJECT_DIRECTORIES',
  'GIT_COMMON_DIR', 'GIT_NAMESPACE', 'GIT_PREFIX', 'GIT_CEILING_DIRECTORIES', 'GIT_DISCOVERY_ACROSS_FILESYSTEM',
];

// ---------------------------------------------------------------------------
// git

class GitFailure extends Error {
  constructor(readonly args: string[], readonly status: number | null, readonly stderr: string, readonly stdout: Buffer) {
    super(firstLine(stderr) || `git ${args[0]} failed`);
  }
}

/** The first meaningful line git printed ("fatal: ..." without the prefix). */
function firstLine(stderr: string): string {
  const line = stderr.split('\n').map((l) => l.trim()).find((l) => /^(fatal|error):/.test(l)) ?? stderr.split('\n').find((l) => l.trim() !== '') ?? '';
  return line.replace(/^(fatal|error):\s*/, '').trim();
}

function gitEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of GIT_LOCATION_VARS) delete env[k];
  // Parseable messages, no prompts, and no index refresh behind the user's back.
  return { ...env, LC_ALL: 'C', GIT_TERMINAL_PROMPT: '0', GIT_OPTIONAL_LOCKS: '0', ...extra };
}

interface GitOpts { env?: Record<string, string>; input?: string; maxBuffer?: number; okStatus?: number[] }

/** Runs `git -C dir ...args`; resolves with stdout, rejects with GitFailure (or ENOENT when git is missing). */
function git(dir: string, args: string[], opts: GitOpts = {}): Promise<Buffer> {
  return new Promise((resolvePromise, reject) => {
    const child = execFile('git', ['-C', dir, ...args], { env: gitEnv(opts.env), encoding: 'buffer', maxBuffer: opts.maxBuffer ?? GIT_MAX_OUTPUT }, (err, stdout, stderr) => {
      if (!err) return resolvePromise(stdout);
      const e = err as NodeJS.ErrnoException & { code?: unknown };
      if (e.code === 'ENOENT' && typeof (e as { path?: unknown }).path === 'string') return reject(new ZmxError('ENOENT', 'git is not installed on the server; install git to use worktrees and git snapshots'));
      if (e.code === 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER') return reject(new ZmxError('ETOOBIG', `git ${args[0]} printed more than ${opts.maxBuffer ?? GIT_MAX_OUTPUT} bytes`));
      const status = typeof e.code === 'number' ? e.code : null;
      if (status !== null && opts.okStatus?.includes(status)) return resolvePromise(stdout);
      reject(new GitFailure(args, status, stderr.toString('utf8'), stdout));
    });
    if (opts.input !== undefined) child.stdin?.end(opts.input);
    else child.stdin?.end();
  });
}

async function gitText(dir: string, args: string[], opts: GitOpts = {}): Promise<string> {
  return (await git(dir, args, opts)).toString('utf8').trim();
}

/** Whether git answers yes (exit 0) — for --verify and friends. */
async function gitOk(dir: string, args: string[]): Promise<boolean> {
  try {
    await git(dir, args);
    return true;
  } catch (err) {
    if (err instanceof GitFailure) return false;
    throw err;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * The top of the work tree `dir` is in, or null when it is in none (not a
 * repository, a bare one, or inside a .git directory).
 */
export async function gitTopLevel(dir: string): Promise<string | null> {
  try {
    const top = await gitText(dir, ['rev-parse', '--show-toplevel']);
    return top === '' ? null : realpath(top);
  } catch (err) {
    if (err instanceof GitFailure) return null;
    throw err;
  }
}

// ---------------------------------------------------------------------------
// Names

// encodeName lives in common (the CLI cleans a dead server's state by it too).
export { encodeName };

/** Throws EINVAL unless `label` can name a snapshot. */
export function validateLabel(label: string): string {
  if (!LABEL_RE.test(label) || label.includes('..') || label.endsWith('.lock')) {
    throw new ZmxError('EINVAL', `snapshot label ${JSON.stringify(label)}: use letters, digits, '.', '_' and '-' (at most 100, starting with a letter or digit, no "..")`);
  }
  return label;
}

/** A label from the time: 20250102-150405 (local time). */
export function timeLabel(now: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${now.getFullYear()}${p(now.getMonth() + 1)}${p(now.getDate())}-${p(now.getHours())}${p(now.getMinutes())}${p(now.getSeconds())}`;
}

/** Throws EINVAL unless git takes `branch` as a branch name. */
async function validateBranch(repo: string, branch: string): Promise<void> {
  if (branch === '' || branch.startsWith('-') || !(await gitOk(repo, ['check-ref-format', '--branch', branch]))) {
    throw new ZmxError('EINVAL', `${JSON.stringify(branch)} is not a valid branch name`);
  }
}

// ---------------------------------------------------------------------------
// Worktrees

export interface Worktree {
  /** The worktree's directory: the session's root. */
  path: string;
  branch: string;
  /** The repository it belongs to (its main work tree, or the git directory of a bare one). */
  repo: string;
  /** Whether the branch was made for it (from the repository's HEAD). */
  createdBranch: boolean;
  /** Whether an existing worktree of that branch at that path was taken up again. */
  reused: boolean;
}

interface WorktreeEntry { path: string; branch: string | null }

async function listWorktrees(repo: string): Promise<WorktreeEntry[]> {
  const out = await gitText(repo, ['worktree', 'list', '--porcelain']);
  const entries: WorktreeEntry[] = [];
  for (const block of out.split(/\n\n+/)) {
    const path = /^worktree (.*)$/m.exec(block)?.[1];
    if (!path) continue;
    const ref = /^branch (.*)$/m.exec(block)?.[1] ?? null;
    entries.push({ path, branch: ref?.startsWith('refs/heads/') ? ref.slice('refs/heads/'.length) : ref });
  }
  return entries;
}

async function samePath(a: string, b: string): Promise<boolean> {
  const real = async (p: string) => realpath(p).catch(() => resolve(p));
  return (await real(a)) === (await real(b));
}

/** The repository `dir` names: its common git directory and where its main tree is. */
async function repository(dir: string): Promise<{ commonDir: string; repo: string }> {
  let st;
  try {
    st = await stat(dir);
  } catch {
    throw new ZmxError('ENOENT', `directory ${dir} does not exist`);
  }
  if (!st.isDirectory()) throw new ZmxError('ENOENT', `${dir} is not a directory`);
  let common: string;
  try {
    common = await gitText(dir, ['rev-parse', '--git-common-dir']);
  } catch (err) {
    if (err instanceof GitFailure) throw new ZmxError('EINVAL', `${dir} is not a git repository; pass -c REPO with one (or run git init there)`);
    throw err;
  }
  const commonDir = await realpath(resolve(dir, common));
  const top = await gitTopLevel(dir);
  // The main work tree is the common dir's parent for an ordinary repository.
  const repo = commonDir.endsWith(`${sep}.git`) ? dirname(commonDir) : (top ?? commonDir);
  return { commonDir, repo };
}

/**
 * Gives session `name` a worktree of `branch` in the repository at `dir`:
 * `<git dir>/zmx-worktrees/<name>`. The branch is made from HEAD when it does
 * not exist; a worktree left there for that branch by an earlier session is
 * taken up again. A branch checked out anywhere else is refused (EEXIST).
 */
export async function addWorktree(dir: string, branch: string, name: string): Promise<Worktree> {
  const { commonDir, repo } = await repository(dir);
  await validateBranch(repo, branch);
  const path = join(commonDir, WORKTREES_DIR, encodeName(name));
  // Forget worktrees whose directories were deleted by hand.
  await git(repo, ['worktree', 'prune']);
  for (const wt of await listWorktrees(repo)) {
    const here = await samePath(wt.path, path);
    if (wt.branch === branch) {
      if (here) return { path: await realpath(path), branch, repo, createdBranch: false, reused: true };
      throw new ZmxError('EEXIST', `branch "${branch}" is checked out at ${wt.path}; choose another branch, or free it there (git worktree remove ${wt.path})`);
    }
    if (here) throw new ZmxError('EEXIST', `${path} is a worktree of ${wt.branch ? `branch "${wt.branch}"` : 'a detached HEAD'}; remove it (git worktree remove ${path}) or name the session differently`);
  }
  if (await exists(path)) throw new ZmxError('EEXIST', `${path} exists already; remove it or name the session differently`);
  const hasBranch = await gitOk(repo, ['rev-parse', '--verify', '--quiet', `refs/heads/${branch}^{commit}`]);
  try {
    if (hasBranch) {
      await git(repo, ['worktree', 'add', path, branch]);
    } else {
      if (!(await gitOk(repo, ['rev-parse', '--verify', '--quiet', 'HEAD^{commit}']))) {
        throw new ZmxError('EINVAL', `${repo} has no commits yet; commit something first (a new branch starts at HEAD)`);
      }
      await git(repo, ['worktree', 'add', '-b', branch, path, 'HEAD']);
    }
  } catch (err) {
    if (err instanceof GitFailure) throw new ZmxError('EINVAL', `git worktree add failed: ${err.message}`);
    throw err;
  }
  return { path: await realpath(path), branch, repo, createdBranch: !hasBranch, reused: false };
}

/** What `git status --porcelain` lists in a worktree: uncommitted changes and untracked files. */
export async function worktreeChanges(path: string): Promise<string[]> {
  const out = (await git(path, ['status', '--porcelain'])).toString('utf8');
  return out.split('\n').filter((l) => l !== '');
}

/**
 * Removes a worktree (git worktree remove; --force discards changes). The
 * branch is kept. A worktree whose directory is gone already is pruned.
 */
export async function removeWorktree(wt: { path: string; repo: string }, force: boolean): Promise<void> {
  if (!(await exists(wt.path))) {
    await git(wt.repo, ['worktree', 'prune']).catch(() => {});
    return;
  }
  try {
    await git(wt.repo, ['worktree', 'remove', ...(force ? ['--force', '--force'] : []), wt.path]);
  } catch (err) {
    if (err instanceof GitFailure) throw new ZmxError('EINVAL', `could not remove worktree ${wt.path}: ${err.message}`);
    throw err;
  }
}

/** Undoes addWorktree after a failed start: the worktree, and the branch when it was made for it. */
export async function undoWorktree(wt: Worktree): Promise<void> {
  if (wt.reused) return;
  await removeWorktree(wt, true).catch(() => {});
  if (wt.createdBranch) await git(wt.repo, ['branch', '-D', wt.branch]).catch(() => {});
}

// ---------------------------------------------------------------------------
// Snapshots

export type SnapshotKind = 'git' | 'copy';

export interface SnapshotInfo {
  label: string;
  /** ms since the epoch. */
  created: number;
}

/** Whose workspace: the session, its root, and where the server keeps copies. */
export interface WorkspaceRef {
  session: string;
  root: string;
  stateDir: string;
}

/** One operation at a time per root: a rollback never races a snapshot. */
const locks = new Map<string, Promise<unknown>>();

async function withLock<T>(key: string, fn: () => Promise<T>): Promise<T> {
  const before = locks.get(key) ?? Promise.resolve();
  const run = before.catch(() => {}).then(fn);
  const tail = run.catch(() => {});
  locks.set(key, tail);
  try {
    return await run;
  } finally {
    if (locks.get(key) === tail) locks.delete(key);
  }
}

/** 'git' when the root is the top of a git work tree (a repository or worktree), else 'copy'. */
export async function snapshotKind(root: string): Promise<SnapshotKind> {
  const top = await gitTopLevel(root).catch((err: unknown) => {
    if (err instanceof ZmxError && err.code === 'ENOENT') return null; // no git: copies still work
    throw err;
  });
  return top !== null && top === (await realpath(root)) ? 'git' : 'copy';
}

function pick(list: SnapshotInfo[], label: string, session: string): SnapshotInfo {
  if (label === '') {
    const latest = list[list.length - 1];
    if (!latest) throw new ZmxError('ENOENT', `session "${session}" has no snapshots; make one with zmx snapshot -t ${session}`);
    return latest;
  }
  validateLabel(label);
  const found = list.find((s) => s.label === label);
  if (!found) throw new ZmxError('ENOENT', `session "${session}" has no snapshot "${label}"; zmx snapshot -t ${session} --list shows them`);
  return found;
}

/** The label a snapshot gets: the one asked for, or the time (made unique). */
function newLabel(label: string, list: SnapshotInfo[], session: string, now: Date): string {
  if (label !== '') {
    validateLabel(label);
    if (list.some((s) => s.label === label)) throw new ZmxError('EEXIST', `session "${session}" has a snapshot "${label}" already; choose another label`);
    return label;
  }
  const base = timeLabel(now);
  let candidate = base;
  for (let n = 2; list.some((s) => s.label === candidate); n++) candidate = `${base}-${n}`;
  return candidate;
}

export async function listSnapshots(ws: WorkspaceRef): Promise<{ kind: SnapshotKind; snapshots: SnapshotInfo[] }> {
  const kind = await snapshotKind(ws.root);
  return { kind, snapshots: kind === 'git' ? await gitList(ws) : await copyList(ws) };
}

/** Saves the root under `label` ('' = the time); returns the label. */
export function snapshot(ws: WorkspaceRef, label: string, now = new Date()): Promise<{ kind: SnapshotKind; label: string; created: number }> {
  return withLock(ws.root, async () => {
    const kind = await snapshotKind(ws.root);
    const list = kind === 'git' ? await gitList(ws) : await copyList(ws);
    const chosen = newLabel(label, list, ws.session, now);
    const created = now.getTime();
    if (kind === 'git') await gitSnapshot(ws, chosen, created);
    else await copySnapshot(ws, chosen, created);
    return { kind, label: chosen, created };
  });
}

/** Restores the root to snapshot `label` ('' = the latest), byte for byte. */
export function rollback(ws: WorkspaceRef, label: string): Promise<{ kind: SnapshotKind; label: string }> {
  return withLock(ws.root, async () => {
    const kind = await snapshotKind(ws.root);
    const chosen = pick(kind === 'git' ? await gitList(ws) : await copyList(ws), label, ws.session);
    if (kind === 'git') await gitRollback(ws, chosen.label);
    else await copyRollback(ws, chosen.label);
    return { kind, label: chosen.label };
  });
}

/** A unified diff of snapshot `label` ('' = the latest) against the root as it is now. */
export function diff(ws: WorkspaceRef, label: string): Promise<{ kind: SnapshotKind; label: string; diff: Buffer }> {
  return withLock(ws.root, async () => {
    const kind = await snapshotKind(ws.root);
    const chosen = pick(kind === 'git' ? await gitList(ws) : await copyList(ws), label, ws.session);
    const out = kind === 'git' ? await gitDiff(ws, chosen.label) : await copyDiff(ws, chosen.label);
    return { kind, label: chosen.label, diff: out };
  });
}

/** Forgets every snapshot of the session (after `kill --clean`); `repo` also drops git refs there. */
export async function dropSnapshots(session: string, stateDir: string, repo: string | null): Promise<void> {
  await rm(join(stateDir, COPY_SNAPSHOTS_DIR, encodeName(session)), { recursive: true, force: true });
  if (repo === null) return;
  const refs = (await gitText(repo, ['for-each-ref', '--format=%(refname)', `${SNAPSHOT_REF_PREFIX}/${encodeName(session)}/`]).catch(() => ''))
    .split('\n').filter((r) => r !== '');
  if (refs.length > 0) await git(repo, ['update-ref', '--stdin'], { input: refs.map((r) => `delete ${r}\n`).join('') }).catch(() => {});
}

/** Removes the copy snapshots of a session (its copies die with it). */
export async function dropCopies(session: string, stateDir: string): Promise<void> {
  await rm(join(stateDir, COPY_SNAPSHOTS_DIR, encodeName(session)), { recursive: true, force: true });
}

// ------------------------------------------------------------ git snapshots

function refOf(ws: WorkspaceRef, label: string): string {
  return `${SNAPSHOT_REF_PREFIX}/${encodeName(ws.session)}/${label}`;
}

async function gitList(ws: WorkspaceRef): Promise<SnapshotInfo[]> {
  const prefix = `${SNAPSHOT_REF_PREFIX}/${encodeName(ws.session)}/`;
  const out = (await git(ws.root, ['for-each-ref', '--format=%00%(refname)%00%(committerdate:unix)%00%(contents)', prefix])).toString('utf8');
  const parts = out.split('\0');
  const list: SnapshotInfo[] = [];
  for (let i = 1; i + 2 < parts.length; i += 3) {
    const label = parts[i]!.slice(prefix.length);
    const created = Number(/^zmx-created: (\d+)$/m.exec(parts[i + 2]!)?.[1] ?? Number(parts[i + 1]) * 1000);
    list.push({ label, created });
  }
  return list.sort((a, b) => a.created - b.created || (a.label < b.label ? -1 : 1));
}

/**
 * The root as it is now, as a tree object: a temporary index, started from
 * a copy of the user's (so unchanged files need not be hashed again), with
 * `git add -A` over it. The user's index file is only read.
 */
async function withCurrentTree<T>(root: string, fn: (tree: string, env: Record<string, string>) => Promise<T>): Promise<T> {
  const tmp = await mkdtemp(join(tmpdir(), 'zmx-index-'));
  try {
    const index = join(tmp, 'index');
    const real = resolve(root, await gitText(root, ['rev-parse', '--git-path', 'index']));
    if (await exists(real)) {
      await copyFile(real, index);
      // Keep the index file's own times: git trusts an entry's cached stat only
      // when the file is older than the index ("racy git"), and a fresh copy
      // would make a file changed within the same second look unchanged.
      const times = await stat(real);
      await utimes(index, times.atime, times.mtime);
    }
    const env = { GIT_INDEX_FILE: index };
    await git(root, ['add', '-A'], { env });
    const tree = await gitText(root, ['write-tree'], { env });
    return await fn(tree, env);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

async function gitSnapshot(ws: WorkspaceRef, label: string, created: number): Promise<void> {
  await withCurrentTree(ws.root, async (tree) => {
    const head = (await gitOk(ws.root, ['rev-parse', '--verify', '--quiet', 'HEAD^{commit}'])) ? await gitText(ws.root, ['rev-parse', 'HEAD']) : null;
    const message = `zmx snapshot ${label} of session ${ws.session}\n\nzmx-session: ${ws.session}\nzmx-label: ${label}\nzmx-created: ${created}\nzmx-root: ${ws.root}\n`;
    const identity = {
      GIT_AUTHOR_NAME: SNAPSHOT_IDENTITY.name, GIT_AUTHOR_EMAIL: SNAPSHOT_IDENTITY.email,
      GIT_COMMITTER_NAME: SNAPSHOT_IDENTITY.name, GIT_COMMITTER_EMAIL: SNAPSHOT_IDENTITY.email,
    };
    const commit = await gitText(ws.root, ['commit-tree', '--no-gpg-sign', tree, ...(head ? ['-p', head] : []), '-F', '-'], { env: identity, input: message });
    try {
      // `create` fails if the ref exists: two snapshots never overwrite each other.
      await git(ws.root, ['update-ref', '--stdin'], { input: `create ${refOf(ws, label)} ${commit}\n` });
    } catch (err) {
      if (err instanceof GitFailure) throw new ZmxError('EEXIST', `session "${ws.session}" has a snapshot "${label}" already; choose another label`);
      throw err;
    }
  });
}

async function gitRollback(ws: WorkspaceRef, label: string): Promise<void> {
  const target = await gitText(ws.root, ['rev-parse', '--verify', `${refOf(ws, label)}^{tree}`]);
  // The temporary index holds the tree as it is now; a reset to the snapshot
  // with -u deletes what the snapshot lacks and writes what differs (content
  // and mode). Ignored files are in neither tree and are left alone.
  await withCurrentTree(ws.root, async (_tree, env) => {
    await git(ws.root, ['read-tree', '--reset', '-u', target], { env });
  });
}

/** Options every diff zmx prints takes: plain, whatever the user's diff settings. */
const DIFF_OPTS = ['--no-color', '--no-ext-diff', '--no-textconv', '--src-prefix=a/', '--dst-prefix=b/'];

async function gitDiff(ws: WorkspaceRef, label: string): Promise<Buffer> {
  const target = await gitText(ws.root, ['rev-parse', '--verify', `${refOf(ws, label)}^{tree}`]);
  return withCurrentTree(ws.root, (tree) => git(ws.root, ['diff', ...DIFF_OPTS, target, tree, '--'], { maxBuffer: MAX_DIFF_BYTES }));
}

// ----------------------------------------------------------- copy snapshots

interface Entry {
  rel: string;
  type: 'dir' | 'file' | 'link';
  mode: number;
  size: number;
  mtime: Date;
  atime: Date;
}

interface CopyMeta { label: string; created: number; root: string }

function copiesDir(ws: WorkspaceRef): string {
  return join(ws.stateDir, COPY_SNAPSHOTS_DIR, encodeName(ws.session));
}

async function copyList(ws: WorkspaceRef): Promise<SnapshotInfo[]> {
  let names: string[];
  try {
    names = await readdir(copiesDir(ws));
  } catch {
    return [];
  }
  const root = await realpath(ws.root);
  const list: SnapshotInfo[] = [];
  for (const name of names) {
    if (!LABEL_RE.test(name)) continue; // a half-made snapshot (.tmp-...)
    try {
      const meta = JSON.parse(await readFile(join(copiesDir(ws), name, 'meta.json'), 'utf8')) as CopyMeta;
      // A copy of another root (an earlier session of that name) is not this workspace's.
      if (meta.label === name && meta.root === root) list.push({ label: name, created: meta.created });
    } catch {
      /* not a snapshot */
    }
  }
  return list.sort((a, b) => a.created - b.created || (a.label < b.label ? -1 : 1));
}

/**
 * Every directory, file and symlink under `dir` (special files are left
 * out), parents before children. `skip` is a path not to enter (the state
 * directory, should it lie inside the root).
 */
async function walk(dir: string, skip: string | null, limits: boolean): Promise<Entry[]> {
  const out: Entry[] = [];
  let bytes = 0;
  const visit = async (rel: string): Promise<void> => {
    const names = (await readdir(join(dir, rel))).sort();
    for (const name of names) {
      const r = rel === '' ? name : join(rel, name);
      const full = join(dir, r);
      if (full === skip) continue;
      const st = await lstat(full);
      const type = st.isDirectory() ? 'dir' : st.isFile() ? 'file' : st.isSymbolicLink() ? 'link' : null;
      if (type === null) continue;
      out.push({ rel: r, type, mode: st.mode & 0o7777, size: st.size, mtime: st.mtime, atime: st.atime });
      if (type === 'file') bytes += st.size;
      if (limits && out.length > COPY_MAX_FILES) throw new ZmxError('ETOOBIG', `${dir} holds more than ${COPY_MAX_FILES} files; a copy snapshot is only for small roots (make it a git repository for snapshots of any size)`);
      if (limits && bytes > COPY_MAX_BYTES) throw new ZmxError('ETOOBIG', `${dir} holds more than ${COPY_MAX_BYTES / (1024 * 1024)} MiB; a copy snapshot is only for small roots (make it a git repository for snapshots of any size)`);
      if (type === 'dir') await visit(r);
    }
  };
  await visit('');
  return out;
}

/** The state directory when it lies inside the root (never copied, never deleted), else null. */
async function skipOf(ws: WorkspaceRef, root: string): Promise<string | null> {
  const state = await realpath(ws.stateDir).catch(() => resolve(ws.stateDir));
  const rel = relative(root, state);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel) ? state : null;
}

/** Copies one entry from `from` to `to` (same relative path), with its mode and times. */
async function copyEntry(e: Entry, from: string, to: string): Promise<void> {
  const src = join(from, e.rel);
  const dst = join(to, e.rel);
  if (e.type === 'dir') {
    await mkdir(dst, { recursive: true });
  } else if (e.type === 'link') {
    await symlink(await readlink(src), dst);
  } else {
    await copyFile(src, dst, fsConstants.COPYFILE_FICLONE);
    await chmod(dst, e.mode);
    await utimes(dst, e.atime, e.mtime);
  }
}

async function copySnapshot(ws: WorkspaceRef, label: string, created: number): Promise<void> {
  const root = await realpath(ws.root);
  const entries = await walk(root, await skipOf(ws, root), true);
  const dir = copiesDir(ws);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const tmp = join(dir, `.tmp-${label}-${randomBytes(4).toString('hex')}`);
  const tree = join(tmp, 'tree');
  try {
    await mkdir(tree, { recursive: true });
    for (const e of entries) await copyEntry(e, root, tree);
    // Directory modes last, so a read-only directory was still writable while filled.
    for (const e of [...entries].reverse()) if (e.type === 'dir') await chmod(join(tree, e.rel), e.mode);
    const meta: CopyMeta = { label, created, root };
    await writeFile(join(tmp, 'meta.json'), JSON.stringify(meta) + '\n', { mode: 0o600 });
    if (await exists(join(dir, label))) throw new ZmxError('EEXIST', `session "${ws.session}" has a snapshot "${label}" already; choose another label`);
    await rename(tmp, join(dir, label));
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
}

async function sameFile(a: string, b: string, size: number): Promise<boolean> {
  if ((await stat(b)).size !== size) return false;
  return (await readFile(a)).equals(await readFile(b));
}

async function copyRollback(ws: WorkspaceRef, label: string): Promise<void> {
  const root = await realpath(ws.root);
  const tree = join(copiesDir(ws), label, 'tree');
  const skip = await skipOf(ws, root);
  const want = await walk(tree, null, false);
  const have = await walk(root, skip, false);
  const wanted = new Map(want.map((e) => [e.rel, e]));
  // 1. What the snapshot lacks, or holds as another type, goes (deepest first).
  for (const e of [...have].reverse()) {
    const w = wanted.get(e.rel);
    if (w && w.type === e.type) continue;
    const full = join(root, e.rel);
    if (e.type === 'dir') await rmdir(full).catch(() => {}); // holds the state dir or a special file: keep it
    else await unlink(full);
  }
  const present = new Map(have.map((e) => [e.rel, e]));
  // 2. The snapshot's entries, parents first.
  for (const w of want) {
    const full = join(root, w.rel);
    const cur = present.get(w.rel);
    const same = cur !== undefined && cur.type === w.type;
    if (w.type === 'dir') {
      if (!same) await mkdir(full, { recursive: true });
      continue;
    }
    if (w.type === 'link') {
      const target = await readlink(join(tree, w.rel));
      if (same && (await readlink(full)) === target) continue;
      if (same) await unlink(full);
      await symlink(target, full);
      continue;
    }
    if (same && cur.mode === w.mode && (await sameFile(join(tree, w.rel), full, w.size))) continue;
    // Written beside and renamed over: a reader never sees half a file.
    const tmp = join(dirname(full), `.zmx-rollback-${randomBytes(4).toString('hex')}`);
    await copyFile(join(tree, w.rel), tmp);
    await chmod(tmp, w.mode);
    await utimes(tmp, w.atime, w.mtime);
    await rename(tmp, full);
  }
  // 3. Directory modes, deepest first.
  for (const w of [...want].reverse()) if (w.type === 'dir') await chmod(join(root, w.rel), w.mode);
}

async function copyDiff(ws: WorkspaceRef, label: string): Promise<Buffer> {
  const root = await realpath(ws.root);
  const tree = join(copiesDir(ws), label, 'tree');
  const skip = await skipOf(ws, root);
  // git diff --no-index exits 1 when the trees differ: that is not a failure.
  const raw = (await git(tree, ['diff', '--no-index', '--no-renames', ...DIFF_OPTS, tree, root], { okStatus: [1], maxBuffer: MAX_DIFF_BYTES })).toString('latin1');
  return Buffer.from(relabelNoIndexDiff(raw, tree, root, skip), 'latin1');
}

/**
 * git diff --no-index names files by the paths it was given (without their
 * leading '/'): a/<snapshot>/f and b/<root>/f. Rewrites the header lines of
 * each file's section to a/f and b/f, and drops sections about `skip`.
 */
export function relabelNoIndexDiff(text: string, from: string, to: string, skip: string | null): string {
  const strip = (p: string) => p.replace(/^\/+/, '');
  const prefixes = [strip(from), strip(to)].sort((x, y) => y.length - x.length);
  const sections = text.split(/^(?=diff --git )/m);
  const out: string[] = [];
  for (const section of sections) {
    if (section === '') continue;
    const lines = section.split('\n');
    if (skip !== null && lines[0]!.includes(`/${strip(skip)}/`)) continue;
    let inHeader = true;
    out.push(lines.map((line) => {
      if (!inHeader) return line;
      if (line.startsWith('@@')) { inHeader = false; return line; }
      let l = line;
      for (const p of prefixes) l = l.split(`a/${p}/`).join('a/').split(`b/${p}/`).join('b/');
      return l;
    }).join('\n'));
  }
  return out.join('');
}
