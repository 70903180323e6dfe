/**
 * The one file that imports node-pty. A pane's process is a PtyProcess;
 * logic above it (Pane, PtyHost) can be tested with a fake.
 *
 * Two kinds: a pty this process spawned (spawnPty: node-pty forks the
 * program and waits for it), and one adopted from an earlier pty host at an
 * upgrade (adoptPty: the master fd was inherited; the program's end is
 * reported by the process that is still its parent, see handover.ts).
 */
import * as nodePty from 'node-pty';
import { createRequire } from 'node:module';
import { write as fsWrite, writeSync } from 'node:fs';
import { ReadStream } from 'node:tty';
import { noteTraffic } from '../platform/memory.js';

export interface PtySpawnOptions {
  file: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
  cols: number;
  rows: number;
}

export interface PtyExit { exitCode: number; signal: number }

export interface PtyProcess {
  readonly pid: number;
  /** The slave side's device (/dev/pts/N), where known. */
  readonly ttyName?: string;
  onData(listener: (data: Buffer) => void): void;
  onExit(listener: (exit: PtyExit) => void): void;
  write(data: Buffer | string): void;
  resize(cols: number, rows: number): void;
  /** Stops reading the program's output (it blocks once the pty's buffer is full) until resume(). */
  pause(): void;
  resume(): void;
  /** Signals the pane's whole process group (the shell and its jobs). */
  signalGroup(signal: NodeJS.Signals): void;
  dispose(): void;
  /** What an upgrade needs (handover.ts); absent (a fake): the pty host cannot hand this pty over. */
  readonly handover?: PtyHandover;
}

/**
 * Handing a pty over to another process: it inherits `fd`; this one stops
 * reading first (freeze), and after the other took over closes its own copy
 * (release) and only reports the program's end.
 */
export interface PtyHandover {
  /** The pty master in this process. */
  readonly fd: number;
  /**
   * Stops reading the master. Output read already reaches the data
   * listeners before this resolves; what the program writes from now on
   * stays in the kernel for whoever reads next. The program's end is held.
   */
  freeze(): Promise<void>;
  /** The hand-over was called off: reads again, and delivers a held end. */
  thaw(): void;
  /**
   * Another process has the master now: closes this copy (the program gets
   * no hangup: the master stays open there). The program's end goes to
   * `onExit` alone from now on; null when it cannot be known.
   */
  release(onExit: (exit: PtyExit | null) => void): void;
}

export type PtySpawner = (opts: PtySpawnOptions) => PtyProcess;

/**
 * After the program ended, how long an adopted pty waits for the rest of its
 * output (the master reading EOF) before closing, as node-pty does for a
 * spawned one.
 */
const ADOPTED_DRAIN_MS = 200;

/** The parts of a net.Socket's handle (libuv stream) that stop and restart reads. */
interface StreamHandle { reading: boolean; readStart(): number; readStop(): number }

/**
 * Stops reading a socket at the libuv level, unlike pause(), which reads on
 * into the stream's buffer. `reading` stays set so that net.Socket does not
 * start reading again by itself (its _read checks that flag).
 */
function stopReads(sock: ReadStream): void {
  const handle = (sock as unknown as { _handle?: StreamHandle | null })._handle;
  if (!handle) return;
  handle.readStop();
  handle.reading = true;
}

function startReads(sock: ReadStream): void {
  const handle = (sock as unknown as { _handle?: StreamHandle | null })._handle;
  if (!handle) return;
  handle.readStart();
  handle.reading = true;
}

/** Lets chunks already in a socket's buffer flow to its listeners, then restores its paused state. */
async function drainBuffered(sock: ReadStream): Promise<void> {
  if (sock.readableLength > 0) {
    const paused = sock.isPaused();
    sock.resume();
    await new Promise((r) => setImmediate(r));
    if (paused) sock.pause();
  } else {
    await new Promise((r) => setImmediate(r));
  }
}

/**
 * Where a pty's end goes: to the pane's listeners normally, held while the
 * pty is frozen for a hand-over, to the releaser's callback once released.
 */
class ExitRoute {
  listeners: ((exit: PtyExit) => void)[] = [];
  frozen = false;
  private held: PtyExit | null | undefined;
  private released: ((exit: PtyExit | null) => void) | null = null;
  private done = false;

  deliver(exit: PtyExit | null): void {
    if (this.done) return;
    if (this.released) {
      this.done = true;
      this.released(exit);
    } else if (this.frozen) {
      this.held = exit;
    } else {
      this.done = true;
      const e = exit ?? { exitCode: 0, signal: 0 };
      for (const l of this.listeners) l(e);
    }
  }

  thaw(): void {
    this.frozen = false;
    if (this.held !== undefined) this.deliver(this.held);
  }

  release(onExit: (exit: PtyExit | null) => void): void {
    this.released = onExit;
    this.listeners = [];
    if (this.held !== undefined) this.deliver(this.held);
  }

  get isReleased(): boolean {
    return this.released !== null;
  }
}

/**
 * A pty master's input, in order. A write goes to the kernel at once when
 * nothing waits before it: a keystroke costs one write(2) on this thread,
 * not a trip through libuv's thread pool and back (node-pty's own write, a
 * worker's wake-up and a callback per key: docs/performance.md, "Where a
 * keystroke's time goes"). The master is non-blocking (node-pty makes it so,
 * and relies on it itself; an inherited one was node-pty's), so a full
 * buffer answers EAGAIN instead of stalling the pty host, and the rest
 * waits in the queue, written from the pool as the program reads.
 */
export class PtyWriter {
  private readonly queue: { buf: Buffer; off: number }[] = [];
  private writing = false;
  private closed = false;

  constructor(private readonly fd: number, private readonly writeNow: (fd: number, buf: Buffer) => number = writeSync) {}

  write(data: Buffer | string): void {
    if (this.closed) return;
    const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    if (buf.length === 0) return;
    let off = 0;
    if (!this.writing) {
      try {
        off = this.writeNow(this.fd, buf);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') return this.gone();
      }
      if (off >= buf.length) return;
    }
    // Kept as a copy: the caller's buffer is theirs once write returns.
    this.queue.push({ buf: Buffer.from(buf.subarray(off)), off: 0 });
    if (!this.writing) this.pump();
  }

  /** Input is queued that the kernel has not taken yet (later writes wait behind it). */
  get waiting(): boolean {
    return this.writing;
  }

  /** Nothing more is written (the master is closed or handed over). */
  close(): void {
    this.closed = true;
    this.queue.length = 0;
  }

  private pump(): void {
    const head = this.queue[0];
    if (!head || this.closed) { this.writing = false; return; }
    this.writing = true;
    fsWrite(this.fd, head.buf, head.off, head.buf.length - head.off, null, (err, n) => {
      if (err) {
        if ((err as NodeJS.ErrnoException).code === 'EAGAIN') { setImmediate(() => this.pump()); return; }
        this.gone();
        return;
      }
      head.off += n;
      if (head.off >= head.buf.length) this.queue.shift();
      this.pump();
    });
  }

  /** The program is gone (EIO): its input with it. */
  private gone(): void {
    this.queue.length = 0;
    this.writing = false;
  }
}

function signalGroupOf(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try { process.kill(pid, signal); } catch { /* already gone */ }
  }
}

export const spawnPty: PtySpawner = (opts) => {
  const proc = nodePty.spawn(opts.file, opts.args, {
    name: opts.env['TERM'] ?? 'xterm-256color',
    cols: opts.cols,
    rows: opts.rows,
    cwd: opts.cwd,
    env: opts.env,
    // Bytes, not strings: a multi-byte character split across reads must
    // reach the terminal emulator and the clients intact.
    encoding: null,
  });
  const disposables: nodePty.IDisposable[] = [];
  const route = new ExitRoute();
  let exited = false;
  // Registered once, never disposed: a released pty still reports its program's end.
  proc.onExit((e) => {
    exited = true;
    route.deliver({ exitCode: e.exitCode, signal: e.signal ?? 0 });
  });
  // node-pty keeps the master as a tty.ReadStream (`_socket`) and its fd (`fd`).
  const socket = (proc as unknown as { _socket: ReadStream })._socket;
  const live = () => !exited && !route.isReleased;
  const fd = (proc as unknown as { fd: number }).fd;
  const writer = new PtyWriter(fd);
  return {
    pid: proc.pid,
    ttyName: (proc as unknown as { ptsName?: string }).ptsName,
    onData: (listener) => {
      disposables.push(proc.onData((d: string | Buffer) => {
        const data = typeof d === 'string' ? Buffer.from(d, 'utf8') : d;
        noteTraffic(data.length);
        listener(data);
      }));
    },
    onExit: (listener) => { route.listeners.push(listener); },
    write: (data) => {
      if (live()) writer.write(data);
    },
    resize: (cols, rows) => {
      if (live()) proc.resize(cols, rows);
    },
    pause: () => {
      if (live()) proc.pause();
    },
    resume: () => {
      if (live()) proc.resume();
    },
    signalGroup: (signal) => signalGroupOf(proc.pid, signal),
    dispose: () => {
      for (const d of disposables.splice(0)) d.dispose();
    },
    handover: {
      fd,
      freeze: async () => {
        route.frozen = true;
        stopReads(socket);
        await drainBuffered(socket);
      },
      thaw: () => {
        if (!exited) startReads(socket);
        route.thaw();
      },
      release: (onExit) => {
        writer.close();
        for (const d of disposables.splice(0)) d.dispose();
        route.release(onExit);
        // Closes this process's copy of the master; node-pty still waits for the program.
        socket.destroy();
      },
    },
  };
};

/** node-pty's native resize (an ioctl on a master fd): the one call an adopted pty needs from it. */
let nativeResize: ((fd: number, cols: number, rows: number) => void) | null = null;
function resizeFd(fd: number, cols: number, rows: number): void {
  if (!nativeResize) {
    const utils = createRequire(import.meta.url)('node-pty/lib/utils.js') as { loadNativeModule(name: string): { module: { resize(fd: number, cols: number, rows: number): void } } };
    nativeResize = utils.loadNativeModule('pty').module.resize;
  }
  nativeResize(fd, cols, rows);
}

export interface AdoptOptions {
  /** The inherited pty master. */
  fd: number;
  /** The program (its process group leader). */
  pid: number;
  /** Asks to be told the program's end (null: it cannot be known); see handover.ts. */
  waitExit(cb: (exit: PtyExit | null) => void): void;
}

/**
 * A pty whose master this process inherited. Nothing is read until start()
 * (the previous pty host may still be reading it until it lets go). The
 * pane ends when the program's end is reported and its output has been
 * read to the end (EIO), or ADOPTED_DRAIN_MS after the report.
 */
export function adoptPty(opts: AdoptOptions): PtyProcess & { start(): void } {
  const { fd, pid } = opts;
  const socket = new ReadStream(fd);
  const route = new ExitRoute();
  const dataListeners: ((data: Buffer) => void)[] = [];
  let started = false;
  let eof = false;
  let closed = false;
  let status: PtyExit | null | undefined;
  let drainTimer: NodeJS.Timeout | null = null;
  const writer = new PtyWriter(fd);

  const close = () => {
    if (closed) return;
    closed = true;
    writer.close();
    if (drainTimer) clearTimeout(drainTimer);
    socket.destroy();
  };
  const settle = () => {
    // Before start() the previous pty host may still read; an end waits for start().
    if (route.isReleased || status === undefined || !started) return;
    if (!eof) {
      drainTimer ??= setTimeout(() => { eof = true; settle(); }, ADOPTED_DRAIN_MS);
      return;
    }
    close();
    route.deliver(status);
  };
  socket.on('data', (d: Buffer) => {
    noteTraffic(d.length);
    for (const l of dataListeners) l(d);
  });
  // EIO: every slave fd is closed (the program and its jobs are gone).
  socket.on('error', () => { eof = true; settle(); });
  socket.on('end', () => { eof = true; settle(); });
  socket.on('close', () => { eof = true; settle(); });
  stopReads(socket);
  opts.waitExit((exit) => {
    status = exit;
    if (route.isReleased) route.deliver(exit);
    else settle();
  });

  const live = () => !closed && !route.isReleased;

  return {
    pid,
    start: () => {
      if (started) return;
      started = true;
      if (!closed) startReads(socket);
      settle();
    },
    onData: (listener) => { dataListeners.push(listener); },
    onExit: (listener) => { route.listeners.push(listener); },
    write: (data) => {
      if (live()) writer.write(data);
    },
    resize: (cols, rows) => {
      if (!live()) return;
      try { resizeFd(fd, cols, rows); } catch { /* the pty is gone */ }
    },
    pause: () => { if (live()) socket.pause(); },
    resume: () => { if (live()) socket.resume(); },
    signalGroup: (signal) => signalGroupOf(pid, signal),
    dispose: () => { dataListeners.length = 0; },
    handover: {
      fd,
      freeze: async () => {
        route.frozen = true;
        stopReads(socket);
        await drainBuffered(socket);
      },
      thaw: () => {
        if (!closed && started) startReads(socket);
        route.thaw();
      },
      release: (onExit) => {
        dataListeners.length = 0;
        route.release(onExit);
        close();
        if (status !== undefined) route.deliver(status);
      },
    },
  };
}
