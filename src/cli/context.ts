/**
 * What a command handler gets: the environment, its streams, and a way to
 * reach the server. Tests of handlers can supply their own.
 */
import { runtimeDir, runtimePaths, type RuntimePaths } from '../common/paths.js';
import { matchNames, withPrefix, validateSessionName, sessionNotFound } from '../common/names.js';
import type { Connection } from '../client/connection.js';
import { Hosts } from '../client/hosts.js';
import { UsageError } from './usage-error.js';

/** zmx's name for the error of a command given no session name. */
export const SESSION_NAME_REQUIRED = 'SessionNameRequired';

export class Context {
  readonly env: NodeJS.ProcessEnv;
  readonly stdout: NodeJS.WriteStream;
  readonly stderr: NodeJS.WriteStream;
  readonly stdin: NodeJS.ReadStream;
  readonly paths: RuntimePaths;
  /** The remote host commands act on (`-H NAME` or ZMX_HOST); null: this machine's server. */
  host: string | null;
  private connections: Connection[] = [];

  constructor(env: NodeJS.ProcessEnv = process.env) {
    this.env = env;
    this.stdout = process.stdout;
    this.stderr = process.stderr;
    this.stdin = process.stdin;
    this.paths = runtimePaths(runtimeDir(env));
    this.host = env['ZMX_HOST'] || null;
  }

  /** Connects to the server; with spawn false, null means no server and so no sessions. */
  async connect(spawn: boolean): Promise<Connection | null> {
    // Loaded here, not at the top: commands that reach no server (--version,
    // help, keys, config) start without the client's codec and zeromq.
    const { Connection } = await import('../client/connection.js');
    // A remote server is never started from here: it runs, or the command says it cannot reach it.
    const conn = this.host ? await Connection.remote(new Hosts().get(this.host)) : await Connection.local({ spawn, paths: this.paths });
    if (conn) this.connections.push(conn);
    return conn;
  }

  /** Like connect, but a missing server means the session does not exist. */
  async connectFor(name: string): Promise<Connection> {
    const conn = await this.connect(false);
    if (!conn) throw sessionNotFound(name);
    return conn;
  }

  /**
   * Session names and prefix patterns (`"d.*"`) as typed, matched against the
   * server's sessions. With no server, nothing matches.
   */
  async matchSessions(patterns: readonly string[]): Promise<{ conn: Connection | null; matched: string[]; missing: string[] }> {
    const conn = await this.connect(false);
    const names = conn ? (await conn.request('session.list', {})).result.sessions.map((s) => s.name) : [];
    return { conn, ...matchNames(patterns.map((p) => withPrefix(p, this.env)), names) };
  }

  /**
   * A session name as typed: "." means this session ($ZMX_SESSION);
   * ZMX_SESSION_PREFIX is put before it.
   */
  sessionName(raw: string | undefined, what = 'a session name'): string {
    if (raw === undefined || raw === '' || raw === '.') {
      const current = this.env['ZMX_SESSION'];
      if (current) return current;
      if (raw === '.') throw new UsageError('"." requires ZMX_SESSION (are you inside a zmx session?)');
      // zmx's error name leads, for scripts written against zmx.
      throw new UsageError(`${SESSION_NAME_REQUIRED}: ${what} is required (or "." inside a session)`);
    }
    return validateSessionName(withPrefix(raw, this.env));
  }

  /**
   * A pane as tmux targets it: `NAME`, `NAME:W` or `NAME:W.P` (window and
   * pane numbers from 0; the active ones when left out). A name that itself
   * contains ':' still works when what follows is not numbers.
   */
  paneTarget(raw: string | undefined): { name: string; window: number | null; pane: number | null } {
    const m = raw === undefined ? null : /^(.*):(\d+)(?:\.(\d+))?$/.exec(raw);
    if (!m) return { name: this.sessionName(raw), window: null, pane: null };
    return { name: this.sessionName(m[1]), window: Number(m[2]), pane: m[3] === undefined ? null : Number(m[3]) };
  }

  out(text: string): void {
    this.stdout.write(text);
  }

  err(text: string): void {
    this.stderr.write(text);
  }

  /** Reads all of stdin (used when a command's text comes from a pipe). */
  async readStdin(): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for await (const chunk of this.stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  }

  get stdinIsTTY(): boolean {
    return Boolean(this.stdin.isTTY);
  }

  async dispose(): Promise<void> {
    await Promise.all(this.connections.map((c) => c.close()));
    this.connections = [];
  }
}
