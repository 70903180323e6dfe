import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_STYLE, EXTENDED_ATTR_BASE, Flag, MAX_STYLES, RGB_COLOR, StyleTable, blessedStyle, rgbTo256, sgr } from './style.js';

test('sgr adds what is new and resets only when a flag goes off', () => {
  const bold = { fg: 1, bg: -1, flags: Flag.BOLD };
  const boldItalic = { fg: 1, bg: RGB_COLOR | 0x0a0b0c, flags: Flag.BOLD | Flag.ITALIC };
  assert.equal(sgr(DEFAULT_STYLE, bold), '\x1b[1;31m');
  assert.equal(sgr(bold, boldItalic), '\x1b[3;48;2;10;11;12m');
  assert.equal(sgr(boldItalic, { ...boldItalic, flags: Flag.ITALIC }), '\x1b[0;3;31;48;2;10;11;12m');
  assert.equal(sgr(bold, { ...bold }), '');
  assert.equal(sgr(bold, { fg: 9, bg: 200, flags: Flag.BOLD | Flag.DIM | Flag.STRIKETHROUGH }), '\x1b[2;9;91;48;5;200m');
  assert.equal(sgr({ fg: 100, bg: 4, flags: 0 }, DEFAULT_STYLE), '\x1b[39;49m');
  assert.equal(sgr(DEFAULT_STYLE, { fg: RGB_COLOR | 0xff0000, bg: -1, flags: 0 }, false), '\x1b[38;5;196m', 'without true colour');
});

test('blessed attrs convert, defaults included', () => {
  assert.deepEqual(blessedStyle((0 << 18) | (0x1ff << 9) | 0x1ff), DEFAULT_STYLE);
  assert.deepEqual(blessedStyle(((Flag.BOLD | Flag.INVERSE) << 18) | (2 << 9) | 200), { fg: 2, bg: 200, flags: Flag.BOLD | Flag.INVERSE });
});

test('the style table interns, and starts over past its bound', () => {
  const t = new StyleTable();
  const a = t.intern(RGB_COLOR | 1, -1, Flag.ITALIC);
  assert.ok(a >= EXTENDED_ATTR_BASE);
  assert.equal(t.intern(RGB_COLOR | 1, -1, Flag.ITALIC), a);
  assert.notEqual(t.intern(RGB_COLOR | 1, -1, Flag.BOLD), a);
  assert.deepEqual(t.get(a), { fg: RGB_COLOR | 1, bg: -1, flags: Flag.ITALIC });
  assert.equal(t.startFrame(), false);
  for (let i = 0; t.size <= MAX_STYLES; i++) t.intern(RGB_COLOR | i, 0, 0);
  assert.equal(t.startFrame(), true);
  assert.equal(t.size, 0);
  assert.equal(t.generation, 1);
  assert.equal(t.get(a), undefined);
});

test('rgbTo256 picks the cube or the grey ramp', () => {
  assert.equal(rgbTo256(0xff0000), 196);
  assert.equal(rgbTo256(0x000000), 16);
  assert.equal(rgbTo256(0x808080), 244);
  assert.equal(rgbTo256(0x0ac81e), 40);
});
