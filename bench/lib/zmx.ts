/**
 * A private zmx for the bench: its own ZMX_DIR, ZMX_CONFIG_DIR and HOME in a
 * temp dir, the real bin/zmx, and an end by pid (front and pty host, from
 * the pid files) at cleanup — `zmx server stop` stops only the front.
 */
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runtimePaths, type RuntimePaths } from '../../src/common/paths.js';
import { Connection } from '../../src/client/connection.js';
import { KeyStore } from '../../src/platform/keystore.js';
import { Cleanup, pssKiB, readPidFile, rssKiB, run, runOk, stopPids, tempDir } from './procs.js';

export const ROOT = resolve(fileURLToPath(new URL('../../../', import.meta.url)));
/** The zmx measured: this checkout's, or another build's bin/zmx named by ZMX_BENCH_BIN (e.g. one with newer commands). */
export const ZMX_BIN = process.env['ZMX_BENCH_BIN'] ? resolve(process.env['ZMX_BENCH_BIN']) : join(ROOT, 'bin', 'zmx');
/** The checkout that zmx is built from (for its version). */
export const ZMX_ROOT = dirname(dirname(ZMX_BIN));

/**
 * Lines of history every contender keeps: zmx's servers are set to it (its
 * own default, history-limit 2,000, would hold less than the 3,000- and
 * 10,000-line panes the measures print), the peers are configured to it
 * (bench/lib/peers.ts), so all hold the same history.
 */
export const BENCH_HISTORY_LINES = 10_000;

/** The environment every contender's processes get: a private HOME, a plain shell and terminal. */
export function baseEnv(home: string): NodeJS.ProcessEnv {
  return {
    PATH: process.env['PATH'],
    HOME: home,
    SHELL: '/bin/bash',
    TERM: 'xterm-256color',
    LANG: process.env['LANG'] ?? 'C.UTF-8',
  };
}

export class Zmx {
  readonly base: string;
  readonly home: string;
  readonly env: NodeJS.ProcessEnv;
  readonly paths: RuntimePaths;
  private readonly seen = new Set<number>();
  private conn: Connection | null = null;
  private historyLimitSet = false;

  constructor(readonly cleanup: Cleanup, label: string) {
    // Short: ZMX_DIR holds unix sockets (108-byte paths).
    this.base = tempDir(cleanup, `zb-${label}-`);
    this.home = join(this.base, 'home');
    mkdirSync(this.home);
    this.env = {
      ...baseEnv(this.home),
      ZMX_DIR: join(this.base, 'run'),
      ZMX_CONFIG_DIR: join(this.base, 'config'),
      ZMX_KEYRING: 'file',
    };
    this.paths = runtimePaths(this.env['ZMX_DIR']!);
    cleanup.defer(`zmx server in ${this.base}`, () => this.stop());
  }

  zmx(args: string[], input?: string) {
    return run(ZMX_BIN, args, { env: this.env, cwd: this.home, ...(input === undefined ? {} : { input }) });
  }

  async zmxOk(args: string[], input?: string): Promise<string> {
    return runOk(ZMX_BIN, args, { env: this.env, cwd: this.home, ...(input === undefined ? {} : { input }) });
  }

  /** Starts the server (optionally listening on TCP) and notes its pids. */
  async start(listen?: string): Promise<string> {
    if (!this.historyLimitSet) await this.setHistoryLimit(BENCH_HISTORY_LINES);
    const out = await this.zmxOk(['server', 'start', ...(listen ? ['--listen', listen] : [])]);
    this.notePids();
    return out;
  }

  notePids(): void {
    for (const p of this.pids()) this.seen.add(p);
  }

  /** Front and pty host pids now (from their pid files). */
  pids(): number[] {
    return [readPidFile(this.paths.frontPid), readPidFile(this.paths.ptyhostPid)].filter((p): p is number => p !== null);
  }

  /** Resident (VmRSS) and proportional (Pss) memory of front + pty host, KiB. */
  serverMemKiB(): { rss: number; pss: number } {
    const pids = this.pids();
    return { rss: pids.reduce((sum, p) => sum + rssKiB(p), 0), pss: pids.reduce((sum, p) => sum + pssKiB(p), 0) };
  }

  /**
   * Lines of history each pane keeps; set before start (the pty host reads
   * it when it starts). The setting is `history-limit`, `scrollback-lines`
   * in builds from before it was renamed.
   */
  async setHistoryLimit(lines: number): Promise<void> {
    this.historyLimitSet = true;
    if ((await this.zmx(['config', 'set', 'history-limit', String(lines)])).status === 0) return;
    await this.zmxOk(['config', 'set', 'scrollback-lines', String(lines)]);
  }

  /** A new in-process client of this server (the caller closes it). */
  async openConnection(): Promise<Connection> {
    const conn = await Connection.local({ spawn: false, paths: this.paths, keys: new KeyStore(join(this.env['ZMX_CONFIG_DIR']!, 'keys'), 'file') });
    if (!conn) throw new Error('zmx server is not running');
    return conn;
  }

  /** The in-process client this sandbox keeps (for making many sessions quickly). */
  async connection(): Promise<Connection> {
    this.conn ??= await this.openConnection();
    return this.conn;
  }

  /** Is `text` on the screen of session `name` (its active pane)? */
  async screenHas(name: string, text: string): Promise<boolean> {
    const r = await (await this.connection()).request('pane.capture', { name, window: null, pane: null, escapes: false });
    return (r.frames[0] ?? Buffer.alloc(0)).toString('utf8').includes(text);
  }

  /** Creates a detached session running `cmd` (argv), through the in-process client. */
  async create(name: string, cmd: string[], cols = 80, rows = 24): Promise<void> {
    const conn = await this.connection();
    await conn.request('session.create', { name, cmd, cwd: this.home, env: {}, cols, rows, ifMissing: false });
  }

  /** Ends the servers by pid: SIGTERM lets the pty host end its sessions. */
  async stop(): Promise<void> {
    if (this.conn) { await this.conn.close().catch(() => {}); this.conn = null; }
    this.notePids();
    // Pty host first would orphan nothing either way; stopping both at once keeps it short.
    await stopPids([...this.seen]);
    this.seen.clear();
  }
}

/** A client-only zmx sandbox paired with `server` (listening on `address`) as host `name`. */
export async function pairedClient(cleanup: Cleanup, server: Zmx, address: string, name: string): Promise<Zmx> {
  const client = new Zmx(cleanup, 'cl');
  const paired = await server.zmxOk(['pair']);
  const code = /pairing code (\S+)/.exec(paired)?.[1];
  if (!code) throw new Error(`zmx pair printed no code: ${paired}`);
  await client.zmxOk(['pair', name, address, code]);
  return client;
}
