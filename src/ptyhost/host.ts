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
import { homedir, hostname, userInfo } from 'node:os';
import { isAbsolute, join, resolve, dirname, basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ZmxError, toZmxError } from '../common/errors.js';
import { LIMITS, TERMINAL, TIMING } from '../common/constants.js';
import { validateSessionName, sessionNotFound } from '../common/names.js';
import { ensurePrivateDir, runtimePaths, STATE_DIRS } from '../common/paths.js';
import {
  MsgType, CAPABILITIES, DIRECT_CAPABILITY, encode, negotiateVersion, validateArgs,
  type CreateArgs, type Header, type Message, type OpArgs, type OpName, type OpResult, type PaneTarget, type SessionInfo, type WindowInfo,
} from '../common/protocol.js';
import {
  CHROME, LAYOUT_PRESETS, geometry, isPreset, leaf, neighbour, panesOf, preset, remove, resize as resizeLayout, split as splitLayout, zoomedRect,
  type LayoutNode,
} from '../common/layout.js';
import { ParseScheduler } from './parse-scheduler.js';
import { Pane, type PaneEvents } from './pane.js';
import type { HandoverState, PaneState, SessionState } from './handover-state.js';
import { DirectStreams } from './direct.js';
import { HostCommands } from './commands.js';
import type { PtySpawner } from './pty.js';
import {
  COPY_SNAPSHOTS_DIR, addWorktree, diff as workspaceDiff, dropCopies, dropSnapshots, encodeName, listSnapshots, removeWorktree,
  rollback as workspaceRollback, snapshot as workspaceSnapshot, undoWorktree, worktreeChanges, type Worktree,
} from './workspace.js';
import { portalArgv, portalEnv, portalName, portalTarget, mcpConfig } from './portal-pane.js';

/** A `run` typed and not finished: who waits for it, and (when waited for) the output printed meanwhile. */
interface RunningTask {
  pane: number;
  waiters: ((status: number) => void)[];
  /** From the paste on, when waited for; the last chunk is the one that held the marker. */
  output: { seq: number; data: Buffer }[] | null;
  outputBytes: number;
}

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
/**
 * A waited-for `run` keeps the output its pane printed while it ran, and the
 * reply carries it: the client prints from it whatever its tail stream did
 * not bring (a stream that fell behind, or one that missed output), so the
 * command's output is never lost. Past these bounds the oldest is dropped.
 */
const RUN_OUTPUT_KEEP_BYTES = 1024 * 1024;
const RUN_OUTPUT_KEEP_CHUNKS = 512;
/** Makes bash report its working directory as OSC 7 before each prompt. */
const OSC7_PROMPT_COMMAND = 'printf "\\033]7;file://%s%s\\033\\\\" "${HOSTNAME:-$(hostname)}" "$PWD"';
/** Label keys and values: as zmx allows. */
const LABEL_RE = /^[A-Za-z0-9._-]+$/;
/** Built-in fields shown by `list` that labels may not shadow. */
export const READ_ONLY_FIELDS = ['name', 'pid', 'clients', 'created', 'cwd', 'cmd', 'ended', 'exit_code', 'start_dir', 'worktree', 'worktree_branch', 'portal'];
/** Portal panes' MCP configurations: <state dir>/portal/<session>.mcp.json (0600, in a 0700 directory). */
const PORTAL_DIR = STATE_DIRS.portal;

interface Task {
  id: string;
  /** The pane it was typed into. */
  pane: number;
  command: string;
  status: number | null;
  ended: number | null;
}

interface Window {
  id: number;
  name: string;
  layout: LayoutNode;
  active: number;
  zoomed: boolean;
  preset: string;
}

/** What a new pane runs, where, with what environment. */
interface PaneSpec { cmd: string[]; cwd: string; env: Record<string, string> }

interface Session {
  name: string;
  created: number;
  root: string;
  labels: Map<string, string>;
  /** Every pane, by id, in creation order. */
  panes: Map<number, Pane>;
  /** In index order: a window's index is its position (tmux's renumber-windows). */
  windows: Window[];
  activeWindow: number;
  /** The window active before the current one (tmux's `last-window`). */
  lastWindow: number | null;
  /** The window area: what the client's terminal leaves for windows. */
  cols: number;
  rows: number;
  /** The latest `run` task: what `list` shows and `wait` waits for. */
  task: Task | null;
  /** Tasks typed and not finished yet, by id, with the callbacks waiting for each. */
  running: Map<string, RunningTask>;
  /** Callbacks waiting for the latest task (or the session) to end. */
  taskWaiters: ((status: number) => void)[];
  markerTail: string;
  /** Set when `kill` asked for the end, so clients hear "killed" rather than "exited". */
  killed: boolean;
  /** The git worktree the session owns (its root), from workspace.create. */
  worktree: Worktree | null;
  /** A portal pane's target (`HOST:SESSION`) and its MCP configuration file. */
  portal: { name: string; file: string } | null;
  /** Set once a copy snapshot was taken: the copies are removed when the session ends. */
  copied: boolean;
}

export interface HostOptions {
  spawn: PtySpawner;
  /** Lines of history a new pane keeps (default TERMINAL.scrollbackLines); a function is asked at each new pane. */
  scrollback?: number | (() => number);
  /** Sends a message to the front. */
  send(frames: Buffer[]): void;
  log?(msg: string): void;
  /** Called when a session is created or has ended (the host exits when none is left). */
  onSessionsChanged?(): void;
  /** How long `run` waits for a new shell's first prompt (default TIMING.shellReadyMs). */
  shellReadyMs?: number;
  /** Where the server keeps state: copy snapshots, portal MCP configurations (default $ZMX_DIR/state). */
  stateDir?: string;
  /** The direct endpoint (direct.ts): sends to a client there, checks a claim's proof of key. Absent: no direct streams. */
  direct?: { send(peer: Buffer, frames: Buffer[]): void; verifyKey(key: string, proof: string, ts: number): boolean };
}

type Reply = { result: Record<string, unknown>; frames?: Buffer[] };

export function defaultShell(): string {
  return process.env['SHELL'] || userInfo().shell || '/bin/sh';
}

export class PtyHost {
  private readonly sessions = new Map<string, Session>();
  /** Every pane of every session, by id: streams name panes by id alone. */
  private readonly paneIndex = new Map<number, { pane: Pane; session: Session }>();
  /** Callers waiting for a pane to have left its session (kill). */
  private readonly paneWaiters = new Map<number, (() => void)[]>();
  private nextPaneId = 1;
  private nextWindowId = 1;
  private readonly opts: HostOptions;
  /** Names being made by workspace.create (git runs meanwhile): no one else may take them. */
  private readonly creating = new Set<string>();
  readonly stateDir: string;
  /** Local clients' streams that bypass the front (direct.ts). */
  readonly direct: DirectStreams;
  /** Every pane's output is parsed from this one queue, watched panes first (src/ptyhost/parse-scheduler.ts). */
  readonly parser = new ParseScheduler();
  /** The portal's commands (commands.ts): children of this process, so a front restart ends none. */
  readonly commands: HostCommands;

  constructor(opts: HostOptions) {
    this.opts = opts;
    this.stateDir = opts.stateDir ?? join(runtimePaths().dir, 'state');
    this.direct = new DirectStreams({
      send: (peer, frames) => opts.direct?.send(peer, frames),
      verifyKey: (key, proof, ts) => opts.direct?.verifyKey(key, proof, ts) ?? false,
      tellFront: (h) => this.send(h),
      pane: (id) => this.paneIndex.get(id)?.pane ?? null,
      log: (m) => opts.log?.(m),
    });
    this.commands = new HostCommands({ send: (h) => this.send(h), onChange: () => opts.onSessionsChanged?.() });
  }

  /**
   * Removes state no session can own any more: copy snapshots and portal
   * configurations left by a pty host that died (sessions do not outlive it).
   * Called once at start-up, holding the instance lock.
   */
  clearStaleState(): void {
    for (const sub of [COPY_SNAPSHOTS_DIR, PORTAL_DIR]) rmSync(join(this.stateDir, sub), { recursive: true, force: true });
  }

  /** Sessions, ones being made (a worktree takes a while), and commands (running, or their end not yet audited): the host stays while any is counted. */
  get sessionCount(): number {
    return this.sessions.size + this.creating.size + this.commands.holding;
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
        for (const { pane } of this.paneIndex.values()) { pane.subscribers = 0; pane.interactive = 0; pane.directViewers = 0; }
        this.direct.reset();
        const caps = this.opts.direct ? [...CAPABILITIES, DIRECT_CAPABILITY] : [...CAPABILITIES];
        this.send({ t: MsgType.Welcome, version, caps, agent: `zmx-ptyhost/${process.pid}` });
        this.commands.frontChanged();
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
    if (h.t === MsgType.Input) {
      // Keystrokes the front forwards (a remote client's): `sid` names the pane; no reply.
      this.paneIndex.get(h.sid)?.pane.input(msg.frames[0] ?? Buffer.alloc(0));
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
    if (HostCommands.serves(op)) return this.commands.dispatch(op, args, frames);
    const a = args as never;
    switch (op as OpName) {
      case 'session.list': return { result: { sessions: [...this.sessions.values()].sort((x, y) => (x.name < y.name ? -1 : 1)).map((s) => this.info(s)) } };
      case 'session.get': return { result: { session: this.info(this.get((a as OpArgs<'session.get'>).name)) } };
      case 'session.create': return { result: this.create(a) };
      case 'session.kill': return { result: await this.kill(a) };
      case 'session.labels': return { result: this.labels(a) };
      case 'session.send': this.activePane(this.get((a as OpArgs<'session.send'>).name)).input(frames[0] ?? Buffer.alloc(0)); return { result: {} };
      case 'session.print': this.activePane(this.get((a as OpArgs<'session.print'>).name)).print(frames[0] ?? Buffer.alloc(0)); return { result: {} };
      case 'session.history': {
        const args = a as OpArgs<'session.history'>;
        const data = await this.activePane(this.get(args.name)).history(args.format);
        return { result: { bytes: data.length }, frames: [data] };
      }
      case 'pane.split': return { result: this.splitPane(a) };
      case 'window.new': return { result: this.newWindow(a) };
      case 'pane.select': return { result: this.selectPane(a) };
      case 'window.select': return { result: this.selectWindow(a) };
      case 'pane.kill': return { result: await this.killPane(a) };
      case 'pane.resize': return { result: this.resizePane(a) };
      case 'window.layout': return { result: this.applyLayout(a) };
      case 'pane.capture': {
        const args = a as OpArgs<'pane.capture'>;
        const data = await this.target(this.get(args.name), args).pane.capture(args.escapes);
        return { result: { bytes: data.length }, frames: [data] };
      }
      case 'session.run': return this.run(a);
      case 'session.wait': return { result: await this.wait(a) };
      case 'session.write': return { result: this.write(a, frames[0] ?? Buffer.alloc(0)) };
      // ---- Workspaces (issue 5)
      case 'workspace.create': return { result: await this.createWorkspace(a) };
      case 'workspace.kill': return { result: await this.killClean(a) };
      case 'workspace.snapshot': {
        const args = a as OpArgs<'workspace.snapshot'>;
        const s = this.get(args.name);
        const r = await workspaceSnapshot(this.workspaceOf(s), args.label);
        if (r.kind === 'copy') s.copied = true;
        return { result: r };
      }
      case 'workspace.rollback': {
        const args = a as OpArgs<'workspace.rollback'>;
        return { result: await workspaceRollback(this.workspaceOf(this.get(args.name)), args.label) };
      }
      case 'workspace.diff': {
        const args = a as OpArgs<'workspace.diff'>;
        const r = await workspaceDiff(this.workspaceOf(this.get(args.name)), args.label);
        return { result: { kind: r.kind, label: r.label, bytes: r.diff.length }, frames: [r.diff] };
      }
      case 'workspace.snapshots': {
        const args = a as OpArgs<'workspace.snapshots'>;
        const r = await listSnapshots(this.workspaceOf(this.get(args.name)));
        return { result: { kind: r.kind, snapshots: r.snapshots } };
      }
      case 'host.subscribe': {
        const args = a as OpArgs<'host.subscribe'>;
        const s = this.get(args.name);
        const pane = args.pane === 0 ? this.activePane(s) : this.paneOf(s, args.pane);
        pane.subscribers += 1;
        if (args.interactive) pane.interactive += 1;
        const snap = await pane.snapshot();
        const result: OpResult<'host.subscribe'> = { paneSid: pane.id, seq: snap.seq, session: this.info(s) };
        return { result: result as unknown as Record<string, unknown>, frames: [snap.vt] };
      }
      case 'host.grant': {
        const args = a as OpArgs<'host.grant'>;
        const s = this.get(args.name);
        const pane = args.pane === 0 ? this.activePane(s) : this.paneOf(s, args.pane);
        const snap = await this.direct.grant(args, pane.id, pane);
        const result: OpResult<'host.grant'> = { paneSid: pane.id, seq: snap.seq, session: this.info(s) };
        return { result: result as unknown as Record<string, unknown>, frames: [snap.vt] };
      }
      case 'host.release': this.direct.release((a as OpArgs<'host.release'>).sid); return { result: {} };
      case 'host.lead': this.direct.lead((a as OpArgs<'host.lead'>).name, (a as OpArgs<'host.lead'>).sid); return { result: {} };
      case 'host.unsubscribe': {
        const args = a as OpArgs<'host.unsubscribe'>;
        const pane = this.paneIndex.get(args.pane)?.pane;
        if (pane) {
          pane.subscribers = Math.max(0, pane.subscribers - 1);
          if (args.interactive) pane.interactive = Math.max(0, pane.interactive - 1);
        }
        return { result: {} };
      }
      case 'host.input': {
        const pane = this.paneIndex.get((a as OpArgs<'host.input'>).pane)?.pane;
        if (!pane) throw new ZmxError('ENOENT', `no pane ${(a as OpArgs<'host.input'>).pane}`);
        pane.input(frames[0] ?? Buffer.alloc(0));
        return { result: {} };
      }
      case 'host.snapshot': {
        const args = a as OpArgs<'host.snapshot'>;
        const pane = this.paneIndex.get(args.pane)?.pane;
        if (!pane) throw new ZmxError('ENOENT', `no pane ${args.pane}`);
        const snap = args.text ? await pane.screenText() : await pane.snapshot();
        const result: OpResult<'host.snapshot'> = { seq: snap.seq };
        return { result: result as unknown as Record<string, unknown>, frames: [snap.vt] };
      }
      case 'host.resize': {
        const args = a as OpArgs<'host.resize'>;
        const s = this.get(args.name);
        s.cols = clampCols(args.cols);
        s.rows = clampArea(args.rows);
        this.relayout(s);
        return { result: {} };
      }
      default:
        throw new ZmxError('EPROTO', `op "${op}" is not served by the pty host`);
    }
  }

  private get(name: string): Session {
    const s = this.sessions.get(name);
    if (!s) throw sessionNotFound(name);
    return s;
  }

  info(s: Session): SessionInfo {
    return {
      name: s.name,
      created: s.created,
      root: s.root,
      labels: Object.fromEntries([...s.labels.entries()].sort(([x], [y]) => (x < y ? -1 : 1))),
      panes: [...s.panes.values()].map((p) => {
        const info = p.info();
        if (s.task?.pane === p.id) info.task = { command: s.task.command, status: s.task.status };
        return info;
      }),
      clients: 0,
      task: s.task ? { status: s.task.status, command: s.task.command, ended: s.task.ended } : null,
      windows: s.windows.map((w, index): WindowInfo => ({ id: w.id, index, name: w.name, layout: w.layout, active: w.active, zoomed: w.zoomed, preset: w.preset })),
      activeWindow: s.activeWindow,
      cols: s.cols,
      rows: s.rows,
      worktree: s.worktree ? { path: s.worktree.path, branch: s.worktree.branch, repo: s.worktree.repo } : null,
      portal: s.portal?.name ?? null,
    };
  }

  // ------------------------------------------------------------ panes and windows

  private activeWindowOf(s: Session): Window {
    return s.windows.find((w) => w.id === s.activeWindow) ?? s.windows[0]!;
  }

  private activePane(s: Session): Pane {
    return s.panes.get(this.activeWindowOf(s).active)!;
  }

  private paneOf(s: Session, id: number): Pane {
    const pane = s.panes.get(id);
    if (!pane) throw new ZmxError('ENOENT', `session "${s.name}" has no pane ${id}`);
    return pane;
  }

  /** The window and pane a request names by number (`NAME:W.P`); null numbers mean the active ones. */
  private target(s: Session, t: PaneTarget): { window: Window; pane: Pane } {
    const window = t.window === null ? this.activeWindowOf(s) : s.windows[t.window];
    if (!window) throw new ZmxError('ENOENT', `session "${s.name}" has no window ${t.window} (it has ${s.windows.length})`);
    const ids = panesOf(window.layout);
    const id = t.pane === null ? window.active : ids[t.pane];
    if (id === undefined) throw new ZmxError('ENOENT', `window ${s.windows.indexOf(window)} of "${s.name}" has no pane ${t.pane} (it has ${ids.length})`);
    return { window, pane: s.panes.get(id)! };
  }

  private windowOfPane(s: Session, id: number): Window | undefined {
    return s.windows.find((w) => panesOf(w.layout).includes(id));
  }

  /** Sizes every pane's pty to its place in its window, then tells clients the new layout. */
  private relayout(s: Session): void {
    for (const w of s.windows) {
      if (w.zoomed) {
        const r = zoomedRect(w.active, s.cols, s.rows).content;
        s.panes.get(w.active)?.resize(clampCols(r.cols), clampRows(r.rows));
        continue;
      }
      for (const p of geometry(w.layout, s.cols, s.rows).panes) s.panes.get(p.pane)?.resize(clampCols(p.content.cols), clampRows(p.content.rows));
    }
    this.send({ t: MsgType.Event, name: 'session.layout', data: { name: s.name, session: this.info(s) } });
  }

  private newPane(s: Session, spec: PaneSpec): Pane {
    const cwd = resolve(spec.cwd || this.shellCwd(s));
    if (!existsSync(cwd) || !statSync(cwd).isDirectory()) throw new ZmxError('ENOENT', `directory ${cwd} does not exist`);
    const [file, ...rest] = spec.cmd.length > 0 ? spec.cmd : [defaultShell(), '-l'];
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
    Object.assign(env, spec.env);
    const id = this.nextPaneId++;
    env['ZMX_SESSION'] = s.name;
    env['ZMX_PANE'] = String(id);
    if (!env['TERM'] || env['TERM'] === 'dumb') env['TERM'] = 'xterm-256color';
    // bash does not report its directory by itself; have it send OSC 7 at each
    // prompt so `list` shows where the shell is (unless the user set their own).
    if (basename(file!) === 'bash' && !env['PROMPT_COMMAND']) env['PROMPT_COMMAND'] = OSC7_PROMPT_COMMAND;
    const pane = new Pane(
      {
        id, file: file!, args: rest, cwd, env,
        cols: clampCols(s.cols), rows: clampRows(s.rows - CHROME.titleRows),
        scrollback: typeof this.opts.scrollback === 'function' ? this.opts.scrollback() : this.opts.scrollback ?? TERMINAL.scrollbackLines,
        spawn: this.opts.spawn,
        parser: this.parser,
      },
      this.paneEvents(s),
    );
    this.track(s, pane);
    return pane;
  }

  /** Where a session's pane sends its output and its end. */
  private paneEvents(s: Session): PaneEvents {
    return {
      output: (p, seq, data) => {
        if (p.subscribers > 0) this.send({ t: MsgType.Output, sid: p.id, seq }, [data]);
        this.direct.output(p.id, seq, data);
      },
      exit: (p, exit) => this.onPaneExit(s, p, exit),
    };
  }

  private track(s: Session, pane: Pane): void {
    pane.onData((data) => this.followTasks(s, pane, data));
    s.panes.set(pane.id, pane);
    this.paneIndex.set(pane.id, { pane, session: s });
  }

  private splitPane(a: OpArgs<'pane.split'>): OpResult<'pane.split'> {
    const s = this.get(a.name);
    const { window, pane } = this.target(s, a);
    const added = this.newPane(s, { cmd: a.cmd, cwd: a.cwd, env: a.env });
    window.layout = splitLayout(window.layout, pane.id, a.dir, added.id);
    window.active = added.id;
    window.zoomed = false;
    this.relayout(s);
    return { window: s.windows.indexOf(window), pane: panesOf(window.layout).indexOf(added.id), id: added.id };
  }

  private newWindow(a: OpArgs<'window.new'>): OpResult<'window.new'> {
    const s = this.get(a.name);
    const pane = this.newPane(s, { cmd: a.cmd, cwd: a.cwd, env: a.env });
    const window: Window = { id: this.nextWindowId++, name: a.title, layout: leaf(pane.id), active: pane.id, zoomed: false, preset: LAYOUT_PRESETS[0] };
    s.windows.push(window);
    s.lastWindow = s.activeWindow;
    s.activeWindow = window.id;
    this.relayout(s);
    return { window: s.windows.length - 1, id: pane.id };
  }

  private selectPane(a: OpArgs<'pane.select'>): OpResult<'pane.select'> {
    const s = this.get(a.name);
    const { window, pane } = this.target(s, a);
    let id = pane.id;
    if (a.move === 'next' || a.move === 'prev') {
      const ids = panesOf(window.layout);
      const step = a.move === 'next' ? 1 : ids.length - 1;
      id = ids[(ids.indexOf(id) + step) % ids.length]!;
    } else if (a.move) {
      id = neighbour(geometry(window.layout, s.cols, s.rows), id, a.move) ?? id;
    }
    if (window.active !== id) window.zoomed = false;
    window.active = id;
    this.showWindow(s, window);
    this.relayout(s);
    return { window: s.windows.indexOf(window), pane: panesOf(window.layout).indexOf(id) };
  }

  private showWindow(s: Session, w: Window): void {
    if (s.activeWindow === w.id) return;
    s.lastWindow = s.activeWindow;
    s.activeWindow = w.id;
  }

  private selectWindow(a: OpArgs<'window.select'>): OpResult<'window.select'> {
    const s = this.get(a.name);
    const current = s.windows.indexOf(this.activeWindowOf(s));
    let index = a.window ?? current;
    if (a.move === 'next') index = (current + 1) % s.windows.length;
    else if (a.move === 'prev') index = (current + s.windows.length - 1) % s.windows.length;
    else if (a.move === 'last') index = Math.max(0, s.windows.findIndex((w) => w.id === s.lastWindow));
    const window = s.windows[index];
    if (!window) throw new ZmxError('ENOENT', `session "${s.name}" has no window ${index} (it has ${s.windows.length})`);
    this.showWindow(s, window);
    this.relayout(s);
    return { window: index };
  }

  /** Ends a pane's program (SIGHUP, then SIGKILL after a grace); its exit takes it out of the layout. */
  private async killPane(a: OpArgs<'pane.kill'>): Promise<OpResult<'pane.kill'>> {
    const s = this.get(a.name);
    const { pane } = this.target(s, a);
    await this.endPanes(s, [pane], false);
    return { id: pane.id };
  }

  private resizePane(a: OpArgs<'pane.resize'>): OpResult<'pane.resize'> {
    const s = this.get(a.name);
    const { window, pane } = this.target(s, a);
    if (a.zoom) {
      window.zoomed = !(window.zoomed && window.active === pane.id) && panesOf(window.layout).length > 1;
      window.active = pane.id;
    } else if (a.dir) {
      window.layout = resizeLayout(window.layout, pane.id, a.dir, Math.max(1, a.cells), s.cols, s.rows);
    }
    this.relayout(s);
    return { zoomed: window.zoomed };
  }

  private applyLayout(a: OpArgs<'window.layout'>): OpResult<'window.layout'> {
    const s = this.get(a.name);
    const { window } = this.target(s, { window: a.window, pane: null });
    const current = LAYOUT_PRESETS.indexOf(window.preset as (typeof LAYOUT_PRESETS)[number]);
    const name = a.layout === 'next' ? LAYOUT_PRESETS[(current + 1) % LAYOUT_PRESETS.length]! : a.layout;
    if (!isPreset(name)) throw new ZmxError('EINVAL', `unknown layout "${name}"; use one of ${LAYOUT_PRESETS.join(', ')}`);
    window.layout = preset(name, panesOf(window.layout));
    window.preset = name;
    window.zoomed = false;
    this.relayout(s);
    return { layout: name };
  }

  private create(args: OpArgs<'session.create'>): OpResult<'session.create'> {
    validateSessionName(args.name);
    const existing = this.sessions.get(args.name);
    if (existing) {
      if (args.ifMissing) return { session: this.info(existing), created: false };
      throw new ZmxError('EEXIST', `session "${args.name}" already exists`);
    }
    if (this.creating.has(args.name)) throw new ZmxError('EEXIST', `session "${args.name}" is being created`);
    const s = this.spawnSession(args);
    return { session: this.info(s), created: true };
  }

  private spawnSession(args: CreateArgs): Session {
    const cwd = resolve(args.cwd || process.env['HOME'] || '/');
    if (!existsSync(cwd) || !statSync(cwd).isDirectory()) throw new ZmxError('ENOENT', `directory ${cwd} does not exist`);
    const session: Session = {
      name: args.name,
      created: Date.now(),
      root: cwd,
      labels: new Map(),
      panes: new Map(),
      windows: [],
      activeWindow: 0,
      lastWindow: null,
      // A session made for a client's terminal fills it as one pane would.
      cols: clampCols(args.cols || TERMINAL.defaultCols),
      rows: clampArea((args.rows || TERMINAL.defaultRows) + CHROME.titleRows),
      task: null,
      running: new Map(),
      taskWaiters: [],
      markerTail: '',
      killed: false,
      worktree: null,
      portal: null,
      copied: false,
    };
    const pane = this.newPane(session, { cmd: args.cmd, cwd, env: args.env });
    const window: Window = { id: this.nextWindowId++, name: '', layout: leaf(pane.id), active: pane.id, zoomed: false, preset: LAYOUT_PRESETS[0] };
    session.windows.push(window);
    session.activeWindow = window.id;
    this.sessions.set(args.name, session);
    this.opts.log?.(`session ${args.name} created (pid ${pane.pid})`);
    this.opts.onSessionsChanged?.();
    return session;
  }

  /**
   * A pane's program ended: the pane leaves its window (a window left empty
   * closes), and the session ends with its last pane, as in tmux.
   */
  private onPaneExit(s: Session, pane: Pane, exit: { exitCode: number; signal: number }): void {
    // Ended already (kill gave up on a deaf pty, which then exited after all):
    // the name may belong to a new session by now.
    if (this.sessions.get(s.name) !== s || !s.panes.has(pane.id)) return;
    const status = exit.signal ? 128 + exit.signal : exit.exitCode;
    for (const [id, task] of [...s.running]) if (task.pane === pane.id) this.finishTask(s, id, status);
    const gone = () => {
      for (const w of this.paneWaiters.get(pane.id)?.splice(0) ?? []) w();
      this.paneWaiters.delete(pane.id);
    };
    if (s.panes.size > 1) {
      s.panes.delete(pane.id);
      this.paneIndex.delete(pane.id);
      const w = this.windowOfPane(s, pane.id);
      if (w) {
        const rest = remove(w.layout, pane.id);
        if (rest) {
          w.layout = rest;
          if (w.active === pane.id) w.active = panesOf(rest)[0]!;
          if (w.zoomed && !panesOf(rest).includes(w.active)) w.zoomed = false;
        } else {
          s.windows = s.windows.filter((x) => x !== w);
          if (s.activeWindow === w.id) s.activeWindow = (s.windows.find((x) => x.id === s.lastWindow) ?? s.windows[0]!).id;
          if (s.lastWindow === w.id) s.lastWindow = null;
        }
      }
      this.send({ t: MsgType.Event, name: 'pane.exit', data: { name: s.name, paneSid: pane.id, exitCode: exit.exitCode, killed: s.killed } });
      this.direct.paneEnded(pane.id, s.killed ? 'killed' : 'exited', exit.exitCode);
      pane.dispose();
      this.relayout(s);
      gone();
      return;
    }
    for (const id of [...s.running.keys()]) this.finishTask(s, id, status);
    this.sessions.delete(s.name);
    for (const w of s.taskWaiters.splice(0)) w(status);
    this.send({ t: MsgType.Event, name: 'session.exit', data: { name: s.name, exitCode: exit.exitCode, signal: exit.signal, killed: s.killed, paneSids: [...s.panes.keys()] } });
    for (const id of s.panes.keys()) this.direct.paneEnded(id, s.killed ? 'killed' : 'exited', exit.exitCode);
    for (const p of s.panes.values()) {
      p.dispose();
      this.paneIndex.delete(p.id);
    }
    gone();
    this.forgetWorkspace(s);
    this.opts.log?.(`session ${s.name} ended (exit ${exit.exitCode}, signal ${exit.signal})`);
    this.opts.onSessionsChanged?.();
  }

  private async kill(args: OpArgs<'session.kill'>): Promise<OpResult<'session.kill'>> {
    const killed: string[] = [];
    await Promise.all(args.names.map(async (name) => {
      const s = this.sessions.get(name);
      if (!s) return;
      s.killed = true;
      await this.endPanes(s, [...s.panes.values()], args.force);
      killed.push(name);
    }));
    return { killed: killed.sort() };
  }

  /**
   * Ends panes' programs: SIGHUP to each process group (SIGKILL when forced,
   * or after a grace), resolved once every pane has left its session.
   */
  private async endPanes(s: Session, panes: Pane[], force: boolean): Promise<void> {
    await Promise.all(panes.map(async (pane) => {
      if (!s.panes.has(pane.id) || this.sessions.get(s.name) !== s) return;
      let waiters = this.paneWaiters.get(pane.id);
      if (!waiters) this.paneWaiters.set(pane.id, (waiters = []));
      const gone = new Promise<void>((res) => waiters.push(res));
      pane.pty.signalGroup(force ? 'SIGKILL' : 'SIGHUP');
      const timer = setTimeout(() => pane.pty.signalGroup('SIGKILL'), TIMING.killGraceMs);
      // A pty that never reports its end even after SIGKILL must not hang kill.
      const giveUp = setTimeout(() => this.onPaneExit(s, pane, { exitCode: 0, signal: SIGKILL_NUMBER }), TIMING.killGraceMs * 2);
      await gone;
      clearTimeout(timer);
      clearTimeout(giveUp);
    }));
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

  private async run(args: OpArgs<'session.run'>): Promise<{ result: Record<string, unknown>; frames: Buffer[] }> {
    const s = this.get(args.name);
    const id = randomBytes(2).toString('hex');
    const command = args.script.replace(/[\r\n]+$/, '');
    if (command.trim() === '') throw new ZmxError('EINVAL', 'run needs a command');
    // The shell runs what is typed in order; each task keeps its own waiters,
    // and the latest is the one `list` and `wait` report.
    const pane = this.activePane(s);
    s.task = { id, pane: pane.id, command, status: null, ended: null };
    const waiters: ((status: number) => void)[] = [];
    const task: RunningTask = { pane: pane.id, waiters, output: null, outputBytes: 0 };
    s.running.set(id, task);
    const done = args.wait ? new Promise<number>((res) => waiters.push(res)) : null;
    // A readline shell takes the script as a paste: tabs stay tabs (no
    // completion), and every line reaches the parser as written. A shell
    // just started gets a moment to draw its first prompt.
    const readyMs = this.opts.shellReadyMs ?? TIMING.shellReadyMs;
    const age = Date.now() - s.created;
    const paste = pane.pasteCapable || (age < readyMs && (await pane.whenPasteCapable(readyMs - age)));
    if (args.wait) task.output = [];
    pane.input(Buffer.from(paste ? pastedCommand(command, id) : typedCommand(command, id), 'utf8'));
    if (!done) return { result: { status: null }, frames: [] };
    const status = await done;
    // The output printed while it ran: one frame, cut at the chunks' lengths.
    const chunks = task.output ?? [];
    const result: OpResult<'session.run'> = { status, seq: chunks.at(-1)?.seq ?? pane.seq, chunks: chunks.map((o) => [o.seq, o.data.length]) };
    return { result: result as unknown as Record<string, unknown>, frames: [Buffer.concat(chunks.map((o) => o.data))] };
  }

  /** Each chunk a pane prints: kept for the waited-for tasks running in it, then scanned for their markers. */
  private followTasks(s: Session, pane: Pane, data: Buffer): void {
    if (s.running.size === 0) return;
    for (const task of s.running.values()) {
      if (task.pane !== pane.id || !task.output) continue;
      task.output.push({ seq: pane.seq, data });
      task.outputBytes += data.length;
      while (task.output.length > 1 && (task.outputBytes > RUN_OUTPUT_KEEP_BYTES || task.output.length > RUN_OUTPUT_KEEP_CHUNKS)) {
        task.outputBytes -= task.output.shift()!.data.length;
      }
    }
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
    const task = s.running.get(id);
    if (!task) return;
    s.running.delete(id);
    for (const w of task.waiters) w(status);
    if (s.task?.id !== id) return;
    s.task.status = status;
    s.task.ended = Date.now();
    for (const w of s.taskWaiters.splice(0)) w(status);
    this.send({ t: MsgType.Event, name: 'task.done', data: { name: s.name, status, ended: s.task.ended } });
    // The pane's title shows the task's state.
    this.relayout(s);
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
    const uri = s.panes.size > 0 ? this.activePane(s).cwdUri : '';
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

  // ------------------------------------------------------------ workspaces

  private workspaceOf(s: Session): { session: string; root: string; stateDir: string } {
    return { session: s.name, root: s.root, stateDir: this.stateDir };
  }

  /**
   * session.create with a prepared workspace: a git worktree as the root, or
   * a portal pane (an MCP configuration for `zmx mcp -H HOST -t SESSION`,
   * its path and target in the environment, the flag for known agents).
   */
  private async createWorkspace(a: OpArgs<'workspace.create'>): Promise<OpResult<'workspace.create'>> {
    validateSessionName(a.name);
    if (this.sessions.has(a.name) || this.creating.has(a.name)) throw new ZmxError('EEXIST', `session "${a.name}" already exists`);
    if (a.worktree && a.portal) throw new ZmxError('EINVAL', 'a session takes a worktree or a portal, not both');
    const create: CreateArgs = { name: a.name, cmd: a.cmd, cwd: a.cwd, env: a.env, cols: a.cols, rows: a.rows };
    if (a.portal) {
      const target = portalTarget(a.portal.host, a.portal.session);
      const file = join(ensurePrivateDir(join(this.stateDir, PORTAL_DIR)), `${encodeName(a.name)}.mcp.json`);
      rmSync(file, { force: true }); // a file left by an earlier session: made anew, so mode 0600 applies
      writeFileSync(file, mcpConfig(target), { mode: 0o600 });
      let s: Session;
      try {
        s = this.spawnSession({ ...create, cmd: portalArgv(a.cmd, file, target), env: { ...a.env, ...portalEnv(target, file) } });
      } catch (err) {
        rmSync(file, { force: true });
        throw err;
      }
      s.portal = { name: portalName(target), file };
      return { session: this.info(s), createdBranch: false, reused: false };
    }
    if (!a.worktree) return { session: this.info(this.spawnSession(create)), createdBranch: false, reused: false };
    this.creating.add(a.name);
    let made = false;
    try {
      const wt = await addWorktree(resolve(homedir(), a.worktree.repo), a.worktree.branch, a.name);
      let s: Session;
      try {
        s = this.spawnSession({ ...create, cwd: wt.path });
      } catch (err) {
        await undoWorktree(wt);
        throw err;
      }
      made = true;
      s.worktree = wt;
      this.opts.log?.(`session ${a.name} owns worktree ${wt.path} (branch ${wt.branch}${wt.createdBranch ? ', new' : ''})`);
      return { session: this.info(s), createdBranch: wt.createdBranch, reused: wt.reused };
    } finally {
      this.creating.delete(a.name);
      // A pty host started for this request may exit now that no session came of it.
      if (!made) this.opts.onSessionsChanged?.();
    }
  }

  /**
   * Kills sessions and removes their worktrees (the branches stay) and
   * snapshots. Uncommitted changes in any worktree refuse the whole request,
   * before anything is killed, unless `force`.
   */
  private async killClean(a: OpArgs<'workspace.kill'>): Promise<OpResult<'workspace.kill'>> {
    const targets = a.names.map((n) => this.sessions.get(n)).filter((s): s is Session => s !== undefined);
    if (!a.force) {
      for (const s of targets) {
        if (!s.worktree) continue;
        const changes = await worktreeChanges(s.worktree.path).catch(() => []);
        if (changes.length > 0) {
          throw new ZmxError('EINVAL', `worktree ${s.worktree.path} of session "${s.name}" has uncommitted changes (${changes.length} ${changes.length === 1 ? 'file' : 'files'}); commit or stash them, or add --force to discard them`);
        }
      }
    }
    // Where each session's git snapshots are, found while the root still exists.
    const repos = new Map<Session, string | null>();
    for (const s of targets) repos.set(s, s.worktree?.repo ?? ((await listSnapshots(this.workspaceOf(s)).catch(() => null))?.kind === 'git' ? s.root : null));
    const { killed } = await this.kill({ names: targets.map((s) => s.name), force: a.force });
    const removed: OpResult<'workspace.kill'>['removed'] = [];
    const failures: string[] = [];
    for (const s of targets) {
      await dropSnapshots(s.name, this.stateDir, repos.get(s) ?? null).catch(() => {});
      if (!s.worktree) continue;
      try {
        await removeWorktree(s.worktree, a.force);
        removed.push({ name: s.name, path: s.worktree.path, branch: s.worktree.branch });
      } catch (err) {
        failures.push(toZmxError(err).message);
      }
    }
    if (failures.length > 0) throw new ZmxError('EINVAL', `killed ${killed.map((n) => `"${n}"`).join(', ')}, but ${failures.join('; ')}`);
    return { killed, removed };
  }

  /** A session has ended: what zmx kept for it in the state dir goes (its worktree stays unless kill --clean). */
  private forgetWorkspace(s: Session): void {
    if (s.portal) rmSync(s.portal.file, { force: true });
    if (s.copied) dropCopies(s.name, this.stateDir).catch(() => {});
  }

  // ------------------------------------------------------------ upgrade (handover.ts)

  /** Whether a hand-over must wait: a workspace is being made (git runs). */
  get busy(): boolean {
    return this.creating.size > 0;
  }

  /** Every pane, for a hand-over to freeze and snapshot. */
  allPanes(): Pane[] {
    return [...this.paneIndex.values()].map((e) => e.pane);
  }

  /** The sessions as data for the next pty host; `pane` gives each pane's state (its screen, its fd there). */
  exportSessions(pane: (p: Pane) => PaneState): Omit<HandoverState, 'format'> {
    const sessions: SessionState[] = [...this.sessions.values()].map((s) => ({
      name: s.name, created: s.created, root: s.root, labels: Object.fromEntries(s.labels),
      windows: s.windows.map((w) => ({ ...w })), activeWindow: s.activeWindow, lastWindow: s.lastWindow,
      cols: s.cols, rows: s.rows, task: s.task ? { ...s.task } : null,
      running: [...s.running].map(([id, t]) => ({ id, pane: t.pane })),
      markerTail: s.markerTail, killed: s.killed, worktree: s.worktree, portal: s.portal, copied: s.copied,
      panes: [...s.panes.values()].map(pane),
    }));
    return { nextPaneId: this.nextPaneId, nextWindowId: this.nextWindowId, sessions };
  }

  /** Takes on a previous pty host's sessions; `adopt` makes each pane on the pty it inherited. */
  async importSessions(state: HandoverState, adopt: (p: PaneState, events: PaneEvents) => Promise<Pane>): Promise<void> {
    this.nextPaneId = Math.max(this.nextPaneId, state.nextPaneId);
    this.nextWindowId = Math.max(this.nextWindowId, state.nextWindowId);
    for (const st of state.sessions) {
      const s: Session = {
        name: st.name, created: st.created, root: st.root, labels: new Map(Object.entries(st.labels)),
        panes: new Map(), windows: st.windows.map((w) => ({ ...w })), activeWindow: st.activeWindow, lastWindow: st.lastWindow,
        cols: st.cols, rows: st.rows, task: st.task ? { ...st.task } : null,
        running: new Map(st.running.map((t) => [t.id, { pane: t.pane, waiters: [], output: null, outputBytes: 0 }])),
        taskWaiters: [], markerTail: st.markerTail, killed: st.killed, worktree: st.worktree, portal: st.portal, copied: st.copied,
      };
      for (const ps of st.panes) this.track(s, await adopt(ps, this.paneEvents(s)));
      this.sessions.set(s.name, s);
      this.opts.log?.(`session ${s.name} taken over (${s.panes.size} ${s.panes.size === 1 ? 'pane' : 'panes'})`);
    }
    this.opts.onSessionsChanged?.();
  }

  /**
   * After a hand-over: forgets every session without ending any (the next
   * pty host has them) and frees their terminals.
   */
  relinquish(): void {
    for (const { pane } of this.paneIndex.values()) pane.dispose();
    this.paneIndex.clear();
    this.sessions.clear();
    this.direct.reset();
  }

  /** Ends every session and command (used when the host itself is asked to stop). */
  async shutdown(): Promise<void> {
    const names = [...this.sessions.keys()];
    await Promise.all([names.length ? this.kill({ names, force: false }) : null, this.commands.dispose()]);
  }
}

function clampCols(cols: number): number {
  return Math.min(Math.max(cols, 2), LIMITS.maxCols);
}

/** A window area: room for the largest pane and its title. */
function clampArea(rows: number): number {
  return Math.min(Math.max(rows, CHROME.titleRows + 1), LIMITS.maxRows + CHROME.titleRows);
}

function clampRows(rows: number): number {
  return Math.min(Math.max(rows, 1), LIMITS.maxRows);
}

