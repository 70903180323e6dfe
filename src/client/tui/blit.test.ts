/** blitTerminal's cell conventions, and its cost (it runs every frame for every visible pane). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { installExtendedDraw, screenBuffers } from './draw.js';
import { blitTerminal } from './blit.js';
import { CONTINUATION } from './cells.js';
import { Flag, RGB_COLOR } from './style.js';
import { makeRig, makeTerminal, write } from '../../../test/helpers/tui-rig.js';

test('cells: wide characters, continuation markers, extended attrs, and dirty rows only on change', async (t) => {
  const rig = makeRig(20, 4);
  const src = makeTerminal(10, 2);
  t.after(() => (rig.dispose(), src.dispose()));
  const styles = installExtendedDraw(rig.screen);
  const { lines, dattr } = screenBuffers(rig.screen);
  await write(src, '日a\x1b[3;38;2;1;2;3mb\x1b[m');
  for (const line of lines) line.dirty = false;
  blitTerminal(rig.screen, styles, src, { x: 1, y: 1, width: 10, height: 2 });
  const row = lines[1]!;
  assert.deepEqual(row.slice(1, 5).map((c) => c[1]), ['日', CONTINUATION, 'a', 'b']);
  assert.equal(row[1]![0], dattr, 'a plain cell has the default attr');
  assert.deepEqual(styles.get(row[4]![0]), { fg: RGB_COLOR | 0x010203, bg: -1, flags: Flag.ITALIC });
  assert.equal(row.dirty, true);
  assert.equal(lines[2]!.dirty, false, 'a blank row that was blank is not dirty');
  row.dirty = false;
  blitTerminal(rig.screen, styles, src, { x: 1, y: 1, width: 10, height: 2 });
  assert.equal(row.dirty, false, 'an unchanged blit dirties nothing');
});

test('a 200x50 pane blits in about a millisecond', async (t) => {
  const rig = makeRig(200, 50);
  const src = makeTerminal(200, 50);
  t.after(() => (rig.dispose(), src.dispose()));
  const styles = installExtendedDraw(rig.screen);
  // A busy screen: colour changing every few cells, some wide characters.
  let text = '';
  for (let y = 0; y < 50; y++) {
    let line = '';
    for (let x = 0; line.length < 180; x++) line += `\x1b[38;5;${(x * 7 + y) % 256}m${x % 5 === 0 ? '\x1b[1m' : ''}word${x}\x1b[22m `;
    text += `${line}日本\x1b[m${y < 49 ? '\r\n' : ''}`;
  }
  await write(src, text);
  const rect = { x: 0, y: 0, width: 200, height: 50 };
  const time = (rounds: number, fn: () => void): number => {
    const start = performance.now();
    for (let i = 0; i < rounds; i++) fn();
    return (performance.now() - start) / rounds;
  };
  time(50, () => blitTerminal(rig.screen, styles, src, rect)); // warm up
  const blit = time(200, () => blitTerminal(rig.screen, styles, src, rect));
  const blitAndDiff = time(200, () => {
    blitTerminal(rig.screen, styles, src, rect);
    for (const line of screenBuffers(rig.screen).lines) line.dirty = true;
    rig.screen.draw(0, 49);
  });
  const fullFrame = time(20, () => {
    const { lines, olines } = screenBuffers(rig.screen);
    for (const line of olines) for (const cell of line) cell[1] = '?';
    blitTerminal(rig.screen, styles, src, rect);
    for (const line of lines) line.dirty = true;
    rig.screen.draw(0, 49);
  });
  t.diagnostic(`200x50 blit ${blit.toFixed(3)} ms; blit + diff of every row, nothing to write ${blitAndDiff.toFixed(3)} ms; blit + full repaint ${fullFrame.toFixed(3)} ms`);
  // Generous bounds: the machine is shared; the diagnostic above gives the real numbers.
  assert.ok(blit < 5, `blit took ${blit} ms`);
  assert.ok(fullFrame < 30, `full frame took ${fullFrame} ms`);
});
