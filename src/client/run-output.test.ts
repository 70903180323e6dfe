import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RunOutputFilter, stripAnsi } from './run-output.js';

const feed = (f: RunOutputFilter, chunks: string[]) => chunks.map((c) => f.push(c)).join('') + f.end();

test('drops the shell echo of the command and of the marker, keeps output and the result marker', () => {
  const f = new RunOutputFilter('echo hi');
  const out = feed(f, [
    'echo hi; echo ZMX_TASK_COMPLETED:ab12:$?\r\n', // kernel echo of typeahead
    '\x1b]7;file://h/tmp\x1b\\root@h:/tmp# echo hi; echo ZMX_TASK_COMPLETED:ab12:$?\r\n',
    'hi\r\nZMX_TASK_COMPLETED:ab12:0\r\nroot@h:/tmp# ',
  ]);
  assert.equal(out, 'hi\nZMX_TASK_COMPLETED:ab12:0\n');
});

test('lines split across chunks are judged whole', () => {
  const f = new RunOutputFilter('printf x');
  assert.equal(feed(f, ['$ printf x; echo ZMX_TASK_COM', 'PLETED:0f0f:$?\r\n', 'x', 'yz\r\n', 'ZMX_TASK_COMPLETED:0f0f:1\r\n']), 'xyz\nZMX_TASK_COMPLETED:0f0f:1\n');
});

test('heredoc scripts keep their output, drop the first echoed line', () => {
  const f = new RunOutputFilter("cat <<'EOF'\nhello $USER\nEOF");
  const out = feed(f, ["$ cat <<'EOF'\r\n> hello $USER\r\n> EOF\r\nhello $USER\r\n$ echo ZMX_TASK_COMPLETED:1234:$?\r\nZMX_TASK_COMPLETED:1234:0\r\n$ "]);
  assert.equal(out, '> hello $USER\n> EOF\nhello $USER\nZMX_TASK_COMPLETED:1234:0\n');
});

test('stripAnsi removes CSI, OSC and other escapes but keeps text, tabs and newlines', () => {
  assert.equal(stripAnsi('\x1b[1;31mred\x1b[0m\tx\n\x1b]2;t\x07y\x1b(Bz'), 'red\tx\nyz');
});

test('a pasted script: everything before readline accepts the line is echo', () => {
  // As bash 5.2 draws a bracketed paste: highlighted, then redrawn, then \e[?2004l.
  const f = new RunOutputFilter("cat <<'EOF'\n\tx\nEOF");
  const stream = [
    "\x1b[?2004hroot@vm:/tmp# \x1b[7mcat <<'EOF'\x1b[27m\r\n\r\x1b[7m        x\x1b[27m\r\n\r\x1b[7mEOF\x1b[27m\r\n\r\x1b[7mecho ZMX_TASK_COMPLETED:abcd:$?\x1b[27m",
    "\x1b[A\x1b[A\x1b[A\r\x1b[C\x1b[Ccat <<'EOF'\r\n\r        x\r\n\rEOF\r\n\recho ZMX_TASK_COMPLETED:abcd:$?\r\n\x1b[?2004l\r",
    "\tx\r\nZMX_TASK_COMPLETED:abcd:0\r\n\x1b]7;file://vm/tmp\x1b\\\x1b[?2004hroot@vm:/tmp# ",
  ];
  assert.equal(feed(f, stream), '\tx\nZMX_TASK_COMPLETED:abcd:0\n');
});

test('without readline (no \\e[?2004l) lines are judged by their text', () => {
  const f = new RunOutputFilter('echo hi');
  assert.equal(feed(f, ['$ echo hi; echo ZMX_TASK_COMPLETED:ab12:$?\r\n', 'hi\r\nZMX_TASK_COMPLETED:ab12:0\r\n$ ']), 'hi\nZMX_TASK_COMPLETED:ab12:0\n');
});
