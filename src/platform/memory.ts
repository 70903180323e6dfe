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
import { trimMalloc } from './libc.js';

/** How long collectSoon waits for more garbage before it collects: panes that hibernate together are collected once. */
const COLLECT_SOON_MS = 1_000;
/**
 * From a collection to the trims of the C heap: V8 frees dead ArrayBuffers'
 * bytes on a background thread after the collection itself has ended
 * (measured: still held right after it, gone a second or two later; longer
 * for hundreds of megabytes on a loaded machine), and a trim before that
 * finds nothing to give back. A trim takes ≈ 20 ms, so two are cheap.
 */
const TRIMS_AFTER_COLLECT_MS = [2_000, 6_000];

/** Traffic between collections: an eighth of the 64 MB a stopped client may cost the server; a collection of these small heaps takes milliseconds. */
const GC_EVERY_BYTES = 8 * 1024 * 1024;
/**
 * Of those collections, one in this many is a full one; the others collect
 * the young generation only (a scavenge). Most of the traffic's Buffers die
 * young (a chunk is garbage once sent), and a scavenge frees their bytes
 * without marking the whole heap; the full ones catch what grew old (chunks
 * in flight across scavenges, output kept for a client's resume). Measured
 * on 200 MB `zmx cp -H` copies: with a full collection every 8 MiB they were
 * ≈ 20% of the front's CPU (perf); this way the front's CPU is 24% lower and
 * the copy 14% faster, for ≈ 8 MB more peak RSS (docs/performance.md).
 */
const MAJOR_EVERY = 4;

type GcFunction = (options?: { type?: 'major' | 'minor'; execution?: 'sync' | 'async' }) => void | Promise<void>;
const collect = (globalThis as { gc?: GcFunction }).gc;
let passed = 0;
let collections = 0;

/** Notes `bytes` of traffic that will soon be garbage. */
export function noteTraffic(bytes: number): void {
  if (!collect) return;
  passed += bytes;
  if (passed < GC_EVERY_BYTES) return;
  passed = 0;
  collections = (collections + 1) % MAJOR_EVERY;
  void collect({ type: collections === 0 ? 'major' : 'minor', execution: 'async' });
}

let soon: NodeJS.Timeout | null = null;

/**
 * Shortly, once for many callers (panes that hibernate together, a pty host
 * that became a reaper and let its terminals go), a full
 * collection and then the C heap's free pages handed back (libc.ts says why
 * a collection alone does not lower RSS).
 */
export function collectSoon(): void {
  if (!collect || soon) return;
  soon = setTimeout(() => {
    soon = null;
    void Promise.resolve(collect({ type: 'major', execution: 'async' })).then(() => {
      for (const ms of TRIMS_AFTER_COLLECT_MS) setTimeout(trimMalloc, ms).unref();
    });
  }, COLLECT_SOON_MS);
  soon.unref();
}
