/**
 * The portal's worker scripts: src/portal/NAME-worker.ts, found where this
 * process runs from (tsc's output or the bundle) by src/common/entries.ts.
 */
import { entryPath } from '../common/entries.js';

export type WorkerName = 'search';

export function workerScript(name: WorkerName): string {
  return entryPath(`${name}-worker`);
}
