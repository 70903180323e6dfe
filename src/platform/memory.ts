/**
 * Keeps the servers' resident memory close to what they hold. Pty traffic
 * is millions of short-lived Buffers whose bytes live outside V8's heap; V8
 * collects them only when it sees reason to (tens of megabytes of external
 * memory later), so a busy pane would add that much to a process's RSS.
 * Counting the bytes that pass and asking for a collection every
 * GC_EVERY_BYTES keeps the garbage bounded, for a few milliseconds per
 * tens of megabytes. Active only where the process runs with --expose-gc
 * (the server daemons: src/platform/daemon.ts).
 */

/** Traffic between collections: an eighth of the 64 MB a stopped client may cost the server; a collection of these small heaps takes milliseconds. */
const GC_EVERY_BYTES = 8 * 1024 * 1024;

type GcFunction = (options?: { type?: 'major' | 'minor'; execution?: 'sync' | 'async' }) => void | Promise<void>;
const collect = (globalThis as { gc?: GcFunction }).gc;
let passed = 0;

/** Notes `bytes` of traffic that will soon be garbage. */
export function noteTraffic(bytes: number): void {
  if (!collect) return;
  passed += bytes;
  if (passed < GC_EVERY_BYTES) return;
  passed = 0;
  void collect({ type: 'major', execution: 'async' });
}

/** A full collection now, where the process allows it (a pty host that became a reaper frees its terminals). */
export function collectNow(): void {
  if (collect) void collect({ type: 'major', execution: 'async' });
}
