/**
 * Entry of a search worker (pool.ts): runs one job of search.ts at a time,
 * for the front, off its event loop. A job that runs past its deadline is
 * ended by terminating the whole worker (the only way to stop a regular
 * expression that backtracks); its open files close with it.
 */
import { parentPort } from 'node:worker_threads';
import { toZmxError } from '../common/errors.js';
import { Root } from './root.js';
import { grep, list, readFiles } from './search.js';
import type { SearchJob, SearchReply } from './pool.js';

async function run(job: SearchJob): Promise<unknown> {
  const root = await Root.open(job.root, { confined: job.confined });
  switch (job.op) {
    case 'grep': return grep(root, job.path, job.opts);
    case 'list': return list(root, job.path, job.opts);
    case 'readFiles': return readFiles(root, job.paths);
  }
}

const port = parentPort;
if (!port) throw new Error('search-worker.js runs as a worker thread of the front');
port.on('message', (job: SearchJob) => {
  run(job).then(
    (result) => port.postMessage({ ok: true, result } satisfies SearchReply),
    (err) => {
      const e = toZmxError(err);
      port.postMessage({ ok: false, code: e.code, message: e.message } satisfies SearchReply);
    },
  );
});
