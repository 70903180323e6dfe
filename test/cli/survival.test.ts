/**
 * The server's two processes: sessions live in the pty host, so SIGKILL of
 * the front loses nothing and the next command brings a new front; and once
 * the last session is gone both processes exit by themselves.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ZMX_BIN, alive, parseList, until } from '../helpers/harness.js';
import { sandbox, assertOk } from '../helpers/assert.js';

/** The servers' liveness timers at a quarter (src/common/constants.ts, TIMESCALE): the exit tests wait out the heartbeat timeout. */
const EXIT_TIMESCALE = '0.25';

describe('server survival', { concurrency: 2 }, () => {
  test('SIGKILL of the front: every session survives with its screen; the next command brings a new front', async (t) => {
    const sb = sandbox(t);
    const names = ['s1', 's2', 's3'];
    for (const [i, name] of names.entries()) {
      assertOk(await sb.zmx(['run', name, `printf '\\e[3${i + 1}mcolour-${i}\\e[0m\\n'; seq ${i} ${i + 5}`]), `run ${name}`);
    }
    assertOk(await sb.zmx(['set', 's2', 'keep=me']), 'set label');
    const lsBefore = parseList((await sb.zmx(['ls'])).stdout);
    const historyBefore = new Map<string, string>();
    for (const name of names) historyBefore.set(name, (await sb.zmx(['history', name, '--vt'])).stdout);
    const front = sb.frontPid();
    const ptyhost = sb.ptyhostPid();
    assert.ok(front && alive(front) && ptyhost && alive(ptyhost), 'both server processes run');
    const shells = lsBefore.map((l) => Number(l['pid']));

    process.kill(front, 'SIGKILL');
    await until(() => !alive(front), 'the front to die');
    assert.ok(alive(ptyhost), 'the pty host outlives the front');
    for (const pid of shells) assert.ok(alive(pid), `shell ${pid} outlives the front`);

    const ls = await sb.zmx(['ls']);
    assertOk(ls, 'ls after the front died');
    const newFront = sb.frontPid();
    assert.ok(newFront && alive(newFront), 'ls started a new front');
    assert.notEqual(newFront, front);
    assert.equal(sb.ptyhostPid(), ptyhost, 'the same pty host serves');
    const lsAfter = parseList(ls.stdout);
    assert.deepEqual(lsAfter.map((l) => l['name']), names, 'every session is listed');
    for (const name of names) {
      const b = lsBefore.find((l) => l['name'] === name)!;
      const a = lsAfter.find((l) => l['name'] === name)!;
      assert.equal(a['pid'], b['pid'], `${name}: same shell`);
      assert.equal(a['created'], b['created'], `${name}: same creation time`);
    }
    assert.equal(lsAfter.find((l) => l['name'] === 's2')!['keep'], 'me', 'labels survive');
    for (const name of names) {
      assert.equal((await sb.zmx(['history', name, '--vt'])).stdout, historyBefore.get(name), `${name}: the screen is unchanged`);
    }
    // The sessions still work.
    const r = await sb.zmx(['run', 's1', 'echo after-$((4+4))']);
    assertOk(r, 'run after the restart');
    assert.match(r.stdout, /^after-8$/m);
    assert.equal(sb.ptyhostPid(), ptyhost);
  });

  test('an attached client rides out a SIGKILL of the front: it reattaches to a new one and keeps working', async (t) => {
    const sb = sandbox(t);
    sb.tmuxStart(`${ZMX_BIN} attach --raw live`, 90, 25);
    await until(async () => parseList((await sb.zmx(['ls'])).stdout)[0]?.['clients'] === '1', 'the client to attach', 15_000);
    sb.tmux('send-keys', '-t', 'main', '-l', 'echo before-$((2+2))');
    sb.tmux('send-keys', '-t', 'main', 'Enter');
    await sb.waitForScreen(/^before-4\s*$/m);
    const front = sb.frontPid()!;
    process.kill(front, 'SIGKILL');
    await until(() => !alive(front), 'the front to die');
    // The client notices, starts a new front itself and attaches again.
    await until(() => { const p = sb.frontPid(); return p !== null && p !== front && alive(p); }, 'a new front', 15_000);
    await until(async () => parseList((await sb.zmx(['ls'])).stdout)[0]?.['clients'] === '1', 'the client to be attached to the new front', 15_000);
    sb.tmux('send-keys', '-t', 'main', '-l', 'echo after-$((3+3))');
    sb.tmux('send-keys', '-t', 'main', 'Enter');
    const screen = await sb.waitForScreen(/^after-6\s*$/m);
    assert.match(screen, /^before-4\s*$/m, 'the screen from before is redrawn');
  });

  test('an attached client stopped longer than the heartbeat timeout (a suspended laptop) reattaches when it resumes', async (t) => {
    const sb = sandbox(t);
    sb.tmuxStart(`${ZMX_BIN} attach --raw nap`, 90, 25);
    await until(async () => parseList((await sb.zmx(['ls'])).stdout)[0]?.['clients'] === '1', 'the client to attach', 15_000);
    const client = sb.paneClientPid('main')!;
    process.kill(client, 'SIGSTOP');
    try {
      // The server forgets a client silent for longer than its heartbeat timeout.
      await until(async () => parseList((await sb.zmx(['ls'])).stdout)[0]?.['clients'] === '0', 'the server to drop the stopped client', 20_000, 250);
      assert.ok(alive(client));
      await sb.zmx(['run', 'nap', 'echo while-away-$((5*5))']);
    } finally {
      process.kill(client, 'SIGCONT');
    }
    await until(async () => parseList((await sb.zmx(['ls'])).stdout)[0]?.['clients'] === '1', 'the client to attach again', 20_000, 250);
    await sb.waitForScreen(/^while-away-25\s*$/m, 'main', 10_000);
    sb.tmux('send-keys', '-t', 'main', '-l', 'echo back-$((6*6))');
    sb.tmux('send-keys', '-t', 'main', 'Enter');
    await sb.waitForScreen(/^back-36\s*$/m);
  });

  test('after the last session is killed the servers exit by themselves', async (t) => {
    // At a quarter of the time scale the front stops counting a silent client after 1.5 s, not 6 s.
    const sb = sandbox(t, { ZMX_TEST_TIMESCALE: EXIT_TIMESCALE });
    assertOk(await sb.zmx(['new', '-s', 'only', '-d']), 'new');
    assertOk(await sb.zmx(['run', 'only', 'true']), 'run');
    const front = sb.frontPid()!;
    const ptyhost = sb.ptyhostPid()!;
    assert.ok(alive(front) && alive(ptyhost));
    assertOk(await sb.zmx(['kill', 'only']), 'kill');
    await until(() => !alive(ptyhost), 'the pty host to exit', 5_000);
    // The front waits for its clients to time out, then goes too — without
    // starting another pty host.
    await until(() => !alive(front), 'the front to exit', 20_000, 100);
    const host = sb.ptyhostPid();
    assert.ok(!alive(host), `no pty host is left running (pid ${host})`);
    const ls = await sb.zmx(['ls']);
    assert.deepEqual([ls.status, ls.stdout, ls.stderr], [0, '', `no sessions found in ${sb.dir}\n`]);
    assert.equal(sb.frontPid(), null, 'ls does not start a server again');
  });

  test('a session that exits by itself also lets the servers exit', async (t) => {
    const sb = sandbox(t, { ZMX_TEST_TIMESCALE: EXIT_TIMESCALE });
    assertOk(await sb.zmx(['run', 'brief', 'true']), 'run');
    const front = sb.frontPid()!;
    const ptyhost = sb.ptyhostPid()!;
    // The shell exits: the session ends with it.
    assertOk(await sb.zmx(['send', 'brief', 'exit\r']), 'send exit');
    await until(async () => (await sb.zmx(['ls', '--short'])).stdout === '', 'the session to end');
    await until(() => !alive(ptyhost), 'the pty host to exit', 5_000);
    await until(() => !alive(front) && !alive(sb.ptyhostPid()), 'the front to exit', 20_000, 100);
  });
});
