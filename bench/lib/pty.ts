/**
 * The user's terminal, played by the bench: a real pty (through the
 * project's one node-pty adapter) running a client — `zmx attach`, `tmux
 * attach`, `screen -r`, `dtach -a`, or `cat` itself for the bare pty. Bytes
 * are written to its master side and looked for in what comes back.
 */
import { spawnPty, type PtyProcess } from '../../src/ptyhost/pty.js';
import { alive, hrms, killPid, sleep, type Cleanup } from './procs.js';

/** The outer terminal's size: the classic 80x24. */
export const COLS = 80;
export const ROWS = 24;
/** Characters kept of the text seen since the last mark (a marker search only needs the end). */
const KEEP_CHARS = 1 << 20;
/** How long a client gets to leave after SIGHUP/SIGTERM before SIGKILL. */
const EXIT_GRACE_MS = 2_000;

/** Terminal escape sequences (CSI, OSC, DCS, two-byte ESC) removed so only drawn text is searched. */
const ESCAPES = /\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1bP[^\x1b]*\x1b\\|\x1b\[[0-?]*[ -/]*[@-~]|\x1b[()*+#%][0-9A-Za-z@]|\x1b[ -~]/g;

/** The text a terminal would draw: escapes removed, and an unfinished one at the end cut off. */
export function drawnText(s: string): string {
  const t = s.replace(ESCAPES, '');
  const esc = t.lastIndexOf('\x1b');
  return esc >= 0 ? t.slice(0, esc) : t;
}

export class OuterPty {
  private readonly pty: PtyProcess;
  /** Raw output since the last mark (latin1: one char per byte). */
  private raw = '';
  /** Bytes seen since the last mark. */
  bytes = 0;
  private waiter: (() => void) | null = null;
  exited = false;
  private readonly exitWaiters: (() => void)[] = [];

  constructor(file: string, args: string[], env: NodeJS.ProcessEnv, cwd: string, cleanup: Cleanup, size = { cols: COLS, rows: ROWS }) {
    const clean: Record<string, string> = {};
    for (const [k, v] of Object.entries(env)) if (v !== undefined) clean[k] = v;
    this.pty = spawnPty({ file, args, cwd, env: clean, cols: size.cols, rows: size.rows });
    this.pty.onData((data) => {
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
   * the milliseconds until it is drawn in this terminal's output.
   */
  async echo(key: string, timeoutMs = 5_000): Promise<number> {
    this.mark();
    const t0 = hrms();
    this.write(key);
    await this.waitFor((t) => t.includes(key), `echo of ${JSON.stringify(key)}`, timeoutMs);
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
 * pty's line discipline echoes). A line is ended every `lineEvery` keys
 * (untimed) so the canonical-mode line buffer never fills; the line `cat`
 * prints back is awaited before the next timed key.
 */
export async function echoKeystrokes(term: OuterPty, count: number, opts: { lineEvery?: number; keyTimeoutMs?: number; budgetMs?: number } = {}): Promise<number[]> {
  const lineEvery = opts.lineEvery ?? 50;
  const times: number[] = [];
  const stopAt = opts.budgetMs ? Date.now() + opts.budgetMs : Infinity;
  let line = '';
  for (let i = 0; i < count && Date.now() < stopAt; i++) {
    // Letters only: they never occur inside an escape sequence that drawnText() keeps.
    const key = String.fromCharCode(97 + (i % 26));
    times.push(await term.echo(key, opts.keyTimeoutMs));
    line += key;
    if (line.length >= lineEvery) {
      term.mark();
      term.write('\r');
      const expect = line;
      await term.waitFor((t) => t.split(expect).length > 1, 'cat to print the line back', Math.max(10_000, opts.keyTimeoutMs ?? 0));
      line = '';
    }
  }
  return times;
}
