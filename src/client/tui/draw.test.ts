/**
 * End to end through real parts: a program's output in a headless terminal,
 * blitted into a real blessed Screen beside a bordered box, drawn by the
 * extended renderer, and every byte fed to a second headless terminal (the
 * user's), which must then show the same cells.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import blessed from 'blessed';
import type { Terminal } from '@xterm/headless';
import { installExtendedDraw } from './draw.js';
import { blitTerminal, type Rect } from './blit.js';
import { cursorSequence, cursorState } from './cursor.js';
import { MAX_STYLES, type StyleTable } from './style.js';
import { makeRig, makeTerminal, rowText, screenCells, write, type Rig } from '../../../test/helpers/tui-rig.js';

const COLS = 80;
const ROWS = 16;
const PANE: Rect = { x: 32, y: 2, width: 40, height: 8 };

/** What a program might draw: every colour kind, every attribute, wide characters. */
const CONTENT = [
  '\x1b[38;5;196mred256\x1b[m \x1b[48;5;21mblue bg\x1b[m \x1b[31mred16\x1b[91mbright\x1b[42mgreen\x1b[m',
  '\x1b[38;2;10;200;30mtrue colour\x1b[48;2;1;2;3m on rgb\x1b[39m default fg\x1b[m',
  '\x1b[1mB\x1b[m\x1b[3mI\x1b[m\x1b[4mU\x1b[m\x1b[7mR\x1b[m\x1b[2mD\x1b[m\x1b[9mS\x1b[m\x1b[5mK\x1b[m\x1b[8mH\x1b[m \x1b[1;3;4;9;38;5;33;48;2;200;100;0mall\x1b[22mnot bold\x1b[m',
  '日本語 ✅ 🎉 end',
  'ｆｕｌｌ　ｗｉｄｔｈ ok',
].join('\r\n');

interface Setup {
  rig: Rig;
  styles: StyleTable;
  src: Terminal;
  render(): Promise<string>;
}

async function setup(t: { after(fn: () => void): void }): Promise<Setup> {
  const rig = makeRig(COLS, ROWS);
  const src = makeTerminal(PANE.width, PANE.height);
  t.after(() => {
    rig.dispose();
    src.dispose();
  });
  const styles = installExtendedDraw(rig.screen, {
    cursor: () => cursorSequence(cursorState(src), PANE),
  });
  const box = blessed.box({
    parent: rig.screen,
    left: 0,
    top: 0,
    width: 30,
    height: 10,
    border: { type: 'line' },
    style: { border: { fg: 'red' }, fg: 'green' },
    content: 'hello 日本 box',
  });
  // The pane is drawn after the widgets, as a pane view would in its own render.
  box.on('render', () => blitTerminal(rig.screen, styles, src, PANE));
  await write(src, CONTENT);
  return {
    rig,
    styles,
    src,
    async render() {
      rig.screen.render();
      return rig.flush();
    },
  };
}

/** The user's terminal shows the pane's cells at PANE, exactly. */
function assertPaneShown(s: Setup, what: string): void {
  const want = screenCells(s.src, 0, 0, PANE.width, PANE.height);
  const got = screenCells(s.rig.user, PANE.x, PANE.y, PANE.width, PANE.height);
  for (let r = 0; r < PANE.height; r++) {
    assert.deepEqual(got[r], want[r], `${what}: row ${r} differs\n  want ${JSON.stringify(rowText(s.src, r))}\n  got  ${JSON.stringify(rowText(s.rig.user, PANE.y + r))}`);
  }
}

function assertBoxIntact(s: Setup): void {
  const user = s.rig.user;
  assert.equal(rowText(user, 0).slice(0, 30), '┌' + '─'.repeat(28) + '┐');
  assert.equal(rowText(user, 9).slice(0, 30), '└' + '─'.repeat(28) + '┘');
  for (let y = 1; y < 9; y++) {
    const row = screenCells(user, 0, y, 30, 1)[0]!;
    assert.match(row[0]!, /^"│"\/1 fg=p1 /, `row ${y} left border`);
    assert.match(row[29]!, /^"│"\/1 fg=p1 /, `row ${y} right border: ${JSON.stringify(rowText(user, y))}`);
  }
  assert.ok(rowText(user, 1).startsWith('│hello 日本 box'), rowText(user, 1));
  const corner = screenCells(user, 0, 0, 1, 1)[0]![0]!;
  assert.match(corner, /fg=p1 /, 'the border is red');
  const content = screenCells(user, 1, 1, 1, 1)[0]![0]!;
  assert.match(content, /fg=p2 /, 'the content is green');
}

test('the user sees the pane cell for cell, beside an intact bordered box', async (t) => {
  const s = await setup(t);
  await s.render();
  assertPaneShown(s, 'first render');
  assertBoxIntact(s);
  // Spot checks, so a bug in the rig (both sides wrong alike) cannot hide.
  const cells = screenCells(s.rig.user, PANE.x, PANE.y, PANE.width, PANE.height);
  assert.equal(cells[0]![0], '"r"/1 fg=pc4 bg=default');
  assert.equal(cells[1]![0], '"t"/1 fg=rgbac81e bg=default');
  assert.equal(cells[2]![9], '"a"/1 fg=p21 bg=rgbc86400 bold,italic,underline,strike');
  assert.equal(cells[2]![12], '"n"/1 fg=p21 bg=rgbc86400 italic,underline,strike');
  assert.equal(cells[3]![0], '"日"/2 fg=default bg=default');
  assert.equal(cells[3]![1], '""/0 fg=default bg=default');
  assert.equal(cells[3]![10], '"🎉"/2 fg=default bg=default');
  // The cursor is where the program left it.
  assert.equal(s.rig.user.buffer.active.cursorX, PANE.x + s.src.buffer.active.cursorX);
  assert.equal(s.rig.user.buffer.active.cursorY, PANE.y + s.src.buffer.active.cursorY);
});

test('a frame after a small change writes little, and stays exact', async (t) => {
  const s = await setup(t);
  await s.render();
  assert.equal(await s.render(), '', 'nothing changed: nothing written');
  await write(s.src, '\x1b[6;1H\x1b[1;35mxy\x1b[m');
  const out = await s.render();
  assert.ok(out.length < 60, `wrote ${out.length} bytes for 2 cells: ${JSON.stringify(out)}`);
  assertPaneShown(s, 'after a small change');
  // Only the cursor moved: just the cursor sequence.
  await write(s.src, '\x1b[D');
  const moved = await s.render();
  assert.ok(moved.length < 40 && moved.includes('H'), JSON.stringify(moved));
  assert.equal(s.rig.user.buffer.active.cursorX, PANE.x + 1);
});

test('wide and narrow characters replacing each other keep the line aligned', async (t) => {
  const s = await setup(t);
  await s.render();
  // Narrow over wide: 'abc' covers 日 and the left half of 本.
  await write(s.src, '\x1b[4;1Habc');
  await s.render();
  assertPaneShown(s, 'narrow over wide');
  // Wide over narrow, shifted by one column from the old wide characters.
  await write(s.src, '\x1b[4;2H漢字🎉');
  await s.render();
  assertPaneShown(s, 'wide over narrow, shifted');
  // Wide over wide, shifted back.
  await write(s.src, '\x1b[4;1H한국어xyz');
  await s.render();
  assertPaneShown(s, 'wide over wide');
  await write(s.src, '\x1b[2J\x1b[H');
  await s.render();
  assertPaneShown(s, 'cleared');
});

test('a wide character cut by the pane edge shows as a blank, not overflowing', async (t) => {
  const s = await setup(t);
  await write(s.src, `\x1b[7;1H${'.'.repeat(PANE.width - 1)}日`);
  await s.render();
  // xterm wraps the wide character to the next row: the last column is blank.
  assertPaneShown(s, 'wrapped wide character');
  assertBoxIntact(s);
});

test('a terminal larger than its rect is clipped; a smaller one is padded with blanks', async (t) => {
  const s = await setup(t);
  const big = makeTerminal(PANE.width + 10, PANE.height + 4);
  const small = makeTerminal(10, 3);
  t.after(() => (big.dispose(), small.dispose()));
  await write(big, `${'x'.repeat(PANE.width - 1)}日本\r\n`.repeat(PANE.height + 3) + 'last');
  await write(small, '\x1b[44msmall\x1b[m');
  blitTerminal(s.rig.screen, s.styles, big, PANE);
  s.rig.screen.draw(0, ROWS - 1);
  await s.rig.flush();
  const got = screenCells(s.rig.user, PANE.x, PANE.y, PANE.width + 1, PANE.height);
  // Each row: 39 x's, then the clipped wide character as a blank, then what was there before (nothing).
  assert.equal(got[0]![PANE.width - 2], '"x"/1 fg=default bg=default');
  assert.equal(got[0]![PANE.width - 1], '" "/1 fg=default bg=default');
  assert.equal(rowText(s.rig.user, PANE.y + PANE.height - 1).slice(PANE.x), 'x'.repeat(PANE.width - 1));
  blitTerminal(s.rig.screen, s.styles, small, PANE);
  s.rig.screen.draw(0, ROWS - 1);
  await s.rig.flush();
  assert.equal(rowText(s.rig.user, PANE.y).slice(PANE.x), 'small');
  assert.equal(rowText(s.rig.user, PANE.y + 1).slice(PANE.x), '');
  assert.match(screenCells(s.rig.user, PANE.x, PANE.y, 1, 1)[0]![0]!, /bg=p4/);
});

test('scrollback and highlights show in copy mode', async (t) => {
  const s = await setup(t);
  const lines = Array.from({ length: 30 }, (_, i) => `line ${i}`).join('\r\n');
  await write(s.src, `\x1b[2J\x1b[H${lines}`);
  blitTerminal(s.rig.screen, s.styles, s.src, PANE, {
    scrollback: 5,
    highlight: (row, col) => (row === 20 && col < 4 ? 'selection' : row === 21 && col < 4 ? 'match' : null),
  });
  s.rig.screen.draw(0, ROWS - 1);
  await s.rig.flush();
  const top = s.src.buffer.active.baseY - 5;
  assert.equal(rowText(s.rig.user, PANE.y).slice(PANE.x), `line ${top}`);
  const r = 20 - top;
  assert.match(screenCells(s.rig.user, PANE.x, PANE.y + r, 1, 1)[0]![0]!, /inverse/);
  assert.match(screenCells(s.rig.user, PANE.x, PANE.y + r + 1, 1, 1)[0]![0]!, /fg=p0 bg=pb/);
});

test('a true-colour gradient overflowing the style table still draws exactly', async (t) => {
  const rig = makeRig(100, 50);
  const src = makeTerminal(100, 50);
  t.after(() => (rig.dispose(), src.dispose()));
  const styles = installExtendedDraw(rig.screen);
  const rect = { x: 0, y: 0, width: 100, height: 50 };
  let gradient = '';
  for (let i = 0; i < 100 * 50 - 1; i++) gradient += `\x1b[48;2;${i & 0xff};${(i >> 8) & 0xff};7m${String.fromCharCode(97 + (i % 26))}`;
  await write(src, gradient);
  const frame = async (): Promise<void> => {
    rig.screen.emit('prerender');
    blitTerminal(rig.screen, styles, src, rect);
    rig.screen.draw(0, 49);
    await rig.flush();
  };
  await frame();
  assert.ok(styles.size > MAX_STYLES, `interned ${styles.size}`);
  await write(src, '\x1b[H\x1b[1mZ');
  await frame();
  assert.ok(styles.size <= 100 * 50 && styles.generation === 1, 'the table started over');
  assert.deepEqual(screenCells(rig.user, 0, 0, 100, 50), screenCells(src, 0, 0, 100, 50));
});
