/**
 * Run-time directory discovery: which directory a zmx started with a
 * minimal environment (no ZMX_DIR, no XDG_RUNTIME_DIR) uses. The per-user
 * base (/run/user) is a temporary directory here, and which candidates have
 * a server is given, except in the last test, which reads real pid files.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findRuntimeDir, runtimeDirCandidates, serverRuns, whereLooked } from './paths.js';

const me = process.getuid!();

/** A stand-in for /run/user holding `/run/user/UID` with `mode`; removed after the test. */
function userBase(t: { after(fn: () => void): void }, mode: number | null): string {
  const base = mkdtempSync(join(tmpdir(), 'zmx-run-user-'));
  t.after(() => rmSync(base, { recursive: true, force: true }));
  if (mode !== null) {
    mkdirSync(join(base, String(me)));
    chmodSync(join(base, String(me)), mode);
  }
  return base;
}

test('ZMX_DIR, then XDG_RUNTIME_DIR, decide when set', (t) => {
  const base = userBase(t, 0o700);
  const live = () => true;
  assert.deepEqual(findRuntimeDir({ ZMX_DIR: 'rel/dir', XDG_RUNTIME_DIR: '/x' }, { userRuntimeBase: base, live }), { dir: join(process.cwd(), 'rel/dir'), source: 'ZMX_DIR' });
  assert.deepEqual(findRuntimeDir({ XDG_RUNTIME_DIR: '/run/user/7' }, { userRuntimeBase: base, live }), { dir: '/run/user/7/zmx', source: 'XDG_RUNTIME_DIR' });
});

test('the systemd run-time directory is a candidate only when it is ours with mode 0700', (t) => {
  assert.deepEqual(runtimeDirCandidates({ userRuntimeBase: userBase(t, null) }), [`/tmp/zmx-${me}`], 'no /run/user/UID');
  assert.deepEqual(runtimeDirCandidates({ userRuntimeBase: userBase(t, 0o755) }), [`/tmp/zmx-${me}`], 'mode 0755 is not how systemd makes it');
  const base = userBase(t, 0o700);
  assert.deepEqual(runtimeDirCandidates({ userRuntimeBase: base }), [join(base, String(me), 'zmx'), `/tmp/zmx-${me}`]);
  assert.deepEqual(runtimeDirCandidates({ userRuntimeBase: base, uid: me + 1 }), [`/tmp/zmx-${me + 1}`], 'another user\'s number, our directory');
});

test('with neither variable: the candidate whose server runs, else the first; both running, /run/user', (t) => {
  const base = userBase(t, 0o700);
  const userDir = join(base, String(me), 'zmx');
  const tmpDir = `/tmp/zmx-${me}`;
  const found = (running: string[]) => findRuntimeDir({ HOME: '/home/x', PATH: '/usr/bin' }, { userRuntimeBase: base, live: (d) => running.includes(d) });
  assert.deepEqual(found([]), { dir: userDir, source: 'found' }, 'none running: where a login shell would make sessions');
  assert.equal(found([tmpDir]).dir, tmpDir, 'sessions made from a minimal environment earlier');
  assert.equal(found([userDir]).dir, userDir);
  assert.equal(found([tmpDir, userDir]).dir, userDir, 'both: the login shell\'s');
  assert.equal(findRuntimeDir({}, { userRuntimeBase: userBase(t, null), live: () => false }).dir, tmpDir, 'no /run/user/UID: /tmp as before');
});

test('a server runs for a directory when its front\'s or pty host\'s pid file names a live process', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'zmx-pids-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  assert.equal(serverRuns(dir), false, 'no pid files');
  const gone = spawnSync('true').pid!;
  writeFileSync(join(dir, 'front.pid'), `${gone}\n`);
  assert.equal(serverRuns(dir), false, 'a pid file left by a dead front');
  writeFileSync(join(dir, 'ptyhost.pid'), `${process.pid}\n`);
  assert.equal(serverRuns(dir), true, 'a pty host alone still holds sessions');
});

test('the "no server" hint names the directory, how it was chosen, and ZMX_DIR', () => {
  assert.equal(whereLooked({ ZMX_DIR: '/srv/zmx' }), 'looked in /srv/zmx (from ZMX_DIR); if the server runs elsewhere, set ZMX_DIR to its run-time directory');
  assert.match(whereLooked({}), /^looked in \/\S+ \(neither ZMX_DIR nor XDG_RUNTIME_DIR is set\); .*set ZMX_DIR/);
});
