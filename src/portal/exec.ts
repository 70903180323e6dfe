/**
 * The portal's command service (exec.start, exec.read, exec.stdin,
 * exec.kill, exec.list): commands run without a terminal, each in its own
 * process group, stdout and stderr kept apart and kept (the last
 * PORTAL.execKeepBytes of each) for readers that come and go by byte offset.
 *
 * A command has ended when its main process has exited and both its pipes
 * have closed, or PORTAL.execDrainMs after the exit if a background
 * grandchild still holds them (those grandchildren are left running; our
 * ends of the pipes are closed, so a later write of theirs gets EPIPE). A
 * command that was killed (timeout, exec.kill, dispose) ends only once its
 * whole process group is gone (zombies count as gone), or shortly after the
 * group was sent SIGKILL.
 *
 * A command that cannot be started is an error of start(), not a result:
 * argv[0] not found answers ENOENT "command not found: X", not executable
 * EACCES. The caller resolves the root and cwd (both absolute, real paths);
 * this service only checks that cwd is a directory inside the root.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdir, readFile, stat } from 'node:fs/promises';
import { relative, sep } from 'node:path';
import { PORTAL } from '../common/constants.js';
import { ZmxError, toZmxError } from '../common/errors.js';
import type { ExecInfo, ExecResult, SignalName } from '../common/portal.js';

export interface ExecStart {
  /** argv run directly (no shell); empty: `shell` is run by the shell instead. */
  argv: string[];
  /** A script for `<shellPath> -c`; '' when argv is given. */
  shell: string;
  /** The session's root, absolute and real (resolved by the caller). */
  rootDir: string;
  /** Absolute, resolved by the caller to a directory inside rootDir. */
  cwd: string;
  env: Record<string, string>;
  /** 0 = none; else the process group is killed at the deadline. */
  timeoutMs: number;
  /** Keep stdin open after stdinData for exec.stdin; false: closed at once. */
  stdin: boolean;
}

export interface ExecServiceOptions {
  /** The environment commands start from (default: this process's). */
  baseEnv?: NodeJS.ProcessEnv;
  /** The clock for `started` and `durationMs` (default Date.now). */
  now?: () => number;
  /** Runs `shell` scripts (default /bin/sh). */
  shellPath?: string;
  /** Overrides of PORTAL's bounds, for tests. */
  maxRunning?: number;
  keepBytes?: number;
  killGraceMs?: number;
  keepDoneMs?: number;
}

export interface ExecReadAnswer {
  /** `result` is set only once the command has ended and this answer reaches the end of both streams. */
  info: ExecInfo;
  stdout: Buffer;
  stderr: Buffer;
  /** The offset `stdout` starts at: the one asked for, or the oldest byte kept if that was dropped. */
  stdoutOffset: number;
  stderrOffset: number;
}

type ExitListener = (info: ExecInfo, owner: string, session: string, bytes: number) => void;

/** Signals that ask a command to end: SIGKILL follows them after the grace if its group is still alive. */
const TERMINATING: ReadonlySet<SignalName> = new Set<SignalName>(['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGQUIT']);

const EMPTY = Buffer.alloc(0);

/** One stream's output: absolute byte offsets since the start, the last `keep` bytes of it held. */
class Kept {
  /** Bytes ever received. */
  total = 0;
  /** Offset of the oldest byte held. */
  start = 0;
  /** Bytes were dropped that no read had reached. */
  lost = false;
  /** The furthest offset a read has answered up to. */
  private readTo = 0;
  private chunks: Buffer[] = [];
  private starts: number[] = [];
  /** Index of the first chunk still held (the ones before it are dropped). */
  private head = 0;

  constructor(private readonly keep: number) {}

  push(data: Buffer): void {
    if (data.length === 0) return;
    this.chunks.push(data);
    this.starts.push(this.total);
    this.total += data.length;
    const min = this.total - this.keep;
    if (min <= this.start) return;
    if (min > this.readTo) this.lost = true;
    while (this.head < this.chunks.length && this.starts[this.head]! + this.chunks[this.head]!.length <= min) {
      this.chunks[this.head] = EMPTY;
      this.head++;
    }
    const first = this.chunks[this.head];
    if (first && this.starts[this.head]! < min) {
      this.chunks[this.head] = first.subarray(min - this.starts[this.head]!);
      this.starts[this.head] = min;
    }
    this.start = min;
    if (this.head > 1024 && this.head * 2 > this.chunks.length) {
      this.chunks.splice(0, this.head);
      this.starts.splice(0, this.head);
      this.head = 0;
    }
  }

  /** Up to `max` bytes from `from` (or from the oldest held byte if `from` was dropped). */
  slice(from: number, max: number): { offset: number; data: Buffer } {
    const begin = Math.max(from, this.start);
    const end = Math.min(this.total, begin + max);
    if (end <= begin) return { offset: begin, data: EMPTY };
    // The last chunk starting at or before `begin`.
    let lo = this.head;
    let hi = this.chunks.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid]! <= begin) lo = mid;
      else hi = mid - 1;
    }
    const parts: Buffer[] = [];
    for (let i = lo, at = begin; at < end && i < this.chunks.length; i++) {
      const chunk = this.chunks[i]!;
      const s = this.starts[i]!;
      const part = chunk.subarray(at - s, Math.min(chunk.length, end - s));
      parts.push(part);
      at += part.length;
    }
    this.readTo = Math.max(this.readTo, end);
    return { offset: begin, data: parts.length === 1 ? parts[0]! : Buffer.concat(parts) };
  }
}

interface Waiter {
  ready: () => boolean;
  done: () => void;
}

interface Command {
  id: number;
  owner: string;
  session: string;
  info: ExecInfo;
  child: ChildProcess;
  out: Kept;
  err: Kept;
  outClosed: boolean;
  errClosed: boolean;
  stdinOpen: boolean;
  exited: boolean;
  exitCode: number | null;
  exitSignal: string | null;
  exitedAt: number;
  /** The pipes' moment after the exit has passed. */
  drained: boolean;
  /** Asked to end (timeout, kill, dispose): the end waits for the group. */
  terminating: boolean;
  timedOut: boolean;
  killSent: boolean;
  groupGone: boolean;
  /** SIGKILL went to the group a while ago: stop waiting for it. */
  groupGaveUp: boolean;
  polling: boolean;
  result: ExecResult | null;
  timeoutTimer: NodeJS.Timeout | null;
  graceTimer: NodeJS.Timeout | null;
  drainTimer: NodeJS.Timeout | null;
  pollTimer: NodeJS.Timeout | null;
  giveUpTimer: NodeJS.Timeout | null;
  forgetTimer: NodeJS.Timeout | null;
  waiters: Set<Waiter>;
  ended: Promise<void>;
  markEnded: () => void;
}

export class ExecService {
  private readonly commands = new Map<number, Command>();
  private readonly listeners: ExitListener[] = [];
  private readonly baseEnv: NodeJS.ProcessEnv;
  private readonly now: () => number;
  private readonly shellPath: string;
  private readonly maxRunning: number;
  private readonly keepBytes: number;
  private readonly killGraceMs: number;
  private readonly keepDoneMs: number;
  private nextId = 1;
  private running = 0;
  /** start() calls past their checks but not yet running: they count against maxRunning. */
  private starting = 0;
  private disposed = false;

  constructor(opts: ExecServiceOptions = {}) {
    this.baseEnv = opts.baseEnv ?? process.env;
    this.now = opts.now ?? Date.now;
    this.shellPath = opts.shellPath ?? '/bin/sh';
    this.maxRunning = opts.maxRunning ?? PORTAL.execMaxRunning;
    this.keepBytes = opts.keepBytes ?? PORTAL.execKeepBytes;
    this.killGraceMs = opts.killGraceMs ?? PORTAL.execKillGraceMs;
    this.keepDoneMs = opts.keepDoneMs ?? PORTAL.execKeepDoneMs;
  }

  get runningCount(): number {
    return this.running;
  }

  onExit(listener: ExitListener): void {
    this.listeners.push(listener);
  }

  /**
   * Starts a command in its own process group. Throws EINVAL (no argv and no
   * shell, both, a bad timeout, cwd not a directory), ENOENT (cwd missing,
   * command not found), EACCES (not executable), EOUTSIDE (cwd not under
   * the root), ETOOBIG (PORTAL.execMaxRunning running already).
   */
  async start(owner: string, session: string, args: ExecStart, stdinData: Buffer | null): Promise<ExecInfo> {
    if (this.disposed) throw new ZmxError('EINVAL', 'the command service is shutting down; try again once the server is back');
    if (args.argv.length === 0 && args.shell === '') throw new ZmxError('EINVAL', 'nothing to run: give argv or a shell script');
    if (args.argv.length > 0 && args.shell !== '') throw new ZmxError('EINVAL', 'give argv or a shell script, not both');
    if (!Number.isSafeInteger(args.timeoutMs) || args.timeoutMs < 0) throw new ZmxError('EINVAL', `timeoutMs must be a whole number of milliseconds (0 = none), not ${args.timeoutMs}`);
    const rel = relative(args.rootDir, args.cwd);
    if (rel === '..' || rel.startsWith(`..${sep}`) || rel.startsWith(sep) || /^[a-zA-Z]:/.test(rel)) {
      throw new ZmxError('EOUTSIDE', `${args.cwd} is outside the root ${args.rootDir}; run in a directory under it`);
    }
    this.checkRoom();
    this.starting++;
    let child: ChildProcess;
    const argv = args.argv.length > 0 ? [...args.argv] : [this.shellPath, '-c', args.shell];
    try {
      await checkDir(args.cwd);
      if (this.disposed) throw new ZmxError('EINVAL', 'the command service is shutting down; try again once the server is back');
      const env: NodeJS.ProcessEnv = {};
      for (const [k, v] of Object.entries(this.baseEnv)) if (v !== undefined) env[k] = v;
      Object.assign(env, args.env, { ZMX_SESSION: session });
      try {
        child = spawn(argv[0]!, argv.slice(1), { cwd: args.cwd, env, detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
      } catch (err) {
        // Synchronous failures are bad arguments (a NUL byte in argv or env...).
        throw new ZmxError('EINVAL', `cannot start ${argv[0]}: ${(err as Error).message.split('\n')[0]}`);
      }
      const failure = await new Promise<NodeJS.ErrnoException | null>((resolve) => {
        child.once('spawn', () => resolve(null));
        child.once('error', (err) => resolve(err));
      });
      if (failure || child.pid === undefined) {
        for (const s of [child.stdin, child.stdout, child.stderr]) s?.destroy();
        throw spawnError(argv[0]!, failure);
      }
    } finally {
      this.starting--;
    }

    let markEnded!: () => void;
    const ended = new Promise<void>((resolve) => (markEnded = resolve));
    const c: Command = {
      id: this.nextId++, owner, session,
      info: { id: 0, pid: child.pid, argv, cwd: rel === '' ? '.' : rel.split(sep).join('/'), started: this.now(), result: null },
      child, out: new Kept(this.keepBytes), err: new Kept(this.keepBytes),
      outClosed: false, errClosed: false, stdinOpen: args.stdin,
      exited: false, exitCode: null, exitSignal: null, exitedAt: 0, drained: false,
      terminating: false, timedOut: false, killSent: false, groupGone: false, groupGaveUp: false, polling: false,
      result: null,
      timeoutTimer: null, graceTimer: null, drainTimer: null, pollTimer: null, giveUpTimer: null, forgetTimer: null,
      waiters: new Set(), ended, markEnded,
    };
    c.info.id = c.id;
    this.commands.set(c.id, c);
    this.running++;

    // Errors after the spawn (EPIPE on stdin when the command does not read it) are not the caller's.
    child.on('error', () => {});
    child.stdin!.on('error', () => {});
    child.stdout!.on('data', (data: Buffer) => { c.out.push(data); this.wake(c); });
    child.stderr!.on('data', (data: Buffer) => { c.err.push(data); this.wake(c); });
    child.stdout!.once('close', () => { c.outClosed = true; this.maybeEnd(c); });
    child.stderr!.once('close', () => { c.errClosed = true; this.maybeEnd(c); });
    child.once('exit', (code, signal) => this.exited(c, code, signal));

    if (stdinData && stdinData.length > 0) child.stdin!.write(stdinData);
    if (!args.stdin) child.stdin!.end();
    if (args.timeoutMs > 0) {
      c.timeoutTimer = setTimeout(() => {
        c.timeoutTimer = null;
        if (c.exited) return;
        c.timedOut = true;
        this.terminate(c, 'SIGTERM');
      }, args.timeoutMs);
    }
    return copyInfo(c.info, null);
  }

  async read(id: number, stdout: number, stderr: number, waitMs: number, max: number): Promise<ExecReadAnswer> {
    const c = this.need(id);
    for (const [name, offset, kept] of [['stdout', stdout, c.out], ['stderr', stderr, c.err]] as const) {
      if (!Number.isSafeInteger(offset) || offset < 0) throw new ZmxError('EINVAL', `${name} offset must be a byte count, not ${offset}`);
      if (offset > kept.total) throw new ZmxError('EINVAL', `${name} offset ${offset} is past the output so far (${kept.total} bytes); go on from an offset a read answered`);
    }
    const ready = (): boolean => c.result !== null || c.out.total > stdout || c.err.total > stderr;
    const wait = Math.min(Math.max(0, waitMs), PORTAL.execReadMaxWaitMs);
    if (!ready() && wait > 0) await this.waitFor(c, ready, wait);
    const cap = max > 0 ? Math.min(max, this.keepBytes) : this.keepBytes;
    const o = c.out.slice(stdout, cap);
    const e = c.err.slice(stderr, cap);
    const complete = o.offset + o.data.length === c.out.total && e.offset + e.data.length === c.err.total;
    return {
      info: copyInfo(c.info, complete ? c.result : null),
      stdout: o.data, stderr: e.data, stdoutOffset: o.offset, stderrOffset: e.offset,
    };
  }

  /** Writes to the command's stdin; `eof` closes it after. Returns the bytes written. */
  stdin(id: number, data: Buffer, eof: boolean): number {
    const c = this.need(id);
    if (c.result !== null || c.exited) throw new ZmxError('EINVAL', `command ${id} has ended; its stdin is closed`);
    if (!c.stdinOpen) throw new ZmxError('EINVAL', `command ${id}'s stdin is closed (start it with stdin: true to send more, and send eof only once)`);
    const pipe = c.child.stdin!;
    if (data.length > 0) pipe.write(data);
    if (eof) {
      pipe.end();
      c.stdinOpen = false;
    }
    return data.length;
  }

  /**
   * Signals the command's process group. SIGTERM, SIGINT, SIGHUP and SIGQUIT
   * are followed by SIGKILL after the grace if the group is still alive;
   * SIGUSR1/SIGUSR2 are only delivered. A command that has ended is left alone.
   */
  kill(id: number, signal: SignalName): void {
    const c = this.need(id);
    if (c.result !== null) return;
    this.terminate(c, signal);
  }

  /** The session's commands, running and ended ones not yet forgotten, oldest first. */
  list(session: string): ExecInfo[] {
    const infos: ExecInfo[] = [];
    for (const c of this.commands.values()) if (c.session === session) infos.push(copyInfo(c.info, c.result));
    return infos;
  }

  get(id: number): { info: ExecInfo; owner: string; session: string } | null {
    const c = this.commands.get(id);
    return c ? { info: copyInfo(c.info, c.result), owner: c.owner, session: c.session } : null;
  }

  /** Ends every running command (SIGTERM, SIGKILL after the grace), waits for them, forgets them all. */
  async dispose(): Promise<void> {
    this.disposed = true;
    const pending: Promise<void>[] = [];
    for (const c of this.commands.values()) {
      if (c.result === null) {
        this.terminate(c, 'SIGTERM');
        pending.push(c.ended);
      }
    }
    await Promise.all(pending);
    for (const c of this.commands.values()) if (c.forgetTimer) clearTimeout(c.forgetTimer);
    this.commands.clear();
  }

  // ---- internals

  private checkRoom(): void {
    if (this.running + this.starting >= this.maxRunning) {
      throw new ZmxError('ETOOBIG', `${this.maxRunning} commands are running already; wait for one to end or kill one (exec.kill)`);
    }
  }

  private need(id: number): Command {
    const c = this.commands.get(id);
    if (!c) throw new ZmxError('EINVAL', `no command ${id} (it may have ended more than ${Math.round(this.keepDoneMs / 1000)} s ago); see exec.list`);
    return c;
  }

  private waitFor(c: Command, ready: () => boolean, ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const w: Waiter = {
        ready,
        done: () => {
          clearTimeout(timer);
          c.waiters.delete(w);
          resolve();
        },
      };
      const timer = setTimeout(w.done, ms);
      c.waiters.add(w);
    });
  }

  private wake(c: Command): void {
    for (const w of [...c.waiters]) if (w.ready()) w.done();
  }

  private signalGroup(c: Command, signal: SignalName): void {
    try {
      process.kill(-c.info.pid, signal);
    } catch {
      // ESRCH: the group is gone already.
    }
  }

  private terminate(c: Command, signal: SignalName): void {
    this.signalGroup(c, signal);
    if (signal === 'SIGKILL') {
      c.terminating = true;
      this.killSent(c);
    } else if (TERMINATING.has(signal)) {
      c.terminating = true;
      if (!c.graceTimer && !c.killSent) {
        c.graceTimer = setTimeout(() => {
          c.graceTimer = null;
          this.signalGroup(c, 'SIGKILL');
          this.killSent(c);
        }, this.killGraceMs);
      }
    } else {
      return;
    }
    if (c.exited) this.pollGroup(c);
  }

  /** After SIGKILL the group dies at once, but zombies may linger where nothing reaps orphans: wait a moment only. */
  private killSent(c: Command): void {
    if (c.killSent) return;
    c.killSent = true;
    if (c.graceTimer) {
      clearTimeout(c.graceTimer);
      c.graceTimer = null;
    }
    c.giveUpTimer = setTimeout(() => {
      c.giveUpTimer = null;
      c.groupGaveUp = true;
      this.maybeEnd(c);
    }, PORTAL.execDrainMs);
  }

  private exited(c: Command, code: number | null, signal: NodeJS.Signals | null): void {
    c.exited = true;
    c.exitCode = code;
    c.exitSignal = signal;
    c.exitedAt = this.now();
    c.stdinOpen = false;
    if (c.timeoutTimer) {
      clearTimeout(c.timeoutTimer);
      c.timeoutTimer = null;
    }
    c.drainTimer = setTimeout(() => {
      c.drainTimer = null;
      c.drained = true;
      this.maybeEnd(c);
    }, PORTAL.execDrainMs);
    if (c.terminating) this.pollGroup(c);
    this.maybeEnd(c);
  }

  /** Looks (again and again) whether the killed command's group still has a live member. */
  private pollGroup(c: Command): void {
    if (c.polling || c.groupGone || c.result !== null) return;
    c.polling = true;
    void groupAlive(c.info.pid).then((alive) => {
      c.polling = false;
      if (c.result !== null) return;
      if (!alive) {
        c.groupGone = true;
        this.maybeEnd(c);
        return;
      }
      c.pollTimer = setTimeout(() => {
        c.pollTimer = null;
        this.pollGroup(c);
      }, PORTAL.execGroupPollMs);
    });
  }

  private maybeEnd(c: Command): void {
    if (c.result !== null || !c.exited) return;
    if (!(c.outClosed && c.errClosed) && !c.drained) return;
    if (c.terminating && !c.groupGone && !c.groupGaveUp) return;
    for (const t of [c.timeoutTimer, c.graceTimer, c.drainTimer, c.pollTimer, c.giveUpTimer]) if (t) clearTimeout(t);
    c.timeoutTimer = c.graceTimer = c.drainTimer = c.pollTimer = c.giveUpTimer = null;
    c.child.stdout!.destroy();
    c.child.stderr!.destroy();
    c.child.stdin!.destroy();
    c.result = {
      exitCode: c.exitCode,
      signal: c.exitSignal,
      durationMs: Math.max(0, c.exitedAt - c.info.started),
      truncated: c.out.lost || c.err.lost,
      timedOut: c.timedOut,
    };
    this.running--;
    c.forgetTimer = setTimeout(() => this.commands.delete(c.id), this.keepDoneMs);
    c.forgetTimer.unref();
    const info = copyInfo(c.info, c.result);
    const bytes = c.out.total + c.err.total;
    for (const listener of this.listeners) {
      try {
        listener(copyInfo(info, info.result), c.owner, c.session, bytes);
      } catch {
        // A listener's failure (the audit log's disk) must not stop the others or the readers.
      }
    }
    this.wake(c);
    c.markEnded();
  }
}

function copyInfo(info: ExecInfo, result: ExecResult | null): ExecInfo {
  return { id: info.id, pid: info.pid, argv: [...info.argv], cwd: info.cwd, started: info.started, result: result ? { ...result } : null };
}

async function checkDir(cwd: string): Promise<void> {
  let st;
  try {
    st = await stat(cwd);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new ZmxError('ENOENT', `no directory ${cwd}; run in an existing directory`);
    throw toZmxError(err);
  }
  if (!st.isDirectory()) throw new ZmxError('EINVAL', `${cwd} is not a directory; run in a directory`);
}

function spawnError(command: string, err: NodeJS.ErrnoException | null): ZmxError {
  if (err?.code === 'ENOENT') return new ZmxError('ENOENT', `command not found: ${command} (not on PATH, or no such file)`);
  if (err?.code === 'EACCES') return new ZmxError('EACCES', `cannot run ${command}: permission denied (not executable?)`);
  return new ZmxError('EINTERNAL', `cannot start ${command}: ${err ? err.message.split('\n')[0] : 'no process id'}`);
}

/**
 * Whether process group `pgid` has a member that is not a zombie. kill(2)
 * finds zombies too, and where nothing reaps orphans (some containers'
 * init) they stay: on Linux, /proc tells them apart.
 */
async function groupAlive(pgid: number): Promise<boolean> {
  try {
    process.kill(-pgid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  if (process.platform !== 'linux') return true;
  let names: string[];
  try {
    names = await readdir('/proc');
  } catch {
    return true;
  }
  for (const name of names) {
    if (!/^\d+$/.test(name)) continue;
    let text: string;
    try {
      text = await readFile(`/proc/${name}/stat`, 'latin1');
    } catch {
      continue; // gone meanwhile
    }
    // "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    if (Number(fields[2]) === pgid && fields[0] !== 'Z' && fields[0] !== 'X') return true;
  }
  return false;
}
