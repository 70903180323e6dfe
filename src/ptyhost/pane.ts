/**
 * A pane: a pty running a command, plus the terminal state the server keeps
 * for it (screen, scrollback, cursor, modes, title, OSC 7 cwd) in an
 * @xterm/headless terminal, so a client that attaches later sees exactly
 * what an attached client would see.
 */
import xtermHeadless from '@xterm/headless';
import serializeAddon from '@xterm/addon-serialize';
import unicode11 from '@xterm/addon-unicode11';
import type { HistoryFormat, PaneInfo } from '../common/protocol.js';
import type { PtyProcess, PtySpawnOptions, PtySpawner } from './pty.js';
import { captureScreen } from './capture.js';
import { ParseScheduler, type ParseTarget } from './parse-scheduler.js';
import { collectSoon } from '../platform/memory.js';
import { UnparsedBytes, isInert } from './unparsed.js';

const { Terminal } = xtermHeadless;
const { SerializeAddon } = serializeAddon;
const { Unicode11Addon } = unicode11;
type Terminal = InstanceType<typeof Terminal>;
type SerializeAddon = InstanceType<typeof SerializeAddon>;

/** The parts of xterm's private core that snapshots read (see stateTheSerializerMisses). */
interface XtermCore {
  /** Parses at once, without xterm's own timer (deprecated in xterm's API, kept in its core; see ParseScheduler). */
  writeSync?(data: string | Uint8Array): void;
  coreService?: { isCursorHidden?: boolean; decPrivateModes?: { cursorStyle?: 'block' | 'underline' | 'bar'; cursorBlink?: boolean } };
  coreMouseService?: { activeEncoding?: string };
  /** Read by hibernate(): state that neither the serialize addon nor stateTheSerializerMisses carries. */
  buffer?: XtermBuffer;
  /** Both screens: with the alternate one active, the normal one under it must be replayable too. */
  buffers?: { normal?: XtermBuffer; alt?: XtermBuffer };
  _inputHandler?: { _curAttrData?: { fg?: number; bg?: number } };
  _charsetService?: { glevel?: number; charset?: unknown };
}

/** One screen's buffer in xterm's core: its scroll region, cursor and the cursor saved by DECSC (or by entering the alternate screen). */
interface XtermBuffer {
  scrollTop?: number;
  scrollBottom?: number;
  x?: number;
  y?: number;
  ybase?: number;
  savedX?: number;
  savedY?: number;
  savedCurAttrData?: { fg?: number; bg?: number };
  savedCharset?: unknown;
}

/** OSC 7: the shell reports its working directory as file://host/path. */
const OSC_CWD = 7;
/** OSC 0 (icon name and title) and 2 (title): the one last used is the one replayed. */
const OSC_TITLES = [0, 2] as const;
/**
 * OSC 10/11/12 set the terminal's default foreground, background and cursor
 * colour (one OSC 10 may carry all three, `;`-separated); OSC 110/111/112
 * reset them. The last setting of each is replayed on attach, so a
 * reattached editor keeps its colours. A `?` is a query, not a setting.
 */
const OSC_COLOURS = [10, 11, 12] as const;
const OSC_COLOUR_RESET = 100;
/** Longest colour spec kept (`rgb:ffff/ffff/ffff` is 18; names are short): more is not a colour. */
const MAX_COLOUR_SPEC = 64;
/** DECSET 2004: the program (readline) takes bracketed paste, i.e. pasted text literally. */
const BRACKETED_PASTE_MODE = 2004;
/**
 * Emulator flow control (xterm.js's own advice): bytes handed to the
 * headless terminal and not yet parsed. Past the high mark the pty is paused
 * — the program waits for the server's emulator, as it would for any
 * terminal — and resumed below the low mark, so a program printing
 * gigabytes never grows the server's memory. Clients never pause it.
 */
const PARSE_HIGH_WATER_BYTES = 2 * 1024 * 1024;
const PARSE_LOW_WATER_BYTES = 256 * 1024;
/**
 * An unwatched pane whose program has printed nothing but inert output
 * (unparsed.ts: lines, colours, cursor moves; no query, title or paste mode)
 * for this long hibernates: its emulator (≈1 KiB per line of history in
 * xterm's buffers) is replaced by the snapshot that reproduces it (≈ the
 * bytes on screen). Inert output after that waits unparsed behind the
 * snapshot (SLEEPING_TAIL_BYTES); anything else, or someone reading more
 * than a snapshot, rebuilds the emulator. Long enough that a pane printing a
 * title or a prompt now and then does not pay a rebuild each time; short
 * next to how long sessions sit detached.
 */
export const HIBERNATE_IDLE_MS = 5_000;
/** After a hibernation was refused (output in flight, or state a snapshot cannot carry), the next try. */
const HIBERNATE_RETRY_MS = 1_000;
/**
 * Most inert output a sleeping pane keeps unparsed; the chunk that would
 * pass it wakes the pane, which parses the lot (xterm parses ≈ 30–60 MB/s
 * here: a few ms) and sleeps again HIBERNATE_IDLE_MS later. 200 panes
 * printing nobody watches hold at most this much each, against ≈ 1 KiB per
 * line of history in a live emulator.
 */
const SLEEPING_TAIL_BYTES = 256 * 1024;
/**
 * A read this small that is the first of its event-loop turn (an echo, a
 * prompt) is sent at once rather than from the end-of-turn immediate, which
 * cost a keystroke 17-36 µs (docs/performance.md, "Where a keystroke's time
 * goes"). Later reads of the turn, and larger ones (a flood reads 4 KiB and
 * more at a time), wait for the immediate and go out together.
 */
const SEND_AT_ONCE_BYTES = 1024;
/** The unparsed tail is stored in blocks of this size (one per quiet pane: small). */
const TAIL_BLOCK_BYTES = 4 * 1024;

export interface PaneOptions extends PtySpawnOptions {
  id: number;
  scrollback: number;
  spawn: PtySpawner;
  /** The pty host's one parser queue; panes made without one share this process's. */
  parser?: ParseScheduler;
  /** Idle time before an unwatched pane hibernates (HIBERNATE_IDLE_MS); null never (tests of the live emulator). */
  hibernateAfterMs?: number | null;
}

/** A pane's live emulator: the terminal and what is bound to it. */
interface Emulator {
  term: Terminal;
  serializer: SerializeAddon;
  /** xterm's synchronous parse, or null if this xterm has none (then its own timer parses). */
  writeSync: ((data: Uint8Array | string) => void) | null;
}

/** A hibernated pane's emulator, as the snapshot that rebuilds it. */
interface Hibernation {
  /** serialize() of the emulator: screen, history, cursor, modes. */
  screen: string;
  /** stateTheSerializerMisses() of it. */
  extra: string;
  cols: number;
  rows: number;
  /** Inert output since, not yet parsed: the rebuilt emulator parses it after the snapshot. */
  tail: UnparsedBytes;
}

/** The queue of panes made without one (unit tests, a lone pane). */
let sharedParser: ParseScheduler | null = null;

export interface PaneEvents {
  /** A chunk of output, numbered; seq increases by one per chunk. */
  output(pane: Pane, seq: number, data: Buffer): void;
  exit(pane: Pane, exit: { exitCode: number; signal: number }): void;
  /** The pane has hibernated (see HIBERNATE_IDLE_MS). */
  hibernated?(pane: Pane): void;
}

export class Pane implements ParseTarget {
  readonly id: number;
  readonly cmd: string[];
  readonly pty: PtyProcess;
  /** The live emulator, or null while the pane hibernates (see `emu`). */
  private live: Emulator | null = null;
  /** Set while the pane hibernates: what rebuilds its emulator. */
  private hibernation: Hibernation | null = null;
  private readonly hibernateAfterMs: number | null;
  private hibernateTimer: NodeJS.Timeout | null = null;
  /** performance.now() of the pane's last output that was not inert (the idle clock of hibernation). */
  private lastStirred = performance.now();
  private readonly scrollback: number;
  private disposed = false;
  /** Sequence number of the last output chunk. */
  seq = 0;
  title = '';
  /** Which OSC set the title last (0 or 2), so a replay uses the same one. */
  private titleOsc: number = 2;
  /** The program's last OSC 10/11/12 colour settings, by code, as it wrote them. */
  private readonly colours = new Map<number, string>();
  cwdUri = '';
  exited: { exitCode: number; signal: number } | null = null;
  /** Clients (through the front) receiving this pane's output. */
  subscribers = 0;
  /** Of those, clients with a real terminal that answers queries itself. */
  interactive = 0;
  /** Clients reading the pane straight from the pty host (direct.ts), interactive or not. */
  directViewers = 0;
  private readonly dataListeners: ((data: Buffer) => void)[] = [];
  /** Set once the program has turned bracketed paste on (a readline shell at its prompt). */
  pasteCapable = false;
  private pasteWaiters: (() => void)[] = [];
  /** Output read but not yet numbered and sent: coalesced per event-loop turn. */
  private unsent: Buffer[] = [];
  private flushScheduled = false;
  /** Bytes written to the emulator and not yet parsed; the pty is paused while there are too many. */
  private parsing = 0;
  private paused = false;
  private readonly parser: ParseScheduler;

  constructor(opts: PaneOptions, private readonly events: PaneEvents) {
    this.id = opts.id;
    this.cmd = [opts.file, ...opts.args];
    this.scrollback = opts.scrollback;
    this.parser = opts.parser ?? (sharedParser ??= new ParseScheduler());
    this.hibernateAfterMs = opts.hibernateAfterMs === undefined ? HIBERNATE_IDLE_MS : opts.hibernateAfterMs;
    this.live = this.makeEmulator(opts.cols, opts.rows);
    this.pty = opts.spawn({ file: opts.file, args: opts.args, cwd: opts.cwd, env: opts.env, cols: opts.cols, rows: opts.rows });
    this.pty.onData((data) => this.emit(data));
    this.pty.onExit((exit) => {
      this.exited = exit;
      this.flushOutput();
      this.events.exit(this, exit);
    });
    this.armHibernation();
  }

  /** A headless terminal with this pane's addons and handlers. */
  private makeEmulator(cols: number, rows: number): Emulator {
    // logLevel error: xterm warns once that writeSync is not public API; we know, and test that it works.
    const term = new Terminal({ cols, rows, scrollback: this.scrollback, allowProposedApi: true, logLevel: 'error' });
    const core = (term as unknown as { _core?: XtermCore })._core;
    const writeSync = typeof core?.writeSync === 'function' ? core.writeSync.bind(core) : null;
    const serializer = new SerializeAddon();
    term.loadAddon(serializer);
    // Unicode 11 widths: emoji take two columns, as in today's terminals (and in the client's copy).
    term.loadAddon(new Unicode11Addon());
    term.unicode.activeVersion = '11';
    term.onTitleChange((title) => { this.title = title; });
    this.trackTitleAndColours(term);
    term.parser.registerOscHandler(OSC_CWD, (data) => {
      this.cwdUri = data;
      return false; // let xterm see it too
    });
    term.parser.registerCsiHandler({ prefix: '?', final: 'h' }, (params) => {
      if (!this.pasteCapable && params.some((p) => p === BRACKETED_PASTE_MODE || (Array.isArray(p) && p.includes(BRACKETED_PASTE_MODE)))) {
        this.pasteCapable = true;
        for (const w of this.pasteWaiters.splice(0)) w();
      }
      return false; // xterm tracks the mode itself
    });
    // Until a real terminal is attached, the emulator answers the program's
    // queries (DA, DSR, cursor position) so programs that ask do not hang.
    term.onData((reply) => {
      if (this.interactive === 0 && !this.exited) this.pty.write(reply);
    });
    return { term, serializer, writeSync };
  }

  /** The emulator, rebuilt from its hibernation first if the pane sleeps. */
  private get emu(): Emulator {
    return this.live ?? this.wake();
  }

  private get term(): Terminal {
    return this.emu.term;
  }

  private wake(): Emulator {
    const h = this.hibernation!;
    this.hibernation = null;
    const emu = (this.live = this.makeEmulator(h.cols, h.rows));
    // The snapshot, then the output that waited behind it: queued ahead of
    // anything written or awaited later when xterm cannot parse at once.
    for (const vt of [h.screen + h.extra, ...h.tail.chunks()]) {
      if (emu.writeSync) emu.writeSync(vt);
      else emu.term.write(vt);
    }
    this.armHibernation();
    return emu;
  }

  /** The hibernation, if its snapshot alone is the pane's state (no output waits behind it). */
  private get restingSnapshot(): Hibernation | null {
    const h = this.hibernation;
    return h && h.tail.bytes === 0 ? h : null;
  }

  /** True while the pane hibernates. */
  get hibernating(): boolean {
    return this.hibernation !== null;
  }

  /** (Re)starts the idle timer that lets the pane hibernate. */
  private armHibernation(delay = this.hibernateAfterMs): void {
    if (delay === null || this.hibernateTimer || this.exited || this.disposed || !this.live) return;
    this.hibernateTimer = setTimeout(() => {
      this.hibernateTimer = null;
      const idle = performance.now() - this.lastStirred;
      if (idle < this.hibernateAfterMs!) { this.armHibernation(this.hibernateAfterMs! - idle); return; }
      // Output still queued for the parser is parsed now: on a loaded pty
      // host the queue of a pane that keeps printing is seldom empty, and
      // waiting for it would keep awake the very panes that load it.
      if (!this.watched) this.parser.flush(this);
      if (!this.hibernate()) this.armHibernation(Math.min(HIBERNATE_RETRY_MS, this.hibernateAfterMs!));
    }, delay);
    this.hibernateTimer.unref();
  }

  /**
   * Replaces the emulator by its snapshot, if the snapshot would rebuild it
   * exactly: nothing unparsed, nobody watching, and none of the state that a
   * snapshot cannot carry (a scroll region, a saved cursor, a colour or
   * charset left set for the next character). The alternate screen is
   * carried: the serializer writes the normal screen, then `CSI ? 1049 h`
   * and the alternate one, and replaying that saves the normal screen's
   * cursor as entering it did, so the normal screen's saved cursor must be
   * exactly that one. Returns false to be asked again later.
   */
  hibernate(): boolean {
    const live = this.live;
    if (!live || this.disposed || this.watched || this.parsing > 0 || this.unsent.length > 0 || this.parser.pending(this) || this.exited) return false;
    const { term } = live;
    // A cursor past the last column (the next character wraps first) is not in a snapshot.
    if (term.buffer.active.cursorX >= term.cols) return false;
    const core = (term as unknown as { _core?: XtermCore })._core;
    const attr = core?._inputHandler?._curAttrData;
    const charsets = core?._charsetService;
    // Each field must be known: a newer xterm without them keeps its panes awake.
    const fullRegion = (b: XtermBuffer | undefined): boolean => b?.scrollTop === 0 && b.scrollBottom === term.rows - 1;
    const active = core?.buffer;
    if (!fullRegion(active) || active!.savedX !== 0 || active!.savedY !== 0) return false;
    if (term.buffer.active.type === 'alternate') {
      const normal = core?.buffers?.normal;
      if (!fullRegion(normal) || core?.buffers?.alt !== active) return false;
      if (normal!.x === undefined || normal!.savedX !== normal!.x || normal!.savedY !== (normal!.ybase ?? NaN) + (normal!.y ?? NaN)) return false;
      if (normal!.savedCurAttrData?.fg !== 0 || normal!.savedCurAttrData.bg !== 0 || normal!.savedCharset !== undefined) return false;
    } else if (term.buffer.active.type !== 'normal') {
      return false;
    }
    if (attr?.fg !== 0 || attr.bg !== 0) return false;
    if (charsets?.glevel !== 0 || charsets.charset !== undefined) return false;
    this.hibernation = { screen: live.serializer.serialize(), extra: this.stateTheSerializerMisses(term), cols: term.cols, rows: term.rows, tail: new UnparsedBytes(TAIL_BLOCK_BYTES) };
    this.live = null; // nothing else may hold the terminal, or it is never collected
    term.dispose();
    collectSoon();
    this.events.hibernated?.(this);
    return true;
  }

  get pid(): number {
    return this.pty.pid;
  }

  get cols(): number {
    return this.live?.term.cols ?? this.hibernation!.cols;
  }

  get rows(): number {
    return this.live?.term.rows ?? this.hibernation!.rows;
  }

  /** Lines of history this pane keeps (its history-limit when it was made). */
  get historyLimit(): number {
    return this.scrollback;
  }

  /** Called for every chunk of output, right after it is numbered and sent. */
  onData(listener: (data: Buffer) => void): void {
    this.dataListeners.push(listener);
  }

  /** Someone watches this pane: the parser takes its bytes first. */
  get watched(): boolean {
    return this.subscribers > 0 || this.interactive > 0 || this.directViewers > 0;
  }

  /** Parses `data` now (ParseScheduler's turn for this pane). */
  parseNow(data: Buffer): void {
    const { term, writeSync } = this.emu; // wakes a hibernated pane
    if (writeSync) {
      writeSync(data);
      this.parsed(data.length);
    } else {
      term.write(data, () => this.parsed(data.length));
    }
  }

  private parsed(bytes: number): void {
    this.parsing -= bytes;
    if (this.paused && this.parsing <= PARSE_LOW_WATER_BYTES) {
      this.paused = false;
      this.pty.resume();
    }
  }

  private emit(data: Buffer): void {
    // Only a pane nobody watches can sleep, so only its output is scanned (a
    // watched pane's counts as stirring: it sleeps HIBERNATE_IDLE_MS after
    // its last viewer leaves, at the earliest).
    const inert = !this.watched && isInert(data);
    if (!inert) this.lastStirred = performance.now();
    const h = this.hibernation;
    // Behind the snapshot only while nothing is queued for the parser (that
    // would wake the pane and parse the tail first: out of order).
    if (h && inert && !this.parser.pending(this) && h.tail.bytes + data.length <= SLEEPING_TAIL_BYTES) {
      h.tail.push(data);
    } else {
      this.parsing += data.length;
      this.parser.enqueue(this, data);
      if (!this.paused && this.parsing > PARSE_HIGH_WATER_BYTES && !this.exited) {
        this.paused = true;
        this.pty.pause();
      }
    }
    // A pty delivers output in small reads; sending each as a message costs
    // more than the bytes. Reads of one event-loop turn go out as one chunk,
    // except that a small first read (an echo) goes at once.
    this.unsent.push(data);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flushOutput());
      if (data.length <= SEND_AT_ONCE_BYTES) this.sendUnsent();
    }
  }

  /** Numbers and sends the output read so far. */
  private flushOutput(): void {
    this.flushScheduled = false;
    this.sendUnsent();
  }

  private sendUnsent(): void {
    if (this.unsent.length === 0) return;
    const data = this.unsent.length === 1 ? this.unsent[0]! : Buffer.concat(this.unsent);
    this.unsent = [];
    this.seq += 1;
    this.events.output(this, this.seq, data);
    // Listeners (the run-marker scan) see output after it is sent, so a reply
    // they trigger never overtakes the output it is about.
    for (const l of this.dataListeners) l(data);
  }

  /**
   * Resolves true once the program takes bracketed paste, false if it has
   * not within `timeoutMs` (a shell still starting, or one without readline).
   */
  whenPasteCapable(timeoutMs: number): Promise<boolean> {
    if (this.pasteCapable) return Promise.resolve(true);
    if (this.exited) return Promise.resolve(false);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.pasteWaiters = this.pasteWaiters.filter((w) => w !== done);
        resolve(false);
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        resolve(true);
      };
      this.pasteWaiters.push(done);
    });
  }

  /** Input for the program, as if typed. */
  input(data: Buffer | string): void {
    this.pty.write(data);
  }

  /** Text shown on the pane's screen (and to attached clients); the program sees nothing. */
  print(data: Buffer): void {
    this.emit(data);
  }

  resize(cols: number, rows: number): void {
    if (cols === this.cols && rows === this.rows) return;
    // Output sent before the resize was laid out at the old size.
    this.parser.flush(this);
    this.term.resize(cols, rows);
    this.pty.resize(cols, rows);
  }

  /**
   * At an upgrade (handover.ts): takes on the state of the previous pty
   * host's pane — its screen and scrollback as a snapshot's VT, its output
   * number, title, cwd and paste mode — before any new output is read.
   */
  restore(state: { seq: number; vt: string; title: string; cwdUri: string; pasteCapable: boolean }): Promise<void> {
    this.seq = state.seq;
    this.cwdUri = state.cwdUri;
    this.pasteCapable = state.pasteCapable;
    return new Promise((resolve) => this.term.write(state.vt, () => {
      this.title = state.title;
      resolve();
    }));
  }

  /** Resolves once the emulator has parsed every byte received so far. */
  private flush(): Promise<void> {
    return new Promise((resolve) => this.whenParsed(resolve));
  }

  /**
   * Calls `fn` once every byte received so far is parsed: at once when xterm
   * parses synchronously (so `fn` reads exactly that state), else from the
   * callback of xterm's own queue (see snapshot for why not after an await).
   */
  private whenParsed(fn: () => void): void {
    this.parser.flush(this);
    // Output waiting behind a snapshot is parsed now; a pane whose snapshot
    // is all its state has nothing unparsed (and reading it must not wake it).
    if (this.hibernation && !this.restingSnapshot) this.wake();
    if (!this.live || this.live.writeSync) fn();
    else this.live.term.write('', fn);
  }

  /**
   * The screen as VT, consistent with output number `seq`: a client that
   * writes it to a terminal and then every chunk after `seq` sees what an
   * attached client saw.
   */
  snapshot(): Promise<{ seq: number; vt: Buffer }> {
    // Everything the emulator has been given must carry a number first.
    this.flushOutput();
    const seq = this.seq;
    return new Promise((resolve) => {
      this.whenParsed(() => {
        // Serialize here, inside the callback: it runs right after the chunks
        // up to `seq` are parsed, and parsing goes on with later chunks as
        // soon as it returns. After an `await` the state could be ahead of `seq`,
        // and a client would see that output twice.
        // A hibernated pane's snapshot is the one it took when it fell asleep.
        const h = this.restingSnapshot;
        let vt = h ? h.screen + h.extra : this.emu.serializer.serialize() + this.stateTheSerializerMisses(this.term);
        if (this.title) vt += `\x1b]${this.titleOsc};${this.title}\x07`;
        for (const [code, value] of this.colours) vt += `\x1b]${code};${value}\x07`;
        resolve({ seq, vt: Buffer.from(vt, 'utf8') });
      });
    });
  }

  /** Follows OSC 0/2 and 10/11/12 (see OSC_TITLES, OSC_COLOURS); xterm goes on handling each too. */
  private trackTitleAndColours(term: Terminal): void {
    for (const code of OSC_TITLES) {
      term.parser.registerOscHandler(code, () => { this.titleOsc = code; return false; });
    }
    for (const first of OSC_COLOURS) {
      term.parser.registerOscHandler(first, (data) => {
        data.split(';').forEach((value, i) => {
          const code = first + i;
          if (code <= OSC_COLOURS[OSC_COLOURS.length - 1]! && value !== '?' && value !== '' && value.length <= MAX_COLOUR_SPEC) this.colours.set(code, value);
        });
        return false;
      });
      term.parser.registerOscHandler(first + OSC_COLOUR_RESET, () => { this.colours.delete(first); return false; });
    }
  }

  /**
   * Terminal state the serialize addon leaves out but a program relies on:
   * cursor visibility and shape (DECTCEM, DECSCUSR) and SGR mouse encoding.
   * Read from xterm's core, which has no public API for them; absent fields
   * are skipped, so a newer xterm degrades to what the addon gives.
   */
  private stateTheSerializerMisses(term: Terminal): string {
    const core = (term as unknown as { _core?: XtermCore })._core;
    let out = '';
    if (core?.coreMouseService?.activeEncoding === 'SGR') out += '\x1b[?1006h';
    const style = core?.coreService?.decPrivateModes?.cursorStyle;
    if (style) {
      const base = { block: 1, underline: 3, bar: 5 }[style];
      if (base !== undefined) out += `\x1b[${base + (core?.coreService?.decPrivateModes?.cursorBlink ? 0 : 1)} q`;
    }
    if (core?.coreService?.isCursorHidden) out += '\x1b[?25l';
    return out;
  }

  async history(format: HistoryFormat): Promise<Buffer> {
    await this.flush();
    if (format === 'vt') return Buffer.from(this.restingSnapshot?.screen ?? this.emu.serializer.serialize(), 'utf8');
    const { term, serializer } = this.emu; // wakes a hibernated pane
    if (format === 'html') return Buffer.from(serializer.serializeAsHTML({ includeGlobalBackground: true }), 'utf8');
    const buffer = term.buffer.active;
    const lines: string[] = [];
    for (let i = 0; i < buffer.length; i++) {
      const line = buffer.getLine(i);
      if (!line) continue;
      // Wrapped lines continue the previous one: join them as the program wrote them.
      if (line.isWrapped && lines.length > 0) lines[lines.length - 1] += line.translateToString(true);
      else lines.push(line.translateToString(true));
    }
    while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
    return Buffer.from(lines.length ? lines.join('\n') + '\n' : '', 'utf8');
  }

  /** The visible screen as plain text, consistent with output number `seq` (a tail's Resync). */
  screenText(): Promise<{ seq: number; vt: Buffer }> {
    this.flushOutput();
    const seq = this.seq;
    return new Promise((resolve) => {
      this.whenParsed(() => resolve({ seq, vt: Buffer.from(captureScreen(this.term, false), 'utf8') }));
    });
  }

  /** The visible screen (capture-pane), as text or with its SGR escapes. */
  async capture(escapes: boolean): Promise<Buffer> {
    await this.flush();
    return Buffer.from(captureScreen(this.term, escapes), 'utf8');
  }

  info(): PaneInfo {
    return {
      id: this.id,
      pid: this.pid,
      cmd: this.cmd,
      cols: this.cols,
      rows: this.rows,
      title: this.title,
      cwdUri: this.cwdUri,
      exited: this.exited,
      task: null,
    };
  }

  dispose(): void {
    if (this.hibernateTimer) clearTimeout(this.hibernateTimer);
    this.hibernateTimer = null;
    this.disposed = true;
    this.parser.drop(this);
    this.pty.dispose();
    // Both stay referenced, as a disposed terminal always did: a read still
    // under way gets the last state rather than a rebuilt, empty one.
    this.live?.term.dispose();
  }
}
