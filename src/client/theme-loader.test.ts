import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { THEMES_DIR, loadTheme, resolveTheme, themeNames } from './theme-loader.js';
import { DEFAULT_THEME, MONO_THEME } from '../common/theme.js';
import { ZmxError } from '../common/errors.js';

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'zmx-theme-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function rejects(fn: () => unknown, code: string, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof ZmxError, String(err));
    assert.equal(err.code, code);
    assert.ok(!err.message.includes('\n'));
    assert.match(err.message, pattern);
    return true;
  });
}

test('the shipped themes load by name', () => {
  const names = themeNames();
  for (const n of ['default', 'solarized-dark', 'nord', 'gruvbox', 'high-contrast', 'mono']) assert.ok(names.includes(n), n);
  for (const n of names) assert.equal(loadTheme(n).name, n);
  assert.deepEqual(loadTheme('default'), DEFAULT_THEME);
});

test('a theme by path, relative to cwd; errors name the file as written', (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'mine.json'), JSON.stringify({ name: 'mine', status: { bg: 'red' } }));
  writeFileSync(join(dir, 'bad.json'), JSON.stringify({ status: { bg: 'blurple' } }));
  writeFileSync(join(dir, 'broken.json'), '{"status": ');
  mkdirSync(join(dir, 'dir.json'));
  assert.equal(loadTheme('./mine.json', THEMES_DIR, dir).status.bg, 'red');
  assert.equal(loadTheme('mine.json', THEMES_DIR, dir).name, 'mine');
  assert.equal(loadTheme(join(dir, 'mine.json')).name, 'mine');
  rejects(() => loadTheme('./bad.json', THEMES_DIR, dir), 'EINVAL', /^\.\/bad\.json: status\.bg: "blurple" is not a colour/);
  rejects(() => loadTheme('./broken.json', THEMES_DIR, dir), 'EINVAL', /^\.\/broken\.json: not valid JSON/);
  rejects(() => loadTheme('./none.json', THEMES_DIR, dir), 'ENOENT', /^\.\/none\.json: no such theme file$/);
  rejects(() => loadTheme('./dir.json', THEMES_DIR, dir), 'EINVAL', /^\.\/dir\.json: is a directory/);
  rejects(() => loadTheme('nosuch'), 'ENOENT', /^theme "nosuch" not found \(available: default, .*nord.*; or give a path/);
});

test('a broken shipped-style theme names its full path', (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'bad.json'), JSON.stringify({ border: { fg: 'blurple' } }));
  rejects(() => loadTheme('bad', dir), 'EINVAL', new RegExp(`^${join(dir, 'bad.json')}: border\\.fg: "blurple"`));
  assert.deepEqual(themeNames(dir), ['bad']);
  assert.deepEqual(themeNames(join(dir, 'missing')), []);
});

test('resolveTheme: flag, then the configured theme, then NO_COLOR, then the default', () => {
  const env = {};
  const noColor = { NO_COLOR: '1' };
  assert.deepEqual(resolveTheme({ env }), DEFAULT_THEME);
  assert.deepEqual(resolveTheme({ env: noColor }), MONO_THEME);
  assert.deepEqual(resolveTheme({ env: { NO_COLOR: '' } }), DEFAULT_THEME);
  assert.equal(resolveTheme({ env, config: 'nord' }).name, 'nord');
  assert.equal(resolveTheme({ env, config: 'nord', flag: 'gruvbox' }).name, 'gruvbox');
  // no-color.org: command-line arguments and user configuration override NO_COLOR.
  assert.equal(resolveTheme({ env: noColor, flag: 'gruvbox' }).name, 'gruvbox');
  assert.equal(resolveTheme({ env: noColor, config: 'nord' }).name, 'nord');
  // An empty flag or setting is no choice.
  assert.deepEqual(resolveTheme({ env: noColor, flag: '', config: '' }), MONO_THEME);
  assert.throws(() => resolveTheme({ env, flag: 'nosuch' }), /theme "nosuch" not found/);
});
