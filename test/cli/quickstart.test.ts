/**
 * The README's quick start, run as written on a fresh clone: its first
 * command installs zmx and opens a session (inside a real terminal: tmux),
 * its second is the test command CI runs. We run the first for real and
 * check that the second is what package.json and .ci/run use.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, Sandbox, until } from '../helpers/harness.js';

function quickStart(): string[] {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const section = readme.split(/^## Quick start$/m)[1] ?? '';
  const block = /```sh\n([\s\S]*?)```/.exec(section)?.[1] ?? '';
  return block.split('\n').map((l) => l.trim()).filter(Boolean);
}

test('README quick start is two commands, the second being the CI test command', () => {
  const commands = quickStart();
  assert.equal(commands.length, 2, `expected two commands, got ${JSON.stringify(commands)}`);
  assert.equal(commands[1], 'npm test');
  assert.match(readFileSync(join(ROOT, '.ci', 'run'), 'utf8'), /^npm test$/m);
});

test('README quick start: on a fresh clone the first command installs zmx and opens a session', { timeout: 600_000 }, async (t) => {
  if (!existsSync(join(ROOT, '.git'))) return t.skip('not a git checkout');
  // The user's own HOME: npm's settings and cache live there (on these
  // machines ~/.npmrc points node-gyp at the local Node headers).
  const sb = new Sandbox({ HOME: process.env['HOME'] });
  t.after(() => sb.cleanup());
  const clone = join(sb.base, 'clone');
  const r = spawnSync('git', ['clone', '--quiet', ROOT, clone], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const [first] = quickStart();
  // Run it in a real terminal, from the clone, as a user would.
  sb.tmuxStart(`sh -c 'cd ${clone} && ${first}'`, 100, 30);
  const zmx = join(clone, 'bin', 'zmx');
  let npmFailure = '';
  await until(() => {
    const screen = sb.capture();
    if (/npm (error|ERR!)/.test(screen)) return (npmFailure = screen);
    if (!existsSync(zmx) || !existsSync(join(clone, 'dist'))) return false;
    const ls = spawnSync(zmx, ['ls', '--short'], { env: sb.env, encoding: 'utf8' });
    return ls.stdout.split('\n').includes('demo');
  }, 'the quick start to create session "demo"', 540_000, 500);
  assert.equal(npmFailure, '', 'npm install failed');
  sb.notePids();
  sb.tmux('send-keys', '-t', 'main', 'echo quick-$((6*7))', 'Enter');
  await sb.waitForScreen('quick-42');
  sb.tmux('send-keys', '-t', 'main', 'C-\\');
  await sb.waitForScreen('[detached from session demo]');
  const ls = spawnSync(zmx, ['ls', '--short'], { env: sb.env, encoding: 'utf8' });
  assert.deepEqual(ls.stdout.trim().split('\n'), ['demo'], 'the session outlives the detach');
});
