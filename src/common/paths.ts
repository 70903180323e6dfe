/**
 * Where zmx keeps things. Run-time files (sockets, pid files, logs, state)
 * live under ZMX_DIR, so two values of it never see each other's sessions.
 * Keys and settings live in the config directory.
 */
import { mkdirSync, chmodSync, statSync } from 'node:fs';
import { homedir, userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import { ZmxError } from './errors.js';

function uid(): number {
  return typeof process.getuid === 'function' ? process.getuid() : userInfo().uid;
}

/** ZMX_DIR, else $XDG_RUNTIME_DIR/zmx, else /tmp/zmx-UID. */
export function runtimeDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env['ZMX_DIR']) return resolve(env['ZMX_DIR']);
  if (env['XDG_RUNTIME_DIR']) return join(env['XDG_RUNTIME_DIR'], 'zmx');
  return `/tmp/zmx-${uid()}`;
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
  };
}
