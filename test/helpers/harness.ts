/**
 * Test harness for black-box and transport tests: a private ZMX_DIR and
 * config dir per test, the real `zmx` executable, a private tmux server to
 * read screens, and cleanup that ends every process by pid.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** rmSync retries of a sandbox that exiting shells still write into, and the pause between them. */
const CLEANUP_RM_RETRIES = 10;
const CLEANUP_RM_RETRY_MS = 50;
/** Times cleanup stops the servers and removes the sandbox before giving up (a dying client may have started another server). */
const CLEANUP_ROUNDS = 3;

export const ROOT = resolve(fileURLToPath(new URL('../../../', import.meta.url)));
export const ZMX_BIN = join(ROOT, 'bin', 'zmx');

export interface RunResult {
  status: number;
  stdout: string;
  stderr: string;
}

/** Polls `check` until it returns a truthy value (for state with no event to await). */
export async function until<T>(check: () => T | Promise<T>, what: string, timeoutMs = 10_000, everyMs = 25): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
      last = v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (last: ${String(last)})`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

function pidOf(path: string): number | null {
  try {
    const pid = Number(readFileSync(path, 'utf8').trim());
    return pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

export function alive(pid: number | null): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export class Sandbox {
  readonly base: string;
  readonly dir: string;
  readonly configDir: string;
  readonly home: string;
  readonly env: NodeJS.ProcessEnv;
  private readonly children = new Set<ChildProcess>();
  private tmuxSocket: string | null = null;
  /** Every server pid seen, so cleanup ends them even after restarts. */
  private readonly serverPids = new Set<number>();

  constructor(extraEnv: NodeJS.ProcessEnv = {}) {
    this.base = mkdtempSync(join(tmpdir(), 'zmx-t-'));
    this.dir = join(this.base, 'run');
    this.configDir = join(this.base, 'config');
    this.home = join(this.base, 'home');
    spawnSync('mkdir', ['-p', this.home]);
    this.env = {
      PATH: process.env['PATH'],
      HOME: this.home,
      SHELL: '/bin/bash',
      TERM: 'xterm-256color',
      LANG: process.env['LANG'] ?? 'C.UTF-8',
      ZMX_DIR: this.dir,
      ZMX_CONFIG_DIR: this.configDir,
      ZMX_KEYRING: 'file',
      // `scripts/test.mjs --profile` counts CLI start-ups per test file (test/helpers/count-calls.ts).
      ...(process.env['ZMX_TEST_CALLS'] ? { ZMX_TEST_CALLS: process.env['ZMX_TEST_CALLS'], NODE_OPTIONS: process.env['NODE_OPTIONS'] } : {}),
      ...extraEnv,
    };
  }

  /** Runs zmx to completion. */
  zmx(args: string[], opts: { input?: string | Buffer; env?: NodeJS.ProcessEnv; timeoutMs?: number; cwd?: string } = {}): Promise<RunResult> {
    return new Promise((resolvePromise, reject) => {
      const child = spawn(ZMX_BIN, args, { env: { ...this.env, ...opts.env }, stdio: ['pipe', 'pipe', 'pipe'], ...(opts.cwd ? { cwd: opts.cwd } : {}) });
      this.children.add(child);
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => { stdout += d; });
      child.stderr.on('data', (d) => { stderr += d; });
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`zmx ${args.join(' ')} did not finish in time; stdout=${stdout} stderr=${stderr}`));
      }, opts.timeoutMs ?? 30_000);
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        this.children.delete(child);
        this.notePids();
        resolvePromise({ status: code ?? (signal ? 128 : 1), stdout, stderr });
      });
      if (opts.input !== undefined) child.stdin.end(opts.input);
      else child.stdin.end();
    });
  }

  /** Starts zmx without waiting (e.g. tail); ended by cleanup. */
  start(args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
    const child = spawn(ZMX_BIN, args, { env: { ...this.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    this.children.add(child);
    child.on('close', () => this.children.delete(child));
    return child;
  }

  frontPid(): number | null {
    return pidOf(join(this.dir, 'front.pid'));
  }

  ptyhostPid(): number | null {
    return pidOf(join(this.dir, 'ptyhost.pid'));
  }

  notePids(): void {
    for (const p of [this.frontPid(), this.ptyhostPid()]) if (p) this.serverPids.add(p);
  }

  // ------------------------------------------------------------------ tmux

  /** A private tmux server; returns the target of a window running `command`. */
  tmuxStart(command: string, cols = 100, rows = 30): string {
    return this.tmuxNew('main', command, cols, rows);
  }

  /**
   * Another tmux session (a separate terminal of its own size) on the same
   * private tmux server, running `command` with the sandbox's environment.
   */
  tmuxNew(session: string, command: string, cols = 100, rows = 30): string {
    this.tmuxSocket ??= join(this.base, 'tmux.sock');
    const envArgs = Object.entries(this.env).filter(([, v]) => v !== undefined).map(([k, v]) => `${k}=${shellQuote(v!)}`).join(' ');
    const r = spawnSync('tmux', ['-S', this.tmuxSocket, '-f', '/dev/null', 'new-session', '-d', '-s', session, '-x', String(cols), '-y', String(rows), `env -i ${envArgs} ${command}; sleep 600`], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`tmux failed: ${r.stderr}`);
    return session;
  }

  /** The pid of the zmx client running in a tmux pane (a child of the pane's shell), or null once it has exited. */
  paneClientPid(target = 'main'): number | null {
    const r = spawnSync('pgrep', ['-P', String(this.panePid(target))], { encoding: 'utf8' });
    for (const pid of r.stdout.split('\n').map(Number).filter((p) => p > 0)) {
      try {
        if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(ZMX_BIN)) return pid;
      } catch { /* exited meanwhile */ }
    }
    return null;
  }

  tmux(...args: string[]): string {
    if (!this.tmuxSocket) throw new Error('tmux not started');
    const r = spawnSync('tmux', ['-S', this.tmuxSocket, ...args], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`tmux ${args.join(' ')} failed: ${r.stderr}`);
    return r.stdout;
  }

  /** The screen of a tmux pane; with `escapes`, colours and attributes too. */
  capture(target = 'main', escapes = false): string {
    return this.tmux('capture-pane', '-p', ...(escapes ? ['-e'] : []), '-t', target);
  }

  /** The pid of the process running in a tmux pane. */
  panePid(target = 'main'): number {
    return Number(this.tmux('display-message', '-p', '-t', target, '#{pane_pid}').trim());
  }

  async waitForScreen(pattern: RegExp | string, target = 'main', timeoutMs = 10_000): Promise<string> {
    return until(() => {
      const screen = this.capture(target);
      return (typeof pattern === 'string' ? screen.includes(pattern) : pattern.test(screen)) ? screen : '';
    }, `screen to show ${pattern}`, timeoutMs);
  }

  // --------------------------------------------------------------- cleanup

  async cleanup(): Promise<void> {
    for (const c of this.children) c.kill('SIGKILL');
    this.children.clear();
    if (this.tmuxSocket && existsSync(this.tmuxSocket)) spawnSync('tmux', ['-S', this.tmuxSocket, 'kill-server']);
    // A client dying with tmux may have noticed its link drop and started a
    // new server into ZMX_DIR meanwhile (ENOTEMPTY below): stop whatever
    // front.pid and ptyhost.pid name now, again, until the directory goes.
    for (let round = 1; ; round++) {
      await this.stopServers();
      try {
        // A shell the pty host hung up on may still be writing its history into
        // HOME (inside base) as it exits: rm retries a directory that refills.
        rmSync(this.base, { recursive: true, force: true, maxRetries: CLEANUP_RM_RETRIES, retryDelay: CLEANUP_RM_RETRY_MS });
        return;
      } catch (err) {
        if (round >= CLEANUP_ROUNDS) throw err;
      }
    }
  }

  private async stopServers(): Promise<void> {
    this.notePids();
    for (const pid of this.serverPids) {
      if (alive(pid)) {
        // The pty host ends its sessions on SIGTERM; SIGKILL would orphan the shells.
        try { process.kill(pid, 'SIGTERM'); } catch { /* gone */ }
      }
    }
    await until(() => [...this.serverPids].every((p) => !alive(p)), 'servers to exit', 10_000).catch(() => {
      for (const pid of this.serverPids) try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
    });
  }
}

/** `zmx list` lines as maps of their tab-separated key=value fields (the "→ " mark dropped). */
export function parseList(stdout: string): Record<string, string>[] {
  return stdout.split('\n').filter((l) => l.trim() !== '').map((line) => {
    const fields: Record<string, string> = {};
    for (const field of line.replace(/^(→ |  )/, '').split('\t')) {
      const eq = field.indexOf('=');
      if (eq > 0) fields[field.slice(0, eq)] = field.slice(eq + 1);
    }
    return fields;
  });
}

export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}
