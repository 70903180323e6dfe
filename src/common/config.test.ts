import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CONFIG_KEYS, DEFAULT_CONFIG, DEFAULT_STATUS_FORMAT, checkConfigKey, configValueText, formatStatus,
  parseConfigText, parseConfigValue, parsePrefixKey, parseStatusFormat, statusLine, validateConfigData, withDefaults,
  type StatusValues,
} from './config.js';
import { TERMINAL } from './constants.js';
import { throwsEinval } from './testing.js';

/** Asserts fn throws a one-line EINVAL matching `pattern`. */
test('defaults: every key has one, history-limit follows TERMINAL (2000 lines, as zmx)', () => {
  assert.deepEqual([...CONFIG_KEYS].sort(), Object.keys(DEFAULT_CONFIG).sort());
  assert.equal(DEFAULT_CONFIG['history-limit'], TERMINAL.scrollbackLines);
  assert.equal(TERMINAL.scrollbackLines, 2000);
  assert.equal(DEFAULT_CONFIG.prefix, 'C-b');
  assert.equal(DEFAULT_CONFIG.theme, 'default');
  assert.equal(DEFAULT_CONFIG['size-policy'], 'latest');
  assert.equal(DEFAULT_CONFIG.mouse, true);
  // Defaults pass their own checks, in both forms.
  assert.deepEqual(validateConfigData({ ...DEFAULT_CONFIG }, 'f'), { ...DEFAULT_CONFIG });
  for (const k of CONFIG_KEYS) assert.deepEqual(parseConfigValue(k, configValueText(k, DEFAULT_CONFIG[k])), DEFAULT_CONFIG[k], k);
  assert.deepEqual(withDefaults({ mouse: false }), { ...DEFAULT_CONFIG, mouse: false });
});

test('prefix keys: tmux spellings, canonical form and byte', () => {
  const cases: [string, string, number][] = [
    ['C-b', 'C-b', 0x02], ['C-a', 'C-a', 0x01], ['C-z', 'C-z', 0x1a], ['c-B', 'C-b', 0x02], ['^A', 'C-a', 0x01],
    ['C-Space', 'C-Space', 0x00], ['C-space', 'C-Space', 0x00], ['C-@', 'C-Space', 0x00],
    ['C-\\', 'C-\\', 0x1c], ['C-]', 'C-]', 0x1d], ['C-^', 'C-^', 0x1e], ['C-_', 'C-_', 0x1f], ['`', '`', 0x60],
  ];
  for (const [text, spec, byte] of cases) assert.deepEqual(parsePrefixKey(text), { spec, byte }, text);
  for (const text of ['', 'b', 'C-', 'C-1', 'C-ab', 'M-a', 'C-[', 'Space', 'C-b C-a']) {
    throwsEinval(() => parsePrefixKey(text), /^prefix: .* is not a prefix key \(use C-a\.\.C-z, C-Space/);
  }
  // Tab and Enter cannot be told apart from these.
  throwsEinval(() => parsePrefixKey('C-i'), /C-i is the same byte as Tab/);
  throwsEinval(() => parsePrefixKey('C-m'), /C-m is the same byte as Enter/);
  throwsEinval(() => parsePrefixKey('C-j'), /C-j is the same byte as Enter/);
});

test('config keys: unknown ones list the valid keys', () => {
  assert.equal(checkConfigKey('prefix'), 'prefix');
  throwsEinval(() => checkConfigKey('nope'), /^unknown config key "nope" \(valid keys: prefix, theme, status-format, history-limit, size-policy, mouse, audit-max-bytes, audit-files, search-timeout\)$/);
  // Not an inherited property either.
  throwsEinval(() => checkConfigKey('toString'), /unknown config key/);
  throwsEinval(() => checkConfigKey('__proto__'), /unknown config key/);
});

test('values from the command line: parsed, or one line saying what is allowed', () => {
  assert.equal(parseConfigValue('history-limit', '5000'), 5000);
  assert.equal(parseConfigValue('history-limit', '1_000_000'), 1_000_000);
  assert.equal(parseConfigValue('history-limit', '50'), 50);
  assert.equal(parseConfigValue('history-limit', '0'), 0, 'no history, as tmux allows');
  throwsEinval(() => parseConfigValue('history-limit', '1000001'), /^invalid value for history-limit: 1000001 is out of range \(use 0 to 1000000\)$/);
  throwsEinval(() => parseConfigValue('history-limit', 'lots'), /"lots" is not an integer \(use 0 to 1000000\)/);
  throwsEinval(() => parseConfigValue('history-limit', '1e4'), /not an integer/);
  throwsEinval(() => parseConfigValue('history-limit', '-500'), /not an integer/);
  // The audit log's rotation and the search deadline: integers within their bounds.
  assert.equal(parseConfigValue('audit-max-bytes', '10_485_760'), 10 * 1024 * 1024);
  throwsEinval(() => parseConfigValue('audit-max-bytes', '1000'), /^invalid value for audit-max-bytes: 1000 is out of range \(use 65536 to /);
  assert.equal(parseConfigValue('audit-files', '2'), 2);
  throwsEinval(() => parseConfigValue('audit-files', '1'), /out of range \(use 2 to 1000\)/);
  assert.equal(parseConfigValue('search-timeout', '5'), 5);
  throwsEinval(() => parseConfigValue('search-timeout', '0'), /out of range/);
  assert.equal(parseConfigValue('mouse', 'off'), false);
  assert.equal(parseConfigValue('mouse', 'ON'), true);
  throwsEinval(() => parseConfigValue('mouse', 'maybe'), /^invalid value for mouse: "maybe" is not allowed \(use on or off\)$/);
  assert.equal(parseConfigValue('size-policy', 'smallest'), 'smallest');
  throwsEinval(() => parseConfigValue('size-policy', 'largest'), /use latest or smallest/);
  assert.equal(parseConfigValue('prefix', 'C-A'), 'C-a');
  throwsEinval(() => parseConfigValue('prefix', 'C-1'), /^invalid value for prefix: "C-1" is not a prefix key/);
  assert.equal(parseConfigValue('theme', 'nord'), 'nord');
  assert.equal(parseConfigValue('theme', './mine.json'), './mine.json');
  throwsEinval(() => parseConfigValue('theme', ''), /must not be empty/);
  throwsEinval(() => parseConfigValue('theme', 'some/dir'), /is not a \.json file/);
  throwsEinval(() => parseConfigValue('theme', 'bad name'), /not a theme name/);
  throwsEinval(() => parseConfigValue('status-format', '#{sesion}'), /^invalid value for status-format: unknown placeholder #\{sesion\} \(use #\{session\}/);
  assert.equal(configValueText('mouse', false), 'off');
  assert.equal(configValueText('history-limit', 123), '123');
});

test('config.json: bad JSON, bad values and unknown keys are one line naming the file and the key', () => {
  const f = '/home/u/.config/zmx/config.json';
  assert.deepEqual(parseConfigText('{"prefix": "c-a", "mouse": false}', f), { prefix: 'C-a', mouse: false });
  assert.deepEqual(parseConfigText('{}', f), {});
  throwsEinval(() => parseConfigText('{"prefix": ', f), new RegExp(`^${f}: not valid JSON \\(`));
  throwsEinval(() => parseConfigText('[1]', f), new RegExp(`^${f}: must hold a JSON object`));
  throwsEinval(() => parseConfigText('null', f), /must hold a JSON object/);
  throwsEinval(() => parseConfigText('{"colour": "red"}', f), new RegExp(`^${f}: unknown key "colour" \\(valid keys: prefix, `));
  throwsEinval(() => parseConfigText('{"history-limit": "5000"}', f), new RegExp(`^${f}: history-limit: "5000" is not an integer`));
  throwsEinval(() => parseConfigText('{"history-limit": 5000000}', f), new RegExp(`^${f}: history-limit: 5000000 is out of range`));
  // The key's name before history-limit: still read, as the new one, which wins when both are there.
  assert.deepEqual(parseConfigText('{"scrollback-lines": 5000}', f), { 'history-limit': 5000 });
  assert.deepEqual(parseConfigText('{"scrollback-lines": 5000, "history-limit": 300}', f), { 'history-limit': 300 });
  assert.deepEqual(parseConfigText('{"history-limit": 300, "scrollback-lines": 5000}', f), { 'history-limit': 300 });
  throwsEinval(() => parseConfigText('{"scrollback-lines": -1}', f), new RegExp(`^${f}: scrollback-lines: -1 is out of range`));
  assert.equal(checkConfigKey('scrollback-lines'), 'history-limit');
  throwsEinval(() => parseConfigText('{"mouse": "on"}', f), new RegExp(`^${f}: mouse: "on" is not allowed \\(use true or false\\)`));
  throwsEinval(() => parseConfigText('{"size-policy": 1}', f), /size-policy: 1 is not allowed/);
  throwsEinval(() => parseConfigText('{"prefix": 2}', f), /prefix: must be a string/);
  throwsEinval(() => parseConfigText('{"status-format": "#{x}"}', f), /status-format: unknown placeholder #\{x\}/);
  // A relative theme path would depend on where zmx runs.
  throwsEinval(() => parseConfigText('{"theme": "mine.json"}', f), /theme: "mine.json" must be an absolute path/);
  assert.deepEqual(parseConfigText('{"theme": "/etc/zmx/mine.json"}', f), { theme: '/etc/zmx/mine.json' });
});

test('status format: tokens, literals and errors', () => {
  assert.deepEqual(parseStatusFormat('a ## #{session} # x#[align=right]#{time}'), [
    { kind: 'text', text: 'a # ' },
    { kind: 'value', name: 'session' },
    { kind: 'text', text: ' # x' },
    { kind: 'align-right' },
    { kind: 'value', name: 'time' },
  ]);
  parseStatusFormat(DEFAULT_STATUS_FORMAT);
  throwsEinval(() => parseStatusFormat('#{session'), /^status-format: unclosed #\{ at character 1$/);
  throwsEinval(() => parseStatusFormat('x #[align=right'), /unclosed #\[/);
  throwsEinval(() => parseStatusFormat('#{Session}'), /unknown placeholder #\{Session\}/);
  throwsEinval(() => parseStatusFormat('#[align=left]'), /#\[align=left\] is not supported/);
  throwsEinval(() => parseStatusFormat('#[align=right]a#[align=right]'), /appears twice/);
  throwsEinval(() => parseStatusFormat('a\x1b[31mb'), /control characters/);
  throwsEinval(() => parseStatusFormat('x'.repeat(1001)), /longer than 1000/);
});

const VALUES: StatusValues = {
  session: 'dev',
  windows: [{ index: 0, name: 'bash', current: false }, { index: 1, name: 'vim', current: true }, { index: 2, name: 'htop', current: false }],
  host: 'box',
  link: 'connected',
  rtt: '2ms',
  time: '14:05',
};

test('formatStatus: placeholders filled, right part aligned to the width', () => {
  assert.equal(formatStatus('#{session}|#{host}', VALUES), 'dev|box');
  assert.equal(formatStatus(DEFAULT_STATUS_FORMAT, VALUES), '[dev] 0:bash 1:vim* 2:htop box connected 2ms 14:05');
  assert.equal(formatStatus('#{session}#[align=right]#{time}', VALUES, 12), 'dev    14:05');
  // Too narrow: the left part is cut first, then the right.
  assert.equal(formatStatus('#{windows}#[align=right]#{time}', VALUES, 8), '0:b14:05');
  assert.equal(formatStatus('#{windows}#[align=right]#{time}', VALUES, 3), ':05');
  // Missing values show as nothing; windows may come as text.
  assert.equal(formatStatus('[#{session}][#{pane}]', {}), '[][]');
  assert.equal(formatStatus('#{windows}', { windows: '0:sh*' }), '0:sh*');
  // A program's title cannot smuggle escapes into the status bar.
  assert.equal(formatStatus('#{pane}', { pane: 'a\x1b]0;x\x07b\x9bc' }), 'a]0;xbc');
  assert.equal(formatStatus('#{windows}', { windows: [{ index: 0, name: 'evil\x1b[2J', current: true }] }), '0:evil[2J*');
});

test('statusLine: the current window is its own segment, for the theme\'s statusCurrent style', () => {
  const line = statusLine('[#{session}] #{windows}#[align=right]#{time}', VALUES);
  assert.deepEqual(line.left, [
    { text: '[dev] 0:bash ', current: false },
    { text: '1:vim*', current: true },
    { text: ' 2:htop', current: false },
  ]);
  assert.deepEqual(line.right, [{ text: '14:05', current: false }]);
});
