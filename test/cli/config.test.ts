/**
 * `zmx config get|set|unset|list`, black-box: values persist in
 * $ZMX_CONFIG_DIR/config.json (only the keys set), bad keys and values are
 * one line on stderr, a theme is checked when set, and a hand-broken
 * config.json is one line naming the file and the key. No server is needed
 * or started.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sandbox, assertOk, assertOneLineError } from '../helpers/assert.js';
import { zmxBatch } from '../helpers/cli-batch.js';
import type { Sandbox } from '../helpers/harness.js';

const DEFAULT_LIST = [
  'prefix=C-b',
  'theme=default',
  'status-format=[#{session}] #{windows}#[align=right]#{host} #{link} #{rtt} #{time}',
  'history-limit=2000',
  'size-policy=latest',
  'mouse=on',
  'audit-max-bytes=10485760',
  'audit-files=5',
  'search-timeout=30',
  '',
].join('\n');

function configFile(sb: Sandbox): string {
  return join(sb.configDir, 'config.json');
}

function stored(sb: Sandbox): unknown {
  return JSON.parse(readFileSync(configFile(sb), 'utf8'));
}

async function get(sb: Sandbox, key: string): Promise<string> {
  const r = await sb.zmx(['config', 'get', key]);
  assertOk(r, `config get ${key}`);
  return r.stdout;
}

describe('zmx config', { concurrency: 4 }, () => {
  test('list shows the defaults; set, get, list and unset round-trip through config.json', async (t) => {
    const sb = sandbox(t);
    const list0 = await sb.zmx(['config', 'list']);
    assertOk(list0, 'config list');
    assert.equal(list0.stdout, DEFAULT_LIST);
    assert.equal(await get(sb, 'prefix'), 'C-b\n');

    // Each set, then its get, as separate calls in one process (cli-batch); the file is read below.
    const settings = [['prefix', 'C-a'], ['history-limit', '50000'], ['mouse', 'off'], ['size-policy', 'smallest'], ['theme', 'nord'], ['status-format', '#{session} #{time}']] as const;
    const setThenGet = await zmxBatch(settings.flatMap(([k, v]) => [['config', 'set', k, v], ['config', 'get', k]]), sb.env);
    for (const [i, [k, v]] of settings.entries()) {
      const [r, g] = [setThenGet[2 * i]!, setThenGet[2 * i + 1]!];
      assertOk(r, `config set ${k} ${v}`);
      assert.equal(r.stdout + r.stderr, '', 'set is silent');
      assertOk(g, `config get ${k}`);
      assert.equal(g.stdout, `${v}\n`);
    }
    // Stored typed, and only what was set.
    assert.deepEqual(stored(sb), {
      prefix: 'C-a', 'history-limit': 50000, mouse: false, 'size-policy': 'smallest', theme: 'nord', 'status-format': '#{session} #{time}',
    });
    // No secrets in it: readable by others is fine, writable only by the owner. The directory stays private.
    assert.equal(statSync(configFile(sb)).mode & 0o022, 0, 'config.json not group/other-writable');
    assert.equal(statSync(sb.configDir).mode & 0o777, 0o700, 'config dir 0700');

    const json = await sb.zmx(['config', 'list', '--json']);
    assertOk(json, 'config list --json');
    assert.deepEqual(JSON.parse(json.stdout), {
      prefix: 'C-a', theme: 'nord', 'status-format': '#{session} #{time}', 'history-limit': 50000, 'size-policy': 'smallest', mouse: false,
      'audit-max-bytes': 10 * 1024 * 1024, 'audit-files': 5, 'search-timeout': 30,
    });

    assertOk(await sb.zmx(['config', 'unset', 'mouse']), 'config unset mouse');
    assert.equal(await get(sb, 'mouse'), 'on\n');
    assert.ok(!('mouse' in (stored(sb) as object)), 'unset removes the key from the file');
    const unsets = ['prefix', 'history-limit', 'size-policy', 'theme', 'status-format'];
    for (const [i, r] of (await zmxBatch(unsets.map((k) => ['config', 'unset', k]), sb.env)).entries()) assertOk(r, `unset ${unsets[i]}`);
    assert.deepEqual(stored(sb), {});
    assert.equal((await sb.zmx(['config', 'list'])).stdout, DEFAULT_LIST);
    // Unsetting what is not set is fine.
    assertOk(await sb.zmx(['config', 'unset', 'mouse']), 'unset twice');
    // None of this needed a server.
    assert.equal(sb.frontPid(), null);
  });

  test('values are normalised: prefix spellings, on/off', async (t) => {
    const sb = sandbox(t);
    assertOk(await sb.zmx(['config', 'set', 'prefix', '^A']), 'set prefix ^A');
    assert.equal(await get(sb, 'prefix'), 'C-a\n');
    assertOk(await sb.zmx(['config', 'set', 'prefix', 'C-space']), 'set prefix C-space');
    assert.equal(await get(sb, 'prefix'), 'C-Space\n');
    assertOk(await sb.zmx(['config', 'set', 'mouse', 'false']), 'set mouse false');
    assert.equal(await get(sb, 'mouse'), 'off\n');
  });

  test('a bad key is one line on stderr listing the valid keys, for every subcommand', async (t) => {
    const sb = sandbox(t);
    for (const args of [['get', 'colour'], ['set', 'colour', 'red'], ['unset', 'colour']]) {
      const r = await sb.zmx(['config', ...args]);
      assertOneLineError(r, `config ${args.join(' ')}`, /^zmx: unknown config key "colour" \(valid keys: prefix, theme, status-format, history-limit, size-policy, mouse, audit-max-bytes, audit-files, search-timeout\)\n$/, true);
    }
    assert.equal(existsSync(configFile(sb)), false, 'nothing written');
  });

  test('a bad value is one line saying what is allowed, and changes nothing', async (t) => {
    const sb = sandbox(t);
    assertOk(await sb.zmx(['config', 'set', 'history-limit', '3000']), 'set a good value first');
    const cases: [string, string, RegExp][] = [
      ['history-limit', '2000000', /^zmx: invalid value for history-limit: 2000000 is out of range \(use 0 to 1000000\)\n$/],
      ['history-limit', 'many', /^zmx: invalid value for history-limit: "many" is not an integer/],
      ['prefix', 'C-1', /^zmx: invalid value for prefix: "C-1" is not a prefix key \(use C-a\.\.C-z, C-Space/],
      ['prefix', 'C-m', /^zmx: invalid value for prefix: C-m is the same byte as Enter/],
      ['size-policy', 'biggest', /^zmx: invalid value for size-policy: "biggest" is not allowed \(use latest or smallest\)\n$/],
      ['mouse', 'sometimes', /^zmx: invalid value for mouse: "sometimes" is not allowed \(use on or off\)\n$/],
      ['status-format', '#{session} #{load}', /^zmx: invalid value for status-format: unknown placeholder #\{load\} \(use #\{session\}/],
    ];
    for (const [k, v, pattern] of cases) assertOneLineError(await sb.zmx(['config', 'set', k, v]), `config set ${k} ${v}`, pattern, true);
    assert.deepEqual(stored(sb), { 'history-limit': 3000 });
  });

  test('config set theme loads the theme: a missing name or a broken file is one line naming the file and the field', async (t) => {
    const sb = sandbox(t);
    const work = join(sb.base, 'work');
    mkdirSync(work);
    writeFileSync(join(work, 'bad.json'), JSON.stringify({ name: 'bad', status: { fg: 'white', bg: 'blurple' } }));
    writeFileSync(join(work, 'typo.json'), JSON.stringify({ status: { fg: 'white' }, borders: {} }));
    writeFileSync(join(work, 'broken.json'), '{ "status": { "fg": "white", }');
    writeFileSync(join(work, 'mine.json'), JSON.stringify({ name: 'mine', activeBorder: { fg: '#ff8800', bold: true } }));

    assertOneLineError(await sb.zmx(['config', 'set', 'theme', './bad.json'], { cwd: work }), 'set theme ./bad.json',
      /^zmx: \.\/bad\.json: status\.bg: "blurple" is not a colour \(use a name, 0-255 or #rrggbb\)\n$/, true);
    assertOneLineError(await sb.zmx(['config', 'set', 'theme', './typo.json'], { cwd: work }), 'set theme ./typo.json',
      /^zmx: \.\/typo\.json: borders: unknown field/, true);
    assertOneLineError(await sb.zmx(['config', 'set', 'theme', './broken.json'], { cwd: work }), 'set theme ./broken.json',
      /^zmx: \.\/broken\.json: not valid JSON/, true);
    assertOneLineError(await sb.zmx(['config', 'set', 'theme', './missing.json'], { cwd: work }), 'set theme ./missing.json',
      /^zmx: \.\/missing\.json: no such theme file\n$/, true);
    assertOneLineError(await sb.zmx(['config', 'set', 'theme', 'blurple']), 'set theme blurple',
      /^zmx: theme "blurple" not found \(available: default, gruvbox, high-contrast, mono, nord, solarized-dark; /, true);
    assert.equal(existsSync(configFile(sb)), false, 'nothing written');

    // A good file is stored by absolute path, so it works from any directory.
    assertOk(await sb.zmx(['config', 'set', 'theme', 'mine.json'], { cwd: work }), 'set theme mine.json');
    assert.equal(await get(sb, 'theme'), `${join(work, 'mine.json')}\n`);
    const themes = ['default', 'solarized-dark', 'nord', 'gruvbox', 'high-contrast'];
    for (const [i, r] of (await zmxBatch(themes.map((name) => ['config', 'set', 'theme', name]), sb.env)).entries()) assertOk(r, `set theme ${themes[i]}`);
  });

  test('a hand-broken config.json is one line naming the file and the key', async (t) => {
    const sb = sandbox(t);
    mkdirSync(sb.configDir, { recursive: true, mode: 0o700 });
    const file = configFile(sb);
    const esc = file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    const cases: [string, RegExp][] = [
      ['{"prefix": "C-a",}', new RegExp(`^zmx: ${esc}: not valid JSON \\(`)],
      ['{"history-limit": -5}', new RegExp(`^zmx: ${esc}: history-limit: -5 is out of range \\(use 0 to 1000000\\)\\n$`)],
      ['{"history-limit": "5000"}', new RegExp(`^zmx: ${esc}: history-limit: "5000" is not an integer`)],
      ['{"mouse": "on"}', new RegExp(`^zmx: ${esc}: mouse: "on" is not allowed \\(use true or false\\)\\n$`)],
      ['{"prefix": "ctrl-b"}', new RegExp(`^zmx: ${esc}: prefix: "ctrl-b" is not a prefix key`)],
      ['{"colour": "red"}', new RegExp(`^zmx: ${esc}: unknown key "colour" \\(valid keys: prefix, `)],
      ['["prefix"]', new RegExp(`^zmx: ${esc}: must hold a JSON object of settings\\n$`)],
    ];
    for (const [n, [text, pattern]] of cases.entries()) {
      writeFileSync(file, text);
      // Every subcommand reads the file; trying each on every case would only make the test slow.
      const runs = n === 0 ? [['list'], ['get', 'prefix'], ['set', 'mouse', 'off'], ['unset', 'mouse']] : [['list']];
      for (const args of runs) {
        assertOneLineError(await sb.zmx(['config', ...args]), `config ${args.join(' ')} with ${text}`, pattern, true);
      }
      assert.equal(readFileSync(file, 'utf8'), text, 'a broken file is left for the user to fix, not cleared');
    }
    // Fixed by hand, it reads again.
    writeFileSync(file, '{"prefix": "C-a"}');
    assert.equal(await get(sb, 'prefix'), 'C-a\n');
  });
});
