/**
 * The portal from a client's side: files and commands in one session's
 * root, over a Connection. Large reads and writes go in chunks with a
 * window of them in flight (PORTAL.window × PORTAL.chunkBytes), so a file
 * of any size costs a few MiB on either side and the round trip is hidden.
 * Used by the CLI (zmx fs, exec, cp) and the MCP server.
 */
import { ZmxError } from '../common/errors.js';
import { LIMITS, PORTAL, TIMING } from '../common/constants.js';
import type { OpArgs, OpResult } from '../common/protocol.js';
import type { ExecInfo, ExecResult, FileStat, FsChange, GrepMatch, ReadFilesEntry, SignalName } from '../common/portal.js';
import type { Connection } from './connection.js';

/** How long one exec.read may wait for output: well inside a request's timeout. */
const EXEC_POLL_MS = 5_000;
/** The reply to an exec.read comes after its wait: give it that much more than a plain request. */
const EXEC_POLL_TIMEOUT_MS = EXEC_POLL_MS + 15_000;
/**
 * Commands run in the pty host and outlive a front that restarts (a crash,
 * an upgrade): a follower whose link is lost asks again, for as long as a
 * new front takes to start and answer, then gives up with the error.
 */
const FOLLOW_RECOVER_MS = TIMING.serverStartTimeoutMs + TIMING.requestTimeoutMs;

export interface ReadFile { path: string; size: number; content: Buffer | null; truncated: boolean; error: { code: string; message: string } | null }

export interface ExecOptions {
  argv?: string[];
  shell?: string;
  cwd?: string;
  env?: Record<string, string>;
  timeoutMs?: number;
  /** Given all at once, then stdin is closed. */
  stdin?: Buffer;
  onStdout?(data: Buffer): void;
  onStderr?(data: Buffer): void;
  /** Called with the command's id once it runs (to kill it on Ctrl-C). */
  onStart?(info: ExecInfo): void;
}

export interface ExecOutcome extends ExecResult { stdout: Buffer; stderr: Buffer; id: number }

export class PortalClient {
  constructor(readonly conn: Connection, readonly session: string) {}

  private req<K extends Parameters<Connection['request']>[0]>(op: K, args: OpArgs<K>, frames: Buffer[] = [], timeoutMs?: number): Promise<{ result: OpResult<K>; frames: Buffer[] }> {
    return this.conn.request(op, args, frames, timeoutMs === undefined ? {} : { timeoutMs });
  }

  stat(path: string): Promise<FileStat> {
    return this.req('fs.stat', { name: this.session, path }).then((r) => r.result.stat);
  }

  /** One slice of a file. */
  async readRange(path: string, offset: number, length: number): Promise<{ size: number; data: Buffer }> {
    const r = await this.req('fs.read', { name: this.session, path, offset, length: Math.min(length, PORTAL.chunkBytes) });
    return { size: r.result.size, data: r.frames[0] ?? Buffer.alloc(0) };
  }

  /**
   * A whole file, in order, to `sink`, with a window of reads in flight.
   * `onProgress(done, total)` after each chunk. Returns the bytes read.
   */
  async readStream(path: string, sink: (chunk: Buffer) => void | Promise<void>, onProgress?: (done: number, total: number) => void): Promise<number> {
    const first = await this.readRange(path, 0, PORTAL.chunkBytes);
    const size = first.size;
    await sink(first.data);
    let done = first.data.length;
    onProgress?.(done, size);
    let next = done;
    const inflight: Promise<{ size: number; data: Buffer }>[] = [];
    const issue = () => {
      while (inflight.length < PORTAL.window && next < size) {
        inflight.push(this.readRange(path, next, PORTAL.chunkBytes));
        next += PORTAL.chunkBytes;
      }
    };
    issue();
    while (inflight.length) {
      const r = await inflight.shift()!;
      if (r.data.length === 0) break; // the file shrank while we read it
      await sink(r.data);
      done += r.data.length;
      onProgress?.(done, size);
      issue();
    }
    return done;
  }

  /** A file whole, in memory: for files an agent reads, not for copies (use readStream). */
  async read(path: string): Promise<Buffer> {
    const parts: Buffer[] = [];
    await this.readStream(path, (c) => { parts.push(c); });
    return Buffer.concat(parts);
  }

  async readFiles(paths: string[]): Promise<ReadFile[]> {
    const r = await this.req('fs.readFiles', { name: this.session, paths });
    const data = r.frames[0] ?? Buffer.alloc(0);
    let at = 0;
    return r.result.files.map((f: ReadFilesEntry) => {
      const content = f.error ? null : data.subarray(at, at + f.bytes);
      at += f.bytes;
      return { path: f.path, size: f.size, content, truncated: f.truncated, error: f.error };
    });
  }

  /** Writes a whole file atomically: in one message when small, else as an upload. */
  async write(path: string, data: Buffer, opts: { mode?: number | null; parents?: boolean } = {}): Promise<{ path: string; bytes: number }> {
    if (data.length <= PORTAL.chunkBytes) {
      const r = await this.req('fs.write', { name: this.session, path, mode: opts.mode ?? null, parents: opts.parents ?? false }, [data]);
      return r.result;
    }
    let offset = 0;
    return this.upload(path, async () => {
      if (offset >= data.length) return null;
      const chunk = data.subarray(offset, offset + PORTAL.chunkBytes);
      offset += chunk.length;
      return chunk;
    }, opts);
  }

  /**
   * Writes a file of any size from `next` (each call gives the next chunk,
   * null at the end), a window of chunks in flight; renamed into place only
   * when all arrived. On any failure the upload is aborted.
   */
  async upload(path: string, next: () => Promise<Buffer | null>, opts: { mode?: number | null; parents?: boolean } = {}, onProgress?: (done: number) => void): Promise<{ path: string; bytes: number }> {
    const { result } = await this.req('fs.upload.begin', { name: this.session, path, mode: opts.mode ?? null, parents: opts.parents ?? false });
    const upload = result.upload;
    let offset = 0;
    let done = 0;
    const inflight: Promise<unknown>[] = [];
    try {
      for (;;) {
        const chunk = await next();
        if (!chunk) break;
        if (chunk.length > PORTAL.chunkBytes) throw new ZmxError('EINVAL', `upload chunks are at most ${PORTAL.chunkBytes} bytes`);
        const at = offset;
        offset += chunk.length;
        inflight.push(this.req('fs.upload.chunk', { upload, offset: at }, [chunk]).then(() => { done += chunk.length; onProgress?.(done); }));
        if (inflight.length >= PORTAL.window) await inflight.shift();
      }
      await Promise.all(inflight);
      return (await this.req('fs.upload.commit', { upload, size: offset })).result;
    } catch (err) {
      await Promise.allSettled(inflight);
      await this.req('fs.upload.abort', { upload }).catch(() => {});
      throw err;
    }
  }

  edit(path: string, oldText: string, newText: string, count = 1): Promise<{ path: string; replaced: number }> {
    return this.req('fs.edit', { name: this.session, path, old: oldText, new: newText, count }).then((r) => r.result);
  }

  list(path: string, opts: { recursive?: boolean; glob?: string; all?: boolean; max?: number } = {}): Promise<{ entries: FileStat[]; truncated: boolean }> {
    return this.req('fs.list', { name: this.session, path, recursive: opts.recursive ?? false, glob: opts.glob ?? '', all: opts.all ?? false, max: opts.max ?? 0 }).then((r) => r.result);
  }

  grep(pattern: string, opts: { path?: string; glob?: string; ignoreCase?: boolean; max?: number } = {}): Promise<{ matches: GrepMatch[]; truncated: boolean }> {
    return this.req('fs.grep', { name: this.session, path: opts.path ?? '', pattern, glob: opts.glob ?? '', ignoreCase: opts.ignoreCase ?? false, max: opts.max ?? 0 }).then((r) => r.result);
  }

  mkdir(path: string, parents = false): Promise<{ path: string }> {
    return this.req('fs.mkdir', { name: this.session, path, parents }).then((r) => r.result);
  }

  rm(path: string, recursive = false): Promise<{ path: string }> {
    return this.req('fs.rm', { name: this.session, path, recursive }).then((r) => r.result);
  }

  mv(from: string, to: string, overwrite = false): Promise<{ from: string; to: string }> {
    return this.req('fs.mv', { name: this.session, from, to, overwrite }).then((r) => r.result);
  }

  /** Calls `onChange` for each change under `path` until the returned function is called. */
  async watch(path: string, recursive: boolean, onChange: (c: FsChange) => void): Promise<() => Promise<void>> {
    let id = -1;
    const early: FsChange[] = [];
    this.conn.onEvent((name, data) => {
      if (name !== 'fs.change') return;
      const c = data as unknown as FsChange;
      if (id === -1) early.push(c);
      else if (c.watch === id) onChange(c);
    });
    id = (await this.req('fs.watch', { name: this.session, path, recursive })).result.watch;
    for (const c of early) if (c.watch === id) onChange(c);
    return async () => { await this.req('fs.unwatch', { watch: id }).catch(() => {}); };
  }

  async execStart(o: ExecOptions, keepStdin = false): Promise<ExecInfo> {
    const stdin = o.stdin && o.stdin.length > LIMITS.maxWriteBytes ? null : o.stdin;
    if (o.stdin && !stdin) throw new ZmxError('ETOOBIG', `stdin for a command is at most ${LIMITS.maxWriteBytes} bytes`);
    const { result } = await this.req('exec.start', {
      name: this.session, argv: o.argv ?? [], shell: o.shell ?? '', cwd: o.cwd ?? '', env: o.env ?? {}, timeoutMs: o.timeoutMs ?? 0, stdin: keepStdin,
    }, stdin ? [stdin] : []);
    return result.exec;
  }

  /**
   * Follows a running (or ended) command's output from the given offsets
   * until it ends; returns how it ended and everything it printed from there.
   */
  async follow(id: number, o: Pick<ExecOptions, 'onStdout' | 'onStderr'> = {}, from = { stdout: 0, stderr: 0 }): Promise<ExecOutcome> {
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let at = { ...from };
    let skipped = false;
    let lostAt: number | null = null;
    for (;;) {
      let r;
      try {
        r = await this.req('exec.read', { exec: id, stdout: at.stdout, stderr: at.stderr, waitMs: EXEC_POLL_MS, max: 0 }, [], EXEC_POLL_TIMEOUT_MS);
      } catch (err) {
        // The link went with the front; the connection brings up a new one and reconnects by itself.
        if (!(err instanceof ZmxError) || err.code !== 'EUNAVAIL') throw err;
        lostAt ??= Date.now();
        if (Date.now() - lostAt > FOLLOW_RECOVER_MS) throw err;
        await new Promise((resolve) => setTimeout(resolve, TIMING.recoverRetryMs));
        continue;
      }
      lostAt = null;
      const so = r.frames[0] ?? Buffer.alloc(0);
      const se = r.frames[1] ?? Buffer.alloc(0);
      // Output older than the server keeps was dropped: we start at what it has.
      if (r.result.stdout > at.stdout || r.result.stderr > at.stderr) skipped = true;
      if (so.length) { out.push(so); o.onStdout?.(so); }
      if (se.length) { err.push(se); o.onStderr?.(se); }
      at = { stdout: r.result.stdout + so.length, stderr: r.result.stderr + se.length };
      const result = r.result.exec.result;
      if (result) return { ...result, truncated: result.truncated || skipped, stdout: Buffer.concat(out), stderr: Buffer.concat(err), id };
    }
  }

  /** Runs a command to its end. */
  async exec(o: ExecOptions): Promise<ExecOutcome> {
    const info = await this.execStart(o);
    o.onStart?.(info);
    return this.follow(info.id, o);
  }

  kill(id: number, signal: SignalName = 'SIGTERM'): Promise<void> {
    return this.req('exec.kill', { exec: id, signal }).then(() => {});
  }

  execs(): Promise<ExecInfo[]> {
    return this.req('exec.list', { name: this.session }).then((r) => r.result.execs);
  }
}
