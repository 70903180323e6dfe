/** A mirrored pane's text: the screen as shown, the history with wrapped lines joined as written. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import xterm from '@xterm/headless';
import { historyText, screenText } from './panes.js';

function terminal(t: { after(fn: () => void): void }, data: string, rows = 3): Promise<InstanceType<typeof xterm.Terminal>> {
  const term = new xterm.Terminal({ cols: 10, rows, scrollback: 100, allowProposedApi: true });
  t.after(() => term.dispose());
  return new Promise((resolve) => term.write(data, () => resolve(term)));
}

test('the screen is its rows without trailing blanks or blank rows; the history joins wrapped lines', async (t) => {
  const term = await terminal(t, 'old line\r\nabcdefghijklmno\r\nxy   ');
  assert.equal(screenText(term), 'abcdefghij\nklmno\nxy\n', 'the first line scrolled off the 3 rows');
  assert.equal(historyText(term), 'old line\nabcdefghijklmno\nxy\n');
});

test('an empty pane reads as nothing', async (t) => {
  const term = await terminal(t, '');
  assert.equal(screenText(term), '');
  assert.equal(historyText(term), '');
});
