/**
 * Routes the portal's ops (fs.*, exec.*, audit.read): files to the services
 * the front runs (src/portal/), commands to the pty host (host.exec.*,
 * src/ptyhost/commands.ts), which runs them so that they outlive the front.
 * It finds the session's root — narrowed to the key's own root when it has
 * one — confines a command's directory to it before forwarding, and checks
 * that ids (uploads, watches) belong to the caller; the pty host checks a
 * command's key. Authorization (policy.ts) and the audit line are the
 * front's, around every request (and, for a command's end, on Event
 * exec.end: front.ts).
 */
import { isAbsolute, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ZmxError } from '../common/errors.js';
import { LIMITS } from '../common/constants.js';
import type { CreateArgs, OpArgs, OpName, OpResult, SessionInfo } from '../common/protocol.js';
import type { FsChange } from '../common/portal.js';
import { Root } from '../portal/root.js';
import { FsService } from '../portal/fs.js';
import { AuditLog } from '../portal/audit.js';
import type { Caller } from './policy.js';

export interface PortalRouterDeps {
  /** The session's root directory (the pty host's session.get); ENOSESSION if there is none. */
  sessionRoot(name: string): Promise<string>;
  /** The session as the pty host describes it (session.get); ENOSESSION if there is none. */
  session(name: string): Promise<SessionInfo>;
  /** The names of every session (session.list). */
  sessionNames(): Promise<string[]>;
  /** An fs.change event for one connection. */
  sendEvent(client: string, change: FsChange): void;
  /** A request to the pty host (the host.exec.* ops). */
  host<K extends OpName>(op: K, args: OpArgs<K>, frames?: Buffer[]): Promise<{ result: OpResult<K>; frames: Buffer[] }>;
  audit: AuditLog;
  log(msg: string, extra?: Record<string, unknown>): void;
  /** How long a grep, list or readFiles may run (setting search-timeout); PORTAL.searchDeadlineMs when absent. */
  searchDeadlineMs?: number;
}

type Answer = { result: Record<string, unknown>; frames: Buffer[] };
/** What the front forwards for an op of the pty host: its arguments (paths confined), or an answer given here instead. */
export type Confined = { args: Record<string, unknown> } | { answer: Answer };


/** Whether `inner` is `outer` or lies under it (both absolute, normalized). */
function within(outer: string, inner: string): boolean {
  const rel = relative(outer, inner);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel) && !rel.startsWith(`..${sep}`));
}

/** The session an op may create, if any (the ones counted against LIMITS.maxSessions). */
function createOf(op: OpName, args: Record<string, unknown>): { name: string } | null {
  if (op === 'session.create' || op === 'workspace.create') return { name: String(args['name']) };
  if ((op === 'session.attach' || op === 'session.switch') && args['create']) return { name: String((args['create'] as CreateArgs).name) };
  return null;
}

/** A directory argument ('' = `fallback`) walked inside the root: its real path, EOUTSIDE or ENOENT. */
async function confinedDir(root: Root, p: string, fallback: string): Promise<string> {
  const spot = await root.locate(p === '' ? fallback : p);
  await spot.close();
  if (!spot.stat?.isDirectory()) throw new ZmxError('ENOENT', `directory ${JSON.stringify(p)} does not exist inside this key's root`);
  return spot.abs;
}

/**
 * A repository for a worktree: inside the root, with its git directory
 * there too (a worktree is made in it), so not a subdirectory of a
 * repository whose top is above the root, nor one whose .git points elsewhere.
 */
async function confinedRepo(root: Root, p: string): Promise<string> {
  const repo = await confinedDir(root, p, root.path);
  const git = await root.locate(`${repo}/.git`, { followLeaf: false });
  await git.close();
  if (!git.stat?.isDirectory()) {
    throw new ZmxError('EOUTSIDE', `${JSON.stringify(p)} is not the top of a repository whose .git directory is inside this key's root`);
  }
  return repo;
}

/** The active pane's OSC 7 directory URI ('' when unknown). */
function activeCwdUri(s: SessionInfo): string {
  const w = s.windows.find((x) => x.id === s.activeWindow);
  return s.panes.find((p) => p.id === w?.active)?.cwdUri ?? '';
}

/** The local path of a file:// URI, or null. */
function uriPath(uri: string): string | null {
  if (!uri.startsWith('file://')) return null;
  try {
    return fileURLToPath(`file://${new URL(uri).pathname}`);
  } catch {
    return null;
  }
}

/** Who a search belongs to: its connection (cancelled when it goes) and its key (counted against the key's share). */
function asker(caller: Caller): { client: string; key: string } {
  return { client: caller.client, key: caller.key };
}

export class PortalRouter {
  readonly fs: FsService;
  /** Each upload's session and path, for its audit line when committed. */
  private uploads = new Map<number, { session: string; path: string }>();

  constructor(private readonly deps: PortalRouterDeps) {
    this.fs = new FsService({ search: deps.searchDeadlineMs !== undefined ? { deadlineMs: deps.searchDeadlineMs } : {} });
  }

  /** The root a caller works in for a session: the session's, unless the key is confined to a root it is not inside. */
  private async rootFor(caller: Caller, session: string): Promise<Root> {
    const sessionRoot = await this.deps.sessionRoot(session);
    const keyRoot = caller.limits.root;
    if (keyRoot === null) return Root.open(sessionRoot);
    const key = await Root.open(keyRoot, { confined: true });
    const own = await Root.open(sessionRoot, { confined: true }).catch(() => null);
    return own && within(key.path, own.path) ? own : key;
  }

  /**
   * Before an op of the pty host is forwarded: every path it takes (cwd,
   * a worktree's repository, session.write's file) is confined to the key's
   * root when it has one (EOUTSIDE), '' given as a directory inside it;
   * workspace snapshots, rollbacks and diffs need the session's root inside
   * it. A confined key's session.write is served here, through the file
   * service, so its path is walked like any other. New sessions are
   * counted against LIMITS.maxSessions, for every key.
   */
  async confine(caller: Caller, op: OpName, args: Record<string, unknown>, frames: Buffer[]): Promise<Confined> {
    const creates = createOf(op, args);
    if (creates) await this.roomFor(creates.name);
    const keyRoot = caller.limits.root;
    if (keyRoot === null) return { args };
    const root = await Root.open(keyRoot, { confined: true });
    const name = String(args['name'] ?? '');
    switch (op) {
      case 'session.create':
        return { args: { ...args, cwd: await confinedDir(root, args['cwd'] as string, root.path) } };
      case 'session.attach':
      case 'session.switch': {
        const create = args['create'] as CreateArgs | null;
        return { args: create ? { ...args, create: { ...create, cwd: await confinedDir(root, create.cwd, root.path) } } : args };
      }
      case 'workspace.create': {
        const a = args as unknown as OpArgs<'workspace.create'>;
        const cwd = await confinedDir(root, a.cwd, root.path);
        if (!a.worktree) return { args: { ...args, cwd } };
        return { args: { ...args, cwd, worktree: { ...a.worktree, repo: await confinedRepo(root, a.worktree.repo) } } };
      }
      case 'pane.split':
      case 'window.new': {
        const cwd = args['cwd'] as string;
        return { args: { ...args, cwd: cwd === '' ? await this.shellDir(root, name) : await confinedDir(root, cwd, root.path) } };
      }
      case 'workspace.snapshot':
      case 'workspace.rollback':
      case 'workspace.diff':
      case 'workspace.snapshots': {
        const own = await Root.open(await this.deps.sessionRoot(name));
        if (!within(root.path, own.path)) throw new ZmxError('EOUTSIDE', `session "${name}" works in a directory outside this key's root; its snapshots are not this key's`);
        return { args };
      }
      case 'session.write': {
        const a = args as unknown as OpArgs<'session.write'>;
        if (a.path === '') throw new ZmxError('EINVAL', 'write needs a file path');
        // Relative to the shell's directory, as for any key; the path is then walked inside the key's root.
        const base = await this.shellDir(root, name);
        const target = isAbsolute(a.path) ? a.path : `${base}/${a.path}`;
        const data = frames[0] ?? Buffer.alloc(0);
        if (data.length > LIMITS.maxWriteBytes) throw new ZmxError('ETOOBIG', `file of ${data.length} bytes exceeds ${LIMITS.maxWriteBytes}`);
        const r = await this.fs.write(root, target, data, { mode: null, parents: false });
        return { answer: { result: { path: `${root.path}/${r.path}`, bytes: r.bytes }, frames: [] } };
      }
      default:
        return { args };
    }
  }

  /** Refuses a new session past LIMITS.maxSessions (an existing one by that name is no new session). */
  private async roomFor(name: string): Promise<void> {
    const names = await this.deps.sessionNames();
    if (names.length >= LIMITS.maxSessions && !names.includes(name)) {
      throw new ZmxError('ETOOBIG', `the server holds ${names.length} sessions, at most ${LIMITS.maxSessions}; kill some first (zmx kill)`);
    }
  }

  /** The session's shell directory (what a new pane starts in), if inside `root`; else the session's root if inside; else `root`. */
  private async shellDir(root: Root, name: string): Promise<string> {
    const s = await this.deps.session(name);
    for (const candidate of [uriPath(activeCwdUri(s)), s.worktree?.path ?? s.root]) {
      if (candidate === null) continue;
      const real = await root.resolve(candidate).catch(() => null);
      if (real !== null) return real;
    }
    return root.path;
  }

  async handle(caller: Caller, op: OpName, rawArgs: Record<string, unknown>, frames: Buffer[]): Promise<Answer> {
    const ok = (result: unknown, out: Buffer[] = []): Answer => ({ result: result as Record<string, unknown>, frames: out });
    switch (op) {
      case 'fs.read': {
        const a = rawArgs as OpArgs<'fs.read'>;
        const r = await this.fs.read(await this.rootFor(caller, a.name), a.path, a.offset, a.length);
        return ok({ size: r.size, bytes: r.data.length, mtimeMs: r.mtimeMs }, [r.data]);
      }
      case 'fs.readFiles': {
        const a = rawArgs as OpArgs<'fs.readFiles'>;
        const r = await this.fs.readFiles(asker(caller), await this.rootFor(caller, a.name), a.paths);
        return ok({ files: r.files }, [r.data]);
      }
      case 'fs.write': {
        const a = rawArgs as OpArgs<'fs.write'>;
        const data = frames[0] ?? Buffer.alloc(0);
        if (data.length > LIMITS.maxWriteBytes) throw new ZmxError('ETOOBIG', `fs.write takes at most ${LIMITS.maxWriteBytes} bytes; larger files go by upload (zmx cp does)`);
        return ok(await this.fs.write(await this.rootFor(caller, a.name), a.path, data, { mode: a.mode, parents: a.parents }));
      }
      case 'fs.upload.begin': {
        const a = rawArgs as OpArgs<'fs.upload.begin'>;
        const upload = await this.fs.uploadBegin(caller.client, await this.rootFor(caller, a.name), a.path, { mode: a.mode, parents: a.parents });
        this.uploads.set(upload, { session: a.name, path: a.path });
        return ok({ upload });
      }
      case 'fs.upload.chunk': {
        const a = rawArgs as OpArgs<'fs.upload.chunk'>;
        return ok({ bytes: await this.fs.uploadChunk(caller.client, a.upload, a.offset, frames[0] ?? Buffer.alloc(0)) });
      }
      case 'fs.upload.commit': {
        const a = rawArgs as OpArgs<'fs.upload.commit'>;
        const r = await this.fs.uploadCommit(caller.client, a.upload, a.size);
        this.uploads.delete(a.upload);
        return ok(r);
      }
      case 'fs.upload.abort': {
        const a = rawArgs as OpArgs<'fs.upload.abort'>;
        await this.fs.uploadAbort(caller.client, a.upload);
        this.uploads.delete(a.upload);
        return ok({});
      }
      case 'fs.edit': {
        const a = rawArgs as OpArgs<'fs.edit'>;
        return ok(await this.fs.edit(await this.rootFor(caller, a.name), a.path, a.old, a.new, a.count));
      }
      case 'fs.stat': {
        const a = rawArgs as OpArgs<'fs.stat'>;
        return ok({ stat: await this.fs.stat(await this.rootFor(caller, a.name), a.path) });
      }
      case 'fs.list': {
        const a = rawArgs as OpArgs<'fs.list'>;
        return ok(await this.fs.list(asker(caller), await this.rootFor(caller, a.name), a.path, { recursive: a.recursive, glob: a.glob, all: a.all, max: a.max }));
      }
      case 'fs.grep': {
        const a = rawArgs as OpArgs<'fs.grep'>;
        return ok(await this.fs.grep(asker(caller), await this.rootFor(caller, a.name), a.path, { pattern: a.pattern, glob: a.glob, ignoreCase: a.ignoreCase, max: a.max }));
      }
      case 'fs.mkdir': {
        const a = rawArgs as OpArgs<'fs.mkdir'>;
        return ok(await this.fs.mkdir(await this.rootFor(caller, a.name), a.path, a.parents));
      }
      case 'fs.rm': {
        const a = rawArgs as OpArgs<'fs.rm'>;
        return ok(await this.fs.rm(await this.rootFor(caller, a.name), a.path, a.recursive));
      }
      case 'fs.mv': {
        const a = rawArgs as OpArgs<'fs.mv'>;
        return ok(await this.fs.mv(await this.rootFor(caller, a.name), a.from, a.to, a.overwrite));
      }
      case 'fs.watch': {
        const a = rawArgs as OpArgs<'fs.watch'>;
        const watch = await this.fs.watch(caller.client, await this.rootFor(caller, a.name), a.path, a.recursive, (c) => this.deps.sendEvent(caller.client, c));
        return ok({ watch });
      }
      case 'fs.unwatch': {
        const a = rawArgs as OpArgs<'fs.unwatch'>;
        this.fs.unwatch(caller.client, a.watch);
        return ok({});
      }
      // Commands run in the pty host: the front confines their directory, the pty host checks their key.
      case 'exec.start': {
        const a = rawArgs as OpArgs<'exec.start'>;
        const root = await this.rootFor(caller, a.name);
        const cwd = await root.resolve(a.cwd || '.');
        const r = await this.deps.host('host.exec.start', {
          name: a.name, owner: caller.key, who: caller.who, argv: a.argv, shell: a.shell, root: root.path, cwd, env: a.env, timeoutMs: a.timeoutMs, stdin: a.stdin,
        }, frames.slice(0, 1));
        return ok(r.result);
      }
      case 'exec.read': {
        const a = rawArgs as OpArgs<'exec.read'>;
        const r = await this.deps.host('host.exec.read', { ...a, ...this.keyOf(caller) });
        return ok(r.result, r.frames.slice(0, 2));
      }
      case 'exec.stdin': {
        const a = rawArgs as OpArgs<'exec.stdin'>;
        return ok((await this.deps.host('host.exec.stdin', { ...a, ...this.keyOf(caller) }, frames.slice(0, 1))).result);
      }
      case 'exec.kill': {
        const a = rawArgs as OpArgs<'exec.kill'>;
        return ok((await this.deps.host('host.exec.kill', { ...a, ...this.keyOf(caller) })).result);
      }
      case 'exec.list': {
        const a = rawArgs as OpArgs<'exec.list'>;
        await this.deps.sessionRoot(a.name); // ENOSESSION for a session that does not exist
        return ok((await this.deps.host('host.exec.list', { name: a.name, ...this.keyOf(caller) })).result);
      }
      case 'audit.read': {
        const a = rawArgs as OpArgs<'audit.read'>;
        return ok(await this.deps.audit.read(a.offset, a.session, a.waitMs));
      }
      default:
        throw new ZmxError('EPROTO', `op "${op}" is not a portal op`);
    }
  }

  /** The path an upload commit or abort was about, for its audit line. */
  uploadPath(id: number): { session: string; path: string } | null {
    return this.uploads.get(id) ?? null;
  }

  /** Whose commands a caller may see: its key's, or every one for an admin key. */
  private keyOf(caller: Caller): { owner: string; admin: boolean } {
    return { owner: caller.key, admin: caller.limits.allow.includes('admin') };
  }

  /** A connection went away: its uploads are aborted and its watches closed (its commands run on, in the pty host). */
  async dropClient(client: string): Promise<void> {
    await this.fs.dropOwner(client);
  }

  /** The front stops: uploads and watches end; commands do not (the pty host runs them). */
  async dispose(): Promise<void> {
    await this.fs.dispose();
  }
}
