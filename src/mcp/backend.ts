/**
 * What the MCP tools and resources need from zmx (`Backend`), made from one
 * Connection to the local or a remote server, and `LazyBackend`, which
 * opens it on first use and again after it failed. No MCP SDK here: the CLI
 * loads this while the SDK is still loading (src/mcp/run.ts).
 */
import { ZmxError, toZmxError } from '../common/errors.js';
import type { ExecInfo } from '../common/portal.js';
import type { SessionInfo } from '../common/protocol.js';
import type { Connection } from '../client/connection.js';
import { PortalClient } from '../client/portal.js';
import { PaneMirrors, type PaneSource } from './panes.js';

/** One answer of exec.read: the output from `from` on, and the command as it is now. */
export interface ExecRead {
  info: ExecInfo;
  /** Where `stdout` and `stderr` start (past `at` when the server no longer held the bytes asked for). */
  from: { stdout: number; stderr: number };
  stdout: Buffer;
  stderr: Buffer;
}

/** What the tools need from zmx: the portal on the session, and its terminal. A fake stands in for tests. */
export interface Backend {
  readonly portal: Pick<PortalClient, 'readRange' | 'readFiles' | 'write' | 'edit' | 'list' | 'grep' | 'execStart' | 'kill'>;
  sessions(): Promise<SessionInfo[]>;
  /** Bytes to the session's active pane, as if typed. */
  send(data: Buffer): Promise<void>;
  /** The active pane's screen, as text. */
  capture(): Promise<string>;
  /** The active pane's scrollback and screen, as text. */
  history(): Promise<string>;
  /** A command's output from byte offsets `at`, waiting up to `waitMs` when there is none yet. */
  execRead(id: number, at: { stdout: number; stderr: number }, waitMs: number): Promise<ExecRead>;
  /** Any pane of any session, read or followed (resources). */
  readonly panes: PaneSource;
}

/** An open backend and how to end it. */
export interface OpenedBackend {
  backend: Backend;
  /** Set once the link can no longer serve (a revoked key...): the next call opens a new one. */
  failed(): boolean;
  close(): Promise<void>;
}

/** The Backend of a Connection, acting on `session`. */
export function connectionBackend(conn: Connection, session: string): OpenedBackend {
  const text = (frames: Buffer[]) => (frames[0] ?? Buffer.alloc(0)).toString('utf8');
  const panes = new PaneMirrors(conn);
  return {
    backend: {
      portal: new PortalClient(conn, session),
      sessions: async () => (await conn.request('session.list', {})).result.sessions,
      send: async (data) => { await conn.request('session.send', { name: session }, [data]); },
      capture: async () => text((await conn.request('pane.capture', { name: session, window: null, pane: null, escapes: false })).frames),
      history: async () => text((await conn.request('session.history', { name: session, format: 'text' })).frames),
      execRead: async (id, at, waitMs) => {
        // The reply comes after the wait: allow for it on top of a plain request's timeout.
        const r = await conn.request('exec.read', { exec: id, stdout: at.stdout, stderr: at.stderr, waitMs, max: 0 }, [], { timeoutMs: waitMs + EXEC_READ_GRACE_MS });
        return { info: r.result.exec, from: { stdout: r.result.stdout, stderr: r.result.stderr }, stdout: r.frames[0] ?? Buffer.alloc(0), stderr: r.frames[1] ?? Buffer.alloc(0) };
      },
      panes,
    },
    failed: () => conn.failed !== null,
    close: async () => {
      panes.dispose();
      await conn.close();
    },
  };
}

/** How much longer than its wait an exec.read may take to answer before it is given up. */
const EXEC_READ_GRACE_MS = 15_000;

/**
 * One backend, opened on first use and shared by every call; opened again
 * after a failure. A failure to open is EUNAVAIL (EDENIED and EVERSION say
 * more as they are).
 */
export class LazyBackend {
  private pending: Promise<OpenedBackend> | null = null;
  /** The backend `pending` gave, once it did: most calls take it from here, without awaiting anything. */
  private current: OpenedBackend | null = null;
  private disposed = false;

  /** `first`, when given, is an open already under way (started before the MCP SDK loaded). */
  constructor(private readonly open: () => Promise<OpenedBackend>, first?: Promise<OpenedBackend>) {
    if (first) {
      first.catch(() => {});
      this.pending = first;
    }
  }

  async get(): Promise<Backend> {
    if (this.disposed) throw new ZmxError('EUNAVAIL', 'the MCP server is shutting down');
    if (this.current && !this.current.failed()) return this.current.backend;
    this.current = null;
    let p = this.pending;
    if (p) {
      const opened = await p.catch(() => null);
      if (opened && !opened.failed()) return opened.backend;
      if (this.pending === p) {
        this.pending = null;
        await opened?.close().catch(() => {});
      }
    }
    p = this.pending ?? (this.pending = this.open());
    try {
      const opened = await p;
      if (this.pending === p) this.current = opened;
      return opened.backend;
    } catch (err) {
      if (this.pending === p) this.pending = null;
      const e = toZmxError(err);
      if (e.code === 'EDENIED' || e.code === 'EVERSION' || e.code === 'EUNAVAIL') throw e;
      throw new ZmxError('EUNAVAIL', `cannot reach the zmx server: ${e.message}`);
    }
  }

  async dispose(): Promise<void> {
    this.disposed = true;
    const p = this.pending;
    this.pending = null;
    this.current = null;
    const opened = p ? await p.catch(() => null) : null;
    await opened?.close();
  }
}
