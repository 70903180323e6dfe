/** Human-readable sizes, for messages and progress. */

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'] as const;
/** Binary multiples: what `ls -lh` and most tools show. */
const STEP = 1024;

/** 1536 → "1.5 KiB"; whole bytes below 1 KiB. */
export function formatBytes(n: number): string {
  let value = n;
  let unit = 0;
  while (value >= STEP && unit < UNITS.length - 1) {
    value /= STEP;
    unit++;
  }
  return unit === 0 ? `${n} B` : `${value < 10 ? value.toFixed(1) : Math.round(value)} ${UNITS[unit]}`;
}
