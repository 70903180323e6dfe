/**
 * Process plumbing shared by the front and the pty host: one instance per
 * ZMX_DIR (a lock held as a listening unix socket, which the kernel releases
 * when the process dies, even by SIGKILL), pid files, and spawning a detached
 * daemon that reports readiness on a pipe.
 */
import { createServer, connect, type Server } from 'node:net';
import { closeSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { ZmxError } from '../common/errors.js';

/** What a daemon prints on stdout once it serves. */
export const READY_LINE = 'zmx-ready';

function probe(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect(path);
    sock.once('connect', () => { sock.destroy(); resolve(true); });
    sock.once('error', () => resolve(false));
  });
}

function listen(path: string): Promise<Server | NodeJS.ErrnoException> {
  return new Promise((resolve) => {
    const server = createServer((c) => c.destroy());
    server.once('error', (err) => resolve(err as NodeJS.ErrnoException));
    server.listen(path, () => resolve(server));
  });
}

/**
 * Takes the instance lock at `path`, or returns null when a live process
 * holds it. A lock left by a dead process is taken over.
 */
export async function acquireSingleton(path: string): Promise<Server | null> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const result = await listen(path);
    if (!(result instanceof Error)) {
      result.unref();
      return result;
    }
    if (result.code !== 'EADDRINUSE') throw result;
    if (await probe(path)) return null;
    rmSync(path, { force: true });
  }
  return null;
}

export function writePidFile(path: string): void {
  writeFileSync(path, `${process.pid}\n`, { mode: 0o600 });
}

export { readPid, isAlive } from '../common/pidfile.js';

/** Tells the parent we serve: one line on stdout, then stdout is closed. */
export function signalReady(): void {
  try {
    writeFileSync(1, READY_LINE + '\n');
  } catch {
    /* parent gone */
  }
  try {
    closeSync(1);
  } catch {
    /* already closed */
  }
  // Keep fd 1 taken (by /dev/null: the lowest free fd is the one opened):
  // a free fd 1 would be handed to the next pipe or pty, and libuv aborts
  // the process when asked to close an fd below 3 (as spawn does with its
  // pipes' far ends).
  try {
    const fd = openSync('/dev/null', 'w');
    if (fd !== 1) closeSync(fd);
  } catch {
    /* no /dev/null: fd 1 stays free */
  }
}

/**
 * V8 options for the server processes. A small young generation (semi-space
 * of 1 MiB instead of V8's 16 MiB) makes the garbage of pty traffic — short
 * Buffers and headers by the million — be collected before it can add tens
 * of megabytes to each process's resident memory; --expose-gc lets
 * src/platform/memory.ts collect the Buffers' outside bytes as they pass.
 */
export const DAEMON_NODE_OPTIONS = ['--max-semi-space-size=1', '--expose-gc'];

/**
 * ZMX_CPU_PROF=DIR (a developer's switch, see CONTRIBUTING.md): daemons run
 * under V8's profiler and write a .cpuprofile into DIR when they exit
 * (SIGTERM ends them cleanly). NODE_OPTIONS cannot carry --cpu-prof.
 */
function profileOptions(env: NodeJS.ProcessEnv): string[] {
  const dir = env['ZMX_CPU_PROF'];
  return dir ? ['--cpu-prof', `--cpu-prof-dir=${dir}`] : [];
}

/**
 * Starts `node script` detached (its own session, so it outlives the
 * caller), stderr to `logPath`, and waits for READY_LINE. Rejects with the
 * log's last line if the daemon exits or stays silent.
 */
export function spawnDaemon(script: string, logPath: string, timeoutMs: number, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const log = openSync(logPath, 'a', 0o600);
  const child = spawn(process.execPath, [...DAEMON_NODE_OPTIONS, ...profileOptions(env), script], { detached: true, stdio: ['ignore', 'pipe', log], env });
  closeSync(log);
  return new Promise((resolve, reject) => {
    let out = '';
    const fail = (why: string) => {
      clearTimeout(timer);
      child.stdout?.destroy();
      child.unref();
      let last = '';
      try {
        last = readFileSync(logPath, 'utf8').trim().split('\n').pop() ?? '';
      } catch { /* no log */ }
      reject(new ZmxError('EUNAVAIL', `${why}${last ? `: ${last}` : ''} (log: ${logPath})`));
    };
    const timer = setTimeout(() => fail('server did not start in time'), timeoutMs);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes(READY_LINE)) {
        clearTimeout(timer);
        child.stdout!.destroy();
        child.unref();
        resolve(child.pid!);
      }
    });
    child.once('exit', (code) => {
      if (!out.includes(READY_LINE)) fail(`server exited with code ${code}`);
    });
    child.once('error', (err) => fail(err.message));
  });
}
