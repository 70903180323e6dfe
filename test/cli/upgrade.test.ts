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
import { sandbox, assertOk } from '../helpers/assert.js';

const UPGRADED = /^server upgraded: front pid \d+, pty host (\d+) -> (\d+), (\d+) panes? kept$/m;

describe('server upgrade', { concurrency: 2 }, () => {
  test('sessions, their programs and screens survive two upgrades; typing works; a program that ends ends its session', async (t) => {
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

    // A session made by the new pty host, then a second upgrade: adopted ptys hand over again.
    assertOk(await sb.zmx(['run', 'sh2', 'Y=7']), 'a session of the new pty host');
    const up2 = await sb.zmx(['server', 'upgrade']);
    assertOk(up2, 'second upgrade');
    const m2 = UPGRADED.exec(up2.stdout);
    assert.ok(m2, up2.stdout);
    assert.equal(m2[3], '3');
    const host2 = sb.ptyhostPid()!;
    assert.ok(host2 !== host1 && host2 !== host0 && alive(host2));
    const r2 = await sb.zmx(['run', 'sh1', 'echo again-$X']);
    assert.match(r2.stdout, /^again-42$/m);
    assert.match((await sb.zmx(['run', 'sh2', 'echo y-$Y'])).stdout, /^y-7$/m);

    // Programs end: their sessions end, and each reaper exits after its last program.
    assertOk(await sb.zmx(['kill', 'cat1']), 'kill cat1');
    assertOk(await sb.zmx(['send', 'sh1', 'exit 7\r']), 'end sh1');
    await until(async () => !parseList((await sb.zmx(['ls'])).stdout).some((l) => l['name'] === 'sh1'), 'sh1 to end');
    await until(() => !alive(host0), 'the first reaper to exit once its programs have');
    assert.ok(alive(host1), 'the second reaper waits for sh2');
    assertOk(await sb.zmx(['send', 'sh2', 'exit\r']), 'end sh2');
    await until(() => !alive(host1), 'the second reaper to exit');
    for (const [name, pid] of pids) assert.ok(!alive(pid), `${name}'s program has ended`);
  });

  test('an attached client rides out an upgrade: it attaches again, keeps typing, and hears its program\'s exit status', async (t) => {
    const sb = sandbox(t);
    sb.tmuxStart(`${ZMX_BIN} attach --raw live`, 90, 25);
    await until(async () => parseList((await sb.zmx(['ls'])).stdout)[0]?.['clients'] === '1', 'the client to attach', 15_000);
    sb.tmux('send-keys', '-t', 'main', '-l', 'Z=5; echo before-$((2+2))');
    sb.tmux('send-keys', '-t', 'main', 'Enter');
    await sb.waitForScreen(/^before-4\s*$/m);
    const host0 = sb.ptyhostPid()!;

    const up = await sb.zmx(['server', 'upgrade']);
    assertOk(up, 'upgrade');
    assert.match(up.stdout, UPGRADED);
    assert.notEqual(sb.ptyhostPid(), host0);
    await until(async () => parseList((await sb.zmx(['ls'])).stdout)[0]?.['clients'] === '1', 'the client to attach again', 15_000);
    sb.tmux('send-keys', '-t', 'main', '-l', 'echo after-$((Z+1))');
    sb.tmux('send-keys', '-t', 'main', 'Enter');
    const screen = await sb.waitForScreen(/^after-6\s*$/m);
    assert.match(screen, /^before-4\s*$/m, 'the screen from before is redrawn');

    sb.tmux('send-keys', '-t', 'main', '-l', 'exit 7');
    sb.tmux('send-keys', '-t', 'main', 'Enter');
    await sb.waitForScreen(/\[session live exited with status 7\]/);
    await until(() => !alive(host0), 'the reaper to exit');
  });
});
