/**
 * Routes the portal's ops (fs.*, exec.*, audit.read) to the services the
 * front runs (src/portal/): finds the session's root — narrowed to the
 * key's own root when it has one — and checks that ids (uploads, watches,
 * commands) belong to the caller. Authorization (policy.ts) and the audit
 * line are the front's, around every request.
 */
import { isAbsolute, relative, sep } from 'node:path';
import { ZmxError } from '../common/errors.js';
import { LIMITS } from '../common/constants.js';
import type { OpArgs, OpName } from '../common/protocol.js';
import type { AuditEntry, ExecInfo, FsChange, SignalName } from '../common/portal.js';
import { Root } from '../portal/root.js';
import { FsService } from '../portal/fs.js';
import { ExecService } from '../portal/exec.js';
import { AuditLog } from '../portal/audit.js';
import type { Caller } from './policy.js';

export interface PortalRouterDeps {
  /** The session's root directory (the pty host's session.get); ENOSESSION if there is none. */
  sessionRoot(name: string): Promise<string>;
  /** An fs.change event for one connection. */
  sendEvent(client: string, change: FsChange): void;
  audit: AuditLog;
  log(msg: string, extra?: Record<string, unknown>): void;
}

type Answer = { result: Record<string, unknown>; frames: Buffer[] };


/** Whether `inner` is `outer` or lies under it (both absolute, normalized). */
function within(outer: string, inner: string): boolean {
  const rel = relative(outer, inner);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel) && !rel.startsWith(`..${sep}`));
}

/** Who a search belongs to: its connection (cancelled when it goes) and its key (counted against the key's share). */
function asker(caller: Caller): { client: string; key: string } {
  return { client: caller.client, key: caller.key };
}

export class PortalRouter {
  readonly fs = new FsService();
  readonly exec = new ExecService();
  /** Each upload's session and path, for its audit line when committed. */
  private uploads = new Map<number, { session: string; path: string }>();
  /** Each running command's key name, for the audit line of its end. */
  private starters = new Map<number, string>();

  constructor(private readonly deps: PortalRouterDeps) {
    this.exec.onExit((info, owner, session, bytes) => this.auditExit(info, owner, session, bytes));
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

  private commandOf(caller: Caller, id: number): ExecInfo {
    const c = this.exec.get(id);
    // Another key's command is not there, as far as this key can tell.
    if (!c || (c.owner !== caller.key && !caller.limits.allow.includes('admin'))) throw new ZmxError('EINVAL', `no command ${id} (zmx exec --list shows yours)`);
    return c.info;
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
      case 'exec.start': {
        const a = rawArgs as OpArgs<'exec.start'>;
        const root = await this.rootFor(caller, a.name);
        const cwd = await root.resolve(a.cwd || '.');
        const exec = await this.exec.start(caller.key, a.name, { argv: a.argv, shell: a.shell, rootDir: root.path, cwd, env: a.env, timeoutMs: a.timeoutMs, stdin: a.stdin }, frames[0] ?? null);
        this.starters.set(exec.id, caller.who);
        return ok({ exec });
      }
      case 'exec.read': {
        const a = rawArgs as OpArgs<'exec.read'>;
        this.commandOf(caller, a.exec);
        const r = await this.exec.read(a.exec, a.stdout, a.stderr, a.waitMs, a.max);
        return ok({ exec: r.info, stdout: r.stdoutOffset, stderr: r.stderrOffset }, [r.stdout, r.stderr]);
      }
      case 'exec.stdin': {
        const a = rawArgs as OpArgs<'exec.stdin'>;
        this.commandOf(caller, a.exec);
        return ok({ bytes: this.exec.stdin(a.exec, frames[0] ?? Buffer.alloc(0), a.eof) });
      }
      case 'exec.kill': {
        const a = rawArgs as OpArgs<'exec.kill'>;
        this.commandOf(caller, a.exec);
        this.exec.kill(a.exec, a.signal as SignalName);
        return ok({});
      }
      case 'exec.list': {
        const a = rawArgs as OpArgs<'exec.list'>;
        await this.deps.sessionRoot(a.name); // ENOSESSION for a session that does not exist
        const mine = this.exec.list(a.name).filter((e) => caller.limits.allow.includes('admin') || this.exec.get(e.id)?.owner === caller.key);
        return ok({ execs: mine });
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

  private auditExit(info: ExecInfo, owner: string, session: string, bytes: number): void {
    const r = info.result;
    const who = this.starters.get(info.id) ?? '';
    this.starters.delete(info.id);
    const entry: AuditEntry = {
      time: new Date().toISOString(), key: owner, who, session, op: 'exec', argv: info.argv, result: 'OK',
      exitCode: r?.exitCode ?? null, signal: r?.signal ?? null, timedOut: r?.timedOut ?? false, bytes, durationMs: r?.durationMs ?? 0,
    };
    try {
      this.deps.audit.append(entry);
    } catch (err) {
      this.deps.log('could not write the audit log', { err: String(err) });
    }
  }

  /** A connection went away: its uploads are aborted and its watches closed (its commands run on). */
  async dropClient(client: string): Promise<void> {
    await this.fs.dropOwner(client);
  }

  async dispose(): Promise<void> {
    await this.exec.dispose();
    await this.fs.dispose();
  }
}
