/**
 * The full-screen client in a real terminal: zmx attach runs inside a
 * private tmux, keys go in with send-keys, and what the user would see is
 * read back with capture-pane (-e for colours). Where a pane sits on screen
 * comes from the server's own layout (zmx ls --json) through the same
 * geometry the client draws with.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Sandbox, ZMX_BIN, until } from '../helpers/harness.js';
import { sandbox, assertOk, assertOneLineError } from '../helpers/assert.js';
import { geometry, panesOf, type Rect } from '../../src/common/layout.js';
import type { SessionInfo } from '../../src/common/protocol.js';

async function session(sb: Sandbox, name: string): Promise<SessionInfo | undefined> {
  const r = await sb.zmx(['ls', '--json']);
  return (JSON.parse(r.stdout || '[]') as SessionInfo[]).find((s) => s.name === name);
}

/** Waits for the client's status bar, which it draws once attached. */
async function started(sb: Sandbox, name: string, target = 'main'): Promise<void> {
  await sb.waitForScreen(new RegExp(`^\\[${name}\\] `, 'm'), target, 20_000);
  await until(async () => ((await session(sb, name))?.clients ?? 0) > 0, 'the client to attach', 15_000);
}

/** Waits until the current window has `n` panes; returns each pane's content rectangle, in order. */
async function panes(sb: Sandbox, name: string, n: number): Promise<Rect[]> {
  let rects: Rect[] = [];
  await until(async () => {
    const s = await session(sb, name);
    const w = s?.windows.find((x) => x.id === s.activeWindow);
    if (!s || !w || panesOf(w.layout).length !== n) return false;
    const g = geometry(w.layout, s.cols, s.rows);
    rects = panesOf(w.layout).map((id) => g.panes.find((p) => p.pane === id)!.content);
    return true;
  }, `${n} panes in ${name}'s window`, 15_000);
  return rects;
}

/** The text a rectangle of the screen shows (no wide characters in these screens). */
function region(screen: string, r: Rect): string {
  return screen.split('\n').slice(r.y, r.y + r.rows).map((l) => [...l].slice(r.x, r.x + r.cols).join('').trimEnd()).join('\n');
}

function typeIn(sb: Sandbox, text: string, target = 'main'): void {
  sb.tmux('send-keys', '-t', target, '-l', text);
  sb.tmux('send-keys', '-t', target, 'Enter');
}

/** The screen without its last row (the status bar has a clock and a round-trip time). */
function withoutStatus(screen: string): string {
  const lines = screen.replace(/\n$/, '').split('\n');
  return lines.slice(0, -1).map((l) => l.trimEnd()).join('\n');
}

describe('the full-screen client', { concurrency: 2 }, () => {
  test('keys typed before the client has drawn reach the pane, in order (full-screen and --raw)', async (t) => {
    const sb = sandbox(t);
    // Typed at once: the client is still starting, then attaching, then opening the pane's view.
    sb.tmuxStart(`${ZMX_BIN} attach early -- cat`, 100, 30);
    sb.tmux('send-keys', '-t', 'main', '-l', 'typed-before-drawn');
    await started(sb, 'early');
    sb.tmux('send-keys', '-t', 'main', '-l', '+after');
    await until(async () => (await sb.zmx(['history', 'early'])).stdout.includes('typed-before-drawn+after'), 'both bursts in the pane, in order', 15_000);
    sb.tmuxNew('raw', `${ZMX_BIN} attach --raw early-raw -- cat`);
    sb.tmux('send-keys', '-t', 'raw', '-l', 'raw-before-drawn');
    await until(async () => (await sb.zmx(['history', 'early-raw'])).stdout.includes('raw-before-drawn'), 'the raw client delivers them too', 15_000);
  });

  test('C-b % and C-b " split; each pane runs its own command and its output lands there and nowhere else', async (t) => {
    const sb = sandbox(t);
    sb.tmuxStart(`${ZMX_BIN} attach tiles`, 100, 30);
    await started(sb, 'tiles');
    typeIn(sb, 'echo first-$((1+1))');
    await sb.waitForScreen('first-2');
    sb.tmux('send-keys', '-t', 'main', 'C-b', '%');
    await panes(sb, 'tiles', 2);
    typeIn(sb, 'echo right-$((1+2))');
    await sb.waitForScreen('right-3');
    sb.tmux('send-keys', '-t', 'main', 'C-b', '"');
    const [left, right, below] = await panes(sb, 'tiles', 3);
    typeIn(sb, 'echo below-$((2+2))');
    const screen = await sb.waitForScreen('below-4');
    // Left and right split the width behind a border; the third pane sits under the second.
    assert.ok(left!.x === 0 && right!.x > left!.cols && below!.x === right!.x && below!.y > right!.y, JSON.stringify([left, right, below]));
    const expected: [Rect, string][] = [[left!, 'first-2'], [right!, 'right-3'], [below!, 'below-4']];
    for (const [rect, mine] of expected) {
      const text = region(screen, rect);
      assert.match(text, new RegExp(`^${mine}$`, 'm'), `${mine} shows in its pane:\n${screen}`);
      for (const [, other] of expected) if (other !== mine) assert.doesNotMatch(text, new RegExp(`^${other}$`, 'm'), `${other} does not show in ${mine}'s pane`);
    }
    // The server agrees, pane by pane (capture-pane is the oracle).
    for (const [index, mine] of ['first-2', 'right-3', 'below-4'].entries()) {
      const r = await sb.zmx(['capture-pane', '-p', '-t', `tiles:0.${index}`]);
      assertOk(r, 'capture-pane');
      assert.match(r.stdout, new RegExp(`^${mine}$`, 'm'));
    }
    // Titles: one per pane, numbered, the shell's name in each.
    assert.match(screen, /^ 0: bash/m);
    assert.match(screen, / 1: bash/);
    assert.match(screen, / 2: bash/);
  });

  test('256-colour and true-colour text keep their colours, CJK and emoji keep their columns, and vim\'s alternate screen renders and restores', async (t) => {
    const sb = sandbox(t);
    const file = join(sb.base, 'poem.txt');
    writeFileSync(file, Array.from({ length: 8 }, (_, i) => `verse ${i + 1}`).join('\n') + '\n');
    sb.tmuxStart(`${ZMX_BIN} attach colours`, 90, 25);
    await started(sb, 'colours');
    typeIn(sb, 'printf "\\033[38;5;196mred256\\033[0m \\033[38;2;10;200;30mtrue\\033[0m 日本語 🎉 end-%s\\n" $((40+2))');
    const screen = await sb.waitForScreen(/end-42/);
    const coloured = sb.capture('main', true);
    assert.match(coloured, /\x1b\[38;5;196mred256/, 'the 256-colour red reaches the terminal');
    assert.match(coloured, /\x1b\[38;2;10;200;30mtrue/, 'the true colour reaches the terminal as it is');
    // Wide characters take two columns each: the line reads exactly as the server's copy.
    const line = screen.split('\n').find((l) => l.includes('end-42'))!.trimEnd();
    const server = (await sb.zmx(['capture-pane', '-p', '-t', 'colours'])).stdout.split('\n').find((l) => l.includes('end-42'))!;
    assert.equal(line, server.trimEnd());
    assert.equal(line, 'red256 true 日本語 🎉 end-42');
    const cell = Number(sb.tmux('display', '-p', '-t', 'main', '#{pane_width}').trim());
    assert.equal(cell, 90);

    typeIn(sb, `vim -u NONE -N ${file}`);
    await sb.waitForScreen(/^verse 1$/m);
    await sb.waitForScreen(/^~/m);
    typeIn(sb, ':q');
    const back = await sb.waitForScreen(/end-42/);
    assert.doesNotMatch(back, /^verse 1$/m, 'vim\'s screen is gone once it quits');
    assert.match(back, /^red256 true 日本語 🎉 end-42/m, 'the shell\'s screen is back as it was');
  });

  test('C-b d detaches; a reattach shows the same layout and content; two clients see the same screen', async (t) => {
    const sb = sandbox(t);
    sb.tmuxStart(`${ZMX_BIN} attach again`, 100, 30);
    await started(sb, 'again');
    typeIn(sb, 'echo left-$((3*3))');
    await sb.waitForScreen('left-9');
    sb.tmux('send-keys', '-t', 'main', 'C-b', '%');
    await panes(sb, 'again', 2);
    typeIn(sb, 'echo right-$((4*4))');
    const before = withoutStatus(await sb.waitForScreen('right-16'));
    sb.tmux('send-keys', '-t', 'main', 'C-b', 'd');
    await sb.waitForScreen('[detached from session again]');
    assert.equal((await session(sb, 'again'))?.clients, 0);

    sb.tmuxNew('back', `${ZMX_BIN} attach again`, 100, 30);
    await started(sb, 'again', 'back');
    await until(() => withoutStatus(sb.capture('back')) === before, 'the reattached screen to match', 15_000).catch(() => {});
    assert.equal(withoutStatus(sb.capture('back')), before, 'same layout, same content after a reattach');

    sb.tmuxNew('second', `${ZMX_BIN} attach again`, 100, 30);
    await started(sb, 'again', 'second');
    await until(() => (withoutStatus(sb.capture('second')) === withoutStatus(sb.capture('back'))), 'both clients to agree', 15_000).catch(() => {});
    assert.equal(withoutStatus(sb.capture('second')), withoutStatus(sb.capture('back')), 'two clients see the same thing');
    assert.equal((await session(sb, 'again'))?.clients, 2);
    // What one types, both see.
    typeIn(sb, 'echo both-$((5*5))', 'second');
    await sb.waitForScreen('both-25', 'back');
  });

  test('resizing the terminal reflows the panes; zoom toggles; killing a pane re-tiles the rest', async (t) => {
    const sb = sandbox(t);
    sb.tmuxStart(`${ZMX_BIN} attach shape`, 100, 30);
    await started(sb, 'shape');
    sb.tmux('send-keys', '-t', 'main', 'C-b', '%');
    const [l1, r1] = await panes(sb, 'shape', 2);
    assert.equal(l1!.cols + 1 + r1!.cols, 100);
    // A bigger terminal: the window and both panes follow.
    sb.tmux('resize-window', '-t', 'main', '-x', '140', '-y', '40');
    await until(async () => (await session(sb, 'shape'))?.cols === 140, 'the window to follow the terminal', 15_000);
    const s = (await session(sb, 'shape'))!;
    assert.equal(s.rows, 39, 'the window area is the terminal less the status bar');
    const [l2, r2] = await panes(sb, 'shape', 2);
    assert.equal(l2!.cols + 1 + r2!.cols, 140);
    await sb.waitForScreen(/^\[shape\] .{100,}\d\d:\d\d$/m);
    // Zoom: the active pane fills the window; again: back to the split.
    sb.tmux('send-keys', '-t', 'main', 'C-b', 'z');
    await until(async () => (await session(sb, 'shape'))?.windows[0]?.zoomed === true, 'zoom on', 15_000);
    await until(() => (sb.capture().match(/ \d: bash/g) ?? []).length === 1, 'one title on screen', 10_000);
    assert.equal(sb.capture().split('\n')[0]!.startsWith(' 1: bash'), true, 'the zoomed pane\'s title spans the top');
    sb.tmux('send-keys', '-t', 'main', 'C-b', 'z');
    await until(async () => (await session(sb, 'shape'))?.windows[0]?.zoomed === false, 'zoom off', 15_000);
    await until(() => (sb.capture().match(/ \d: bash/g) ?? []).length === 2, 'two titles again', 10_000);
    // Kill the right pane: the left one takes the whole width.
    sb.tmux('send-keys', '-t', 'main', 'C-b', 'x');
    const [only] = await panes(sb, 'shape', 1);
    assert.deepEqual([only!.x, only!.cols], [0, 140]);
    await until(() => !sb.capture().includes('│'), 'the border to go', 10_000);
  });

  test('the status bar names the session and follows the current window', async (t) => {
    const sb = sandbox(t);
    sb.tmuxStart(`${ZMX_BIN} new -s bar`, 100, 30);
    await started(sb, 'bar');
    const status = () => sb.capture().replace(/\n$/, '').split('\n').at(-1)!;
    assert.match(status(), /^\[bar\] 0:bash\*/);
    sb.tmux('send-keys', '-t', 'main', 'C-b', 'c');
    await until(() => /^\[bar\] 0:bash 1:bash\*/.test(status()), 'a second window, current', 15_000);
    sb.tmux('send-keys', '-t', 'main', 'C-b', '0');
    await until(() => /^\[bar\] 0:bash\* 1:bash /.test(status()), 'window 0 current again', 15_000);
    sb.tmux('send-keys', '-t', 'main', 'C-b', 'n');
    await until(() => / 1:bash\*/.test(status()), 'next window', 15_000);
  });

  test('size-policy smallest: two clients of different sizes share the smaller window; latest follows the typist', async (t) => {
    const sb = sandbox(t);
    assertOk(await sb.zmx(['config', 'set', 'size-policy', 'smallest']), 'config set');
    sb.tmuxStart(`${ZMX_BIN} attach sized`, 100, 30);
    await started(sb, 'sized');
    sb.tmuxNew('small', `${ZMX_BIN} attach sized`, 70, 20);
    await until(async () => ((await session(sb, 'sized'))?.clients ?? 0) === 2, 'two clients', 15_000);
    await until(async () => { const s = await session(sb, 'sized'); return s?.cols === 70 && s.rows === 19; }, 'the window to take the smaller terminal', 15_000);
    typeIn(sb, 'echo "size=$(stty size)"');
    await sb.waitForScreen(/^size=18 70/m, 'main');
    // Typing in the big one does not grow it: smallest wins.
    typeIn(sb, 'echo "again=$(stty size)"', 'main');
    await sb.waitForScreen(/^again=18 70/m, 'main');
    // Back to latest: the next client to take the lead sets the size.
    assertOk(await sb.zmx(['config', 'set', 'size-policy', 'latest']), 'config set');
    typeIn(sb, 'echo "small=$(stty size)"', 'small');
    await sb.waitForScreen(/^small=18 70/m, 'small');
    typeIn(sb, 'echo "now=$(stty size)"', 'main');
    await sb.waitForScreen(/^now=28 100/m, 'main');
  });

  test('copy mode scrolls back and finds text with /; a click selects a pane', async (t) => {
    const sb = sandbox(t);
    sb.tmuxStart(`${ZMX_BIN} attach scroll`, 100, 30);
    await started(sb, 'scroll');
    typeIn(sb, 'for i in $(seq 1 200); do echo "line-$i"; done; echo needle-$((6*7)); seq 1 100');
    await sb.waitForScreen(/^100$/m);
    sb.tmux('send-keys', '-t', 'main', 'C-b', '[');
    await sb.waitForScreen(/\[copy 0\/\d+\]/);
    sb.tmux('send-keys', '-t', 'main', '-l', '/needle');
    sb.tmux('send-keys', '-t', 'main', 'Enter');
    const found = await sb.waitForScreen(/^needle-42/m);
    assert.match(found, /\[copy [1-9]\d*\/\d+\]/, 'scrolled back to the match');
    const coloured = sb.capture('main', true);
    assert.match(coloured, /\x1b\[30m\x1b\[103mneedle|\x1b\[30;103mneedle|\x1b\[[0-9;]*103m[^\n]*needle/, 'the match is highlighted');
    sb.tmux('send-keys', '-t', 'main', 'q');
    await until(() => !/\[copy /.test(sb.capture()), 'copy mode to end', 10_000);
    await sb.waitForScreen(/^100$/m);
    // Two panes; a click in the left one makes it active (typing goes there).
    sb.tmux('send-keys', '-t', 'main', 'C-b', '%');
    const [left] = await panes(sb, 'scroll', 2);
    await until(async () => { const s = await session(sb, 'scroll'); return s !== undefined && s.windows[0]!.active === panesOf(s.windows[0]!.layout)[1]; }, 'the new pane to be active', 10_000);
    sb.tmux('send-keys', '-t', 'main', '-l', `\x1b[<0;${left!.x + 5};${left!.y + 3}M\x1b[<0;${left!.x + 5};${left!.y + 3}m`);
    await until(async () => { const s = await session(sb, 'scroll'); return s !== undefined && s.windows[0]!.active === panesOf(s.windows[0]!.layout)[0]; }, 'the clicked pane to be active', 10_000);
  });

  test('a pane printing 2,000,000 lines: the client keeps up and shows the end, and keys still reach the pane', async (t) => {
    const sb = sandbox(t);
    sb.tmuxStart(`${ZMX_BIN} attach flood`, 100, 30);
    await started(sb, 'flood');
    typeIn(sb, 'seq 1 2000000; echo done-$((7*7))');
    await sb.waitForScreen(/^done-49$/m, 'main', 180_000);
    assert.match(sb.capture(), /^2000000$/m, 'the last number is on screen');
    typeIn(sb, 'echo after-$((8*8))');
    await sb.waitForScreen(/^after-64$/m);
  });

  test('the front killed with SIGKILL: the client brings a new one, re-attaches, and the layout and typing go on', async (t) => {
    const sb = sandbox(t);
    sb.tmuxStart(`${ZMX_BIN} attach phoenix`, 100, 30);
    await started(sb, 'phoenix');
    sb.tmux('send-keys', '-t', 'main', 'C-b', '%');
    await panes(sb, 'phoenix', 2);
    typeIn(sb, 'echo before-$((2*2))');
    await sb.waitForScreen('before-4');
    const front = sb.frontPid()!;
    sb.notePids();
    process.kill(front, 'SIGKILL');
    await until(() => { const p = sb.frontPid(); return p !== null && p !== front; }, 'a new front', 20_000);
    sb.notePids();
    await until(async () => ((await session(sb, 'phoenix'))?.clients ?? 0) === 1, 'the client to re-attach', 20_000);
    typeIn(sb, 'echo after-$((3*3))');
    const screen = await sb.waitForScreen('after-9', 'main', 15_000);
    const [, right] = await panes(sb, 'phoenix', 2);
    assert.match(region(screen, right!), /^after-9$/m, 'typing goes on in the same pane');
  });

  test('NO_COLOR: the client draws its own parts without colour', async (t) => {
    const sb = sandbox(t, { NO_COLOR: '1' });
    sb.tmuxStart(`${ZMX_BIN} attach plain`, 100, 30);
    await started(sb, 'plain');
    const status = sb.capture('main', true).replace(/\n$/, '').split('\n').at(-1)!;
    assert.doesNotMatch(status, /\x1b\[[0-9;]*(3[0-7]|4[0-7]|9[0-7]|10[0-7]|38;|48;)[0-9;]*m/, `no colour in ${JSON.stringify(status)}`);
    assert.match(status, /\x1b\[[0-9;]*7[;m]/, 'the status bar is drawn inverse');
  });

  test('an invalid theme file gets a one-line error naming the file and the field; nothing is started', async (t) => {
    const sb = sandbox(t);
    const bad = join(sb.base, 'loud.json');
    writeFileSync(bad, JSON.stringify({ name: 'loud', status: { fg: 'white', bg: 'blurple' } }));
    const r = await sb.zmx(['attach', '--theme', bad, 'x'], { env: { ZMX_ATTACH_ANY_STDIN: '1' } });
    assertOneLineError(r, 'attach --theme bad.json', /loud\.json.*status\.bg/);
    assert.equal(sb.frontPid(), null, 'no server was started');
  });
});

describe('window and pane commands', { concurrency: 2 }, () => {
  test('split, new-window, select-pane, select-layout, resize-pane -Z, kill-pane and capture-pane from the command line', async (t) => {
    const sb = sandbox(t);
    assertOk(await sb.zmx(['new', '-s', 'cli', '-d']), 'new');
    const split = await sb.zmx(['split', '-h', '-t', 'cli', '--', 'sh', '-c', 'printf "\\033[1;31mbold-red\\033[0m %s\\n" $((6*7)); exec cat']);
    assertOk(split, 'split');
    assert.equal(split.stdout, 'cli:0.1\n');
    await until(async () => /bold-red 42/.test((await sb.zmx(['capture-pane', '-p', '-t', 'cli:0.1'])).stdout), 'the new pane to print');
    const esc = (await sb.zmx(['capture-pane', '-p', '-e', '-t', 'cli:0.1'])).stdout;
    assert.match(esc, /\x1b\[0;1;31mbold-red\x1b\[0m 42/, 'capture-pane -e keeps the colours');
    assert.doesNotMatch((await sb.zmx(['capture-pane', '-p', '-t', 'cli:0.0'])).stdout, /bold-red/, 'the first pane did not get it');
    assert.equal((await sb.zmx(['select-pane', '-t', 'cli', '-L'])).stdout, 'cli:0.0\n');
    assert.equal((await sb.zmx(['select-layout', '-t', 'cli', 'even-vertical'])).stdout, 'even-vertical\n');
    let s = (await session(sb, 'cli'))!;
    assert.equal((s.windows[0]!.layout as { dir: string }).dir, 'v');
    assert.equal((await sb.zmx(['resize-pane', '-t', 'cli', '-Z'])).stdout, 'zoomed\n');
    assert.equal((await sb.zmx(['new-window', '-t', 'cli', '-n', 'logs'])).stdout, 'cli:1\n');
    s = (await session(sb, 'cli'))!;
    assert.deepEqual(s.windows.map((w) => [w.index, w.name, w.zoomed]), [[0, '', true], [1, 'logs', false]]);
    assert.equal(s.activeWindow, s.windows[1]!.id);
    assertOk(await sb.zmx(['kill-pane', '-t', 'cli:0.1']), 'kill-pane');
    await until(async () => ((await session(sb, 'cli'))?.panes.length ?? 0) === 2, 'the pane to go');
    const bad = await sb.zmx(['capture-pane', '-p', '-t', 'cli:0.5']);
    assertOneLineError(bad, 'capture-pane of a missing pane', /no pane 5/);
    assertOneLineError(await sb.zmx(['resize-pane', '-t', 'cli']), 'resize-pane without a direction', /-L, -R, -U, -D or -Z/);
  });
});
