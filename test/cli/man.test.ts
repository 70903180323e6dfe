/**
 * man/zmx.1 is made from the command table (scripts/gen-man.mjs, manPage()),
 * so it cannot drift from the commands; it must mention every command and
 * render without a warning.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { COMMANDS } from '../../src/cli/table.js';
import { manPage } from '../../src/cli/help.js';
import { ROOT } from '../helpers/harness.js';

const MAN = join(ROOT, 'man', 'zmx.1');

function has(tool: string): boolean {
  return !spawnSync(tool, ['--version'], { encoding: 'utf8' }).error;
}

test('man/zmx.1 is exactly what manPage(COMMANDS) makes (regenerate it with scripts/gen-man.mjs)', () => {
  assert.ok(existsSync(MAN), 'man/zmx.1 exists');
  const actual = readFileSync(MAN, 'utf8');
  const expected = manPage(COMMANDS);
  if (actual !== expected) {
    const a = actual.split('\n');
    const e = expected.split('\n');
    const i = a.findIndex((line, n) => line !== e[n]);
    assert.fail(`man/zmx.1 is stale from line ${i + 1}: has ${JSON.stringify(a[i])}, the table makes ${JSON.stringify(e[i])}`);
  }
});

test('man/zmx.1 mentions every command, subcommand and option', () => {
  const page = readFileSync(MAN, 'utf8');
  // What a reader sees: roff's "\-" is a plain "-".
  const text = page.replace(/\\-/g, '-');
  for (const spec of COMMANDS) {
    const entries = spec.subcommands ? spec.subcommands.map((s) => ({ name: `${spec.name} ${s.name}`, spec: s })) : [{ name: spec.name, spec }];
    for (const { name, spec: s } of entries) {
      assert.match(text, new RegExp(`^\\.B ${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}( |$)`, 'm'), `the man page has an entry for ${name}`);
      for (const o of s.options) {
        const flag = o.flags.split(/[ ,]+/).find((f) => f.startsWith('--')) ?? o.flags.split(/[ ,]+/)[0]!;
        assert.ok(text.includes(flag), `the man page documents ${name} ${flag}`);
      }
    }
  }
  for (const section of ['NAME', 'SYNOPSIS', 'DESCRIPTION', 'COMMANDS', 'ENVIRONMENT', 'FILES', 'EXIT STATUS']) {
    assert.match(page, new RegExp(`^\\.SH ${section}$`, 'm'), `section ${section}`);
  }
});

test('man -l man/zmx.1 renders with no warnings', (t) => {
  if (!has('man')) return t.skip('man is not installed (CI installs man-db)');
  const r = spawnSync('man', ['--warnings', '-l', MAN], { encoding: 'utf8', env: { ...process.env, MANWIDTH: '80', MANPAGER: 'cat', PAGER: 'cat', MAN_KEEP_FORMATTING: '' } });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr, '', 'no warnings');
  assert.match(r.stdout, /zmx/);
  for (const spec of COMMANDS) assert.ok(r.stdout.includes(spec.name), `the rendered page shows ${spec.name}`);
});

test('groff -man -Tutf8 -ww renders man/zmx.1 with no warnings', (t) => {
  if (!has('groff')) return t.skip('groff is not installed (CI installs groff-base)');
  const r = spawnSync('groff', ['-man', '-Tutf8', '-ww', '-z', MAN], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr, '', 'no warnings: a man page source must be ASCII (write "→" as \\[u2192] or \\(->)');
});
