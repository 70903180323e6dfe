/**
 * Where zmx keeps things. Run-time files (sockets, pid files, logs, state)
 * live under ZMX_DIR, so two values of it never see each other's sessions.
 * Keys and settings live in the config directory.
 */
import { mkdirSync, chmodSync, statSync } from 'node:fs';
import { homedir, userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import { ZmxError } from './errors.js';
import { isAlive, readPid } from './pidfile.js';

function uid(): number {
  return typeof process.getuid === 'function' ? process.getuid() : userInfo().uid;
}

/** Where systemd (pam_systemd) makes each user's run-time directory: /run/user/UID, theirs, mode 0700. */
export const USER_RUNTIME_BASE = '/run/user';

/** How the run-time directory was found, for messages that say where zmx looked. */
export type RuntimeDirSource = 'ZMX_DIR' | 'XDG_RUNTIME_DIR' | 'found';

export interface DiscoveryOptions {
  uid?: number;
  /** The parent of per-user run-time directories (tests point it elsewhere). */
  userRuntimeBase?: string;
  /** Whether a server (front or pty host) runs for a directory. */
  live?: (dir: string) => boolean;
}

/** Whether `dir` is a directory owned by `owner` with exactly `mode` (when given). */
function ownDir(dir: string, owner: number, mode?: number): boolean {
  try {
    const st = statSync(dir);
    return st.isDirectory() && st.uid === owner && (mode === undefined || (st.mode & 0o777) === mode);
  } catch {
    return false;
  }
}

/** A server runs for `dir`: its front's or its pty host's pid file names a live process. */
export function serverRuns(dir: string): boolean {
  const paths = runtimePaths(dir);
  return isAlive(readPid(paths.frontPid)) || isAlive(readPid(paths.ptyhostPid));
}

/**
 * The run-time directories a user's zmx may use when the environment names
 * none, most preferred first: $XDG_RUNTIME_DIR's usual place (only when
 * /run/user/UID exists as systemd makes it: ours, mode 0700), then
 * /tmp/zmx-UID.
 */
export function runtimeDirCandidates(opts: DiscoveryOptions = {}): string[] {
  const id = opts.uid ?? uid();
  const userDir = join(opts.userRuntimeBase ?? USER_RUNTIME_BASE, String(id));
  return [...(ownDir(userDir, id, 0o700) ? [join(userDir, 'zmx')] : []), `/tmp/zmx-${id}`];
}

/**
 * The run-time directory and how it was found: ZMX_DIR, else
 * $XDG_RUNTIME_DIR/zmx. With neither (cron, systemd units, IDE tasks, MCP
 * clients that start servers with a minimal environment), the first of the
 * candidates whose server runs — so such a process finds the sessions a
 * login shell made, wherever they are — else the first candidate, where a
 * login shell would make them. Both running: /run/user/UID/zmx, a login
 * shell's.
 */
export function findRuntimeDir(env: NodeJS.ProcessEnv = process.env, opts: DiscoveryOptions = {}): { dir: string; source: RuntimeDirSource } {
  if (env['ZMX_DIR']) return { dir: resolve(env['ZMX_DIR']), source: 'ZMX_DIR' };
  if (env['XDG_RUNTIME_DIR']) return { dir: join(env['XDG_RUNTIME_DIR'], 'zmx'), source: 'XDG_RUNTIME_DIR' };
  const id = opts.uid ?? uid();
  const live = opts.live ?? ((dir: string) => ownDir(dir, id) && serverRuns(dir));
  const candidates = runtimeDirCandidates({ ...opts, uid: id });
  return { dir: candidates.find(live) ?? candidates[0]!, source: 'found' };
}

/** The run-time directory (see findRuntimeDir). */
export function runtimeDir(env: NodeJS.ProcessEnv = process.env): string {
  return findRuntimeDir(env).dir;
}

/** Says where zmx looked for a server and how to look elsewhere: for "no server" messages. */
export function whereLooked(env: NodeJS.ProcessEnv = process.env): string {
  const { dir, source } = findRuntimeDir(env);
  const why = source === 'found' ? 'neither ZMX_DIR nor XDG_RUNTIME_DIR is set' : `from ${source}`;
  return `looked in ${dir} (${why}); if the server runs elsewhere, set ZMX_DIR to its run-time directory`;
}

/** ZMX_CONFIG_DIR, else $XDG_CONFIG_HOME/zmx, else ~/.config/zmx. */
export function configDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env['ZMX_CONFIG_DIR']) return resolve(env['ZMX_CONFIG_DIR']);
  const base = env['XDG_CONFIG_HOME'] || join(env['HOME'] || homedir(), '.config');
  return join(base, 'zmx');
}

/** Creates dir (and parents) with mode 0700 and tightens it if it exists looser. */
export function ensurePrivateDir(dir: string): string {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const mode = statSync(dir).mode & 0o777;
  if (mode !== 0o700) chmodSync(dir, 0o700);
  return dir;
}

/**
 * Sub-directories of the state directory ($ZMX_DIR/state) that hold a
 * session's files, each named by the session's encodeName: copy snapshots
 * (<name>/<label>/...) and portal panes' MCP configurations (<name>.mcp.json).
 */
export const STATE_DIRS = { snapshots: 'snapshots', portal: 'portal' } as const;

export interface RuntimePaths {
  dir: string;
  frontEndpoint: string;
  ptyhostEndpoint: string;
  /** The pty host's endpoint for local clients' direct streams (docs/protocol.md, "Direct streams"). */
  directEndpoint: string;
  frontPid: string;
  ptyhostPid: string;
  frontLock: string;
  ptyhostLock: string;
  frontLog: string;
  ptyhostLog: string;
  /** The TCP addresses the front listens on besides its IPC socket (`zmx server start --listen`). */
  listenFile: string;
  /** The portal's audit log: one JSON line per operation (zmx audit reads it). */
  auditLog: string;
  /** Copy snapshots, portal MCP configurations, the audit log ($ZMX_DIR/state). */
  stateDir: string;
}

/** sun_path holds 108 bytes on Linux, the last for a NUL. */
const MAX_SOCKET_PATH = 107;
/** The longest socket file name zmx puts in the run-time directory. */
const LONGEST_SOCKET_NAME = 'ptyhost.lock';

/** Throws a clear EINVAL when ZMX_DIR is too long to hold unix sockets. */
export function checkSocketDir(dir: string): void {
  const longest = Buffer.byteLength(join(dir, LONGEST_SOCKET_NAME));
  if (longest > MAX_SOCKET_PATH) {
    throw new ZmxError('EINVAL', `run-time directory path is too long for sockets (${longest} bytes, max ${MAX_SOCKET_PATH}): ${dir}; set ZMX_DIR to a shorter path`);
  }
}

export function runtimePaths(dir = runtimeDir()): RuntimePaths {
  return {
    dir,
    frontEndpoint: `ipc://${join(dir, 'front.sock')}`,
    ptyhostEndpoint: `ipc://${join(dir, 'ptyhost.sock')}`,
    directEndpoint: `ipc://${join(dir, 'direct.sock')}`,
    frontPid: join(dir, 'front.pid'),
    ptyhostPid: join(dir, 'ptyhost.pid'),
    frontLock: join(dir, 'front.lock'),
    ptyhostLock: join(dir, 'ptyhost.lock'),
    frontLog: join(dir, 'front.log'),
    ptyhostLog: join(dir, 'ptyhost.log'),
    listenFile: join(dir, 'listen.json'),
    auditLog: join(dir, 'state', 'audit.log'),
    stateDir: join(dir, 'state'),
  };
}
