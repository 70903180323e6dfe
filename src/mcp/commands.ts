/**
 * Commands the MCP tools started (run_command), followed here until they
 * end: each keeps the end of its stdout and stderr, so a call that stops
 * waiting (the command outlived it, or was started in the background) can
 * give way to later calls — command_output, command_wait, command_kill —
 * by the command's id. The commands run on the server (exec.*); this
 * process only polls their output with exec.read and keeps what an answer
 * shows. Commands still running when the MCP server ends are ended, as a
 * terminal's are when it closes.
 */
import { ZmxError, toZmxError } from '../common/errors.js';
import type { ExecResult, SignalName } from '../common/portal.js';
import type { Backend } from './backend.js';

/** An answer shows at most this many bytes of each stream: its end, where errors are. */
export const RUN_MAX_STREAM_BYTES = 64 * 1024;
/** How long one exec.read waits for output; it answers at once when there is some. */
const POLL_WAIT_MS = 5_000;
/** Pause before polling again after the link failed (it reconnects by itself). */
const POLL_RETRY_MS = 1_000;
/** Ended commands kept for later calls; the oldest goes first. Running ones are all kept. */
const KEEP_ENDED = 32;
/** How long ending the MCP server waits for its running commands to be told to end. */
const DISPOSE_KILL_WAIT_MS = 2_000;

/** The last `limit` bytes of a stream, and how many it printed in all. */
export class StreamTail {
  private chunks: Buffer[] = [];
  private held = 0;
  total = 0;

  constructor(private readonly limit = RUN_MAX_STREAM_BYTES) {}

  push(data: Buffer): void {
    if (data.length === 0) return;
    this.total += data.length;
    this.chunks.push(data);
    this.held += data.length;
    while (this.chunks.length > 1 && this.held - this.chunks[0]!.length >= this.limit) this.held -= this.chunks.shift()!.length;
  }

  /** The end as text, cut on a character boundary, with a note of what was left out. */
  text(): { text: string; cut: boolean } {
    const data = Buffer.concat(this.chunks);
    let from = Math.max(0, data.length - this.limit);
    const skippedHere = this.total - data.length;
    if (from === 0 && skippedHere === 0) return { text: data.toString('utf8'), cut: false };
    while (from < data.length && (data[from]! & 0xc0) === 0x80) from++; // not in the middle of a character
    return { text: `[zmx: the first ${skippedHere + from} bytes are not shown]\n${data.subarray(from).toString('utf8')}`, cut: true };
  }
}

/** One command as this process follows it. */
export interface Tracked {
  id: number;
  argv: string[];
  /** When it was started, by this process's clock (the server's may differ). */
  startedMs: number;
  stdout: StreamTail;
  stderr: StreamTail;
  /** How it ended; null while it runs. */
  result: ExecResult | null;
  /** Why it can no longer be followed (the server forgot it), if so. */
  error: ZmxError | null;
  /** Output older than the server keeps was missed. */
  skipped: boolean;
  /** Settles when it ended or can no longer be followed. */
  done: Promise<void>;
  /** Hear each piece of output as it comes (progress notifications). */
  listeners: Set<(stream: 'stdout' | 'stderr', data: Buffer) => void>;
}

export interface StartOptions {
  argv?: string[];
  shell?: string;
  cwd: string;
  timeoutMs: number;
  stdin?: Buffer;
}

export class CommandTracker {
  private readonly commands = new Map<number, Tracked>();
  private disposed = false;
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(private readonly backend: () => Promise<Backend>) {}

  /** Starts a command and follows it. */
  async start(o: StartOptions): Promise<Tracked> {
    const b = await this.backend();
    const info = await b.portal.execStart({ ...(o.argv ? { argv: o.argv } : { shell: o.shell ?? '' }), cwd: o.cwd, timeoutMs: o.timeoutMs, ...(o.stdin ? { stdin: o.stdin } : {}) });
    let settle!: () => void;
    const t: Tracked = {
      id: info.id, argv: info.argv, startedMs: Date.now(), stdout: new StreamTail(), stderr: new StreamTail(),
      result: null, error: null, skipped: false, done: new Promise((r) => { settle = r; }), listeners: new Set(),
    };
    this.commands.set(t.id, t);
    void this.follow(t).finally(() => {
      settle();
      this.trim();
    });
    return t;
  }

  /** A command started here, by id. */
  get(id: number): Tracked {
    const t = this.commands.get(id);
    if (!t) throw new ZmxError('EINVAL', `no command ${id} was started by this MCP server (or it ended long ago and was forgotten)`);
    return t;
  }

  /** Waits up to `ms` (or until `signal`) for the command to end; whether it did. */
  async wait(t: Tracked, ms: number, signal?: AbortSignal): Promise<boolean> {
    if (t.result || t.error) return true;
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    const gaveUp = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ms);
      onAbort = () => resolve();
      signal?.addEventListener('abort', onAbort, { once: true });
    });
    try {
      await Promise.race([t.done, gaveUp]);
    } finally {
      clearTimeout(timer);
      if (onAbort) signal?.removeEventListener('abort', onAbort);
    }
    return t.result !== null || t.error !== null;
  }

  async kill(t: Tracked, signal: SignalName): Promise<void> {
    await (await this.backend()).portal.kill(t.id, signal);
  }

  /** Ends the commands still running, then stops following. */
  async dispose(): Promise<void> {
    this.disposed = true;
    for (const timer of this.timers) clearTimeout(timer);
    const running = [...this.commands.values()].filter((t) => !t.result && !t.error);
    if (running.length === 0) return;
    const told = (async () => {
      const b = await this.backend();
      await Promise.allSettled(running.map((t) => b.portal.kill(t.id, 'SIGTERM')));
    })().catch(() => {});
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([told, new Promise<void>((r) => { timer = setTimeout(r, DISPOSE_KILL_WAIT_MS); })]);
    clearTimeout(timer);
  }

  /** Polls the command's output until it ends (or the server no longer knows it). */
  private async follow(t: Tracked): Promise<void> {
    let at = { stdout: 0, stderr: 0 };
    while (!this.disposed) {
      let r;
      try {
        r = await (await this.backend()).execRead(t.id, at, POLL_WAIT_MS);
      } catch (err) {
        const e = toZmxError(err);
        if (e.code !== 'EUNAVAIL' && e.code !== 'ETIMEDOUT') {
          t.error = e;
          return;
        }
        await this.pause(POLL_RETRY_MS);
        continue;
      }
      if (r.from.stdout > at.stdout || r.from.stderr > at.stderr) t.skipped = true;
      for (const [stream, data] of [['stdout', r.stdout], ['stderr', r.stderr]] as const) {
        if (data.length === 0) continue;
        t[stream].push(data);
        for (const l of t.listeners) l(stream, data);
      }
      at = { stdout: r.from.stdout + r.stdout.length, stderr: r.from.stderr + r.stderr.length };
      if (r.info.result) {
        t.result = { ...r.info.result, truncated: r.info.result.truncated || t.skipped };
        return;
      }
    }
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => { this.timers.delete(timer); resolve(); }, ms);
      this.timers.add(timer);
    });
  }

  /** Forgets the oldest ended commands past KEEP_ENDED. */
  private trim(): void {
    const ended = [...this.commands.values()].filter((t) => t.result || t.error);
    for (const t of ended.slice(0, Math.max(0, ended.length - KEEP_ENDED))) this.commands.delete(t.id);
  }
}
