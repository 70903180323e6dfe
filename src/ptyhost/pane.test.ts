/**
 * Pane logic above the pty boundary, with a fake pty: numbering and
 * coalescing of output, snapshots that reproduce the screen, history, and
 * query answers while no terminal is attached.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import xtermHeadless from '@xterm/headless';
import serializeAddon from '@xterm/addon-serialize';
import { Pane } from './pane.js';
import type { PtyProcess, PtySpawnOptions } from './pty.js';

class FakePty implements PtyProcess {
  readonly pid = 4242;
  written: string[] = [];
  size: [number, number] = [0, 0];
  private dataListener: (d: Buffer) => void = () => {};
  private exitListener: (e: { exitCode: number; signal: number }) => void = () => {};
  constructor(opts: PtySpawnOptions) { this.size = [opts.cols, opts.rows]; }
  onData(l: (d: Buffer) => void): void { this.dataListener = l; }
  onExit(l: (e: { exitCode: number; signal: number }) => void): void { this.exitListener = l; }
  write(d: Buffer | string): void { this.written.push(d.toString()); }
  resize(c: number, r: number): void { this.size = [c, r]; }
  /** Every pause (true) and resume (false), in order. */
  flow: boolean[] = [];
  pause(): void { this.flow.push(true); }
  resume(): void { this.flow.push(false); }
  signalGroup(): void {}
  dispose(): void {}
  emit(text: string): void { this.dataListener(Buffer.from(text, 'utf8')); }
  exit(code: number): void { this.exitListener({ exitCode: code, signal: 0 }); }
}

function makePane(cols = 40, rows = 10, hibernateAfterMs: number | null = null, hibernated: () => void = () => {}) {
  let pty!: FakePty;
  const outputs: { seq: number; data: string }[] = [];
  const exits: number[] = [];
  const pane = new Pane(
    { id: 1, file: 'sh', args: [], cwd: '/', env: {}, cols, rows, scrollback: 100, hibernateAfterMs, spawn: (o) => (pty = new FakePty(o)) },
    { output: (_p, seq, data) => outputs.push({ seq, data: data.toString() }), exit: (_p, e) => exits.push(e.exitCode), hibernated },
  );
  return { pane, pty, outputs, exits };
}

const tick = () => new Promise((r) => setImmediate(r));

test('output read in one event-loop turn goes out as one numbered chunk, a small first read (an echo) at once', async () => {
  const { pty, outputs } = makePane();
  pty.emit('a');
  assert.deepEqual(outputs, [{ seq: 1, data: 'a' }], 'a lone small read does not wait for the end of the turn');
  pty.emit('b');
  pty.emit('c');
  assert.equal(outputs.length, 1, 'later reads of the turn wait');
  await tick();
  assert.deepEqual(outputs, [{ seq: 1, data: 'a' }, { seq: 2, data: 'bc' }]);
  const big = 'x'.repeat(4096);
  pty.emit(big);
  pty.emit('y');
  assert.equal(outputs.length, 2, 'a large read waits for the end of the turn');
  await tick();
  assert.deepEqual(outputs.slice(2), [{ seq: 3, data: `${big}y` }]);
});

test('a snapshot numbers pending output first, so nothing is lost or shown twice', async () => {
  const { pane, pty, outputs } = makePane();
  pty.emit('first\r\n');
  const snap = await pane.snapshot();
  assert.equal(snap.seq, 1);
  assert.deepEqual(outputs.map((o) => o.seq), [1]);
  assert.match(snap.vt.toString(), /first/);
  pty.emit('second');
  await tick();
  assert.deepEqual(outputs.map((o) => o.seq), [1, 2]);
});

test('a snapshot written to a fresh terminal reproduces screen, cursor, title and modes', async () => {
  const { pane, pty } = makePane(30, 6);
  pty.emit('\x1b[31mred\x1b[0m plain\r\nline two\r\n\x1b]2;my title\x07\x1b[?2004h\x1b[?1006h\x1b[?1000h\x1b[5 q\x1b[3;7H');
  const snap = await pane.snapshot();
  const vt = snap.vt.toString();
  assert.match(vt, /\x1b\]2;my title\x07/);
  assert.match(vt, /\x1b\[\?1006h/);
  assert.match(vt, /\x1b\[\?2004h/);
  assert.match(vt, /\x1b\[5 q/);
  const fresh = new xtermHeadless.Terminal({ cols: 30, rows: 6, allowProposedApi: true });
  const ser = new serializeAddon.SerializeAddon();
  fresh.loadAddon(ser);
  await new Promise<void>((r) => fresh.write(vt, r));
  assert.equal(ser.serialize(), (await pane.history('vt')).toString());
  assert.equal(fresh.buffer.active.cursorX, 6);
  assert.equal(fresh.buffer.active.cursorY, 2);
  assert.equal(fresh.modes.bracketedPasteMode, true);
});

test('a snapshot replays the last OSC 0/2 title and OSC 10/11/12 colours; queries and resets are not replayed', async () => {
  const { pane, pty } = makePane();
  pty.emit('\x1b]0;first\x07\x1b]10;#111111\x07\x1b]11;rgb:00/00/00\x1b\\\x1b]12;red\x07');
  // Later settings win; one OSC 10 may carry fg;bg; a query (?) is not a setting; OSC 112 resets the cursor colour.
  pty.emit('\x1b]10;#eeeeee;#222222\x07\x1b]11;?\x07\x1b]112\x07\x1b]0;editor - file.txt\x07');
  const vt = (await pane.snapshot()).vt.toString();
  assert.match(vt, /\x1b\]0;editor - file\.txt\x07/);
  assert.match(vt, /\x1b\]10;#eeeeee\x07/);
  assert.match(vt, /\x1b\]11;#222222\x07/);
  assert.doesNotMatch(vt, /\x1b\]12;/);
  assert.doesNotMatch(vt, /\x1b\]11;\?|#111111|first/);
  pty.emit('\x1b]2;plain\x07');
  assert.match((await pane.snapshot()).vt.toString(), /\x1b\]2;plain\x07/);
});

test('hidden cursor survives a snapshot', async () => {
  const { pane, pty } = makePane();
  pty.emit('x\x1b[?25l');
  assert.match((await pane.snapshot()).vt.toString(), /\x1b\[\?25l/);
});

test('history: plain text joins wrapped lines and drops trailing blank lines', async () => {
  const { pane, pty } = makePane(10, 5);
  pty.emit('0123456789abcdef\r\nshort\r\n\r\n');
  assert.equal((await pane.history('text')).toString(), '0123456789abcdef\nshort\n');
  assert.match((await pane.history('html')).toString(), /<html>|<div|<pre/i);
});

test('the emulator answers queries only while no terminal is attached', async () => {
  const { pane, pty } = makePane();
  pty.emit('\x1b[c');
  await pane.history('text');
  assert.ok(pty.written.some((w) => w.startsWith('\x1b[?')), 'DA1 answered by the server');
  pty.written = [];
  pane.interactive = 1;
  pty.emit('\x1b[c');
  await pane.history('text');
  assert.deepEqual(pty.written, [], 'an attached terminal answers for itself');
});

test('print shows text on the screen without writing to the program', async () => {
  const { pane, pty, outputs } = makePane();
  pane.print(Buffer.from('notice\r\n'));
  await tick();
  assert.deepEqual(pty.written, []);
  assert.equal(outputs[0]?.data, 'notice\r\n');
  assert.match((await pane.history('text')).toString(), /notice/);
});

test('exit flushes pending output before reporting the exit', () => {
  const { pty, outputs, exits } = makePane();
  pty.emit('last words');
  pty.exit(3);
  assert.deepEqual(outputs, [{ seq: 1, data: 'last words' }]);
  assert.deepEqual(exits, [3]);
});

test('a snapshot never includes output that arrives after it was asked for (that output follows as seq+1)', async () => {
  const { pane, pty, outputs } = makePane();
  pty.emit('first ');
  const pending = pane.snapshot();
  // Read before the emulator has parsed anything: it parses 'first ', then
  // the snapshot's marker, then this, all in one go.
  pty.emit('second');
  const snap = await pending;
  await tick();
  assert.equal(snap.seq, 1);
  assert.match(snap.vt.toString(), /first/);
  assert.doesNotMatch(snap.vt.toString(), /second/, 'the snapshot is exactly the state at its seq');
  assert.deepEqual(outputs, [{ seq: 1, data: 'first ' }, { seq: 2, data: 'second' }]);
});

test('a flood of output pauses the pty until the emulator has parsed it, then resumes it', async () => {
  const { pane, pty, outputs } = makePane(80, 24);
  const line = 'x'.repeat(79) + '\r\n';
  // About 3 MiB in one go: more than the emulator may have queued.
  for (let i = 0; i < 40_000; i++) pty.emit(line);
  assert.deepEqual(pty.flow, [true], 'paused once, while the emulator catches up');
  await pane.snapshot(); // resolves once everything given so far is parsed
  assert.deepEqual(pty.flow, [true, false], 'resumed after parsing');
  assert.ok(outputs.length > 0);
  pane.dispose();
});

/** A screen with history, wrapped and wide lines, colours, modes, a hidden bar cursor, a title and a cwd. */
const RICH_SCREEN = [
  ...Array.from({ length: 30 }, (_, i) => `line ${i} \x1b[3${i % 8}mcolour\x1b[0m\r\n`),
  'a'.repeat(55) + '\r\n', // wraps at 40 columns
  '宽字符 and 🙂 emoji\r\n',
  '\x1b[1;4mbold underline\x1b[0m \x1b[48;5;200mbg\x1b[0m\r\n',
  '\x1b]2;the title\x07\x1b]7;file://box/home/me\x07\x1b]11;#101010\x07',
  '\x1b[?2004h\x1b[?1h\x1b[?1000h\x1b[?1006h\x1b[6 q\x1b[?25l',
  '$ half-typed',
].join('');

test('an idle pane hibernates and wakes to exactly the same state', async () => {
  const { pane, pty } = makePane(40, 10);
  pty.emit(RICH_SCREEN);
  const before = (await pane.snapshot()).vt.toString();
  const text = (await pane.history('text')).toString();
  assert.equal(pane.hibernate(), true);
  assert.equal(pane.hibernating, true);
  assert.deepEqual([pane.cols, pane.rows, pane.historyLimit, pane.info().cols], [40, 10, 100, 40], 'sizes are read without waking');
  assert.equal((await pane.snapshot()).vt.toString(), before, 'a hibernated pane\'s snapshot is the one it had');
  assert.equal(pane.hibernating, true, 'a snapshot does not wake it');
  assert.equal((await pane.history('text')).toString(), text, 'woken, its history is the same');
  assert.equal(pane.hibernating, false);
  assert.equal((await pane.snapshot()).vt.toString(), before, 'the rebuilt emulator serializes byte for byte as before');
  assert.equal(pane.cwdUri, 'file://box/home/me');
  assert.equal(pane.pasteCapable, true);
  pane.dispose();
});

test('output after a wake lands where it would have without the hibernation', async () => {
  const twin = makePane(40, 10);
  const sleeper = makePane(40, 10);
  for (const p of [twin, sleeper]) p.pty.emit(RICH_SCREEN);
  await twin.pane.snapshot();
  await sleeper.pane.snapshot();
  assert.equal(sleeper.pane.hibernate(), true);
  const more = ' and the rest\r\n\x1b[32mgreen\x1b[0m\r\n' + 'b'.repeat(45);
  for (const p of [twin, sleeper]) p.pty.emit(more);
  const [a, b] = [await twin.pane.snapshot(), await sleeper.pane.snapshot()];
  assert.equal(b.vt.toString(), a.vt.toString());
  assert.equal(b.seq, a.seq);
  assert.equal(sleeper.pane.hibernating, false);
  assert.equal((await sleeper.pane.capture(true)).toString(), (await twin.pane.capture(true)).toString());
  twin.pane.dispose();
  sleeper.pane.dispose();
});

test('a pane on the alternate screen hibernates, and leaving that screen after the wake restores the normal one', async () => {
  // An editor or pager over a shell with history: the normal screen and its
  // scrollback sit under the alternate one, as under vim or less.
  const editor = '\x1b[?1049h\x1b[H\x1b[2J\x1b[1;7m file.txt \x1b[0m\r\n~\r\n~\r\n\x1b[33myellow\x1b[0m line\x1b[4;3H';
  const twin = makePane(40, 10);
  const sleeper = makePane(40, 10);
  for (const p of [twin, sleeper]) p.pty.emit(RICH_SCREEN + 'x\r\n'.repeat(30) + '$ vim file.txt\r\n' + editor);
  const before = (await sleeper.pane.snapshot()).vt.toString();
  await twin.pane.snapshot();
  assert.equal(sleeper.pane.hibernate(), true);
  assert.equal((await sleeper.pane.snapshot()).vt.toString(), before, 'served as stored');
  const more = 'typed\x1b[?1049l$ after the editor\r\n';
  for (const p of [twin, sleeper]) p.pty.emit(more);
  const [a, b] = [await twin.pane.snapshot(), await sleeper.pane.snapshot()];
  assert.equal(sleeper.pane.hibernating, false);
  assert.equal(b.vt.toString(), a.vt.toString(), 'the normal screen, its history and cursor come back as if it never slept');
  assert.equal((await sleeper.pane.capture(true)).toString(), (await twin.pane.capture(true)).toString());
  assert.equal((await sleeper.pane.history('text')).toString(), (await twin.pane.history('text')).toString());
  twin.pane.dispose();
  sleeper.pane.dispose();
});

test('a pane whose state a snapshot cannot carry stays awake', async () => {
  const cases: [string, string][] = [
    ['a scroll region', '\x1b[2;5r'],
    ['a saved cursor on the alternate screen', '\x1b[?1049h\x1b[3;4H\x1b7\x1b[H'],
    ['a colour saved with the normal screen\'s cursor', '\x1b[31m\x1b[?1049h\x1b[0m'],
    ['a scroll region on the alternate screen', '\x1b[?1049h\x1b[2;5r'],
    ['a colour left set', 'x\x1b[31m'],
    ['a saved cursor', '\x1b[3;4H\x1b7\x1b[H'],
    ['a line-drawing charset', '\x1b(0'],
    ['a cursor past the last column', 'c'.repeat(40)],
  ];
  for (const [what, vt] of cases) {
    const { pane, pty } = makePane(40, 10);
    pty.emit(vt);
    await pane.snapshot();
    assert.equal(pane.hibernate(), false, what);
    pane.dispose();
  }
  const { pane, pty } = makePane(40, 10);
  pty.emit('plain');
  assert.equal(pane.hibernate(), false, 'output not yet parsed');
  await pane.snapshot();
  pane.subscribers = 1;
  assert.equal(pane.hibernate(), false, 'someone watches');
  pane.subscribers = 0;
  assert.equal(pane.hibernate(), true, 'and then it may');
  pane.dispose();
});

test('a pane hibernates by itself once idle, and queries are answered after it wakes', async () => {
  let slept!: () => void;
  const asleep = new Promise<void>((r) => { slept = r; });
  const { pane, pty } = makePane(40, 10, 10, () => slept());
  pty.emit('ready\r\n');
  // The pane's timer does not keep a process alive (a daemon's sockets do); this test's promise must.
  const alive = setInterval(() => {}, 1_000);
  await asleep;
  clearInterval(alive);
  assert.equal(pane.hibernating, true);
  pty.emit('\x1b[6n'); // cursor position report, answered by the emulator while no terminal is attached
  await pane.snapshot();
  assert.ok(pty.written.includes('\x1b[2;1R'), `answered from the rebuilt emulator: ${JSON.stringify(pty.written)}`);
  pane.dispose();
});

test('a sleeping pane keeps inert output unparsed behind its snapshot, and reads as its twin that never slept', async () => {
  const twin = makePane(40, 10);
  const sleeper = makePane(40, 10);
  for (const p of [twin, sleeper]) p.pty.emit(RICH_SCREEN + '\r\n');
  await twin.pane.snapshot();
  await sleeper.pane.snapshot();
  assert.equal(sleeper.pane.hibernate(), true);
  const more = ['line one\r\n', '\x1b[33myellow\x1b[0m and \x1b[1mbold\x1b[0m\r\n', '\x1b[2Aup\x1b[K\r\n\r\n', 'x'.repeat(39) + '\r\n'];
  for (const chunk of more) for (const p of [twin, sleeper]) p.pty.emit(chunk);
  await tick();
  assert.equal(sleeper.pane.hibernating, true, 'inert output does not wake it');
  assert.deepEqual(sleeper.outputs.map((o) => o.seq), twin.outputs.map((o) => o.seq), 'and is numbered and sent as ever');
  assert.equal((await sleeper.pane.history('text')).toString(), (await twin.pane.history('text')).toString());
  assert.equal(sleeper.pane.hibernating, false, 'reading more than the snapshot woke it');
  const [a, b] = [await twin.pane.snapshot(), await sleeper.pane.snapshot()];
  assert.equal(b.vt.toString(), a.vt.toString());
  assert.equal((await sleeper.pane.capture(true)).toString(), (await twin.pane.capture(true)).toString());
  twin.pane.dispose();
  sleeper.pane.dispose();
});

test('a snapshot of a sleeping pane with output behind it is the woken state, numbered after that output', async () => {
  const twin = makePane(40, 10);
  const sleeper = makePane(40, 10);
  for (const p of [twin, sleeper]) p.pty.emit('$ ls\r\n');
  await twin.pane.snapshot();
  await sleeper.pane.snapshot();
  assert.equal(sleeper.pane.hibernate(), true);
  for (const p of [twin, sleeper]) p.pty.emit('a.txt b.txt\r\n');
  const [a, b] = [await twin.pane.snapshot(), await sleeper.pane.snapshot()];
  assert.equal(b.seq, a.seq);
  assert.equal(b.vt.toString(), a.vt.toString());
  assert.ok(b.vt.toString().includes('a.txt'));
  twin.pane.dispose();
  sleeper.pane.dispose();
});

test('a sleeping pane wakes once its unparsed output passes the bound, losing nothing', async () => {
  const twin = makePane(40, 10);
  const sleeper = makePane(40, 10);
  await sleeper.pane.snapshot();
  assert.equal(sleeper.pane.hibernate(), true);
  const line = (i: number) => `line ${String(i).padStart(6, '0')} ${'.'.repeat(20)}\r\n`;
  const lines = Math.ceil((300 * 1024) / line(0).length);
  for (let i = 0; i < lines; i++) {
    const chunk = line(i);
    for (const p of [twin, sleeper]) p.pty.emit(chunk);
  }
  // The chunk past the bound went to the parser queue, whose turn wakes the
  // pane (the twin's megabytes are parsed in the same queue, in slices).
  for (let turn = 0; turn < 1_000 && sleeper.pane.hibernating; turn++) await new Promise((r) => setTimeout(r, 0));
  assert.equal(sleeper.pane.hibernating, false, 'woken by the bound');
  assert.equal((await sleeper.pane.history('text')).toString(), (await twin.pane.history('text')).toString());
  assert.equal((await sleeper.pane.snapshot()).vt.toString(), (await twin.pane.snapshot()).vt.toString());
  twin.pane.dispose();
  sleeper.pane.dispose();
});

test('an unwatched pane printing inert output hibernates while it prints', async () => {
  let slept!: () => void;
  const asleep = new Promise<void>((r) => { slept = r; });
  const { pane, pty } = makePane(40, 10, 20, () => slept());
  let n = 0;
  const printer = setInterval(() => pty.emit(`busy ${n++}\r\n`), 2);
  await asleep;
  const printedBefore = n;
  await new Promise((r) => setTimeout(r, 20));
  clearInterval(printer);
  assert.ok(n > printedBefore, 'it went on printing');
  assert.equal(pane.hibernating, true, 'and stayed asleep');
  const text = (await pane.history('text')).toString();
  assert.ok(text.endsWith(`busy ${n - 1}\n`), `every line is there: ${JSON.stringify(text.slice(-40))}`);
  pane.dispose();
});

test('a pane printing a title now and then stays awake until it has been inert for the idle time', async () => {
  const { pane, pty } = makePane(40, 10, 30);
  const alive = setInterval(() => pty.emit('\x1b]0;working\x07.'), 5);
  await new Promise((r) => setTimeout(r, 120));
  assert.equal(pane.hibernating, false);
  clearInterval(alive);
  pane.dispose();
});
