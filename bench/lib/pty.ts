/**
 * The user's terminal, played by the bench: a real pty (through the
 * project's one node-pty adapter) running a client — `zmx attach`, `tmux
 * attach`, `screen -r`, `dtach -a`, or `cat` itself for the bare pty. Bytes
 * are written to its master side and looked for in what comes back.
 */
import xtermHeadless from '@xterm/headless';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { spawnPty, type PtyProcess } from '../../src/ptyhost/pty.js';
import { alive, hrms, killPid, sleep, type Cleanup } from './procs.js';

const { Terminal } = xtermHeadless;

/** The outer terminal's size: the classic 80x24. */
export const COLS = 80;
export const ROWS = 24;
/** Characters kept of the text seen since the last mark (a marker search only needs the end). */
const KEEP_CHARS = 1 << 20;
/** How long a client gets to leave after SIGHUP/SIGTERM before SIGKILL. */
const EXIT_GRACE_MS = 2_000;
/** How often the outer tty's modes are read while waiting for a client to take it (untimed). */
const TTY_MODE_POLL_MS = 25;

const run = promisify(execFile);

/** Terminal escape sequences (CSI, OSC, DCS, two-byte ESC) removed so only drawn text is searched. */
const ESCAPES = /\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1bP[^\x1b]*\x1b\\|\x1b\[[0-?]*[ -/]*[@-~]|\x1b[()*+#%][0-9A-Za-z@]|\x1b[ -~]/g;

/** The text a terminal would draw: escapes removed, and an unfinished one at the end cut off. */
export function drawnText(s: string): string {
  const t = s.replace(ESCAPES, '');
  const esc = t.lastIndexOf('\x1b');
  return esc >= 0 ? t.slice(0, esc) : t;
}

/** The screen as a terminal shows it: its rows (trailing blanks cut), the cursor, and its row's text left of it. */
export interface Screen {
  rows: string[];
  cursorY: number;
  beforeCursor: string;
}

/** Output as it came from the client, with the time it came (hrms). */
interface Chunk { data: Buffer; at: number }

export class OuterPty {
  private readonly pty: PtyProcess;
  private readonly size: { cols: number; rows: number };
  /**
   * A model of the screen (trackScreen), and the bytes not yet fed to it:
   * they are parsed only when a screen is asked for, so a timed wait on the
   * raw bytes pays nothing for it.
   */
  private model: { term: InstanceType<typeof Terminal>; pending: Chunk[] } | null = null;
  /** Raw output since the last mark (latin1: one char per byte). */
  private raw = '';
  /** Bytes seen since the last mark. */
  bytes = 0;
  /**
   * What has been typed on the pane's current line (echo() adds to it, an
   * Enter through echoKeystrokes clears it): on a tracked screen a key's echo
   * is this line ending at the cursor.
   */
  typedLine = '';
  private waiter: (() => void) | null = null;
  exited = false;
  private readonly exitWaiters: (() => void)[] = [];

  constructor(file: string, args: string[], env: NodeJS.ProcessEnv, cwd: string, cleanup: Cleanup, size = { cols: COLS, rows: ROWS }) {
    const clean: Record<string, string> = {};
    for (const [k, v] of Object.entries(env)) if (v !== undefined) clean[k] = v;
    this.size = size;
    this.pty = spawnPty({ file, args, cwd, env: clean, cols: size.cols, rows: size.rows });
    this.pty.onData((data) => {
      this.model?.pending.push({ data: Buffer.from(data), at: hrms() });
      this.bytes += data.length;
      this.raw += data.toString('latin1');
      if (this.raw.length > KEEP_CHARS) this.raw = this.raw.slice(-KEEP_CHARS / 2);
      this.waiter?.();
    });
    this.pty.onExit(() => {
      this.exited = true;
      this.waiter?.();
      for (const w of this.exitWaiters.splice(0)) w();
    });
    cleanup.defer(`outer pty ${file}`, () => this.close());
  }

  get pid(): number {
    return this.pty.pid;
  }

  /** Forgets what was seen so far: later waits look only at what comes after. */
  mark(): void {
    this.raw = '';
    this.bytes = 0;
  }

  write(data: string | Buffer): void {
    this.pty.write(data);
  }

  /**
   * Keeps a model of this terminal's screen from now on (call it before the
   * client draws): for a client that draws only the cells that changed, so a
   * line it shows need not be in its output in one piece.
   */
  trackScreen(): void {
    this.model ??= { term: new Terminal({ cols: this.size.cols, rows: this.size.rows, allowProposedApi: true }), pending: [] };
  }

  get tracking(): boolean {
    return this.model !== null;
  }

  /** The screen now, once every byte so far is parsed (trackScreen first). */
  async screen(): Promise<Screen> {
    const m = this.modelOrThrow();
    if (m.pending.length) {
      const data = Buffer.concat(m.pending.splice(0).map((c) => c.data));
      await new Promise<void>((resolve) => m.term.write(data, resolve));
    }
    return this.readScreen();
  }

  /**
   * Parses the output not yet parsed one chunk at a time, as it came, and
   * returns the arrival time of the first chunk after which `test` holds for
   * the screen; null when it holds after none of them (all are parsed then).
   */
  private async firstChunkWhere(test: (screen: Screen) => boolean): Promise<number | null> {
    const m = this.modelOrThrow();
    for (let chunk = m.pending.shift(); chunk; chunk = m.pending.shift()) {
      const { data, at } = chunk;
      await new Promise<void>((resolve) => m.term.write(data, resolve));
      if (test(this.readScreen())) return at;
    }
    return null;
  }

  private modelOrThrow(): NonNullable<OuterPty['model']> {
    if (!this.model) throw new Error('screen() without trackScreen()');
    return this.model;
  }

  private readScreen(): Screen {
    const term = this.modelOrThrow().term;
    const buf = term.buffer.active;
    const rows: string[] = [];
    for (let y = 0; y < term.rows; y++) rows.push(buf.getLine(buf.viewportY + y)?.translateToString(true) ?? '');
    const beforeCursor = buf.getLine(buf.viewportY + buf.cursorY)?.translateToString(false, 0, buf.cursorX) ?? '';
    return { rows, cursorY: buf.cursorY, beforeCursor };
  }

  /** Resolves once new output came (or at once if some is waiting), or after `timeoutMs`. */
  private nextOutput(timeoutMs: number): Promise<void> {
    return new Promise<void>((resolve) => {
      if (this.model?.pending.length || this.exited) { resolve(); return; }
      const timer = setTimeout(() => { this.waiter = null; resolve(); }, Math.max(0, timeoutMs));
      this.waiter = () => { clearTimeout(timer); this.waiter = null; resolve(); };
    });
  }

  /**
   * Resolves once the client has taken the terminal: its tty is out of
   * canonical mode and echo (every client puts it in raw mode). Until then
   * the tty's own line discipline echoes what is typed, so a key typed
   * earlier would time the kernel, not the client.
   */
  async waitForRawMode(timeoutMs = 30_000): Promise<void> {
    const tty = this.pty.ttyName;
    if (!tty) throw new Error('the outer pty has no device name');
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const { stdout } = await run('stty', ['-F', tty, '-a']);
      const modes = stdout.split(/[\s;]+/);
      if (modes.includes('-icanon') && modes.includes('-echo')) return;
      if (this.exited) throw new Error('client exited before it took the terminal');
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for the client to put ${tty} in raw mode`);
      await sleep(TTY_MODE_POLL_MS);
    }
  }

  /** Resolves once `test` holds for the screen (trackScreen first); rejects after `timeoutMs` or if the client exits. */
  async waitForScreen(test: (screen: Screen) => boolean, what: string, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const screen = await this.screen();
      if (test(screen)) return;
      if (this.exited) throw new Error(`client exited while waiting for ${what}: ${JSON.stringify(screen.rows)}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; screen: ${JSON.stringify(screen.rows)}`);
      // The next output (or the deadline) is the next time to look; output
      // that came while the last bytes were parsed is looked at at once.
      await this.nextOutput(left);
    }
  }

  /** The drawn text seen since the last mark. */
  text(): string {
    return drawnText(this.raw);
  }

  /**
   * Resolves once `test` holds for the drawn text since the mark (only its
   * last `window` bytes, when given: a marker at the end of megabytes);
   * rejects after `timeoutMs` or if the client exits.
   */
  waitFor(test: (text: string) => boolean, what: string, timeoutMs = 10_000, window = 0): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (test(drawnText(window > 0 ? this.raw.slice(-window) : this.raw))) { done(); resolve(); }
        else if (this.exited) { done(); reject(new Error(`client exited while waiting for ${what}: ${JSON.stringify(drawnText(this.raw).slice(-200))}`)); }
      };
      const timer = setTimeout(() => { done(); reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last: ${JSON.stringify(drawnText(this.raw).slice(-200))}`)); }, timeoutMs);
      const done = () => { clearTimeout(timer); this.waiter = null; };
      this.waiter = check;
      check();
    });
  }

  waitForText(needle: string, timeoutMs = 10_000, window = 0): Promise<void> {
    return this.waitFor((t) => t.includes(needle), JSON.stringify(needle), timeoutMs, window);
  }

  /**
   * One keystroke's echo: writes `key` (one printable byte) and resolves with
   * the milliseconds until it is drawn. The wait is on the raw output (no
   * parsing while timing); on a tracked screen the output that met it is
   * then parsed, and the key counts as drawn when the line typed so far ends
   * at the cursor, timed at the chunk of output that made it so. A full-screen
   * client redraws other cells too (a status bar's clock or latency), and
   * their letters must not pass for the key.
   */
  async echo(key: string, timeoutMs = 5_000): Promise<number> {
    this.mark();
    const t0 = hrms();
    this.write(key);
    const what = `echo of ${JSON.stringify(key)}`;
    await this.waitFor((t) => t.includes(key), what, timeoutMs);
    const line = this.typedLine + key;
    if (this.model) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const at = await this.firstChunkWhere((s) => s.beforeCursor.endsWith(line));
        if (at !== null) { this.typedLine = line; return at - t0; }
        if (this.exited || Date.now() > deadline) {
          const s = await this.screen();
          throw new Error(`${this.exited ? 'client exited' : `timed out after ${timeoutMs} ms`} waiting for ${what} at the cursor after ${JSON.stringify(this.typedLine)}; cursor row ${s.cursorY}: ${JSON.stringify(s.rows)}`);
        }
        await this.nextOutput(deadline - Date.now());
      }
    }
    this.typedLine = line;
    return hrms() - t0;
  }

  /** Resolves once no output has come for `quietMs` (a client done drawing), at most `timeoutMs`. */
  async settle(quietMs = 150, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const before = this.bytes + this.raw.length;
      await sleep(quietMs);
      if (this.bytes + this.raw.length === before || Date.now() > deadline) return;
    }
  }

  /** Ends the client by pid: SIGHUP to its group (as a closed terminal), SIGKILL if it lingers. */
  async close(): Promise<void> {
    this.model?.term.dispose();
    this.model = null;
    if (this.exited) { this.pty.dispose(); return; }
    const gone = new Promise<void>((r) => this.exitWaiters.push(r));
    this.pty.signalGroup('SIGHUP');
    const timer = sleep(EXIT_GRACE_MS);
    await Promise.race([gone, timer]);
    if (!this.exited && alive(this.pid)) {
      this.pty.signalGroup('SIGKILL');
      killPid(this.pid, 'SIGKILL');
      await Promise.race([gone, sleep(EXIT_GRACE_MS)]);
    }
    this.pty.dispose();
  }
}

/**
 * `count` keystrokes timed one at a time into a pane running `cat` (the
 * pty's line discipline echoes). The line is ended (untimed) once
 * `lineEvery` keys are on it, so the canonical-mode line buffer never fills
 * and no line wraps; the line `cat` prints back is awaited before the next
 * timed key.
 */
export async function echoKeystrokes(term: OuterPty, count: number, opts: { lineEvery?: number; keyTimeoutMs?: number; budgetMs?: number } = {}): Promise<number[]> {
  const lineEvery = opts.lineEvery ?? 50;
  const times: number[] = [];
  const stopAt = opts.budgetMs ? Date.now() + opts.budgetMs : Infinity;
  for (let i = 0; i < count && Date.now() < stopAt; i++) {
    // Letters only: they never occur inside an escape sequence that drawnText() keeps.
    const key = String.fromCharCode(97 + (i % 26));
    times.push(await term.echo(key, opts.keyTimeoutMs));
    if (term.typedLine.length >= lineEvery) {
      const expect = term.typedLine;
      term.mark();
      term.write('\r');
      term.typedLine = '';
      const timeoutMs = Math.max(10_000, opts.keyTimeoutMs ?? 0);
      // On a tracked screen: the typed line and cat's copy of it on the two
      // rows above the cursor (a client that redraws only changed cells
      // may never send the line in one piece); else in the output.
      if (term.tracking) await term.waitForScreen((s) => [1, 2].every((up) => s.rows[s.cursorY - up]?.includes(expect)), 'cat to print the line back', timeoutMs);
      else await term.waitFor((t) => t.split(expect).length > 1, 'cat to print the line back', timeoutMs);
    }
  }
  return times;
}
