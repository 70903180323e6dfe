/**
 * The full-screen client (`zmx attach`): the session's current window,
 * its panes tiled with titles and borders, a status bar — drawn with blessed.
 *
 * The server owns windows, panes and layouts (a second client or a
 * reattach sees the same); this client keeps an @xterm/headless terminal
 * per visible pane, fed from the pane's stream, and paints those terminals
 * into the screen when they change (frames.ts: at once, or once per frame
 * while output streams). Keys go to the active pane byte for byte, except
 * the prefix (C-b) and what follows it.
 */
import blessed from 'blessed';
import xtermHeadless from '@xterm/headless';
import unicode11 from '@xterm/addon-unicode11';
import { hostname } from 'node:os';
import { PassThrough } from 'node:stream';
import { geometry, panesOf, CHROME, type Geometry, type PaneRect } from '../../common/layout.js';
import { ZmxError } from '../../common/errors.js';
import { TIMING } from '../../common/constants.js';
import { formatBytes } from '../../common/units.js';
import type { CreateArgs, PaneInfo, SessionInfo, StreamEndReason, WindowInfo } from '../../common/protocol.js';
import type { Connection, StreamHandlers } from '../connection.js';
import { isDetachKey } from '../raw-attach.js';
import { InputParser, arrowOf, forPane, mouseForPane, type MouseEvent, type Token } from './input.js';
import { helpLines, lookup, type Action } from './keys.js';
import { installExtendedDraw, screenBuffers } from './draw.js';
import type { StyleTable } from './style.js';
import { blitTerminal, type Highlight } from './blit.js';
import { cursorSequence, cursorState } from './cursor.js';
import { blessedStyle, chromeAttr } from './chrome.js';
import { FrameScheduler } from './frames.js';
import { statusLine, type StatusWindow } from '../../common/config.js';
import type { Theme, ThemePart } from '../../common/theme.js';

const { Terminal } = xtermHeadless;
const { Unicode11Addon } = unicode11;
type Terminal = InstanceType<typeof Terminal>;

export const TUI = {
  /** While output streams in, at most one frame per this many ms (60 a second); a lone change is drawn at once. */
  frameMs: 16,
  /**
   * Output that may arrive at once and still be drawn at once: a screenful
   * repainted in true colour is well under it.
   */
  streamBurstBytes: 64 * 1024,
  /**
   * Output at this rate (bytes per ms: 1 MB/s) or slower is drawn as it
   * comes; faster output, beyond the burst, is a stream and drawn per frame.
   */
  streamDrainBytesPerMs: 1024,
  /** How long a lone ESC waits for the rest of a sequence before it is the Escape key. */
  escapeWaitMs: 25,
  /** Lines the mouse wheel scrolls. */
  wheelLines: 3,
  /** The status bar's clock ticks this often. */
  clockMs: 1_000,
  /**
   * Output bytes a pane view may have queued for its terminal emulator.
   * Past it the view withholds credit, so the server waits (or sends the
   * current screen later) instead of this client's memory growing.
   */
  viewQueueBytes: 4 * 1024 * 1024,
  /**
   * Keys typed for a pane whose view is still opening (right after attach,
   * a split, a window switch) are kept until it opens, up to this much —
   * a burst of typing or a paste, not a stream.
   */
  earlyInputBytes: 64 * 1024,
} as const;

/** Mouse reports (clicks, drags, wheel) with SGR coordinates, in the user's terminal. */
const MOUSE_ON = '\x1b[?1000h\x1b[?1002h\x1b[?1006h';
const MOUSE_OFF = '\x1b[?1006l\x1b[?1002l\x1b[?1000l';
/** Bracketed paste: a paste arrives marked, and goes to the pane marked only if its program asked. */
const PASTE_ON = '\x1b[?2004h';
const PASTE_OFF = '\x1b[?2004l';
const PASTE_START = '\x1b[200~';
const PASTE_END = '\x1b[201~';

export interface TuiOptions {
  name: string;
  create: CreateArgs | null;
  readOnly: boolean;
  stdin: NodeJS.ReadStream;
  stdout: NodeJS.WriteStream;
  /** The prefix key's byte and how help names it. */
  prefix: { byte: number; name: string };
  theme: Theme;
  statusFormat: string;
  /** Scrollback kept by this client's copy of each pane. */
  scrollback: number;
  /** Whether the client takes the mouse (click to select, wheel to scroll). */
  mouse: boolean;
  /** Whether C-\ detaches (as in zmx and raw mode), besides prefix d. */
  detachKey: boolean;
  /** The host the session lives on, for the status bar (a remote's name; default this machine's). */
  hostName?: string;
  onCreated?(): void;
}

export interface TuiEnd {
  reason: StreamEndReason;
  exitCode: number | null;
  name: string;
}

/** This client's copy of one pane. */
interface View {
  id: number;
  sid: number | null;
  term: Terminal;
  /** Set while a subscribe is in flight. */
  opening: boolean;
  /** Output bytes written to `term` and not parsed yet. */
  queued: number;
  /** Set while the view withholds credit (see TUI.viewQueueBytes). */
  held: boolean;
  /** Input typed while the view was opening, sent once it has a stream (see TUI.earlyInputBytes). */
  early: Buffer[];
}

/** Scroll/copy mode over one pane's history. */
interface CopyMode {
  pane: number;
  /** Lines scrolled up from the bottom. */
  offset: number;
  /** Text typed after `/`, while the prompt is open. */
  prompt: string | null;
  search: string;
}

export async function runTui(conn: Connection, opts: TuiOptions): Promise<TuiEnd> {
  const app = new TuiApp(conn, opts);
  return app.run();
}

class TuiApp {
  private name: string;
  private sid = 0;
  private session!: SessionInfo;
  private readonly views = new Map<number, View>();
  private screen!: blessed.Widgets.Screen;
  private styles!: StyleTable;
  private help: blessed.Widgets.BoxElement | null = null;
  private readonly parser = new InputParser();
  private prefixed = false;
  private copy: CopyMode | null = null;
  private readonly frames = new FrameScheduler(() => this.render(), { frameMs: TUI.frameMs, burstBytes: TUI.streamBurstBytes, drainBytesPerMs: TUI.streamDrainBytesPerMs });
  private clock: NodeJS.Timeout | null = null;
  private escapeTimer: NodeJS.Timeout | null = null;
  private finished = false;
  private done!: (end: TuiEnd) => void;
  private between = false;
  /** Set while the link is down. */
  private linkDown = false;
  private attaching = false;
  private switchTo: string | null = null;
  private wasRaw = false;
  private get host(): string {
    return this.opts.hostName ?? hostname();
  }

  constructor(private readonly conn: Connection, private readonly opts: TuiOptions) {
    this.name = opts.name;
  }

  async run(): Promise<TuiEnd> {
    const first = await this.conn.request('session.attach', { name: this.name, ...this.size(), create: this.opts.create, readOnly: this.opts.readOnly, mode: 'tui' }, [], { timeoutMs: 0 });
    if (first.result.created) this.opts.onCreated?.();
    this.sid = first.result.sid;
    this.session = first.result.session;
    this.openScreen();
    return new Promise<TuiEnd>((resolve) => {
      this.done = resolve;
      this.conn.stream(this.sid, this.tuiHandlers);
      this.conn.onEvent((event, data) => this.onEvent(event, data));
      this.conn.onLink((state) => {
        // Lost: the status bar says so (keys wait for the link on a resumable one).
        // Resumed: everything goes on. Restored: a new front; attach again.
        if (state === 'lost') this.linkDown = true;
        else this.linkDown = false;
        if (state === 'restored' && !this.finished) this.reattach(this.name);
        this.render();
      });
      this.applyLayout();
    });
  }

  private size(): { cols: number; rows: number } {
    return { cols: this.opts.stdout.columns || 80, rows: this.opts.stdout.rows || 24 };
  }

  // ----------------------------------------------------------------- screen

  private openScreen(): void {
    const { stdin, stdout } = this.opts;
    this.wasRaw = stdin.isTTY ? stdin.isRaw : false;
    if (stdin.isTTY) stdin.setRawMode(true);
    // blessed draws; keys are read here, byte for byte, so it gets a silent input.
    const silent = new PassThrough() as unknown as NodeJS.ReadStream;
    this.screen = blessed.screen({
      input: silent, output: stdout, terminal: 'xterm-256color', fullUnicode: true, forceUnicode: true,
      smartCSR: false, useBCE: false, autoPadding: false, warnings: false, dockBorders: false, title: `zmx ${this.name}`,
    });
    // Every frame ends with the real cursor placed at the active pane's.
    this.styles = installExtendedDraw(this.screen, { cursor: () => this.cursor() });
    this.screen.on('prerender', () => this.paint());
    stdout.write(PASTE_ON + (this.opts.mouse ? MOUSE_ON : ''));
    stdin.on('data', this.onData);
    stdout.on('resize', this.onResize);
    stdin.resume();
    this.clock = setInterval(() => this.schedule(), TUI.clockMs);
  }

  private readonly onResize = () => {
    if (!this.between) this.conn.resize(this.sid, this.size().cols, this.size().rows);
    this.schedule();
  };

  private finish(reason: StreamEndReason, exitCode: number | null): void {
    if (this.finished) return;
    this.finished = true;
    const { stdin, stdout } = this.opts;
    stdin.off('data', this.onData);
    stdout.off('resize', this.onResize);
    this.frames.dispose();
    if (this.escapeTimer) clearTimeout(this.escapeTimer);
    if (this.clock) clearInterval(this.clock);
    for (const v of this.views.values()) this.closeView(v);
    stdout.write(PASTE_OFF + (this.opts.mouse ? MOUSE_OFF : ''));
    this.screen.destroy();
    stdout.write('\x1b[0 q\x1b[?25h');
    stdin.pause();
    if (stdin.isTTY) stdin.setRawMode(this.wasRaw);
    this.done({ reason, exitCode, name: this.name });
  }

  // ------------------------------------------------------------ the session

  private readonly tuiHandlers: StreamHandlers = {
    output: () => {},
    end: (reason, exitCode) => {
      if (reason === 'replaced' && this.switchTo !== null) {
        const target = this.switchTo;
        this.switchTo = null;
        this.reattach(target);
        return;
      }
      if (reason === 'error' && !this.between) {
        // The server dropped us (silent too long) or lost its pty host: greet it again and re-attach.
        this.between = true;
        this.conn.rehello().then(() => this.reattach(this.name), () => this.finish('error', exitCode));
        return;
      }
      if (reason === 'error') return; // the link's return re-attaches
      this.finish(reason, exitCode);
    },
  };

  private onEvent(event: string, data: Record<string, unknown>): void {
    if (data['sid'] !== this.sid) return;
    if (event === 'session.layout') {
      this.session = data['session'] as SessionInfo;
      this.applyLayout();
    } else if (event === 'session.switch' && typeof data['to'] === 'string') {
      this.switchTo = data['to'];
    }
  }

  /** Attaches again (after a link loss, a drop, or a switch to another session). */
  private reattach(target: string): void {
    this.between = true;
    if (this.attaching) return;
    this.attaching = true;
    for (const v of this.views.values()) this.closeView(v);
    this.views.clear();
    this.copy = null;
    // The old stream has ended (or its front has gone): dropped now, as the new one may reuse its number.
    this.conn.dropStream(this.sid);
    this.conn.request('session.attach', { name: target, ...this.size(), create: null, readOnly: this.opts.readOnly, mode: 'tui' }, [], { timeoutMs: 0 }).then(({ result }) => {
      this.attaching = false;
      if (this.finished) return;
      this.sid = result.sid;
      this.name = target;
      this.session = result.session;
      this.between = false;
      this.conn.stream(this.sid, this.tuiHandlers);
      this.screen.clearRegion(0, this.screen.cols, 0, this.screen.rows);
      this.applyLayout();
    }, (err: unknown) => {
      this.attaching = false;
      if (err instanceof ZmxError && err.code === 'EUNAVAIL') {
        // The link dropped: its return re-attaches. With the link up, the pty host went away under the request (an upgrade): again shortly.
        if (!this.linkDown && !this.finished) setTimeout(() => { if (!this.finished && !this.linkDown) this.reattach(target); }, TIMING.reattachRetryMs);
        return;
      }
      this.finish('error', null);
    });
  }

  private window(): WindowInfo {
    return this.session.windows.find((w) => w.id === this.session.activeWindow) ?? this.session.windows[0]!;
  }

  private pane(id: number): PaneInfo | undefined {
    return this.session.panes.find((p) => p.id === id);
  }

  /** The panes on screen now and where: the current window's, or its zoomed pane alone. */
  private geometry(): Geometry {
    const w = this.window();
    const { cols, rows } = this.area();
    return w.zoomed ? geometry({ pane: w.active }, cols, rows) : geometry(w.layout, cols, rows);
  }

  private area(): { cols: number; rows: number } {
    return { cols: this.screen.cols, rows: Math.max(1, this.screen.rows - CHROME.statusRows) };
  }

  /** Follows the server's layout: opens views of panes now shown, closes the rest. */
  private applyLayout(): void {
    if (this.between || !this.session.windows.length) return;
    const w = this.window();
    const shown = new Set(w.zoomed ? [w.active] : panesOf(w.layout));
    for (const [id, v] of this.views) {
      if (!shown.has(id)) {
        this.closeView(v);
        this.views.delete(id);
      }
    }
    for (const id of shown) {
      const info = this.pane(id);
      if (!info) continue;
      const v = this.views.get(id);
      if (v) v.term.resize(Math.max(1, info.cols), Math.max(1, info.rows));
      else this.openView(info);
    }
    if (this.copy && !shown.has(this.copy.pane)) this.copy = null;
    this.schedule();
  }

  private openView(info: PaneInfo): void {
    const term = new Terminal({ cols: Math.max(1, info.cols), rows: Math.max(1, info.rows), scrollback: this.opts.scrollback, allowProposedApi: true });
    // The same character widths as the server's copy of the pane.
    term.loadAddon(new Unicode11Addon());
    term.unicode.activeVersion = '11';
    const view: View = { id: info.id, sid: null, term, opening: true, queued: 0, held: false, early: [] };
    this.views.set(info.id, view);
    const attachSid = this.sid;
    this.conn.request('pane.subscribe', { attach: attachSid, pane: info.id }).then(({ result, frames }) => {
      view.opening = false;
      if (this.views.get(info.id) !== view || this.sid !== attachSid) {
        this.conn.detach(result.sid);
        return;
      }
      view.sid = result.sid;
      if (frames[0]?.length) this.parse(view, frames[0], () => this.schedule());
      for (const bytes of view.early.splice(0)) this.conn.input(result.sid, bytes);
      const sid = result.sid;
      const feed = (data: Buffer) => {
        this.frames.output(data.length);
        this.parse(view, data, () => {
          if (view.held && view.queued <= TUI.viewQueueBytes / 2) {
            view.held = false;
            this.conn.release(sid);
          }
          this.schedule();
        });
        if (!view.held && view.queued > TUI.viewQueueBytes) {
          view.held = true;
          this.conn.hold(sid);
        }
      };
      const handlers: StreamHandlers = {
        output: (_seq, data) => feed(data),
        // Output was skipped (this client was stopped, or too slow): start from the current screen.
        resync: (_seq, screen, skipped) => {
          term.reset();
          feed(screen);
          this.flash(`skipped ${formatBytes(skipped)} of output: showing the current screen`);
        },
        end: () => { if (view.sid === sid) view.sid = null; },
      };
      this.conn.stream(result.sid, handlers);
      this.schedule();
    }, () => {
      view.opening = false;
    });
  }

  /** Writes output to a view's terminal; `parsed` runs once it is parsed — at once when nothing was queued. */
  private parse(v: View, data: Buffer, parsed: () => void): void {
    // xterm parses the first write after user input at once and defers the
    // rest to a timer (so a browser's renderer gets a turn; ours is not
    // one): with nothing queued, claim input so that this chunk is parsed
    // now and a keystroke's echo is drawn in the turn it arrived.
    if (v.queued === 0) v.term.input('', true);
    v.queued += data.length;
    v.term.write(data, () => {
      v.queued -= data.length;
      parsed();
    });
  }

  private closeView(v: View): void {
    if (v.sid !== null) {
      this.conn.dropStream(v.sid);
      if (!this.between) this.conn.detach(v.sid);
      v.sid = null;
    }
    v.term.dispose();
  }

  // ------------------------------------------------------------------ input

  private readonly onData = (data: Buffer) => {
    if (this.escapeTimer) { clearTimeout(this.escapeTimer); this.escapeTimer = null; }
    for (const t of this.parser.feed(data)) this.onToken(t);
    if (this.parser.waiting) {
      this.escapeTimer = setTimeout(() => {
        this.escapeTimer = null;
        for (const t of this.parser.flush()) this.onToken(t);
      }, TUI.escapeWaitMs);
    }
  };

  private onToken(t: Token): void {
    if (t.kind === 'mouse') return this.onMouse(t.event);
    if (this.help) {
      if (t.bytes.toString() === 'q' || t.bytes.toString() === '\x1b') this.closeHelp();
      return;
    }
    if (this.prefixed) {
      this.prefixed = false;
      const action = lookup(t.bytes, this.opts.prefix.byte);
      if (action) this.perform(action);
      return;
    }
    if (t.kind === 'key' && this.opts.detachKey && isDetachKey(t.bytes)) {
      this.conn.detach(this.sid);
      return;
    }
    if (t.kind === 'key' && t.bytes.length === 1 && t.bytes[0] === this.opts.prefix.byte) {
      this.prefixed = true;
      return;
    }
    if (this.copy) return this.copyKey(t.bytes);
    this.toPane(t);
  }

  private activeView(): View | undefined {
    return this.views.get(this.window().active);
  }

  /** Sends a key or paste to the active pane, as that pane's own terminal would. */
  private toPane(t: Token): void {
    const v = this.activeView();
    if (!v || this.opts.readOnly || this.between || (this.linkDown && !this.conn.resumes)) return;
    let bytes = t.bytes;
    if (t.kind === 'paste' && !v.term.modes.bracketedPasteMode) {
      bytes = Buffer.from(bytes.toString('utf8').slice(PASTE_START.length, -PASTE_END.length), 'utf8');
    } else if (t.kind === 'key') {
      bytes = forPane(bytes, v.term.modes.applicationCursorKeysMode);
    }
    if (v.sid !== null) this.conn.input(v.sid, bytes);
    else if (v.opening && v.early.reduce((n, b) => n + b.length, bytes.length) <= TUI.earlyInputBytes) v.early.push(bytes);
  }

  private perform(a: Action): void {
    const name = this.name;
    const fail = (err: unknown) => this.flash(err instanceof Error ? err.message : String(err));
    const ask = <T>(p: Promise<T>) => { p.catch(fail); };
    switch (a.do) {
      case 'split': return ask(this.conn.request('pane.split', { name, window: null, pane: null, dir: a.dir, cmd: [], cwd: '', env: {} }));
      case 'select-pane': return ask(this.conn.request('pane.select', { name, window: null, pane: null, move: a.move }));
      case 'kill-pane': return ask(this.conn.request('pane.kill', { name, window: null, pane: null }));
      case 'zoom': return ask(this.conn.request('pane.resize', { name, window: null, pane: null, dir: null, cells: 0, zoom: true }));
      case 'new-window': return ask(this.conn.request('window.new', { name, title: '', cmd: [], cwd: '', env: {} }));
      case 'select-window': return ask(this.conn.request('window.select', { name, window: null, move: a.move }));
      case 'window': return ask(this.conn.request('window.select', { name, window: a.index, move: null }));
      case 'next-layout': return ask(this.conn.request('window.layout', { name, window: null, layout: 'next' }));
      case 'copy-mode': return this.enterCopy(0);
      case 'detach': this.conn.detach(this.sid); return;
      case 'help': return this.openHelp();
      case 'send-prefix': return this.toPane({ kind: 'key', bytes: Buffer.from([this.opts.prefix.byte]) });
      case 'redraw':
        this.screen.clearRegion(0, this.screen.cols, 0, this.screen.rows);
        this.screen.realloc();
        return this.schedule();
    }
  }

  private onMouse(e: MouseEvent): void {
    const hit = this.geometry().panes.find((p) => e.x >= p.content.x && e.x < p.content.x + p.content.cols && e.y >= p.title.y && e.y < p.content.y + p.content.rows);
    if (!hit) return;
    const v = this.views.get(hit.pane);
    const tracking = v && v.term.modes.mouseTrackingMode !== 'none' && !this.copy;
    if (e.action === 'press' && hit.pane !== this.window().active) {
      this.conn.request('pane.select', { name: this.name, window: null, pane: panesOf(this.window().layout).indexOf(hit.pane), move: null }).catch(() => {});
    }
    if (tracking && v.sid !== null && e.y >= hit.content.y) {
      // The pane's program asked for the mouse: it gets the event in its own coordinates.
      const sgr = (v.term as unknown as { _core?: { coreMouseService?: { activeEncoding?: string } } })._core?.coreMouseService?.activeEncoding === 'SGR';
      this.conn.input(v.sid, mouseForPane(e, hit.content.x, hit.content.y, sgr));
      return;
    }
    if (e.action === 'wheel-up') {
      if (!this.copy || this.copy.pane !== hit.pane) this.enterCopy(0, hit.pane);
      this.scrollCopy(TUI.wheelLines);
    } else if (e.action === 'wheel-down' && this.copy) {
      this.scrollCopy(-TUI.wheelLines);
      if (this.copy.offset === 0 && this.copy.prompt === null) this.copy = null;
      this.schedule();
    }
  }

  // -------------------------------------------------------------- copy mode

  private enterCopy(offset: number, pane = this.window().active): void {
    if (!this.views.has(pane)) return;
    this.copy = { pane, offset, prompt: null, search: '' };
    this.schedule();
  }

  private scrollCopy(lines: number): void {
    if (!this.copy) return;
    const v = this.views.get(this.copy.pane);
    const max = v ? v.term.buffer.active.baseY : 0;
    this.copy.offset = Math.max(0, Math.min(max, this.copy.offset + lines));
    this.schedule();
  }

  private copyKey(bytes: Buffer): void {
    const c = this.copy!;
    const key = bytes.toString('utf8');
    const v = this.views.get(c.pane);
    if (c.prompt !== null) {
      if (key === '\r') { c.search = c.prompt; c.prompt = null; this.searchNext(1); }
      else if (key === '\x1b' || key === '\x03') c.prompt = null;
      else if (key === '\x7f' || key === '\b') c.prompt = c.prompt.slice(0, -1);
      else if (bytes[0]! >= 0x20) c.prompt += key;
      return this.schedule();
    }
    const page = Math.max(1, (v?.term.rows ?? 2) - 1);
    const arrow = arrowOf(bytes);
    if (key === 'q' || key === '\x1b' || key === '\x03') this.copy = null;
    else if (key === 'k' || arrow === 'up') this.scrollCopy(1);
    else if (key === 'j' || arrow === 'down') this.scrollCopy(-1);
    else if (key === '\x1b[5~' || key === '\x02' || key === '\x15') this.scrollCopy(page);
    else if (key === '\x1b[6~' || key === '\x06' || key === '\x04') this.scrollCopy(-page);
    else if (key === 'g') this.scrollCopy(Number.MAX_SAFE_INTEGER);
    else if (key === 'G') this.scrollCopy(-Number.MAX_SAFE_INTEGER);
    else if (key === '/' || key === '?') c.prompt = '';
    else if (key === 'n') this.searchNext(1);
    else if (key === 'N') this.searchNext(-1);
    this.schedule();
  }

  /** Moves the view to the next line holding the search text: older (1) or newer (-1). */
  private searchNext(direction: 1 | -1): void {
    const c = this.copy;
    const v = c && this.views.get(c.pane);
    if (!c || !v || !c.search) return;
    const buf = v.term.buffer.active;
    const top = buf.baseY - c.offset;
    for (let line = top - direction; line >= 0 && line < buf.length; line -= direction) {
      if (buf.getLine(line)?.translateToString(true).includes(c.search)) {
        c.offset = Math.max(0, Math.min(buf.baseY, buf.baseY - line));
        return;
      }
    }
    this.flash(`"${c.search}" not found`);
  }

  // ------------------------------------------------------------------ help

  private openHelp(): void {
    const lines = helpLines(this.opts.prefix.name);
    this.help = blessed.box({
      parent: this.screen, top: 'center', left: 'center', width: Math.min(this.screen.cols, Math.max(...lines.map((l) => l.length)) + 4), height: Math.min(this.screen.rows - 1, lines.length + 2),
      border: { type: 'line' }, content: lines.join('\n'), tags: false,
      style: { ...blessedStyle(this.opts.theme.message), border: blessedStyle(this.opts.theme.messageBorder) },
    });
    this.schedule();
  }

  private closeHelp(): void {
    this.help?.destroy();
    this.help = null;
    this.screen.clearRegion(0, this.screen.cols, 0, this.screen.rows);
    this.schedule();
  }

  private message: { text: string; until: number } | null = null;

  /** A one-line message in the status bar for a moment (errors of bindings). */
  private flash(text: string): void {
    this.message = { text, until: Date.now() + TUI.clockMs * 3 };
    this.schedule();
  }

  // ---------------------------------------------------------------- drawing

  /** Asks for a frame: at the end of this turn, or of the frame interval while output streams (frames.ts). */
  private schedule(): void {
    if (!this.finished) this.frames.request();
  }

  private render(): void {
    if (!this.finished) this.screen.render();
  }

  private attr(part: ThemePart): number {
    return chromeAttr(this.styles, this.opts.theme, part);
  }

  /** Paints panes, titles and borders into the screen's cells before blessed draws its widgets. */
  private paint(): void {
    this.paintStatus();
    if (!this.session.windows.length) return;
    const g = this.geometry();
    const active = this.window().active;
    const line = (y: number) => screenBuffers(this.screen).lines[y];
    const put = (x: number, y: number, attr: number, ch: string) => {
      const l = line(y);
      if (!l || x < 0 || x >= l.length) return;
      l[x] = [attr, ch];
      l.dirty = true;
    };
    for (const b of g.borders) {
      const touchesActive = g.panes.some((p) => p.pane === active && (p.title.x + p.title.cols === b.x || p.title.x === b.x + CHROME.borderCols) && p.title.y < b.y + b.rows && p.content.y + p.content.rows > b.y);
      const attr = this.attr(touchesActive ? 'activeBorder' : 'border');
      for (let y = b.y; y < b.y + b.rows; y++) put(b.x, y, attr, '│');
    }
    for (const p of g.panes) {
      this.paintTitle(p, p.pane === active, put);
      const v = this.views.get(p.pane);
      if (!v) continue;
      const copy = this.copy?.pane === p.pane ? this.copy : null;
      blitTerminal(this.screen, this.styles, v.term, { x: p.content.x, y: p.content.y, width: p.content.cols, height: p.content.rows }, {
        scrollback: copy?.offset ?? 0,
        highlight: copy?.search ? this.matcher(v, copy) : undefined,
      });
    }
  }

  /** Marks the search's matches; `row` is a line of the buffer, as blitTerminal numbers them. */
  private matcher(v: View, c: CopyMode): (row: number, col: number) => Highlight {
    const buf = v.term.buffer.active;
    const cache = new Map<number, number[]>();
    return (row, col) => {
      let hits = cache.get(row);
      if (!hits) {
        const text = buf.getLine(row)?.translateToString(false) ?? '';
        hits = [];
        for (let i = text.indexOf(c.search); i >= 0; i = text.indexOf(c.search, i + 1)) for (let k = 0; k < c.search.length; k++) hits.push(i + k);
        cache.set(row, hits);
      }
      return hits.includes(col) ? 'match' : null;
    };
  }

  private paintTitle(p: PaneRect, active: boolean, put: (x: number, y: number, attr: number, ch: string) => void): void {
    const attr = this.attr(active ? 'activeTitle' : 'title');
    const index = panesOf(this.window().layout).indexOf(p.pane);
    const copy = this.copy?.pane === p.pane ? this.copy : null;
    let text = ` ${index}: ${this.titleOf(p.pane)} `;
    if (copy) text += copy.prompt !== null ? `[search: ${copy.prompt}] ` : `[copy ${copy.offset}/${this.views.get(p.pane)?.term.buffer.active.baseY ?? 0}] `;
    const chars = [...text];
    for (let i = 0; i < p.title.cols; i++) put(p.title.x + i, p.title.y, attr, i < chars.length ? chars[i]! : '─');
  }

  /** A pane's title: what it runs (or its program's own title), and how its last task or program ended. */
  private titleOf(id: number): string {
    const info = this.pane(id);
    if (!info) return '';
    const program = info.title || (info.cmd[0] ?? '').split('/').pop() || 'shell';
    if (info.exited) return `${program} (exit ${info.exited.exitCode})`;
    if (info.task) return info.task.status === null ? `${program} · running: ${info.task.command}` : `${program} · ${info.task.command}: exit ${info.task.status}`;
    return program;
  }

  /** The status bar, on the screen's last row: the configured format, the current window in its own style. */
  private paintStatus(): void {
    const y = this.screen.rows - CHROME.statusRows;
    const l = screenBuffers(this.screen).lines[y];
    if (!l) return;
    const windows: StatusWindow[] = this.session.windows.map((w) => ({
      index: w.index,
      name: (w.name || this.titleOf(w.active).split(' ')[0] || 'shell') + (w.zoomed ? ' Z' : ''),
      current: w.id === this.session.activeWindow,
    }));
    const link = this.conn.lostSince !== null ? `reconnecting ${Math.round((Date.now() - this.conn.lostSince) / 1000)}s` : 'connected';
    const now = new Date();
    const active = this.window();
    const line = statusLine(this.opts.statusFormat, {
      session: this.name,
      windows,
      window: String(active.index),
      pane: this.titleOf(active.active),
      host: this.host,
      link,
      rtt: this.conn.rttMs === null ? '-' : `${this.conn.rttMs}ms`,
      time: `${String(now.getHours()).padStart(2, '0')}:${String(now.getMinutes()).padStart(2, '0')}`,
    });
    if (this.message && this.message.until < Date.now()) this.message = null;
    if (this.message) line.left.push({ text: `  ${this.message.text}`, current: false });
    const plain = this.attr('status');
    const current = this.attr('statusCurrent');
    const cells: [number, string][] = [];
    for (const seg of line.left) for (const ch of seg.text) cells.push([seg.current ? current : plain, ch]);
    const right: [number, string][] = [];
    for (const seg of line.right) for (const ch of seg.text) right.push([seg.current ? current : plain, ch]);
    const cols = l.length;
    const start = Math.max(cells.length + 1, cols - right.length);
    for (let x = 0; x < cols; x++) {
      const cell = x < cells.length ? cells[x]! : x >= start && x - start < right.length ? right[x - start]! : [plain, ' '] as [number, string];
      l[x] = cell;
    }
    l.dirty = true;
  }

  /** Where the user's terminal shows its cursor: at the active pane's, in its shape, unless hidden. */
  private cursor(): string {
    const v = this.activeView();
    const p = this.geometry().panes.find((x) => x.pane === this.window().active);
    if (!v || !p || this.copy || this.help || this.between || this.prefixed) return '\x1b[?25l';
    return cursorSequence(cursorState(v.term), { x: p.content.x, y: p.content.y, width: p.content.cols, height: p.content.rows });
  }
}
