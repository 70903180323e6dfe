/**
 * Runs many zmx command lines in one process, for tests that check the
 * output of dozens of them (every command's --help): main() builds a fresh
 * command table per call, so each call is what `zmx ARGS` runs, without
 * Node's start-up per call (≈ 0.25 s of CPU each, most of a help test's).
 * Tests that use it also run a sample through the real executable and
 * compare, so a difference between the two ways shows.
 *
 * As a program: reads a JSON array of argument lists on stdin and writes a
 * JSON array of { status, stdout, stderr } on stdout.
 */
import { spawn } from 'node:child_process';
import { writeSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { RunResult } from './harness.js';

/** Runs `calls` in one child process with `env` (a sandbox's). */
export function zmxBatch(calls: string[][], env: NodeJS.ProcessEnv): Promise<RunResult[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [fileURLToPath(import.meta.url)], { env, stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { out += d; });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`the batch runner exited ${code}`));
      else resolve(JSON.parse(out) as RunResult[]);
    });
    child.stdin.end(JSON.stringify(calls));
  });
}

/**
 * A stream's write() that keeps the text: bytes decoded as UTF-8, as the
 * test reading a real process's output decodes them, and a callback (the
 * last argument, after an optional encoding) called as a stream would.
 */
function capture(keep: (text: string) => void): typeof process.stdout.write {
  return ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    keep(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
    const done = rest[rest.length - 1];
    if (typeof done === 'function') queueMicrotask(() => (done as () => void)());
    return true;
  }) as typeof process.stdout.write;
}

async function runBatch(): Promise<void> {
  let input = '';
  for await (const chunk of process.stdin) input += chunk;
  const calls = JSON.parse(input) as string[][];
  const { main } = await import('../../src/cli/program.js');
  const results: RunResult[] = [];
  const realOut = process.stdout.write.bind(process.stdout);
  const realErr = process.stderr.write.bind(process.stderr);
  for (const argv of calls) {
    const r: RunResult = { status: 0, stdout: '', stderr: '' };
    process.stdout.write = capture((text) => { r.stdout += text; });
    process.stderr.write = capture((text) => { r.stderr += text; });
    try {
      r.status = await main(argv);
    } finally {
      process.stdout.write = realOut;
      process.stderr.write = realErr;
    }
    results.push(r);
  }
  writeSync(1, JSON.stringify(results));
  // Whatever a call left open (a server connection's socket) must not keep the batch alive.
  process.exit(0);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await runBatch();
