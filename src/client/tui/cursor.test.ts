import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cursorSequence, cursorState } from './cursor.js';
import { makeTerminal, write } from '../../../test/helpers/tui-rig.js';

const RECT = { x: 10, y: 5, width: 20, height: 4 };

test('the cursor follows the program: position, DECSCUSR shape, DECTCEM visibility', async (t) => {
  const term = makeTerminal(20, 4);
  t.after(() => term.dispose());
  await write(term, 'ab\r\ncd');
  assert.deepEqual(cursorState(term), { x: 2, y: 1, cols: 20, visible: true, shape: undefined, blink: false });
  assert.equal(cursorSequence(cursorState(term), RECT), '\x1b[7;13H\x1b[0 q\x1b[?25h', "the user's default shape");
  await write(term, '\x1b[4 q');
  assert.equal(cursorSequence(cursorState(term), RECT), '\x1b[7;13H\x1b[4 q\x1b[?25h', 'steady underline');
  await write(term, '\x1b[5 q');
  assert.equal(cursorSequence(cursorState(term), RECT), '\x1b[7;13H\x1b[5 q\x1b[?25h', 'blinking bar');
  await write(term, '\x1b[?25l');
  assert.equal(cursorSequence(cursorState(term), RECT), '\x1b[?25l', 'hidden by the program');
  await write(term, '\x1b[?25h\x1b[2 q');
  assert.equal(cursorSequence(cursorState(term), RECT, 3), '\x1b[?25l', 'scrolled back past it in copy mode');
  assert.equal(cursorSequence(cursorState(term), RECT, 2), '\x1b[9;13H\x1b[2 q\x1b[?25h', 'scrolled back, still in view');
  assert.equal(cursorSequence(cursorState(term), { ...RECT, width: 2 }), '\x1b[?25l', 'clipped out of a narrow rect');
  await write(term, '\x1b[1;1H' + 'x'.repeat(20));
  assert.equal(cursorSequence(cursorState(term), RECT), '\x1b[6;30H\x1b[2 q\x1b[?25h', 'a pending wrap shows on the last column');
});
