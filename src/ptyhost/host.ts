/**
 * The pty host: owns sessions, their panes (ptys + terminal state), labels
 * and `run` tasks. It lives in its own process so the network front can be
 * restarted — or killed — without ending a session (as VS Code's pty host).
 *
 * It speaks the protocol of src/common/protocol.ts to exactly one peer, the
 * front; PtyHost itself is transport-free: it is given a `send` function.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, statSync, writeFileSync, renameSync, rmSync } from 'node:fs';
import { hostname, userInfo } from 'node:os';
import { isAbsolute, join, resolve, dirname, basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ZmxError, toZmxError } from '../common/errors.js';
import { LIMITS, TERMINAL, TIMING } from '../common/constants.js';
import { validateSessionName } from '../common/names.js';
import {
  MsgType, CAPABILITIES, encode, negotiateVersion, validateArgs,
  type CreateArgs, type Header, type Message, type OpArgs, type OpName, type OpResult, type SessionInfo,
} from '../common/protocol.js';
import { Pane } from './pane.js';
import type { PtySpawner } from './pty.js';

/** Marker typed after a `run` command; the shell prints it with the status. */
export const TASK_MARKER = 'ZMX_TASK_COMPLETED';
/** The marker as the shell prints it: task id and exit status. */
const MARKER_RE = new RegExp(`${TASK_MARKER}:([0-9a-f]{4}):(\\d{1,3})[\\r\\n]`, 'g');
const SIGKILL_NUMBER = 9;

/**
 * The text typed for a `run`: the command, then the marker that reports its
 * status. On the same line (`cmd; echo ...`), as zmx does, so a command that
 * reads stdin cannot swallow it; on a line of its own when the same line
 * would not run it: after a heredoc (its terminator must stand alone), a
 * trailing `&` (`&;` is a syntax error) or a comment (it would hide it).
 */
export function typedCommand(command: string, id: string): string {
  const marker = markerCommand(id);
  const last = command.slice(command.lastIndexOf('\n') + 1).trimEnd();
  const ownLine = command.includes('<<') || (/&$/.test(last) && !/&&$/.test(last)) || /(^|\s)#/.test(last);
  return ownLine ? `${command}\r${marker}\r` : `${command}; ${marker}\r`;
}

/** Bracketed paste: what a terminal sends around pasted text. */
const PASTE_START = '\x1b[200~';
const PASTE_END = '\x1b[201~';

/**
 * The text sent for a `run` to a shell that takes bracketed paste: the
 * script and the marker on a line of its own, pasted, then Enter. The shell
 * reads the whole paste before running any of it, so heredocs, comments and
 * a trailing `&` need no special care, and tabs are not completions.
 */
export function pastedCommand(command: string, id: string): string {
  const body = command.split(PASTE_END).join('').split(PASTE_START).join('');
  return `${PASTE_START}${body}\n${markerCommand(id)}${PASTE_END}\r`;
}

function markerCommand(id: string): string {
  return `echo ${TASK_MARKER}:${id}:$?`;
}

/** Bytes of output kept between chunks so a marker split across reads is still found. */
const MARKER_TAIL_BYTES = 64;
/** Makes bash report its working directory as OSC 7 before each prompt. */
const OSC7_PROMPT_COMMAND = 'printf "\\033]7;file://%s%s\\033\\\\" "${HOSTNAME:-$(hostname)}" "$PWD"';
/** Label keys and values: as zmx allows. */
const LABEL_RE = /^[A-Za-z0-9._-]+$/;
/** Built-in fields shown by `list` that labels may not shadow. */
export const READ_ONLY_FIELDS = ['name', 'pid', 'clients', 'created', 'cwd', 'cmd', 'ended', 'exit_code', 'start_dir'];

interface Task {
  id: string;
  command: string;
  status: number | null;
  ended: number | null;
}

interface Session {
  name: string;
  created: number;
  root: string;
  labels: Map<string, string>;
  panes: Pane[];
  /** The latest `run` task: what `list` shows and `wait` waits for. */
  task: Task | null;
  /** Tasks typed and not finished yet, by id, with the callbacks waiting for each. */
  running: Map<string, ((status: number) => void)[]>;
  /** Callbacks waiting for the latest task (or the session) to end. */
  taskWaiters: ((status: number) => void)[];
  exitWaiters: (() => void)[];
  markerTail: string;
  /** Set when `kill` asked for the end, so clients hear "killed" rather than "exited". */
  killed: boolean;
}

export interface HostOptions {
  spawn: PtySpawner;
  scrollback?: number;
  /** Sends a message to the front. */
  send(frames: Buffer[]): void;
  log?(msg: string): void;
  /** Called when a session is created or has ended (the host exits when none is left). */
  onSessionsChanged?(): void;
  /** How long `run` waits for a new shell's first prompt (default TIMING.shellReadyMs). */
  shellReadyMs?: number;
}

type Reply = { result: Record<string, unknown>; frames?: Buffer[] };

export function defaultShell(): string {
  return process.env['SHELL'] || userInfo().shell || '/bin/sh';
}

export class PtyHost {
  private readonly sessions = new Map<string, Session>();
  private nextPaneId = 1;
  private readonly opts: HostOptions;

  constructor(opts: HostOptions) {
    this.opts = opts;
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  private send(header: Header, frames: Buffer[] = []): void {
    this.opts.send(encode(header, frames));
  }

  /** Handles one message from the front. Never throws. */
  handle(msg: Message): void {
    const h = msg.header;
    if (h.t === MsgType.Hello) {
      try {
        const version = negotiateVersion(h.min, h.max);
        // A new front: whatever the old one subscribed to is void.
        for (const s of this.sessions.values()) for (const p of s.panes) { p.subscribers = 0; p.interactive = 0; }
        this.send({ t: MsgType.Welcome, version, caps: [...CAPABILITIES], agent: `zmx-ptyhost/${process.pid}` });
      } catch (err) {
        const e = toZmxError(err);
        this.send({ t: MsgType.Error, id: 0, code: e.code, message: e.message });
      }
      return;
    }
    if (h.t === MsgType.Ping) {
      this.send({ t: MsgType.Pong, ts: h.ts });
      return;
    }
    if (h.t !== MsgType.Request) {
      this.send({ t: MsgType.Error, id: 0, code: 'EPROTO', message: `unexpected message 0x${h.t.toString(16)} on the pty host link` });
      return;
    }
    const id = h.id;
    this.dispatch(h.op, h.args, msg.frames).then(
      (reply) => this.send({ t: MsgType.Reply, id, result: reply.result }, reply.frames ?? []),
      (err) => {
        const e = toZmxError(err);
        if (e.code === 'EINTERNAL') this.opts.log?.(`request ${h.op} failed: ${String((err as Error)?.stack ?? err)}`);
        this.send({ t: MsgType.Error, id, code: e.code, message: e.message });
      },
    );
  }

  private async dispatch(op: string, args: Record<string, unknown>, frames: Buffer[]): Promise<Reply> {
    validateArgs(op, args);
    const a = args as never;
    switch (op as OpName) {
      case 'session.list': return { result: { sessions: [...this.sessions.values()].sort((x, y) => (x.name < y.name ? -1 : 1)).map((s) => this.info(s)) } };
      case 'session.get': return { result: { session: this.info(this.get((a as OpArgs<'session.get'>).name)) } };
      case 'session.create': return { result: this.create(a) };
      case 'session.kill': return { result: await this.kill(a) };
      case 'session.labels': return { result: this.labels(a) };
      case 'session.send': this.get((a as OpArgs<'session.send'>).name).panes[0]!.input(frames[0] ?? Buffer.alloc(0)); return { result: {} };
      case 'session.print': this.get((a as OpArgs<'session.print'>).name).panes[0]!.print(frames[0] ?? Buffer.alloc(0)); return { result: {} };
      case 'session.history': {
        const args = a as OpArgs<'session.history'>;
        const data = await this.get(args.name).panes[0]!.history(args.format);
        return { result: { bytes: data.length }, frames: [data] };
      }
      case 'session.run': return { result: await this.run(a) };
      case 'session.wait': return { result: await this.wait(a) };
      case 'session.write': return { result: this.write(a, frames[0] ?? Buffer.alloc(0)) };
      case 'host.subscribe': {
        const args = a as OpArgs<'host.subscribe'>;
        const s = this.get(args.name);
        const pane = s.panes[0]!;
        pane.subscribers += 1;
        if (args.interactive) pane.interactive += 1;
        const snap = await pane.snapshot();
        const result: OpResult<'host.subscribe'> = { paneSid: pane.id, seq: snap.seq, session: this.info(s) };
        return { result: result as unknown as Record<string, unknown>, frames: [snap.vt] };
      }
      case 'host.unsubscribe': {
        const args = a as OpArgs<'host.unsubscribe'>;
        const s = this.sessions.get(args.name);
        const pane = s?.panes[0];
        if (pane) {
          pane.subscribers = Math.max(0, pane.subscribers - 1);
          if (args.interactive) pane.interactive = Math.max(0, pane.interactive - 1);
        }
        return { result: {} };
      }
      case 'host.resize': {
        const args = a as OpArgs<'host.resize'>;
        this.get(args.name).panes[0]!.resize(clampCols(args.cols), clampRows(args.rows));
        return { result: {} };
      }
      default:
        throw new ZmxError('EPROTO', `op "${op}" is not served by the pty host`);
    }
  }

  private get(name: string): Session {
    const s = this.sessions.get(name);
    if (!s) throw new ZmxError('ENOSESSION', `session "${name}" does not exist`);
    return s;
  }

  info(s: Session): SessionInfo {
    return {
      name: s.name,
      created: s.created,
      root: s.root,
      labels: Object.fromEntries([...s.labels.entries()].sort(([x], [y]) => (x < y ? -1 : 1))),
      panes: s.panes.map((p) => p.info()),
      clients: 0,
      task: s.task ? { status: s.task.status, command: s.task.command, ended: s.task.ended } : null,
    };
  }

  private create(args: OpArgs<'session.create'>): OpResult<'session.create'> {
    validateSessionName(args.name);
    const existing = this.sessions.get(args.name);
    if (existing) {
      if (args.ifMissing) return { session: this.info(existing), created: false };
      throw new ZmxError('EEXIST', `session "${args.name}" already exists`);
    }
    const s = this.spawnSession(args);
    return { session: this.info(s), created: true };
  }

  private spawnSession(args: CreateArgs): Session {
    const cwd = resolve(args.cwd || process.env['HOME'] || '/');
    if (!existsSync(cwd) || !statSync(cwd).isDirectory()) throw new ZmxError('ENOENT', `directory ${cwd} does not exist`);
    const [file, ...rest] = args.cmd.length > 0 ? args.cmd : [defaultShell(), '-l'];
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
    Object.assign(env, args.env);
    const paneId = this.nextPaneId++;
    env['ZMX_SESSION'] = args.name;
    env['ZMX_PANE'] = String(paneId);
    if (!env['TERM'] || env['TERM'] === 'dumb') env['TERM'] = 'xterm-256color';
    // bash does not report its directory by itself; have it send OSC 7 at each
    // prompt so `list` shows where the shell is (unless the user set their own).
    if (basename(file!) === 'bash' && !env['PROMPT_COMMAND']) env['PROMPT_COMMAND'] = OSC7_PROMPT_COMMAND;
    const session: Session = {
      name: args.name,
      created: Date.now(),
      root: cwd,
      labels: new Map(),
      panes: [],
      task: null,
      running: new Map(),
      taskWaiters: [],
      exitWaiters: [],
      markerTail: '',
      killed: false,
    };
    const pane = new Pane(
      {
        id: paneId, file: file!, args: rest, cwd, env,
        cols: clampCols(args.cols || TERMINAL.defaultCols), rows: clampRows(args.rows || TERMINAL.defaultRows),
        scrollback: this.opts.scrollback ?? TERMINAL.scrollbackLines, spawn: this.opts.spawn,
      },
      {
        output: (p, seq, data) => {
          if (p.subscribers > 0) this.send({ t: MsgType.Output, sid: p.id, seq }, [data]);
        },
        exit: (_p, exit) => this.onPaneExit(session, exit),
      },
    );
    pane.onData((data) => this.scanForMarker(session, data));
    session.panes.push(pane);
    this.sessions.set(args.name, session);
    this.opts.log?.(`session ${args.name} created (pid ${pane.pid})`);
    this.opts.onSessionsChanged?.();
    return session;
  }

  private onPaneExit(s: Session, exit: { exitCode: number; signal: number }): void {
    // Ended already (kill gave up on a deaf pty, which then exited after all):
    // the name may belong to a new session by now.
    if (this.sessions.get(s.name) !== s) return;
    // One pane per session for now: the session ends with it.
    const status = exit.signal ? 128 + exit.signal : exit.exitCode;
    for (const id of [...s.running.keys()]) this.finishTask(s, id, status);
    this.sessions.delete(s.name);
    for (const w of s.taskWaiters.splice(0)) w(status);
    for (const w of s.exitWaiters.splice(0)) w();
    this.send({ t: MsgType.Event, name: 'session.exit', data: { name: s.name, exitCode: exit.exitCode, signal: exit.signal, killed: s.killed, paneSids: s.panes.map((p) => p.id) } });
    for (const p of s.panes) p.dispose();
    this.opts.log?.(`session ${s.name} ended (exit ${exit.exitCode}, signal ${exit.signal})`);
    this.opts.onSessionsChanged?.();
  }

  private async kill(args: OpArgs<'session.kill'>): Promise<OpResult<'session.kill'>> {
    const killed: string[] = [];
    await Promise.all(args.names.map(async (name) => {
      const s = this.sessions.get(name);
      if (!s) return;
      s.killed = true;
      const gone = new Promise<void>((res) => s.exitWaiters.push(res));
      const pane = s.panes[0]!;
      pane.pty.signalGroup(args.force ? 'SIGKILL' : 'SIGHUP');
      const timer = setTimeout(() => pane.pty.signalGroup('SIGKILL'), TIMING.killGraceMs);
      // A pty that never reports its end even after SIGKILL must not hang kill.
      const giveUp = setTimeout(() => this.onPaneExit(s, { exitCode: 0, signal: SIGKILL_NUMBER }), TIMING.killGraceMs * 2);
      await gone;
      clearTimeout(timer);
      clearTimeout(giveUp);
      killed.push(name);
    }));
    return { killed: killed.sort() };
  }

  private labels(args: OpArgs<'session.labels'>): OpResult<'session.labels'> {
    const s = this.get(args.name);
    for (const [k, v] of Object.entries(args.set)) {
      if (READ_ONLY_FIELDS.includes(k)) throw new ZmxError('EINVAL', `"${k}" is a read-only built-in field`);
      if (!LABEL_RE.test(k)) throw new ZmxError('EINVAL', `label keys can only contain [a-z, A-Z, 0-9, -_.] characters: key=[${k}]`);
      if (v !== '' && !LABEL_RE.test(v)) throw new ZmxError('EINVAL', `label values can only contain [a-z, A-Z, 0-9, -_.] characters: value=[${v}]`);
    }
    for (const k of args.unset) {
      if (READ_ONLY_FIELDS.includes(k)) throw new ZmxError('EINVAL', `"${k}" is a read-only built-in field`);
    }
    if (args.clear) s.labels.clear();
    for (const [k, v] of Object.entries(args.set)) {
      if (v === '') s.labels.delete(k);
      else s.labels.set(k, v);
    }
    for (const k of args.unset) s.labels.delete(k);
    return { labels: Object.fromEntries(s.labels) };
  }

  private async run(args: OpArgs<'session.run'>): Promise<OpResult<'session.run'>> {
    const s = this.get(args.name);
    const id = randomBytes(2).toString('hex');
    const command = args.script.replace(/[\r\n]+$/, '');
    if (command.trim() === '') throw new ZmxError('EINVAL', 'run needs a command');
    // The shell runs what is typed in order; each task keeps its own waiters,
    // and the latest is the one `list` and `wait` report.
    s.task = { id, command, status: null, ended: null };
    const waiters: ((status: number) => void)[] = [];
    s.running.set(id, waiters);
    const done = args.wait ? new Promise<number>((res) => waiters.push(res)) : null;
    const pane = s.panes[0]!;
    // A readline shell takes the script as a paste: tabs stay tabs (no
    // completion), and every line reaches the parser as written. A shell
    // just started gets a moment to draw its first prompt.
    const readyMs = this.opts.shellReadyMs ?? TIMING.shellReadyMs;
    const age = Date.now() - s.created;
    const paste = pane.pasteCapable || (age < readyMs && (await pane.whenPasteCapable(readyMs - age)));
    pane.input(Buffer.from(paste ? pastedCommand(command, id) : typedCommand(command, id), 'utf8'));
    return { status: done ? await done : null };
  }

  private scanForMarker(s: Session, data: Buffer): void {
    if (s.running.size === 0) return;
    const text = s.markerTail + data.toString('latin1');
    let end = 0;
    for (const m of text.matchAll(MARKER_RE)) {
      if (!s.running.has(m[1]!)) continue; // another task's, or the echo of one
      this.finishTask(s, m[1]!, Number(m[2]) & 0xff);
      end = m.index! + m[0].length;
    }
    s.markerTail = text.slice(Math.max(end, text.length - MARKER_TAIL_BYTES));
  }

  private finishTask(s: Session, id: string, status: number): void {
    const waiters = s.running.get(id);
    if (!waiters) return;
    s.running.delete(id);
    for (const w of waiters) w(status);
    if (s.task?.id !== id) return;
    s.task.status = status;
    s.task.ended = Date.now();
    for (const w of s.taskWaiters.splice(0)) w(status);
    this.send({ t: MsgType.Event, name: 'task.done', data: { name: s.name, status, ended: s.task.ended } });
  }

  private async wait(args: OpArgs<'session.wait'>): Promise<OpResult<'session.wait'>> {
    const targets = args.names.map((n) => this.get(n));
    const results = await Promise.all(targets.map(async (s) => {
      if (s.task && s.task.status !== null) return { name: s.name, status: s.task.status };
      const status = await new Promise<number>((res) => s.taskWaiters.push(res));
      return { name: s.name, status };
    }));
    return { results };
  }

  /** The directory the session's shell is in (OSC 7), if it is on this host; else its root. */
  private shellCwd(s: Session): string {
    const uri = s.panes[0]?.cwdUri ?? '';
    if (uri.startsWith('file://')) {
      try {
        const url = new URL(uri);
        if (url.hostname === '' || url.hostname === 'localhost' || url.hostname === hostname().toLowerCase()) return fileURLToPath(`file://${url.pathname}`);
      } catch {
        /* not a URI we can use */
      }
    }
    return s.root;
  }

  private write(args: OpArgs<'session.write'>, data: Buffer): OpResult<'session.write'> {
    const s = this.get(args.name);
    if (data.length > LIMITS.maxWriteBytes) throw new ZmxError('ETOOBIG', `file of ${data.length} bytes exceeds ${LIMITS.maxWriteBytes}`);
    if (args.path === '') throw new ZmxError('EINVAL', 'write needs a file path');
    const target = isAbsolute(args.path) ? args.path : join(this.shellCwd(s), args.path);
    if (!existsSync(dirname(target))) throw new ZmxError('ENOENT', `directory ${dirname(target)} does not exist`);
    // Atomic: a reader never sees half a file.
    const tmp = join(dirname(target), `.${basename(target)}.zmx-${process.pid}-${randomBytes(4).toString('hex')}`);
    try {
      writeFileSync(tmp, data, { mode: 0o644 });
      renameSync(tmp, target);
    } catch (err) {
      rmSync(tmp, { force: true });
      throw err;
    }
    return { path: target, bytes: data.length };
  }

  /** Ends every session (used when the host itself is asked to stop). */
  async shutdown(): Promise<void> {
    const names = [...this.sessions.keys()];
    if (names.length) await this.kill({ names, force: false });
  }
}

function clampCols(cols: number): number {
  return Math.min(Math.max(cols, 2), LIMITS.maxCols);
}

function clampRows(rows: number): number {
  return Math.min(Math.max(rows, 1), LIMITS.maxRows);
}

