import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import {
  ANSI_COLOURS, DEFAULT_THEME, MONO_THEME, THEME_PARTS, blessedColour, colourSgr, noColor, parseColour, parseTheme,
  styleEscape, styleSgr, validateTheme,
} from './theme.js';
import { throwsEinval } from './testing.js';

const THEMES = fileURLToPath(new URL('../../../themes/', import.meta.url));

test('every shipped theme validates, sets every part, and is named after its file', () => {
  const files = readdirSync(THEMES).filter((f) => f.endsWith('.json'));
  for (const want of ['default', 'solarized-dark', 'nord', 'gruvbox', 'high-contrast', 'mono']) {
    assert.ok(files.includes(`${want}.json`), `themes/${want}.json is shipped`);
  }
  for (const f of files) {
    const text = readFileSync(join(THEMES, f), 'utf8');
    const raw = JSON.parse(text) as Record<string, unknown>;
    const theme = parseTheme(text, `themes/${f}`);
    assert.equal(theme.name, f.replace(/\.json$/, ''), `themes/${f}: name`);
    assert.ok(theme.description.length > 0, `themes/${f}: description`);
    // Complete on its own, not leaning on the default theme for any part.
    for (const part of THEME_PARTS) assert.ok(part in raw, `themes/${f} sets ${part}`);
  }
});

test('the built-in default and mono themes are the shipped files', () => {
  assert.deepEqual(parseTheme(readFileSync(join(THEMES, 'default.json'), 'utf8'), 'default.json'), DEFAULT_THEME);
  assert.deepEqual(parseTheme(readFileSync(join(THEMES, 'mono.json'), 'utf8'), 'mono.json'), MONO_THEME);
});

test('the mono theme has no colour at all, and still marks the active pane and the status bar', () => {
  for (const part of THEME_PARTS) {
    assert.equal(MONO_THEME[part].fg, undefined, `${part}.fg`);
    assert.equal(MONO_THEME[part].bg, undefined, `${part}.bg`);
  }
  assert.ok(MONO_THEME.activeBorder.bold || MONO_THEME.activeBorder.inverse);
  assert.ok(MONO_THEME.activeTitle.bold || MONO_THEME.activeTitle.inverse);
  assert.ok(MONO_THEME.status.inverse);
  assert.notDeepEqual(MONO_THEME.statusCurrent, MONO_THEME.status);
});

test('the high-contrast theme uses only black, white and yellow, with a bold active border', () => {
  const theme = parseTheme(readFileSync(join(THEMES, 'high-contrast.json'), 'utf8'), 'high-contrast.json');
  const allowed = new Set<unknown>([16, 231, 226, 'black', 'white', 'bright-white', 'yellow', 'bright-yellow', '#000000', '#ffffff', '#ffff00']);
  for (const part of THEME_PARTS) {
    for (const c of [theme[part].fg, theme[part].bg]) if (c !== undefined) assert.ok(allowed.has(c), `${part}: ${String(c)}`);
  }
  assert.equal(theme.activeBorder.bold, true);
});

test('colours: names, default, 0-255 and #rrggbb', () => {
  for (const name of ANSI_COLOURS) assert.equal(parseColour(name), name);
  assert.equal(parseColour('default'), 'default');
  assert.equal(parseColour(0), 0);
  assert.equal(parseColour(255), 255);
  assert.equal(parseColour('#A0b1C2'), '#a0b1c2');
  for (const bad of ['blurple', 'Red', 'gray', '#fff', '#12345g', '', 256, -1, 1.5, '12', null, true, [1]]) {
    assert.equal(parseColour(bad), undefined, JSON.stringify(bad));
  }
});

test('bad themes: one line naming the file and the field path', () => {
  throwsEinval(() => validateTheme({ status: { bg: 'blurple' } }, 'themes/bad.json'),
    /^themes\/bad\.json: status\.bg: "blurple" is not a colour \(use a name, 0-255 or #rrggbb\)$/);
  throwsEinval(() => validateTheme({ activeBorder: { fg: 300 } }, 'x.json'), /^x\.json: activeBorder\.fg: 300 is not a colour/);
  throwsEinval(() => validateTheme({ status: { blink: true } }, 'x.json'), /^x\.json: status\.blink: unknown field \(use fg, bg, bold, italic, underline, inverse\)$/);
  throwsEinval(() => validateTheme({ statusbar: {} }, 'x.json'), /^x\.json: statusbar: unknown field \(use name, description, status, statusCurrent, /);
  throwsEinval(() => validateTheme({ title: { bold: 'yes' } }, 'x.json'), /^x\.json: title\.bold: "yes" is not true or false$/);
  throwsEinval(() => validateTheme({ title: 'red' }, 'x.json'), /^x\.json: title: must be an object/);
  throwsEinval(() => validateTheme({ name: 3 }, 'x.json'), /^x\.json: name: must be a string$/);
  throwsEinval(() => validateTheme([], 'x.json'), /^x\.json: a theme must be a JSON object$/);
  throwsEinval(() => parseTheme('{"status": {', 'themes/broken.json'), /^themes\/broken\.json: not valid JSON \(.+\)$/);
  throwsEinval(() => parseTheme('', 'e.json'), /^e\.json: not valid JSON/);
});

test('a partial theme takes the parts it leaves out from the default theme', () => {
  const theme = validateTheme({ status: { fg: 'white', bg: 23 } }, 'p.json', 'p');
  assert.deepEqual(theme.status, { fg: 'white', bg: 23 });
  assert.deepEqual(theme.activeBorder, DEFAULT_THEME.activeBorder);
  assert.equal(theme.name, 'p');
  // ... without sharing objects with it.
  theme.activeBorder.fg = 'red';
  assert.equal(DEFAULT_THEME.activeBorder.fg, 'blue');
});

test('SGR parameters for colours and styles', () => {
  assert.equal(colourSgr('red', 'fg'), '31');
  assert.equal(colourSgr('black', 'bg'), '40');
  assert.equal(colourSgr('white', 'fg'), '37');
  assert.equal(colourSgr('bright-black', 'fg'), '90');
  assert.equal(colourSgr('bright-white', 'bg'), '107');
  assert.equal(colourSgr('default', 'fg'), '39');
  assert.equal(colourSgr('default', 'bg'), '49');
  assert.equal(colourSgr(208, 'fg'), '38;5;208');
  assert.equal(colourSgr(0, 'bg'), '48;5;0');
  assert.equal(colourSgr('#ff8000', 'fg'), '38;2;255;128;0');
  assert.equal(colourSgr('#010203', 'bg'), '48;2;1;2;3');
  assert.equal(styleSgr({}), '');
  assert.equal(styleSgr({ bold: true, inverse: true }), '1;7');
  assert.equal(styleSgr({ fg: 'yellow', bg: '#000000', bold: true, underline: true, italic: true }), '1;3;4;33;48;2;0;0;0');
  assert.equal(styleEscape({ fg: 1 }), '\x1b[0;38;5;1m');
  assert.equal(styleEscape({}), '\x1b[0m');
  assert.equal(blessedColour('blue'), 4);
  assert.equal(blessedColour('bright-blue'), 12);
  assert.equal(blessedColour('default'), -1);
  assert.equal(blessedColour('#abcdef'), '#abcdef');
  assert.equal(blessedColour(99), 99);
});

test('NO_COLOR counts only when set and non-empty', () => {
  assert.equal(noColor({}), false);
  assert.equal(noColor({ NO_COLOR: '' }), false);
  assert.equal(noColor({ NO_COLOR: '1' }), true);
  assert.equal(noColor({ NO_COLOR: '0' }), true);
});
