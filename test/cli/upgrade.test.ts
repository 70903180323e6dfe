/**
 * `zmx server upgrade`: the pty host hands every pty over to a new pty host
 * (src/ptyhost/handover.ts). The programs (same pids, same shell state),
 * their screens and scrollback, windows and labels survive, typing goes on,
 * and when a program ends its session ends with the right status, relayed
 * by the old pty host, which stays only as long as its programs do.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ZMX_BIN, alive, parseList, until } from '../helpers/harness.js';
import { sandbox, assertOk, assertOneLineError } from '../helpers/assert.js';

const UPGRADED = /^server upgraded: front pid \d+, pty host (\d+) -> (\d+), (\d+) panes? kept$/m;

describe('server upgrade', () => {
  test('sessions, their programs and screens survive three upgrades; typing works; a program that ends ends its session', async (t) => {
    const sb = sandbox(t);
    assertOk(await sb.zmx(['run', 'sh1', 'X=42; for i in 1 2 3; do echo line-$i; done']), 'run in sh1');
    assertOk(await sb.zmx(['set', 'sh1', 'keep=me']), 'label');
    assertOk(await sb.zmx(['new', '-d', '-s', 'cat1', 'cat']), 'a session running cat');
    assertOk(await sb.zmx(['send', 'cat1', 'one\r']), 'type into cat');
    await until(async () => /^one\s*\n\s*one\s*$/m.test((await sb.zmx(['capture-pane', '-t', 'cat1'])).stdout), 'cat to answer');
    const before = parseList((await sb.zmx(['ls'])).stdout);
    const pids = new Map(before.map((l) => [l['name']!, Number(l['pid'])]));
    const history = (await sb.zmx(['history', 'sh1'])).stdout;
    assert.match(history, /^line-3$/m);
    const host0 = sb.ptyhostPid()!;

    const up1 = await sb.zmx(['server', 'upgrade']);
    assertOk(up1, 'first upgrade');
    const m1 = UPGRADED.exec(up1.stdout);
    assert.ok(m1, `upgrade reports the hand-over: ${up1.stdout}`);
    assert.equal(Number(m1[1]), host0);
    assert.equal(m1[3], '2', 'both panes handed over');
    const host1 = sb.ptyhostPid()!;
    assert.equal(Number(m1[2]), host1);
    assert.notEqual(host1, host0, 'a new pty host serves');
    assert.ok(alive(host0), 'the old pty host stays as the reaper of its programs');
    for (const [name, pid] of pids) assert.ok(alive(pid), `${name}'s program (pid ${pid}) survives`);

    const after = parseList((await sb.zmx(['ls'])).stdout);
    assert.deepEqual(after.map((l) => [l['name'], l['pid'], l['created']]), before.map((l) => [l['name'], l['pid'], l['created']]), 'the same sessions, programs and creation times');
    assert.equal(after.find((l) => l['name'] === 'sh1')!['keep'], 'me', 'labels survive');
    assert.equal((await sb.zmx(['history', 'sh1'])).stdout, history, 'the scrollback is unchanged');
    // The shell kept its state, and input and output flow through the new pty host.
    const r = await sb.zmx(['run', 'sh1', 'echo after-$X']);
    assertOk(r, 'run after the upgrade');
    assert.match(r.stdout, /^after-42$/m);
    assertOk(await sb.zmx(['send', 'cat1', 'two\r']), 'type into cat after the upgrade');
    await until(async () => /^two\s*\n\s*two\s*$/m.test((await sb.zmx(['capture-pane', '-t', 'cat1'])).stdout), 'cat to answer after the upgrade');
    assert.match((await sb.zmx(['capture-pane', '-t', 'cat1'])).stdout, /^one\s*$/m, 'the screen from before is still there');

    // At once a second upgrade: a pty host that itself took sessions over hands them on.
    const up2 = await sb.zmx(['server', 'upgrade']);
    assertOk(up2, 'second upgrade');
    assert.equal(UPGRADED.exec(up2.stdout)?.[3], '2', up2.stdout);
    const host2 = sb.ptyhostPid()!;
    assert.ok(host2 !== host1 && host2 !== host0 && alive(host2));
    assert.match((await sb.zmx(['run', 'sh1', 'echo again-$X'])).stdout, /^again-42$/m);

    // A session made by this pty host, then a third upgrade: its own programs and adopted ones go on together.
    assertOk(await sb.zmx(['run', 'sh2', 'Y=7']), 'a session of the new pty host');
    const up3 = await sb.zmx(['server', 'upgrade']);
    assertOk(up3, 'third upgrade');
    assert.equal(UPGRADED.exec(up3.stdout)?.[3], '3', up3.stdout);
    const host3 = sb.ptyhostPid()!;
    assert.ok(![host0, host1, host2].includes(host3) && alive(host3));
    assert.match((await sb.zmx(['run', 'sh1', 'echo still-$X'])).stdout, /^still-42$/m);
    assert.match((await sb.zmx(['run', 'sh2', 'echo y-$Y'])).stdout, /^y-7$/m);
    assert.equal((await sb.zmx(['history', 'sh1'])).stdout.split('\n').filter((l) => /^line-\d$/.test(l)).length, 3, 'the first lines are still in the scrollback');

    // Programs end: their sessions end, and each reaper exits after its last program.
    assertOk(await sb.zmx(['kill', 'cat1']), 'kill cat1');
    assertOk(await sb.zmx(['send', 'sh1', 'exit 7\r']), 'end sh1');
    await until(async () => !parseList((await sb.zmx(['ls'])).stdout).some((l) => l['name'] === 'sh1'), 'sh1 to end');
    await until(() => !alive(host0) && !alive(host1), 'the reapers of sh1 and cat1 to exit once those have');
    assert.ok(alive(host2), 'the reaper of sh2 waits for it');
    assertOk(await sb.zmx(['send', 'sh2', 'exit\r']), 'end sh2');
    await until(() => !alive(host2), 'the last reaper to exit');
    for (const [name, pid] of pids) assert.ok(!alive(pid), `${name}'s program has ended`);
  });

  test('attached clients (raw and full-screen) ride out two upgrades: they attach again, keep typing, and hear the exit status', async (t) => {
    const sb = sandbox(t);
    const clients = async () => parseList((await sb.zmx(['ls'])).stdout)[0]?.['clients'];
    sb.tmuxStart(`${ZMX_BIN} attach --raw live`, 90, 25);
    await until(async () => (await clients()) === '1', 'the raw client to attach', 15_000);
    sb.tmuxNew('tui', `${ZMX_BIN} attach live`, 90, 25);
    await until(async () => (await clients()) === '2', 'the full-screen client to attach', 15_000);
    sb.tmux('send-keys', '-t', 'main', '-l', 'Z=5; echo before-$((2+2))');
    sb.tmux('send-keys', '-t', 'main', 'Enter');
    await sb.waitForScreen(/^before-4\s*$/m);
    const host0 = sb.ptyhostPid()!;

    for (const [i, typist] of ['main', 'tui'].entries()) {
      const up = await sb.zmx(['server', 'upgrade']);
      assertOk(up, `upgrade ${i + 1}`);
      assert.match(up.stdout, UPGRADED);
      await until(async () => (await clients()) === '2', `both clients to attach again after upgrade ${i + 1}`, 15_000);
      // Typed into one client, seen in both.
      sb.tmux('send-keys', '-t', typist, '-l', `echo after-$((Z+${i + 1}))`);
      sb.tmux('send-keys', '-t', typist, 'Enter');
      const re = new RegExp(`^after-${6 + i}\\s*$`, 'm');
      const screen = await sb.waitForScreen(re);
      await sb.waitForScreen(new RegExp(`after-${6 + i}\\s`), 'tui');
      assert.match(screen, /^before-4\s*$/m, 'the screen from before is redrawn');
    }
    assert.notEqual(sb.ptyhostPid(), host0);

    sb.tmux('send-keys', '-t', 'main', '-l', 'exit 7');
    sb.tmux('send-keys', '-t', 'main', 'Enter');
    await sb.waitForScreen(/\[session live exited with status 7\]/);
    await until(() => !alive(host0), 'the reaper to exit');
  });

  test('nothing is left behind: server stop keeps sessions and reapers; stopping the pty host ends its programs and every reaper', async (t) => {
    const sb = sandbox(t);
    assertOk(await sb.zmx(['new', '-d', '-s', 'a', 'sleep', '600']), 'session a');
    const host0 = sb.ptyhostPid()!;
    // A portal command (a child with pipes, not a pty) cannot be handed over: the upgrade waits for it.
    const execCli = sb.start(['exec', '-t', 'a', '-n', '--', 'sleep', '600']);
    const execLine = await until(async () => (await sb.zmx(['exec', '-t', 'a', '--list'])).stdout.split('\n').find((l) => /\trunning\t/.test(l)) ?? '', 'the command to run', 15_000);
    assertOneLineError(await sb.zmx(['server', 'upgrade']), 'an upgrade while a command runs', /portal command runs/);
    assert.equal(sb.ptyhostPid(), host0, 'the pty host was kept');
    assertOk(await sb.zmx(['exec', '-t', 'a', '--kill', execLine.split('\t')[0]!]), 'end the command');
    await until(() => execCli.exitCode !== null, 'zmx exec to return');
    await until(async () => !/\trunning\t/.test((await sb.zmx(['exec', '-t', 'a', '--list'])).stdout), 'the command to end');
    await until(async () => (await sb.zmx(['server', 'upgrade'])).status === 0, 'an upgrade once its end is audited', 15_000);
    assertOk(await sb.zmx(['new', '-d', '-s', 'b', 'sleep', '600']), 'session b');
    const host1 = sb.ptyhostPid()!;
    assertOk(await sb.zmx(['server', 'upgrade']), 'second upgrade');
    const host2 = sb.ptyhostPid()!;
    const programs = parseList((await sb.zmx(['ls'])).stdout).map((l) => Number(l['pid']));
    assert.equal(programs.length, 2);
    const front = sb.frontPid()!;
    assertOk(await sb.zmx(['server', 'stop']), 'server stop');
    await until(() => !alive(front), 'the front to exit');
    for (const pid of [host0, host1, host2, ...programs]) assert.ok(alive(pid), `pid ${pid} runs on after server stop (sessions are not affected)`);
    // What a kill-server does: SIGTERM to the pty host, which ends every session.
    process.kill(host2, 'SIGTERM');
    await until(() => [host0, host1, host2, ...programs].every((pid) => !alive(pid)), 'the pty host, both reapers and the programs to exit');
  });
});
