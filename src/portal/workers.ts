/**
 * The one place the portal finds its worker scripts. Entries are
 * src/portal/NAME-worker.ts, compiled beside this file; a bundle that packs
 * them elsewhere changes only this function.
 */
export type WorkerName = 'search';

export function workerScript(name: WorkerName): URL {
  return new URL(`./${name}-worker.js`, import.meta.url);
}
