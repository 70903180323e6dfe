/**
 * What keeps other users off a server's local sockets (SECURITY.md, "Local
 * sockets"): the 0700 run-time directory, and each socket's own mode 0600
 * even where the directory is opened up — before Curve and ZAP are reached
 * at all. A probe runs as another user (nobody, through setpriv) and tries
 * to connect to front.sock, direct.sock and ptyhost.sock. The tests run as
 * root in CI; elsewhere they are skipped, saying why.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { withServer } from './wire.js';

const SOCKETS = ['front.sock', 'direct.sock', 'ptyhost.sock'];
/** The user the probe runs as (nobody). */
const OTHER_UID = 65534;
/** A directory anyone may traverse but not list or write. */
const TRAVERSABLE = 0o711;
const PRIVATE_DIR = 0o700;

/** Connects to each unix socket as the other user; what each connect gave: 'connected' or an error code. */
const PROBE = `
const net = require('node:net');
const paths = JSON.parse(process.argv[1]);
Promise.all(paths.map((p) => new Promise((resolve) => {
  const s = net.connect(p);
  s.on('connect', () => { s.destroy(); resolve('connected'); });
  s.on('error', (e) => resolve(e.code));
}))).then((r) => { process.stdout.write(JSON.stringify(r)); });
`;

function whyNot(): string | null {
  if (process.getuid?.() !== 0) return 'needs root, to run a probe as another user';
  if (spawnSync('setpriv', ['--version']).status !== 0) return 'needs setpriv (util-linux)';
  return null;
}

function probeAsOther(paths: string[]): string[] {
  const r = spawnSync('setpriv', [`--reuid=${OTHER_UID}`, `--regid=${OTHER_UID}`, '--clear-groups', process.execPath, '-e', PROBE, JSON.stringify(paths)], { encoding: 'utf8', timeout: 10_000 });
  assert.equal(r.status, 0, `the probe failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as string[];
}

test('another user cannot connect to any server socket: the run-time directory is 0700 and each socket 0600', { skip: whyNot() ?? false }, async () => {
  await withServer(async ({ sb }) => {
    const paths = SOCKETS.map((s) => join(sb.dir, s));
    assert.equal(statSync(sb.dir).mode & 0o777, PRIVATE_DIR);
    for (const p of paths) assert.equal(statSync(p).mode & 0o777, 0o600, `${p} is owner-only`);
    assert.deepEqual(probeAsOther(paths), SOCKETS.map(() => 'EACCES'), 'refused at the directory');
    // Even with the directories opened for traversal, the socket's own mode refuses.
    const dirs = [sb.base, sb.dir];
    const before = dirs.map((d) => statSync(d).mode & 0o777);
    try {
      for (const d of dirs) chmodSync(d, TRAVERSABLE);
      assert.deepEqual(probeAsOther(paths), SOCKETS.map(() => 'EACCES'), 'refused at the socket');
    } finally {
      dirs.forEach((d, i) => chmodSync(d, before[i]!));
    }
  });
});
