/**
 * Upgrading the pty host without ending a session (`zmx server upgrade`).
 *
 * The running pty host (the old one) is asked by the front to hand over
 * (`host.handover`). It stops reading every pty (their programs run on;
 * what they print waits in the kernel), snapshots every pane, and spawns
 * the next pty host from the script the front names, passing each pty
 * master as an inherited fd and the sessions as one JSON line on its stdin
 * (handover-state.ts). The new one rebuilds every session on those fds and
 * says so; the old one answers the front, which then sends
 * `host.handover.commit`: the old host closes its endpoints and lock, lets
 * go of its fds and tells the new one to go on; it binds, reads the ptys,
 * and the front greets it. Until the commit nothing is lost: if the new
 * host fails, the old one reads on as before.
 *
 * The programs stay children of the old process, and only a parent can
 * learn how a child ended. So the old process stays, slim (its terminals
 * freed, its sockets closed), as a reaper: it reports each program's end on
 * a pipe (the new host's fd 3) and exits after the last. If the reaper is
 * killed, a pane still ends when its pty closes, its status unknown (0).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import { Socket } from 'node:net';
import type { Readable, Writable } from 'node:stream';
import { ZmxError, toZmxError } from '../common/errors.js';
import { TIMING } from '../common/constants.js';
import { MsgType, encode, type RequestMsg } from '../common/protocol.js';
import { DAEMON_NODE_OPTIONS, READY_LINE } from '../platform/daemon.js';
import { collectSoon } from '../platform/memory.js';
import { Pane } from './pane.js';
import type { PtyHost } from './host.js';
import { adoptPty, type PtyExit, type PtyHandover } from './pty.js';
import { HANDOVER_FORMAT, type HandoverState, type PaneState } from './handover-state.js';

/** Set in the new pty host's environment: its stdin carries a hand-over. */
export const HANDOVER_ENV = 'ZMX_HANDOVER';
/** What the new pty host prints once it has rebuilt every session. */
export const ADOPTED_LINE = 'zmx-adopted';
/** What the old one writes to the new one's stdin once it has let go. */
const GO_LINE = 'go';
/** The new pty host's fd carrying the programs' ends from the old one. */
const RELAY_FD = 3;
/** The first fd of the pty masters in the new pty host. */
const FIRST_PTY_FD = 4;
/** How long the new pty host may take to rebuild the sessions. */
const ADOPT_TIMEOUT_MS = TIMING.serverStartTimeoutMs;
/** After answering the front, how long the old pty host waits for the commit before calling the hand-over off. */
const COMMIT_TIMEOUT_MS = 10_000;

export type HandoverOp = 'host.handover' | 'host.handover.commit';

export function isHandoverOp(op: string): op is HandoverOp {
  return op === 'host.handover' || op === 'host.handover.commit';
}

// ------------------------------------------------------------------ old side

export interface OutgoingDeps {
  host: PtyHost;
  /** Where the new pty host's stderr goes (the pty host log). */
  logPath: string;
  send(frames: Buffer[]): void;
  log(msg: string): void;
  /** Closes this pty host's endpoints and releases its lock: the new one takes them. */
  letGo(): Promise<void>;
  /** Every program handed over has ended and been reported: the reaper may exit. */
  reaped(): void;
}

interface Pending {
  child: ChildProcess;
  /** When reading stopped (the log says for how long the programs' output waited). */
  frozen: number;
  panes: Pane[];
  timer: NodeJS.Timeout;
}

/** The old pty host's part: serves host.handover and host.handover.commit. */
export class Outgoing {
  private pending: Pending | null = null;
  private preparing = false;
  /** Set at the commit: this process is only a reaper from then on. */
  handedOver = false;

  constructor(private readonly deps: OutgoingDeps) {}

  request(h: RequestMsg): void {
    if (h.op === 'host.handover.commit') {
      void this.commit();
      return;
    }
    const script = typeof h.args['script'] === 'string' ? h.args['script'] : '';
    this.prepare(script).then(
      (result) => this.deps.send(encode({ t: MsgType.Reply, id: h.id, result })),
      (err) => {
        const e = toZmxError(err);
        this.deps.send(encode({ t: MsgType.Error, id: h.id, code: e.code, message: e.message }));
      },
    );
  }

  private async prepare(script: string): Promise<{ pid: number; panes: number }> {
    if (!script) throw new ZmxError('EINVAL', 'host.handover needs the script of the next pty host');
    if (this.preparing || this.pending || this.handedOver) throw new ZmxError('EINVAL', 'a hand-over is under way already');
    const host = this.deps.host;
    if (host.busy) throw new ZmxError('EINVAL', 'a session is being created; upgrade again once it is');
    // Portal commands are children with pipes this process reads, not ptys: they cannot be handed over.
    const commands = host.commands.holding;
    if (commands > 0) throw new ZmxError('EINVAL', `${commands} portal ${commands === 1 ? 'command runs' : 'commands run'} (or ${commands === 1 ? 'its end is' : 'their ends are'} not yet audited); upgrade once ${commands === 1 ? 'it has' : 'they have'} ended (zmx exec --list), or kill ${commands === 1 ? 'it' : 'them'}`);
    const panes = host.allPanes();
    const ways = panes.map((p) => p.pty.handover);
    if (ways.some((w) => !w)) throw new ZmxError('EINVAL', 'this pty host cannot hand its ptys over');
    this.preparing = true;
    const handovers = ways as PtyHandover[];
    // Started first, so that it loads its code while this one snapshots; it reads nothing before the state.
    const next = this.spawnNext(script, handovers.map((w) => w.fd));
    try {
      const frozen = Date.now();
      await Promise.all(handovers.map((w) => w.freeze()));
      const snaps = new Map<Pane, { seq: number; vt: string; fd: number }>();
      for (const [i, p] of panes.entries()) {
        const snap = await p.snapshot();
        snaps.set(p, { seq: snap.seq, vt: snap.vt.toString('utf8'), fd: FIRST_PTY_FD + i });
      }
      const state: HandoverState = {
        format: HANDOVER_FORMAT,
        ...host.exportSessions((p): PaneState => {
          const snap = snaps.get(p)!;
          return { id: p.id, pid: p.pid, cmd: p.cmd, cols: p.cols, rows: p.rows, seq: snap.seq, title: p.title, cwdUri: p.cwdUri, pasteCapable: p.pasteCapable, vt: snap.vt, fd: snap.fd, historyLimit: p.historyLimit };
        }),
      };
      (next.child.stdin as Writable).write(JSON.stringify(state) + '\n');
      await next.adopted;
      const child = next.child;
      const timer = setTimeout(() => this.abort(child, 'no commit came from the front'), COMMIT_TIMEOUT_MS);
      this.pending = { child, panes, timer, frozen };
      this.deps.log(`handing ${panes.length} ${panes.length === 1 ? 'pane' : 'panes'} over to pty host ${child.pid}`);
      return { pid: child.pid!, panes: panes.length };
    } catch (err) {
      next.child.kill('SIGKILL');
      for (const w of handovers) w.thaw();
      throw err;
    } finally {
      this.preparing = false;
    }
  }

  /** Starts the next pty host on the same ptys; `adopted` resolves once it has every session. */
  private spawnNext(script: string, fds: number[]): { child: ChildProcess; adopted: Promise<void> } {
    const log = openSync(this.deps.logPath, 'a', 0o600);
    const env = { ...process.env, [HANDOVER_ENV]: '1' };
    const child = spawn(process.execPath, [...DAEMON_NODE_OPTIONS, script], {
      detached: true,
      stdio: ['pipe', 'pipe', log, 'pipe', ...fds],
      env,
    });
    closeSync(log);
    (child.stdin as Writable).on('error', () => {});
    const adopted = new Promise<void>((resolve, reject) => {
      let out = '';
      const fail = (why: string) => {
        clearTimeout(timer);
        child.kill('SIGKILL');
        reject(new ZmxError('EUNAVAIL', `the new pty host ${why}${lastLine(this.deps.logPath)} (log: ${this.deps.logPath})`));
      };
      const timer = setTimeout(() => fail('did not take the sessions over in time'), ADOPT_TIMEOUT_MS);
      const stdout = child.stdout as Readable;
      const onData = (d: Buffer) => {
        out += d.toString();
        if (out.includes(ADOPTED_LINE)) {
          clearTimeout(timer);
          stdout.off('data', onData);
          child.off('exit', onExit);
          resolve();
        } else if (out.includes(READY_LINE)) {
          fail('does not know how to take sessions over (an older zmx?)');
        }
      };
      const onExit = (code: number | null) => fail(`exited (code ${code})`);
      stdout.on('data', onData);
      child.once('exit', onExit);
      child.once('error', (err) => fail(err.message));
    });
    adopted.catch(() => {}); // awaited once the state is sent; a failure before that is the caller's
    return { child, adopted };
  }

  private abort(child: ChildProcess, why: string): void {
    if (!this.pending || this.pending.child !== child) return;
    this.deps.log(`hand-over called off: ${why}`);
    const { panes } = this.pending;
    this.pending = null;
    child.kill('SIGKILL');
    for (const p of panes) p.pty.handover?.thaw();
  }

  private async commit(): Promise<void> {
    const pending = this.pending;
    if (!pending) return;
    clearTimeout(pending.timer);
    this.pending = null;
    this.handedOver = true;
    const { child } = pending;
    // Only what the reaper needs: a Pane kept here would keep its terminal (screen, scrollback) alive.
    const programs = pending.panes.map((p) => ({ id: p.id, pid: p.pid, handover: p.pty.handover! }));
    const relay = child.stdio[RELAY_FD] as Socket;
    relay.on('error', () => {}); // the new pty host died: its programs got a hangup and end here too
    let left = programs.length;
    const done = () => {
      let exited = false;
      const exit = () => { if (!exited) { exited = true; this.deps.reaped(); } };
      relay.once('close', exit);
      relay.end(exit);
    };
    await this.deps.letGo();
    for (const { id, pid, handover } of programs) {
      handover.release((exit) => {
        this.deps.log(`pane ${id} (pid ${pid}) ended${exit ? ` (exit ${exit.exitCode}, signal ${exit.signal})` : ', status unknown'}`);
        relay.write(JSON.stringify({ pane: id, exit }) + '\n');
        if (--left === 0) done();
      });
    }
    this.deps.host.relinquish();
    collectSoon();
    (child.stdin as Writable).end(GO_LINE + '\n');
    (child.stdout as Readable).resume(); // its ready line, unread
    child.unref();
    this.deps.log(`handed over to pty host ${child.pid} (output unread for ${Date.now() - pending.frozen} ms); reaping ${programs.length} ${programs.length === 1 ? 'program' : 'programs'}`);
    if (left === 0) done();
  }
}

function lastLine(path: string): string {
  try {
    const line = readFileSync(path, 'utf8').trim().split('\n').pop() ?? '';
    return line ? `: ${line}` : '';
  } catch {
    return '';
  }
}

// ------------------------------------------------------------------ new side

/**
 * The programs' ends as the old pty host (their parent, now a reaper)
 * reports them on RELAY_FD, by pane. When the pipe closes with a pane not
 * reported, its end is unknown (null).
 */
class ExitRelay {
  private readonly known = new Map<number, PtyExit | null>();
  private readonly waiting = new Map<number, (exit: PtyExit | null) => void>();
  private closed = false;

  constructor(fd: number) {
    const sock = new Socket({ fd, readable: true, writable: false });
    let buf = '';
    sock.on('data', (d: Buffer) => {
      buf += d.toString('utf8');
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        try {
          const m = JSON.parse(line) as { pane: number; exit: PtyExit | null };
          this.report(m.pane, m.exit);
        } catch { /* not a report */ }
      }
    });
    const end = () => {
      if (this.closed) return;
      this.closed = true;
      for (const [pane, cb] of [...this.waiting]) { this.waiting.delete(pane); cb(null); }
    };
    sock.on('end', end);
    sock.on('close', end);
    sock.on('error', end);
  }

  private report(pane: number, exit: PtyExit | null): void {
    const cb = this.waiting.get(pane);
    if (cb) { this.waiting.delete(pane); cb(exit); } else this.known.set(pane, exit);
  }

  wait(pane: number, cb: (exit: PtyExit | null) => void): void {
    if (this.known.has(pane)) { const e = this.known.get(pane)!; this.known.delete(pane); cb(e); }
    else if (this.closed) cb(null);
    else this.waiting.set(pane, cb);
  }
}

/** Lines from a stream, one at a time. */
class LineReader {
  private buf = '';
  private waiters: ((line: string | null) => void)[] = [];
  private lines: (string | null)[] = [];

  constructor(stream: Readable) {
    stream.on('data', (d: Buffer) => {
      this.buf += d.toString('utf8');
      let nl: number;
      while ((nl = this.buf.indexOf('\n')) >= 0) {
        this.push(this.buf.slice(0, nl));
        this.buf = this.buf.slice(nl + 1);
      }
    });
    stream.on('end', () => this.push(null));
    stream.on('error', () => this.push(null));
  }

  private push(line: string | null): void {
    const w = this.waiters.shift();
    if (w) w(line);
    else this.lines.push(line);
  }

  next(): Promise<string | null> {
    if (this.lines.length) return Promise.resolve(this.lines.shift()!);
    return new Promise((r) => this.waiters.push(r));
  }
}

export interface Incoming {
  state: HandoverState;
  lines: LineReader;
}

/**
 * In a pty host started for a hand-over: the state the old one sent, or
 * null when this pty host was not started for one. Throws on a state this
 * version cannot read (the old host then keeps its sessions).
 */
export async function receiveHandover(): Promise<Incoming | null> {
  if (!process.env[HANDOVER_ENV]) return null;
  // The sessions' programs must not inherit it.
  delete process.env[HANDOVER_ENV];
  const lines = new LineReader(process.stdin);
  const line = await lines.next();
  if (line === null) throw new Error('the old pty host sent no state');
  const state = JSON.parse(line) as HandoverState;
  if (state.format !== HANDOVER_FORMAT) throw new Error(`hand-over format ${state.format} is not known here (${HANDOVER_FORMAT})`);
  return { state, lines };
}

/**
 * Rebuilds every session of `incoming` on the inherited ptys, tells the old
 * pty host, and resolves once it has let go (the caller then takes the lock
 * and binds). Exits this process if the old one calls the hand-over off.
 */
export async function takeOver(host: PtyHost, incoming: Incoming, scrollback: number): Promise<void> {
  const relay = new ExitRelay(RELAY_FD);
  const ptys: { start(): void }[] = [];
  await host.importSessions(incoming.state, async (ps, events) => {
    const pty = adoptPty({ fd: ps.fd, pid: ps.pid, waitExit: (cb) => relay.wait(ps.id, cb) });
    ptys.push(pty);
    const [file = '', ...args] = ps.cmd;
    const pane = new Pane({ id: ps.id, file, args, cwd: '/', env: {}, cols: ps.cols, rows: ps.rows, scrollback: ps.historyLimit ?? scrollback, spawn: () => pty, parser: host.parser }, events);
    await pane.restore(ps);
    return pane;
  });
  // Straight to fd 1: a process.stdout stream would hold it open past signalReady.
  writeSync(1, ADOPTED_LINE + '\n');
  const go = await incoming.lines.next();
  // Called off (the old host reads on): leave without touching a program.
  if (go !== GO_LINE) process.exit(0);
  for (const p of ptys) p.start();
}
