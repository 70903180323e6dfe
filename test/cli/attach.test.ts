/**
 * `zmx attach` in a real terminal (tmux): typing, C-\ detach, reattach after
 * the client is killed (screen, colours, cursor and title come back exactly),
 * several clients at once, and the size policy (the client that typed last
 * sets the size). Each test has its own sandbox and tmux server.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { Sandbox, ZMX_BIN, alive, parseList, until } from '../helpers/harness.js';
import { sandbox } from '../helpers/assert.js';

async function clients(sb: Sandbox, name: string): Promise<number> {
  const r = await sb.zmx(['ls']);
  const line = parseList(r.stdout).find((l) => l['name'] === name);
  return line ? Number(line['clients']) : -1;
}

/** Waits until `n` clients follow the session and the shell has drawn a prompt in `target`. */
async function attached(sb: Sandbox, name: string, n: number, target: string): Promise<void> {
  await until(async () => (await clients(sb, name)) === n, `${n} client(s) on ${name}`, 15_000);
  await sb.waitForScreen(/[$#] *$/m, target, 15_000);
}

/** Types a command into a tmux pane and waits for the line `expect` in its output. */
async function type(sb: Sandbox, target: string, command: string, expect: string): Promise<string> {
  sb.tmux('send-keys', '-t', target, '-l', command);
  sb.tmux('send-keys', '-t', target, 'Enter');
  return sb.waitForScreen(new RegExp(`^${expect.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s*$`, 'm'), target, 15_000);
}

/** Whether the terminal of a tmux pane processes output (termios OPOST: a newline becomes CR LF). */
function processesOutput(sb: Sandbox, target: string): boolean {
  const tty = sb.tmux('display', '-p', '-t', target, '#{pane_tty}').trim();
  const r = spawnSync('stty', ['-F', tty, '-a'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const flag = /(^|\s)(-?)opost(\s|$)/m.exec(r.stdout);
  assert.ok(flag, `stty shows opost: ${r.stdout}`);
  return flag[2] === '';
}

function screenLines(screen: string): string[] {
  return screen.split('\n').map((l) => l.replace(/\s+$/, ''));
}

describe('attach', { concurrency: 3 }, () => {
  test('attach in a terminal: type, see output; C-\\ detaches and the session keeps running', async (t) => {
    const sb = sandbox(t);
    sb.tmuxStart(`${ZMX_BIN} attach --raw dev`);
    await attached(sb, 'dev', 1, 'main');
    await type(sb, 'main', 'echo typed-$((6*7))', 'typed-42');
    const client = sb.paneClientPid('main');
    assert.ok(client && alive(client), 'the attach client runs in the pane');
    const shell = Number(parseList((await sb.zmx(['ls'])).stdout)[0]!['pid']);
    // The pane's bytes pass through unprocessed (its own pty made its newlines CR LF already)...
    assert.equal(processesOutput(sb, 'main'), false, 'output processing is off while attached');

    sb.tmux('send-keys', '-t', 'main', 'C-\\');
    await sb.waitForScreen('[detached from session dev]');
    await until(() => !alive(client), 'the attach client to exit');
    // ...and the terminal gets its own settings back.
    assert.equal(processesOutput(sb, 'main'), true, 'output processing is back after detaching');
    await until(async () => (await clients(sb, 'dev')) === 0, 'the client to be gone from ls');
    assert.ok(alive(shell), 'the shell still runs');
    // The session went on without us: what it does now shows in history.
    assert.equal((await sb.zmx(['run', 'dev', 'echo still-$((1+1))'])).status, 0);
    assert.match(
      (await sb.zmx(['history', 'dev'])).stdout,
      /^typed-42$[\s\S]*^still-2$/m,
    );
  });

  test('reattach after the client is SIGKILLed restores the screen, colours, cursor, title and default colours exactly', async (t) => {
    const sb = sandbox(t);
    sb.tmuxStart(`${ZMX_BIN} attach --raw keep`, 100, 30);
    await attached(sb, 'keep', 1, 'main');
    // Title and the default colours (OSC 10/11), as an editor sets them.
    await type(sb, 'main', "printf '\\e]2;mytitle\\a\\e]10;#dddddd\\a\\e]11;#102030\\a'; echo title-set", 'title-set');
    await type(sb, 'main', "printf '\\e[31mred\\e[0m \\e[1;44mbold-on-blue\\e[0m \\e[38;5;208morange\\e[0m\\n'; seq 1 12; echo done-$((2*3))", 'done-6');
    await type(sb, 'main', "printf 'a\\tb\\tc  trailing   \\n'; printf 'no newline at end'; echo", 'no newline at end');
    // Leave a half-typed command line, so the cursor is not at a line start.
    sb.tmux('send-keys', '-t', 'main', '-l', 'echo half-typed');
    await sb.waitForScreen(/echo half-typed$/m);
    await until(() => sb.tmux('display', '-p', '-t', 'main', '#{pane_title}').trim() === 'mytitle', 'the title to be set');

    const before = sb.capture('main');
    const beforeEsc = sb.capture('main', true);
    assert.match(beforeEsc, /\x1b\[[0-9;]*31[0-9;]*mred/, 'the terminal shows red text (so the comparison covers colours)');
    const beforeCursor = sb.tmux('display', '-p', '-t', 'main', '#{cursor_x},#{cursor_y}').trim();
    const historyBefore = (await sb.zmx(['history', 'keep', '--vt'])).stdout;
    assert.match(historyBefore, /\x1b\[[0-9;]*31[0-9;]*mred/, 'history --vt has the colours');

    const client = sb.paneClientPid('main');
    assert.ok(client, 'found the attach client');
    process.kill(client, 'SIGKILL');
    await until(() => !alive(client), 'the client to die');

    // A fresh terminal of the same size.
    sb.tmuxNew('again', `${ZMX_BIN} attach --raw keep`, 100, 30);
    await sb.waitForScreen(/echo half-typed$/m, 'again', 15_000);
    await until(() => sb.tmux('display', '-p', '-t', 'again', '#{pane_title}').trim() === 'mytitle', 'the title to come back', 5_000);
    assert.equal(sb.tmux('display', '-p', '-t', 'again', '#{pane_fg} #{pane_bg}').trim(), '#dddddd #102030', 'OSC 10/11 replayed to the new terminal');
    // The screen, cell by cell (text, then colours and attributes).
    await until(() => sb.capture('again') === before, 'the screen to be redrawn', 5_000).catch(() => {});
    const after = sb.capture('again');
    assert.deepEqual(screenLines(after), screenLines(before), 'text of every line');
    assert.deepEqual(screenLines(sb.capture('again', true)), screenLines(beforeEsc), 'colours and attributes of every cell');
    assert.equal(sb.tmux('display', '-p', '-t', 'again', '#{cursor_x},#{cursor_y}').trim(), beforeCursor, 'cursor position');
    assert.equal((await sb.zmx(['history', 'keep', '--vt'])).stdout, historyBefore, 'the server\'s screen is unchanged by the reattach');

    // And the session is usable from the new client: the half-typed line is still there.
    sb.tmux('send-keys', '-t', 'again', '-l', ' $((5*5))');
    sb.tmux('send-keys', '-t', 'again', 'Enter');
    await sb.waitForScreen(/^half-typed 25$/m, 'again');
  });

  test('two clients attached at once both see the output', async (t) => {
    const sb = sandbox(t);
    sb.tmuxStart(`${ZMX_BIN} attach --raw both`, 100, 30);
    await attached(sb, 'both', 1, 'main');
    sb.tmuxNew('second', `${ZMX_BIN} attach --raw both`, 100, 30);
    await attached(sb, 'both', 2, 'second');
    await type(sb, 'main', 'echo from-first-$((10+1))', 'from-first-11');
    await sb.waitForScreen(/^from-first-11$/m, 'second');
    await type(sb, 'second', 'echo from-second-$((10+2))', 'from-second-12');
    await sb.waitForScreen(/^from-second-12$/m, 'main');
    // Output made without any client typing (run) reaches both as well.
    assert.equal((await sb.zmx(['run', 'both', 'echo from-run-$((10+3))'])).status, 0);
    await sb.waitForScreen(/^from-run-13$/m, 'main');
    await sb.waitForScreen(/^from-run-13$/m, 'second');
  });

  test('the client that typed last sets the size', async (t) => {
    const sb = sandbox(t);
    sb.tmuxStart(`${ZMX_BIN} attach --raw sized`, 100, 30);
    await attached(sb, 'sized', 1, 'main');
    sb.tmuxNew('small', `${ZMX_BIN} attach --raw sized`, 60, 20);
    await attached(sb, 'sized', 2, 'small');
    await type(sb, 'small', 'echo "size=$(stty size)"', 'size=20 60');
    await type(sb, 'main', 'echo "size=$(stty size)" now', 'size=30 100 now');
    await type(sb, 'small', 'echo "size=$(stty size)" again', 'size=20 60 again');
    // ls follows too: the pane's size is the last typist's.
    const json = JSON.parse((await sb.zmx(['ls', '--json'])).stdout) as { panes: { cols: number; rows: number }[] }[];
    assert.deepEqual([json[0]!.panes[0]!.cols, json[0]!.panes[0]!.rows], [60, 20]);
  });

  test('a full-screen program (vim, alternate screen) comes back exactly after a reattach, and the shell screen after it exits', async (t) => {
    const sb = sandbox(t);
    const file = `${sb.base}/notes.txt`;
    const lines = Array.from({ length: 40 }, (_, i) => `line ${i + 1}\tend`).join('\n');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(file, lines + '\n');
    sb.tmuxStart(`${ZMX_BIN} attach --raw full`, 90, 25);
    await attached(sb, 'full', 1, 'main');
    await type(sb, 'main', 'echo shell-screen-$((7*6))', 'shell-screen-42');
    sb.tmux('send-keys', '-t', 'main', '-l', `vim -u NONE -N ${file}`);
    sb.tmux('send-keys', '-t', 'main', 'Enter');
    await sb.waitForScreen(/^line 1\s+end/m);
    sb.tmux('send-keys', '-t', 'main', '-l', ':set number');
    sb.tmux('send-keys', '-t', 'main', 'Enter');
    await sb.waitForScreen(/^\s+1 line 1/m);
    sb.tmux('send-keys', '-t', 'main', '-l', '5G');
    // Line numbers take four columns: vim's cursor on line 5 sits at 4,4.
    const beforeCursor = '4,4';
    await until(() => sb.tmux('display', '-p', '-t', 'main', '#{cursor_x},#{cursor_y}').trim() === beforeCursor, 'vim to move to line 5');
    await until(() => sb.tmux('display', '-p', '-t', 'main', '#{alternate_on}').trim() === '1', 'vim on the alternate screen');
    const before = sb.capture('main');
    const client = sb.paneClientPid('main')!;
    process.kill(client, 'SIGKILL');
    await until(() => !alive(client), 'the client to die');

    sb.tmuxNew('again', `${ZMX_BIN} attach --raw full`, 90, 25);
    await until(() => sb.capture('again') === before, 'vim to be redrawn as it was', 15_000).catch(() => {});
    assert.deepEqual(screenLines(sb.capture('again')), screenLines(before), 'every line of vim\'s screen');
    assert.equal(sb.tmux('display', '-p', '-t', 'again', '#{alternate_on}').trim(), '1', 'still on the alternate screen');
    assert.equal(sb.tmux('display', '-p', '-t', 'again', '#{cursor_x},#{cursor_y}').trim(), beforeCursor, 'cursor where vim left it');
    // Quitting vim brings back the shell's screen, as a plain terminal would.
    sb.tmux('send-keys', '-t', 'again', '-l', ':q');
    sb.tmux('send-keys', '-t', 'again', 'Enter');
    await sb.waitForScreen(/^shell-screen-42$/m, 'again');
    assert.equal(sb.tmux('display', '-p', '-t', 'again', '#{alternate_on}').trim(), '0');
  });

  test('zmx attach OTHER typed inside a session switches this client to OTHER (made if missing), as zmx does', async (t) => {
    const sb = sandbox(t);
    sb.tmuxStart(`${ZMX_BIN} attach --raw one`, 100, 30);
    await attached(sb, 'one', 1, 'main');
    await type(sb, 'main', 'echo in-one-$((1+0))', 'in-one-1');
    // Typed at the shell of session "one": it moves this very client to "two".
    sb.tmux('send-keys', '-t', 'main', '-l', `cd ${sb.base} && ${ZMX_BIN} attach two`);
    sb.tmux('send-keys', '-t', 'main', 'Enter');
    await until(async () => {
      const ls = parseList((await sb.zmx(['ls'])).stdout);
      return ls.find((l) => l['name'] === 'two')?.['clients'] === '1' && ls.find((l) => l['name'] === 'one')?.['clients'] === '0';
    }, 'the client to move to "two"', 15_000);
    await type(sb, 'main', 'echo "in-$ZMX_SESSION at $PWD"', `in-two at ${sb.base}`);
    assert.doesNotMatch(sb.capture('main'), /in-one-1/, 'the screen is now session two\'s');
    // Both sessions live on; C-\ detaches from the session shown now.
    sb.tmux('send-keys', '-t', 'main', 'C-\\');
    await sb.waitForScreen('[detached from session two]');
    assert.deepEqual(parseList((await sb.zmx(['ls'])).stdout).map((l) => l['name']), ['one', 'two']);
    // Outside a session there is nothing to switch: attach to self is refused.
    const self = await sb.zmx(['attach', 'one'], { env: { ZMX_SESSION: 'one' } });
    assert.notEqual(self.status, 0);
    assert.match(self.stderr, /itself/);
  });
});
