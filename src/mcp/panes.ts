/**
 * Any pane of any session, read or followed, for the MCP resources
 * (src/mcp/resources.ts). A pane is mirrored here as the full-screen client
 * does it: a read-only full-screen attach to its session (no size of its
 * own, never the size leader), a view of the pane (`pane.subscribe`) whose
 * snapshot and output feed an @xterm/headless terminal with the server's
 * character widths. Its screen and history are then read from that copy,
 * consistent with the output that announced a change. A pane read once is
 * mirrored for that read only; a followed one for as long as it is followed.
 *
 * The emulator is loaded on first use, so an MCP server that never reads a
 * pane never loads it.
 */
import type { Terminal } from '@xterm/headless';
import { ZmxError } from '../common/errors.js';
import { panesOf } from '../common/layout.js';
import type { SessionInfo, StreamEndReason } from '../common/protocol.js';
import type { Connection } from '../client/connection.js';

/** Lines of scrollback a mirror keeps: more than the server's default `history-limit`, so a snapshot's whole history fits. */
const MIRROR_SCROLLBACK_LINES = 10_000;
/** Unparsed output a mirror takes before it withholds its view's credit (the server then holds the rest). */
const MIRROR_QUEUE_BYTES = 4 * 1024 * 1024;

export type PaneView = 'screen' | 'history';

/** Why a followed pane stopped: it ended (`gone`), or the link to it did and it may be followed again (`lost`). */
export type FollowEnd = 'gone' | 'lost';

export interface PaneFollower {
  /** The pane printed something (already in its mirror: a read now sees it). */
  change(): void;
  end(why: FollowEnd): void;
}

/** What resources need: read a pane, follow it, hear when a session's panes change. */
export interface PaneSource {
  read(session: string, pane: number, view: PaneView): Promise<string>;
  /** Follows a pane until the returned function is called or `follower.end`. */
  follow(session: string, pane: number, follower: PaneFollower): Promise<() => void>;
  /** `listener` hears the name of a session with a mirrored pane whose panes came, went or moved. */
  onLayout(listener: (session: string) => void): void;
  dispose(): void;
}

type Xterm = { Terminal: typeof Terminal; Unicode11Addon: new () => { activate(t: Terminal): void; dispose(): void } };
let xterm: Promise<Xterm> | null = null;

function loadXterm(): Promise<Xterm> {
  xterm ??= Promise.all([import('@xterm/headless'), import('@xterm/addon-unicode11')])
    .then(([h, u]) => ({ Terminal: h.default.Terminal, Unicode11Addon: u.default.Unicode11Addon }));
  return xterm;
}

/** Resolves once the terminal has parsed everything written to it so far. */
function parsed(term: Terminal, data: Buffer | string = ''): Promise<void> {
  return new Promise((resolve) => term.write(data, resolve));
}

/** The visible screen as text: each row without trailing blanks, blank rows at the end left out. */
export function screenText(term: Terminal): string {
  const buffer = term.buffer.active;
  const rows: string[] = [];
  for (let y = 0; y < term.rows; y++) rows.push(buffer.getLine(buffer.viewportY + y)?.translateToString(true) ?? '');
  return joinLines(rows);
}

/** Scrollback and screen as text, wrapped lines joined as the program wrote them. */
export function historyText(term: Terminal): string {
  const buffer = term.buffer.active;
  const lines: string[] = [];
  for (let i = 0; i < buffer.length; i++) {
    const line = buffer.getLine(i);
    if (!line) continue;
    if (line.isWrapped && lines.length > 0) lines[lines.length - 1] += line.translateToString(true);
    else lines.push(line.translateToString(true));
  }
  return joinLines(lines);
}

/** Lines without trailing blanks (a program may print them, as xterm keeps them), and no blank lines at the end. */
function joinLines(lines: string[]): string {
  for (let i = 0; i < lines.length; i++) lines[i] = lines[i]!.trimEnd();
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines.length ? lines.join('\n') + '\n' : '';
}

/** A session this process watches: its read-only full-screen attach, and the panes mirrored through it. */
interface Observer {
  name: string;
  /** The attach stream's id, once open. */
  opened: Promise<number>;
  info: SessionInfo | null;
  sid: number | null;
  mirrors: Map<number, Mirror>;
}

interface Mirror {
  observer: Observer;
  pane: number;
  term: Terminal | null;
  /** The view stream's id, once open. */
  sid: number | null;
  ready: Promise<void>;
  /** Reads in progress and followers: the mirror ends when none is left. */
  users: number;
  followers: Set<PaneFollower>;
  queued: number;
  held: boolean;
  closed: boolean;
}

export class PaneMirrors implements PaneSource {
  private readonly observers = new Map<string, Observer>();
  private readonly layoutListeners: ((session: string) => void)[] = [];
  private disposed = false;

  constructor(private readonly conn: Connection) {
    conn.onEvent((name, data) => {
      if (name === 'session.layout') this.layout(data['sid'] as number, data['session'] as SessionInfo);
    });
    // A new front knows none of our streams: everything followed is lost (and followed again by its owner).
    conn.onLink((state) => { if (state === 'restored') this.endAll('lost'); });
  }

  async read(session: string, pane: number, view: PaneView): Promise<string> {
    const m = this.use(session, pane);
    try {
      await m.ready;
      if (m.term) await parsed(m.term);
      // The view ended meanwhile (the pane exited, the link dropped): nothing consistent to read.
      if (m.closed || !m.term) throw new ZmxError('EUNAVAIL', `the view of pane ${pane} of "${session}" ended while it was read; read it again`);
      return view === 'screen' ? screenText(m.term) : historyText(m.term);
    } finally {
      this.release(m);
    }
  }

  async follow(session: string, pane: number, follower: PaneFollower): Promise<() => void> {
    const m = this.use(session, pane);
    try {
      await m.ready;
    } catch (err) {
      this.release(m);
      throw err;
    }
    m.followers.add(follower);
    return () => {
      if (m.followers.delete(follower)) this.release(m);
    };
  }

  onLayout(listener: (session: string) => void): void {
    this.layoutListeners.push(listener);
  }

  dispose(): void {
    this.disposed = true;
    for (const o of [...this.observers.values()]) {
      for (const m of o.mirrors.values()) this.close(m);
      this.closeObserver(o);
    }
  }

  /** The pane's mirror, made if need be, with one more user. */
  private use(session: string, pane: number): Mirror {
    if (this.disposed) throw new ZmxError('EUNAVAIL', 'the MCP server is shutting down');
    const o = this.observer(session);
    let m = o.mirrors.get(pane);
    if (!m) {
      m = { observer: o, pane, term: null, sid: null, ready: Promise.resolve(), users: 0, followers: new Set(), queued: 0, held: false, closed: false };
      m.ready = this.open(m);
      m.ready.catch(() => this.close(m!));
      o.mirrors.set(pane, m);
    }
    m.users++;
    return m;
  }

  private release(m: Mirror): void {
    if (--m.users <= 0) this.close(m);
  }

  private observer(session: string): Observer {
    let o = this.observers.get(session);
    if (o) return o;
    const created: Observer = { name: session, opened: Promise.resolve(0), info: null, sid: null, mirrors: new Map() };
    created.opened = this.conn.request('session.attach', { name: session, cols: 0, rows: 0, create: null, readOnly: true, mode: 'tui' }).then(({ result }) => {
      created.sid = result.sid;
      created.info = result.session;
      if (this.observers.get(session) !== created) {
        this.conn.detach(result.sid);
      } else {
        this.conn.stream(result.sid, {
          output: () => {},
          end: (reason) => { if (this.observers.get(session) === created) this.observerEnded(created, reason); },
        });
      }
      return result.sid;
    });
    created.opened.catch(() => { if (this.observers.get(session) === created) this.observers.delete(session); });
    this.observers.set(session, created);
    return created;
  }

  private async open(m: Mirror): Promise<void> {
    const attach = await m.observer.opened;
    const info = m.observer.info?.panes.find((p) => p.id === m.pane);
    if (!info) {
      const ids = m.observer.info?.panes.map((p) => p.id).join(', ') ?? '';
      throw new ZmxError('ENOENT', `session "${m.observer.name}" has no pane ${m.pane} (its panes: ${ids})`);
    }
    const { Terminal: Term, Unicode11Addon } = await loadXterm();
    if (m.closed) return;
    const term = new Term({ cols: Math.max(1, info.cols), rows: Math.max(1, info.rows), scrollback: MIRROR_SCROLLBACK_LINES, allowProposedApi: true });
    // The same character widths as the server's copy of the pane.
    term.loadAddon(new Unicode11Addon());
    term.unicode.activeVersion = '11';
    m.term = term;
    const { result, frames } = await this.conn.request('pane.subscribe', { attach, pane: m.pane });
    if (m.closed) {
      this.conn.detach(result.sid);
      return;
    }
    m.sid = result.sid;
    await parsed(term, frames[0] ?? Buffer.alloc(0));
    this.conn.stream(result.sid, {
      output: (_seq, data) => this.feed(m, data),
      // The view fell behind: its screen as it is now replaces what we had.
      resync: (_seq, screen) => {
        term.reset();
        this.feed(m, screen);
      },
      end: (reason) => this.ended(m, reason),
    });
  }

  private feed(m: Mirror, data: Buffer): void {
    const term = m.term;
    if (!term || m.closed) return;
    m.queued += data.length;
    if (!m.held && m.queued > MIRROR_QUEUE_BYTES && m.sid !== null) {
      m.held = true;
      this.conn.hold(m.sid);
    }
    term.write(data, () => {
      m.queued -= data.length;
      if (m.held && m.queued <= MIRROR_QUEUE_BYTES / 2 && m.sid !== null) {
        m.held = false;
        this.conn.release(m.sid);
      }
      for (const f of m.followers) f.change();
    });
  }

  private ended(m: Mirror, reason: StreamEndReason): void {
    if (m.closed) return;
    const followers = [...m.followers];
    this.close(m);
    // The pane's program ended (or its session did); anything else may be followed again.
    for (const f of followers) f.end(reason === 'exited' || reason === 'killed' ? 'gone' : 'lost');
  }

  private observerEnded(o: Observer, reason: StreamEndReason): void {
    this.observers.delete(o.name);
    for (const m of [...o.mirrors.values()]) this.ended(m, reason);
  }

  private endAll(why: FollowEnd): void {
    for (const o of [...this.observers.values()]) {
      this.observers.delete(o.name);
      for (const m of [...o.mirrors.values()]) {
        const followers = [...m.followers];
        m.sid = null; // the front that had the stream is gone
        this.close(m);
        for (const f of followers) f.end(why);
      }
    }
  }

  private close(m: Mirror): void {
    if (m.closed) return;
    m.closed = true;
    m.followers.clear();
    if (m.sid !== null) {
      this.conn.detach(m.sid);
      this.conn.dropStream(m.sid);
    }
    // After what it was given is parsed, so a read waiting on that is answered (and then sees `closed`).
    const term = m.term;
    term?.write('', () => term.dispose());
    const o = m.observer;
    if (o.mirrors.get(m.pane) === m) o.mirrors.delete(m.pane);
    if (o.mirrors.size === 0) this.closeObserver(o);
  }

  /** Ends the session's attach once no pane of it is mirrored. */
  private closeObserver(o: Observer): void {
    if (this.observers.get(o.name) === o) this.observers.delete(o.name);
    if (o.sid !== null) {
      this.conn.detach(o.sid);
      this.conn.dropStream(o.sid);
      o.sid = null;
    }
  }

  /** A watched session's windows or panes changed: mirrors take their pane's new size. */
  private layout(sid: number, info: SessionInfo): void {
    const o = [...this.observers.values()].find((x) => x.sid === sid);
    if (!o) return;
    const before = o.info ? panePlaces(o.info) : '';
    o.info = info;
    for (const m of o.mirrors.values()) {
      const p = info.panes.find((x) => x.id === m.pane);
      if (p && m.term && (p.cols !== m.term.cols || p.rows !== m.term.rows)) m.term.resize(Math.max(1, p.cols), Math.max(1, p.rows));
    }
    if (panePlaces(info) !== before) for (const l of this.layoutListeners) l(o.name);
  }
}

/** Which pane is where (windows in order, panes in layout order): what a layout event may change that lists show. */
function panePlaces(info: SessionInfo): string {
  return [...info.windows].sort((a, b) => a.index - b.index).map((w) => panesOf(w.layout).join('.')).join(':');
}
