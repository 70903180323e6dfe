/**
 * The C library, through koffi (an FFI with prebuilt binaries): the one
 * file that loads it. zmx needs one call of it, glibc's malloc_trim.
 *
 * Why: a pane's emulator keeps its lines in typed arrays whose bytes glibc's
 * malloc hands out in ≈1 KiB pieces. When a pane hibernates (pane.ts) and V8
 * frees them, glibc keeps the pages, scattered between live allocations,
 * and the process's RSS does not fall; malloc_trim gives the free pages back
 * (measured: 20 panes of 3,000 lines, 158 → 68 MiB, in ≈20 ms).
 */
import { createRequire } from 'node:module';

type Trim = (pad: number) => number;

/** Undefined until first asked; null where there is no glibc or no koffi (macOS, musl): trimming is then skipped. */
let trim: Trim | null | undefined;

function load(): Trim | null {
  if (process.platform !== 'linux') return null;
  try {
    const koffi = createRequire(import.meta.url)('koffi') as {
      load(path: string): { func(signature: string): Trim };
    };
    return koffi.load('libc.so.6').func('int malloc_trim(size_t pad)');
  } catch {
    return null;
  }
}

/** Returns the C heap's free pages to the system; false where that cannot be done. */
export function trimMalloc(): boolean {
  if (trim === undefined) trim = load();
  if (!trim) return false;
  trim(0);
  return true;
}
