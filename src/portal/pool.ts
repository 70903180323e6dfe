/**
 * A small pool of worker threads for the portal's CPU-bound operations
 * (grep, list, readFiles: search.ts), so that none of them runs on the
 * front's event loop. Each job has a deadline counted from when it was
 * asked: past it, or when its connection goes (cancel), the job answers
 * ETIMEDOUT (EUNAVAIL when cancelled) and, if it is running, its worker is
 * terminated — the only way to stop a regular expression that backtracks —
 * and replaced when next needed. One key holds at most `perKey` jobs, fewer
 * than the pool has workers, so one key alone cannot stall everyone's
 * searches; past the queue's bound a job is refused (ETOOBIG).
 */
import { Worker } from 'node:worker_threads';
import { PORTAL } from '../common/constants.js';
import { ZmxError, isErrorCode } from '../common/errors.js';
import type { FileStat, GrepMatch, ReadFilesEntry } from '../common/portal.js';
import type { GrepOpts, ListOpts } from './search.js';
import { workerScript } from './workers.js';

interface RootRef {
  /** The root's real path; the worker opens it again. */
  root: string;
  confined: boolean;
}

export type SearchJob =
  | (RootRef & { op: 'grep'; path: string; opts: GrepOpts })
  | (RootRef & { op: 'list'; path: string; opts: ListOpts })
  | (RootRef & { op: 'readFiles'; paths: string[] });

export interface SearchResults {
  grep: { matches: GrepMatch[]; truncated: boolean };
  list: { entries: FileStat[]; truncated: boolean };
  readFiles: { files: ReadFilesEntry[]; data: Buffer };
}

/** What a worker posts back for one job. */
export type SearchReply = { ok: true; result: unknown } | { ok: false; code: string; message: string };

/** Who asks: the connection (its jobs end when it goes) and the key (whose jobs are counted). */
export interface Asker { client: string; key: string }

interface Task {
  job: SearchJob;
  asker: Asker;
  worker: Worker | null;
  timer: NodeJS.Timeout;
  resolve(r: unknown): void;
  reject(e: ZmxError): void;
}

export interface PoolOptions {
  /** Workers at most (started when needed). */
  workers?: number;
  /** A job's deadline, from when it is asked. */
  deadlineMs?: number;
  /** Jobs one key holds, running or queued. */
  perKey?: number;
}

export class SearchPool {
  private readonly max: number;
  private readonly deadlineMs: number;
  private readonly perKey: number;
  private readonly idle: Worker[] = [];
  private readonly idleTimers = new Map<Worker, NodeJS.Timeout>();
  private readonly busy = new Map<Worker, Task>();
  private readonly queue: Task[] = [];
  private disposed = false;

  constructor(opts: PoolOptions = {}) {
    this.max = opts.workers ?? PORTAL.searchWorkers;
    this.deadlineMs = opts.deadlineMs ?? PORTAL.searchDeadlineMs;
    this.perKey = opts.perKey ?? PORTAL.searchesPerKey;
  }

  run<K extends SearchJob['op']>(asker: Asker, job: SearchJob & { op: K }): Promise<SearchResults[K]> {
    if (this.disposed) return Promise.reject(new ZmxError('EUNAVAIL', 'the file service is closed'));
    const held = this.tasks().filter((t) => t.asker.key === asker.key).length;
    if (held >= this.perKey) {
      return Promise.reject(new ZmxError('ETOOBIG', `this key has ${held} searches (grep, list, read_files) under way, at most ${this.perKey}; wait for one to end`));
    }
    if (this.queue.length >= PORTAL.searchQueueMax) {
      return Promise.reject(new ZmxError('ETOOBIG', `the server has ${this.queue.length} searches waiting; try again shortly`));
    }
    return new Promise<SearchResults[K]>((resolve, reject) => {
      const task: Task = {
        job, asker, worker: null, resolve: resolve as (r: unknown) => void, reject,
        timer: setTimeout(() => this.fail(task, new ZmxError('ETIMEDOUT', `${job.op} ran past its deadline of ${this.deadlineMs / 1000} s and was stopped; narrow the pattern or the path`)), this.deadlineMs),
      };
      task.timer.unref();
      this.queue.push(task);
      this.pump();
    });
  }

  /** The connection `client` went away: its jobs end (running ones with their workers). */
  cancel(client: string): void {
    for (const t of this.tasks()) if (t.asker.client === client) this.fail(t, new ZmxError('EUNAVAIL', 'the connection went away'));
  }

  /** Workers alive (for tests and the resource figures). */
  get size(): number {
    return this.idle.length + this.busy.size;
  }

  async dispose(): Promise<void> {
    this.disposed = true;
    for (const t of this.tasks()) this.fail(t, new ZmxError('EUNAVAIL', 'the file service is closed'));
    const all = [...this.idle];
    this.idle.length = 0;
    for (const timer of this.idleTimers.values()) clearTimeout(timer);
    this.idleTimers.clear();
    await Promise.all(all.map((w) => w.terminate()));
  }

  // ---- internals

  private tasks(): Task[] {
    return [...this.queue, ...this.busy.values()];
  }

  private pump(): void {
    while (this.queue.length > 0 && !this.disposed && (this.idle.length > 0 || this.size < this.max)) {
      const worker = this.idle.pop() ?? this.spawn();
      const timer = this.idleTimers.get(worker);
      if (timer) clearTimeout(timer);
      this.idleTimers.delete(worker);
      const task = this.queue.shift() as Task;
      task.worker = worker;
      this.busy.set(worker, task);
      worker.postMessage(task.job);
    }
  }

  private spawn(): Worker {
    const worker = new Worker(workerScript('search'), {
      resourceLimits: { maxOldGenerationSizeMb: PORTAL.searchWorkerHeapMb },
      stdout: false,
      stderr: false,
    });
    worker.unref();
    worker.on('message', (reply: SearchReply) => this.answered(worker, reply));
    worker.on('error', (err) => this.lost(worker, err));
    worker.on('exit', () => this.lost(worker, null));
    return worker;
  }

  private answered(worker: Worker, reply: SearchReply): void {
    const task = this.busy.get(worker);
    if (!task) return;
    this.busy.delete(worker);
    this.settle(task);
    if (reply.ok) task.resolve(revive(task.job.op, reply.result));
    else task.reject(new ZmxError(isErrorCode(reply.code) ? reply.code : 'EINTERNAL', reply.message));
    if (this.disposed) void worker.terminate();
    else {
      this.idle.push(worker);
      const timer = setTimeout(() => this.retire(worker), PORTAL.searchWorkerIdleMs);
      timer.unref();
      this.idleTimers.set(worker, timer);
    }
    this.pump();
  }

  /** A worker died (out of memory, a bug) or was terminated: its job, if any, fails. */
  private lost(worker: Worker, err: Error | null): void {
    const i = this.idle.indexOf(worker);
    if (i >= 0) this.idle.splice(i, 1);
    const timer = this.idleTimers.get(worker);
    if (timer) clearTimeout(timer);
    this.idleTimers.delete(worker);
    const task = this.busy.get(worker);
    this.busy.delete(worker);
    if (task) {
      this.settle(task);
      const oom = (err as NodeJS.ErrnoException | null)?.code === 'ERR_WORKER_OUT_OF_MEMORY';
      task.reject(oom
        ? new ZmxError('ETOOBIG', `${task.job.op} needed more than ${PORTAL.searchWorkerHeapMb} MiB and was stopped; narrow the path`)
        : new ZmxError('EINTERNAL', `the search worker stopped: ${err?.message ?? 'it exited'}`));
    }
    this.pump();
  }

  private retire(worker: Worker): void {
    const i = this.idle.indexOf(worker);
    if (i < 0) return;
    this.idle.splice(i, 1);
    this.idleTimers.delete(worker);
    void worker.terminate();
  }

  /** Ends a task early: out of the queue, or its worker terminated. */
  private fail(task: Task, err: ZmxError): void {
    const q = this.queue.indexOf(task);
    if (q >= 0) this.queue.splice(q, 1);
    else if (task.worker && this.busy.get(task.worker) === task) {
      this.busy.delete(task.worker);
      void task.worker.terminate();
    } else return; // already answered
    this.settle(task);
    task.reject(err);
    this.pump();
  }

  private settle(task: Task): void {
    clearTimeout(task.timer);
  }
}

/** A worker's answer as the caller expects it: readFiles' bytes come back as a Uint8Array. */
function revive(op: SearchJob['op'], result: unknown): unknown {
  if (op !== 'readFiles') return result;
  const r = result as { files: ReadFilesEntry[]; data: Uint8Array };
  return { files: r.files, data: Buffer.from(r.data.buffer, r.data.byteOffset, r.data.byteLength) };
}
