/**
 * `npm run bench`: a first, zmx-only measure of keystroke echo and output
 * throughput through both server processes, on a private server. The full
 * benchmark against tmux, screen, dtach and ssh (A/B in one run, a report in
 * docs/benchmarks.md) is its own issue; this keeps the numbers honest until then.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runtimePaths } from '../src/common/paths.js';
import { Connection } from '../src/client/connection.js';
import { KeyStore } from '../src/platform/keystore.js';
import { isAlive, readPid } from '../src/platform/daemon.js';

/** Keystrokes timed for the echo measure (p99 needs a few hundred). */
const KEYSTROKES = 300;
/** Bytes kept between chunks so the end marker is found even when split. */
const MARKER_WINDOW = 64;
/** The throughput workload: what `seq 1 N` prints in a pane. */
const SEQ_LINES = 2_000_000;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]!;
}

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const json = process.argv.includes('--json');
  const base = mkdtempSync(join(tmpdir(), 'zmx-bench-'));
  process.env['ZMX_DIR'] = join(base, 'run');
  process.env['ZMX_CONFIG_DIR'] = join(base, 'config');
  process.env['ZMX_KEYRING'] = 'file';
  const paths = runtimePaths(process.env['ZMX_DIR']);
  const conn = (await Connection.local({ spawn: true, paths, keys: new KeyStore(join(base, 'config', 'keys'), 'file') }))!;
  const results: Record<string, number> = {};
  try {
    // Echo: one key at a time into `cat`, timed until it comes back.
    const echo = await conn.request('session.attach', { name: 'echo', cols: 80, rows: 24, readOnly: false, mode: 'raw', create: { name: 'echo', cmd: ['cat'], cwd: base, env: {}, cols: 80, rows: 24 } });
    let waiting: { key: string; done: () => void } | null = null;
    let seen = '';
    conn.stream(echo.result.sid, {
      output: (_seq, data) => {
        seen += data.toString('latin1');
        if (waiting && seen.includes(waiting.key)) { const w = waiting; waiting = null; seen = ''; w.done(); }
      },
      end: () => {},
    });
    const times: number[] = [];
    for (let i = 0; i < (quick ? 100 : KEYSTROKES); i++) {
      const key = String.fromCharCode(97 + (i % 26));
      const t0 = process.hrtime.bigint();
      await new Promise<void>((done) => { waiting = { key, done }; conn.input(echo.result.sid, Buffer.from(key)); });
      times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    times.sort((a, b) => a - b);
    results['echo_p50_ms'] = percentile(times, 50);
    results['echo_p99_ms'] = percentile(times, 99);

    // Throughput: seq in a shell with this client attached, until a marker shows.
    const lines = quick ? SEQ_LINES / 10 : SEQ_LINES;
    const shell = await conn.request('session.attach', { name: 'seq', cols: 80, rows: 24, readOnly: false, mode: 'raw', create: { name: 'seq', cmd: ['bash', '--norc', '--noprofile'], cwd: base, env: {}, cols: 80, rows: 24 } });
    let bytes = 0;
    let tail = '';
    let finished!: () => void;
    const done = new Promise<void>((r) => { finished = r; });
    conn.stream(shell.result.sid, {
      output: (_seq, data) => {
        bytes += data.length;
        const text = tail + data.toString('latin1');
        if (text.includes('BENCH-DONE')) finished();
        tail = text.slice(-MARKER_WINDOW);
      },
      end: () => finished(),
    });
    const t0 = Date.now();
    conn.input(shell.result.sid, Buffer.from(`seq 1 ${lines}; echo BENCH-""DONE\r`));
    await done;
    const ms = Date.now() - t0;
    results['seq_lines'] = lines;
    results['seq_ms'] = ms;
    results['seq_MB_per_s'] = bytes / 1e6 / (ms / 1000);
    await conn.request('session.kill', { names: ['echo', 'seq'], force: true }, [], { timeoutMs: 0 });
  } finally {
    await conn.close();
    for (const pid of [readPid(paths.frontPid), readPid(paths.ptyhostPid)]) if (pid && isAlive(pid)) process.kill(pid, 'SIGTERM');
    rmSync(base, { recursive: true, force: true });
  }
  if (json) {
    process.stdout.write(JSON.stringify(results, null, 2) + '\n');
    return;
  }
  process.stdout.write('zmx only (peers: see the benchmark issue)\n');
  for (const [k, v] of Object.entries(results)) process.stdout.write(`${k.padEnd(14)} ${Number.isInteger(v) ? v : v.toFixed(3)}\n`);
}

main().then(() => process.exit(0), (err) => {
  process.stderr.write(`bench: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
