/**
 * What a server that died without cleaning up (SIGKILL, OOM, a crash) leaves
 * in its run-time directory: sockets, locks and pid files, and the state
 * kept for its sessions. `zmx kill --force` removes them, as zmx removes a
 * dead session's socket; nothing is removed while any server process lives.
 */
import { connect } from 'node:net';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { isAlive, readPid } from '../common/pidfile.js';
import { encodeName } from '../common/names.js';
import { STATE_DIRS, type RuntimePaths } from '../common/paths.js';

/** Whether something listens on the unix socket at `path` (a live instance lock). */
function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect(path);
    sock.once('connect', () => { sock.destroy(); resolve(true); });
    sock.once('error', () => resolve(false));
  });
}

/** The files a server's two processes keep in the run-time directory while they run. */
function serverFiles(paths: RuntimePaths): string[] {
  const ipc = (endpoint: string) => endpoint.replace(/^ipc:\/\//, '');
  return [ipc(paths.frontEndpoint), ipc(paths.ptyhostEndpoint), ipc(paths.directEndpoint), paths.frontLock, paths.ptyhostLock, paths.frontPid, paths.ptyhostPid];
}

/** The state a server kept for session `name`. */
function sessionFiles(paths: RuntimePaths, name: string): string[] {
  const file = encodeName(name);
  return [join(paths.stateDir, STATE_DIRS.snapshots, file), join(paths.stateDir, STATE_DIRS.portal, `${file}.mcp.json`)];
}

/** Whether a process of the server still lives: its pid file names a live process, or its lock answers. */
export async function serverAlive(paths: RuntimePaths): Promise<boolean> {
  if (isAlive(readPid(paths.frontPid)) || isAlive(readPid(paths.ptyhostPid))) return true;
  return (await answers(paths.frontLock)) || (await answers(paths.ptyhostLock));
}

/**
 * Removes what a dead server left: its sockets, locks and pid files, and
 * the state of the sessions `names`. Returns the paths removed (none when a
 * server process lives: then nothing is stale).
 */
export async function removeStale(paths: RuntimePaths, names: readonly string[]): Promise<{ server: string[]; sessions: Map<string, string[]> }> {
  const sessions = new Map<string, string[]>();
  if (await serverAlive(paths)) return { server: [], sessions };
  const remove = (list: string[]) => list.filter((p) => existsSync(p)).map((p) => { rmSync(p, { recursive: true, force: true }); return p; });
  for (const name of names) sessions.set(name, remove(sessionFiles(paths, name)));
  return { server: remove(serverFiles(paths)), sessions };
}

/** Whether a dead server left files behind (and no server process lives). */
export async function staleLeft(paths: RuntimePaths): Promise<boolean> {
  return serverFiles(paths).some((p) => existsSync(p)) && !(await serverAlive(paths));
}
