/** Assertions and set-up shared by the black-box CLI tests. */
import assert from 'node:assert/strict';
import { Sandbox, type RunResult } from './harness.js';

/** A sandbox for one test, cleaned up (every process ended) after it. */
export function sandbox(t: { after(fn: () => Promise<void>): void }, env: NodeJS.ProcessEnv = {}): Sandbox {
  const sb = new Sandbox(env);
  t.after(() => sb.cleanup());
  return sb;
}

export function assertOk(r: RunResult, what: string): void {
  assert.equal(r.status, 0, `${what} failed: status=${r.status} stdout=${JSON.stringify(r.stdout)} stderr=${JSON.stringify(r.stderr)}`);
}

/** A failure: non-zero status and exactly one line on stderr (matching `pattern`); with `quiet`, nothing on stdout. */
export function assertOneLineError(r: RunResult, what: string, pattern?: RegExp, quiet = false): void {
  assert.notEqual(r.status, 0, `${what}: expected a non-zero status; stdout=${JSON.stringify(r.stdout)} stderr=${JSON.stringify(r.stderr)}`);
  assert.match(r.stderr, /^[^\n]+\n$/, `${what}: expected one line on stderr, got ${JSON.stringify(r.stderr)}`);
  if (pattern) assert.match(r.stderr, pattern, what);
  if (quiet) assert.equal(r.stdout, '', `${what}: nothing on stdout`);
}

/** The lines a `run` printed for its command: after `session "x" created`, before the completion marker. */
export function runLines(stdout: string): string[] {
  const lines = stdout.split('\n');
  const end = lines.findIndex((l) => /ZMX_TASK_COMPLETED:/.test(l));
  const out = (end < 0 ? lines : lines.slice(0, end)).filter((l) => !/^session ".*" created$/.test(l));
  while (out.length > 0 && out[out.length - 1] === '') out.pop();
  return out;
}
