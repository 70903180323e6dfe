/**
 * The one file that imports node-pty. A pane's process is a PtyProcess;
 * logic above it (Pane, PtyHost) can be tested with a fake.
 */
import * as nodePty from 'node-pty';
import { noteTraffic } from '../platform/memory.js';

export interface PtySpawnOptions {
  file: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
  cols: number;
  rows: number;
}

export interface PtyProcess {
  readonly pid: number;
  onData(listener: (data: Buffer) => void): void;
  onExit(listener: (exit: { exitCode: number; signal: number }) => void): void;
  write(data: Buffer | string): void;
  resize(cols: number, rows: number): void;
  /** Stops reading the program's output (it blocks once the pty's buffer is full) until resume(). */
  pause(): void;
  resume(): void;
  /** Signals the pane's whole process group (the shell and its jobs). */
  signalGroup(signal: NodeJS.Signals): void;
  dispose(): void;
}

export type PtySpawner = (opts: PtySpawnOptions) => PtyProcess;

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
  let exited = false;
  disposables.push(proc.onExit(() => { exited = true; }));
  return {
    pid: proc.pid,
    onData: (listener) => {
      disposables.push(proc.onData((d: string | Buffer) => {
        const data = typeof d === 'string' ? Buffer.from(d, 'utf8') : d;
        noteTraffic(data.length);
        listener(data);
      }));
    },
    onExit: (listener) => {
      disposables.push(proc.onExit((e) => listener({ exitCode: e.exitCode, signal: e.signal ?? 0 })));
    },
    write: (data) => {
      if (!exited) proc.write(data);
    },
    resize: (cols, rows) => {
      if (!exited) proc.resize(cols, rows);
    },
    pause: () => {
      if (!exited) proc.pause();
    },
    resume: () => {
      if (!exited) proc.resume();
    },
    signalGroup: (signal) => {
      try {
        process.kill(-proc.pid, signal);
      } catch {
        try { process.kill(proc.pid, signal); } catch { /* already gone */ }
      }
    },
    dispose: () => {
      for (const d of disposables) d.dispose();
    },
  };
};
