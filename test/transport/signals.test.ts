/**
 * Signals do not break a link's set-up. libzmq fails a call with EINTR when
 * a signal lands while it waits on its mailbox (making a socket's event
 * monitor, connecting, binding), and zeromq.js passes that on as a throw:
 * a terminal's SIGWINCH or a profiler's SIGPROF at the wrong moment made
 * `zmx ls` print "Interrupted system call" (one call in ten under
 * `--cpu-prof`). A child process sets up and tears down 300 real links
 * while V8's profiler interrupts it every 20 µs; each must come up.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT } from '../helpers/harness.js';

/** Links the child makes; before the fix, one of the first ≈ 40 failed every time. */
const LINKS = 300;
/** V8's sampling interval in the child, µs: a SIGPROF this often. */
const SIGNAL_EVERY_US = 20;

test(`${LINKS} links set up and torn down under a storm of signals: none fails with EINTR`, (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'zmx-signals-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const zmq = pathToFileURL(join(ROOT, 'dist/src/platform/zmq.js')).href;
  const script = join(dir, 'links.mjs');
  writeFileSync(script, `
import { ClientLink } from ${JSON.stringify(zmq)};
let made = 0;
try {
  for (; made < ${LINKS}; made++) {
    const link = new ClientLink({ endpoint: ${JSON.stringify(`ipc://${join(dir, 'nobody.sock')}`)}, curve: null, onMessage() {} });
    link.connect();
    await link.dispose();
  }
  console.log('made', made);
} catch (err) {
  console.log('failed after', made, err.code, err.message);
  process.exitCode = 1;
}
`);
  const r = spawnSync(process.execPath, ['--cpu-prof', `--cpu-prof-dir=${join(dir, 'prof')}`, `--cpu-prof-interval=${SIGNAL_EVERY_US}`, script], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
  assert.equal(r.stdout.trim(), `made ${LINKS}`);
});
