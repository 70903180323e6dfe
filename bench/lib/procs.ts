/**
 * Processes and temp dirs the bench makes, each ended or removed by the
 * cleanup stack: in reverse order, on success, failure and SIGINT alike.
 */
import { spawn, type SpawnOptions } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** How long a process gets to exit after SIGTERM before SIGKILL. */
const TERM_GRACE_MS = 3_000;
/** Polling step while waiting for a state no event reports (a pid gone, a file there). */
const POLL_MS = 20;
/** rm retries for a dir that exiting shells still write into, and the pause between them. */
const RM_RETRIES = 10;
const RM_RETRY_MS = 50;
/** A helper command taking longer than this is killed and reported. */
export const DEFAULT_RUN_TIMEOUT_MS = 60_000;

type Disposer = () => void | Promise<void>;

/** A stack of things to undo; `close()` runs them newest first and never throws. */
export class Cleanup {
  private readonly stack: { what: string; fn: Disposer }[] = [];

  defer(what: string, fn: Disposer): void {
    this.stack.push({ what, fn });
  }

  /** A stack of its own, closed when this one is if it is still open then (a round's processes end with the run on SIGINT). */
  child(): Cleanup {
    const c = new Cleanup();
    this.defer('nested cleanup', async () => {
      const errors = await c.close();
      if (errors.length > 0) throw new Error(errors.join('; '));
    });
    return c;
  }

  async close(): Promise<string[]> {
    const errors: string[] = [];
    while (this.stack.length > 0) {
      const { what, fn } = this.stack.pop()!;
      try {
        await fn();
      } catch (err) {
        errors.push(`${what}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    return errors;
  }
}

/** A fresh temp dir under the system's, removed at cleanup. */
export function tempDir(cleanup: Cleanup, prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  cleanup.defer(`rm ${dir}`, () => rmSync(dir, { recursive: true, force: true, maxRetries: RM_RETRIES, retryDelay: RM_RETRY_MS }));
  return dir;
}

export interface RunResult {
  status: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion (killed by pid past `timeoutMs`). */
export function run(file: string, args: string[], opts: { env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number; cwd?: string } = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    const spawnOpts: SpawnOptions = { env: opts.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] };
    if (opts.cwd) spawnOpts.cwd = opts.cwd;
    let child;
    try {
      child = spawn(file, args, spawnOpts);
    } catch (err) {
      resolve({ status: 127, stdout: '', stderr: String(err) });
      return;
    }
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
    const timer = setTimeout(() => { if (child.pid) killPid(child.pid, 'SIGKILL'); stderr += `\n(killed after ${opts.timeoutMs ?? DEFAULT_RUN_TIMEOUT_MS} ms)`; }, opts.timeoutMs ?? DEFAULT_RUN_TIMEOUT_MS);
    child.on('error', (err) => { clearTimeout(timer); resolve({ status: 127, stdout, stderr: stderr + String(err) }); });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ status: code ?? (signal ? 128 : 1), stdout, stderr });
    });
    child.stdin!.on('error', () => { /* the command did not read its input */ });
    child.stdin!.end(opts.input ?? '');
  });
}

/** Like run, but a non-zero status throws with the command's stderr. */
export async function runOk(file: string, args: string[], opts: Parameters<typeof run>[2] = {}): Promise<string> {
  const r = await run(file, args, opts);
  if (r.status !== 0) throw new Error(`${file} ${args.join(' ')} failed (${r.status}): ${(r.stderr || r.stdout).trim().split('\n').slice(-3).join(' | ')}`);
  return r.stdout;
}

export function alive(pid: number | null | undefined): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    // A zombie is gone for our purposes.
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
}

export function killPid(pid: number, signal: NodeJS.Signals = 'SIGTERM'): void {
  try { process.kill(pid, signal); } catch { /* already gone */ }
}

/** SIGTERM, then SIGKILL for any still alive after the grace period. */
export async function stopPids(pids: readonly number[]): Promise<void> {
  const live = pids.filter((p) => alive(p));
  for (const p of live) killPid(p, 'SIGTERM');
  const deadline = Date.now() + TERM_GRACE_MS;
  while (live.some((p) => alive(p)) && Date.now() < deadline) await sleep(POLL_MS);
  for (const p of live) if (alive(p)) killPid(p, 'SIGKILL');
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `check` until truthy (for state with no event), failing after `timeoutMs`. */
export async function until<T>(check: () => T | Promise<T>, what: string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(POLL_MS);
  }
}

export function readPidFile(path: string): number | null {
  try {
    const pid = Number(readFileSync(path, 'utf8').trim());
    return pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

/** VmRSS of a process in KiB (0 when it is gone). */
export function rssKiB(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** Pss of a process in KiB, from /proc/PID/smaps_rollup: pages shared with other processes counted by share (0 when it is gone). */
export function pssKiB(pid: number): number {
  try {
    const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** Pids whose parent is `pid` (from /proc/N/stat: the field after the command's closing parenthesis). */
export function childPids(pid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(entry));
    } catch { /* exited meanwhile */ }
  }
  return out;
}

/** Pids whose command line contains every one of `needles` (e.g. a daemon that left no pid file). */
export function pidsMatching(...needles: string[]): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const cmd = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (needles.every((n) => cmd.includes(n))) out.push(Number(entry));
    } catch { /* exited meanwhile */ }
  }
  return out;
}

/** A free TCP port on loopback (the kernel's choice). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export function hrms(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}
