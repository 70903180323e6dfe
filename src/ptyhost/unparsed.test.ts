import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UnparsedBytes, isInert } from './unparsed.js';

const b = (s: string) => Buffer.from(s, 'utf8');

test('lines, colours, cursor moves, erases, modes and charsets are inert', () => {
  for (const s of [
    'busy 123 456\r\n',
    '\x1b[1;32mgreen\x1b[0m plain\r\n',
    '\x1b[H\x1b[2J\x1b[10;5Hx\x1b[K\x1b[3A\x1b[2;20r\x1b[r',
    '\x1b[?25l\x1b[?1049h\x1b[?1049l\x1b[?25h\x1b[?2004l',
    '\x1b(0qqq\x1b(B\x1b7\x1b8\x1bM\x1b=\x1b>',
    'tab\tbell\x07back\b',
    'é ü 你好 🎉 \u00a0',
  ]) assert.equal(isInert(b(s)), true, JSON.stringify(s));
});

test('queries, strings, paste mode, C1 controls and cut-off sequences are not', () => {
  for (const s of [
    '\x1b[6n', // cursor position report
    '\x1b[c', '\x1b[>c', '\x1b[=c', // device attributes
    '\x1bZ', // DECID
    '\x1b[?2004h', '\x1b[?1;2004h', // bracketed paste on (the pane tracks it)
    '\x1b]0;title\x07', '\x1b]7;file://h/d\x1b\\', '\x1b]11;?\x07', // OSC: title, cwd, colour query
    '\x1bP$qm\x1b\\', '\x1b_apc\x1b\\', '\x1b^pm\x1b\\', '\x1bXsos\x1b\\',
    '\x1b[?2026$p', '\x1b[2 q', '\x1b[14t', '\x1b[>q',
    '\u009b6n', // C1 CSI in UTF-8
    'text\x1b', 'text\x1b[', 'text\x1b[12', 'text\x1b(',
    '\x05', // ENQ (answerback)
  ]) assert.equal(isInert(b(s)), false, JSON.stringify(s));
  assert.equal(isInert(Buffer.from([0x74, 0xc2])), false, 'a UTF-8 lead byte of a C1 control, cut off');
});

test('stored bytes come back in order across blocks, however they were pushed', () => {
  const store = new UnparsedBytes(8);
  const parts = ['abc', 'defghij', '', 'k', 'lmnopqrstuvwxyz0123456789', 'end'];
  for (const p of parts) store.push(b(p));
  assert.equal(store.bytes, parts.join('').length);
  assert.equal(Buffer.concat(store.chunks()).toString(), parts.join(''));
  assert.deepEqual(new UnparsedBytes(8).chunks(), []);
});
