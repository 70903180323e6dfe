import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ZmxError } from '../common/errors.js';
import type { ExecInfo, ExecResult } from '../common/portal.js';
import { ExecService, type ExecStart } from './exec.js';

let root = '';
/** Pids of grandchildren tests made; each is killed in `after` should a test fail before it does. */
const strays = new Set<number>();

before(() => {
  root = realpathSync(mkdtempSync(join(tmpdir(), 'zmx-t-exec-')));
  mkdirSync(join(root, 'sub dir'));
  writeFileSync(join(root, 'file.txt'), 'x');
});

after(() => {
  for (const pid of strays) killQuietly(pid);
  rmSync(root, { recursive: true, force: true });
});

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // gone
  }
}

function args(over: Partial<ExecStart>): ExecStart {
  return { argv: [], shell: '', rootDir: root, cwd: root, env: {}, timeoutMs: 0, stdin: false, ...over };
}

/** Reads until the result arrives, `max` bytes per stream per read; every answer must start where the last ended. */
async function readAll(svc: ExecService, id: number, max = 0): Promise<{ stdout: string; stderr: string; result: ExecResult; reads: number; info: ExecInfo }> {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  let so = 0;
  let se = 0;
  for (let reads = 1; ; reads++) {
    const r = await svc.read(id, so, se, 10_000, max);
    assert.equal(r.stdoutOffset, so);
    assert.equal(r.stderrOffset, se);
    if (max > 0) assert.ok(r.stdout.length <= max && r.stderr.length <= max);
    out.push(r.stdout);
    err.push(r.stderr);
    so += r.stdout.length;
    se += r.stderr.length;
    if (r.info.result) return { stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString(), result: r.info.result, reads, info: r.info };
  }
}

function procState(pid: number): string | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return text.slice(text.lastIndexOf(')') + 2).split(' ')[0] ?? null;
  } catch {
    return null;
  }
}

/** Alive: the pid exists and is not a zombie (nothing reaps orphans in some containers). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    assert.equal((err as NodeJS.ErrnoException).code, 'ESRCH');
    return false;
  }
  const state = procState(pid);
  return state !== null && state !== 'Z' && state !== 'X';
}

/** Members of process group `pgid` that are not zombies. */
function liveInGroup(pgid: number): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const text = readFileSync(`/proc/${name}/stat`, 'latin1');
      const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
      if (Number(f[2]) === pgid && f[0] !== 'Z' && f[0] !== 'X') pids.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

function pidsIn(text: string): number[] {
  const pids = text.split('\n').filter((l) => l !== '').map(Number);
  for (const pid of pids) {
    assert.ok(Number.isSafeInteger(pid) && pid > 1, `a pid: ${pid}`);
    strays.add(pid);
  }
  return pids;
}

async function rejectsCode(p: Promise<unknown>, code: string, pattern: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof ZmxError, `a ZmxError, not ${String(err)}`);
    assert.equal(err.code, code);
    assert.ok(!err.message.includes('\n'));
    assert.match(err.message, pattern);
    return true;
  });
}

function throwsCode(fn: () => unknown, code: string, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof ZmxError, `a ZmxError, not ${String(err)}`);
    assert.equal(err.code, code);
    assert.match(err.message, pattern);
    return true;
  });
}

describe('ExecService', () => {
  const svc = new ExecService({ killGraceMs: 200 });
  after(async () => {
    await svc.dispose();
    assert.equal(svc.runningCount, 0);
  });

  test('argv is passed verbatim, without a shell', async () => {
    const words = ['a b', '"q"', "it's", '$HOME', '*', '', 'x;y|z'];
    const info = await svc.start('me', 's', args({ argv: ['printf', '[%s]', ...words] }), null);
    assert.deepEqual(info.argv, ['printf', '[%s]', ...words]);
    assert.equal(info.result, null);
    assert.ok(info.pid > 0);
    const r = await readAll(svc, info.id);
    assert.equal(r.stdout, words.map((w) => `[${w}]`).join(''));
    assert.deepEqual(r.result, { ...r.result, exitCode: 0, signal: null, truncated: false, timedOut: false });
  });

  test('a shell script runs under /bin/sh -c, with the exit code and stderr kept', async () => {
    const info = await svc.start('me', 's', args({ shell: 'echo one | tr o O; echo oops >&2; exit 3' }), null);
    assert.deepEqual(info.argv, ['/bin/sh', '-c', 'echo one | tr o O; echo oops >&2; exit 3']);
    const r = await readAll(svc, info.id);
    assert.equal(r.stdout, 'One\n');
    assert.equal(r.stderr, 'oops\n');
    assert.equal(r.result.exitCode, 3);
    assert.equal(r.result.signal, null);
  });

  test('cwd is honoured and reported relative to the root', async () => {
    const cwd = join(root, 'sub dir');
    const info = await svc.start('me', 's', args({ argv: ['pwd'], cwd }), null);
    assert.equal(info.cwd, 'sub dir');
    assert.equal((await readAll(svc, info.id)).stdout, `${cwd}\n`);
    const top = await svc.start('me', 's', args({ argv: ['pwd'] }), null);
    assert.equal(top.cwd, '.');
    assert.equal((await readAll(svc, top.id)).stdout, `${root}\n`);
  });

  test('env is the base environment plus the arguments plus ZMX_SESSION', async () => {
    const own = new ExecService({ baseEnv: { PATH: process.env.PATH, BASE: 'b', FOO: 'old' } });
    try {
      const script = 'printf "%s|%s|%s|%s" "$BASE" "$FOO" "$ZMX_SESSION" "${HOME-unset}"';
      const info = await own.start('me', 'sess-1', args({ shell: script, env: { FOO: 'new', ZMX_SESSION: 'forged' } }), null);
      assert.equal((await readAll(own, info.id)).stdout, 'b|new|sess-1|unset');
    } finally {
      await own.dispose();
    }
  });

  test('stdin data is piped and closed after', async () => {
    const info = await svc.start('me', 's', args({ argv: ['cat'] }), Buffer.from('hello\nworld'));
    const r = await readAll(svc, info.id);
    assert.equal(r.stdout, 'hello\nworld');
    assert.equal(r.result.exitCode, 0);
    throwsCode(() => svc.stdin(info.id, Buffer.from('x'), false), 'EINVAL', /ended/);
  });

  test('stdin: true keeps stdin open for stdin() until eof', async () => {
    const info = await svc.start('me', 's', args({ argv: ['cat'], stdin: true }), Buffer.from('a'));
    assert.equal(svc.stdin(info.id, Buffer.from('bc'), false), 2);
    assert.equal(svc.stdin(info.id, Buffer.from('d'), true), 1);
    throwsCode(() => svc.stdin(info.id, Buffer.from('e'), false), 'EINVAL', /stdin is closed/);
    const r = await readAll(svc, info.id);
    assert.equal(r.stdout, 'abcd');
    assert.equal(r.result.exitCode, 0);
  });

  test('stdin is closed at once without stdin: true, even with no data', async () => {
    const info = await svc.start('me', 's', args({ argv: ['cat'] }), null);
    throwsCode(() => svc.stdin(info.id, Buffer.from('x'), false), 'EINVAL', /stdin is closed|ended/);
    assert.equal((await readAll(svc, info.id)).result.exitCode, 0);
  });

  test('read waits for output (an event, not a poll)', async () => {
    const info = await svc.start('me', 's', args({ shell: 'read x; echo "got $x"', stdin: true }), null);
    const now = await svc.read(info.id, 0, 0, 0, 0);
    assert.equal(now.stdout.length, 0);
    assert.equal(now.info.result, null);
    // No output can exist before the line is sent, so a read that answered without waiting would be empty.
    const pending = svc.read(info.id, 0, 0, 10_000, 0);
    svc.stdin(info.id, Buffer.from('hi\n'), true);
    const r = await pending;
    assert.equal(r.stdout.toString(), 'got hi\n');
    await readAll(svc, info.id);
  });

  test('a read from the end of all output waits for the end and then carries the result', async () => {
    const info = await svc.start('me', 's', args({ shell: 'echo x; read y; exit 0', stdin: true }), null);
    let r = await svc.read(info.id, 0, 0, 10_000, 0);
    assert.equal(r.stdout.toString(), 'x\n');
    const pending = svc.read(info.id, 2, 0, 10_000, 0);
    svc.stdin(info.id, Buffer.alloc(0), true);
    r = await pending;
    assert.equal(r.stdout.length, 0);
    assert.equal(r.stdoutOffset, 2);
    assert.ok(r.info.result);
    assert.equal(r.info.result.exitCode, 0);
  });

  test('stdout and stderr stay apart and in order under interleaving', async () => {
    const script = 'i=1; while [ $i -le 2000 ]; do echo out$i; echo err$i >&2; i=$((i+1)); done';
    const info = await svc.start('me', 's', args({ shell: script }), null);
    const r = await readAll(svc, info.id);
    const want = (p: string): string => Array.from({ length: 2000 }, (_, i) => `${p}${i + 1}\n`).join('');
    assert.equal(r.stdout, want('out'));
    assert.equal(r.stderr, want('err'));
  });

  test('reading in several small calls concatenates to the whole output', async () => {
    const info = await svc.start('me', 's', args({ argv: ['seq', '1', '20000'] }), null);
    const r = await readAll(svc, info.id, 1000);
    assert.equal(r.stdout, Array.from({ length: 20000 }, (_, i) => `${i + 1}\n`).join(''));
    assert.ok(r.reads >= Math.ceil(r.stdout.length / 1000));
    // An old offset still answers (nothing dropped); one past the end is refused.
    const again = await svc.read(info.id, 5, 0, 0, 3);
    assert.equal(again.stdout.toString(), r.stdout.slice(5, 8));
    assert.equal(again.info.result, null, 'the answer does not reach the end of stdout');
    await rejectsCode(svc.read(info.id, r.stdout.length + 1, 0, 0, 0), 'EINVAL', /past the output/);
  });

  test('output written just before the exit is not lost', async () => {
    const info = await svc.start('me', 's', args({ shell: 'head -c 3000000 /dev/zero; echo end >&2' }), null);
    const r = await readAll(svc, info.id);
    assert.equal(r.stdout.length, 3_000_000);
    assert.equal(r.stderr, 'end\n');
  });

  test('a background grandchild holding the pipes does not hold the end', async () => {
    const info = await svc.start('me', 's', args({ shell: 'sleep 1000 & echo $!' }), null);
    const r = await readAll(svc, info.id);
    const [pid] = pidsIn(r.stdout);
    assert.equal(r.result.exitCode, 0);
    assert.ok(alive(pid!), 'the grandchild outlives its parent and is left alone');
    process.kill(pid!, 'SIGKILL');
  });

  test('the result is null until the end, list shows running then ended, onExit fires once', async () => {
    const own = new ExecService();
    const exits: { info: ExecInfo; owner: string; session: string; bytes: number }[] = [];
    own.onExit((info, owner, session, bytes) => exits.push({ info, owner, session, bytes }));
    try {
      const a = await own.start('alice', 's1', args({ shell: 'echo 12345; read x; exit 0', stdin: true }), null);
      const b = await own.start('bob', 's2', args({ argv: ['cat'], stdin: true }), null);
      assert.equal(own.runningCount, 2);
      assert.deepEqual(own.list('s1').map((i) => [i.id, i.result]), [[a.id, null]]);
      assert.deepEqual(own.get(b.id)?.owner, 'bob');
      assert.equal(own.get(b.id)?.session, 's2');
      assert.equal(own.get(9999), null);
      own.stdin(a.id, Buffer.alloc(0), true);
      const r = await readAll(own, a.id);
      assert.equal(r.result.exitCode, 0);
      const listed = own.list('s1');
      assert.equal(listed.length, 1);
      assert.deepEqual(listed[0]!.result, r.result);
      assert.equal(own.runningCount, 1);
      assert.equal(exits.length, 1);
      assert.equal(exits[0]!.owner, 'alice');
      assert.equal(exits[0]!.session, 's1');
      assert.equal(exits[0]!.bytes, 6);
      assert.deepEqual(exits[0]!.info.result, r.result);
      own.stdin(b.id, Buffer.from('z'), true);
      await readAll(own, b.id);
      assert.equal(exits.length, 2);
      assert.equal(exits[1]!.bytes, 1);
    } finally {
      await own.dispose();
    }
    assert.equal(exits.length, 2, 'once per command');
  });

  test('ended commands are forgotten after keepDoneMs', async () => {
    const own = new ExecService({ keepDoneMs: 50 });
    try {
      const info = await own.start('me', 's', args({ argv: ['true'] }), null);
      await readAll(own, info.id);
      assert.equal(own.list('s').length, 1);
      // No event for forgetting: poll with a bounded deadline.
      const deadline = Date.now() + 10_000;
      while (own.get(info.id) !== null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      assert.equal(own.get(info.id), null);
      assert.deepEqual(own.list('s'), []);
      await rejectsCode(own.read(info.id, 0, 0, 0, 0), 'EINVAL', /no command/);
    } finally {
      await own.dispose();
    }
  });

  test('kill SIGTERM ends the command with signal SIGTERM', async () => {
    const info = await svc.start('me', 's', args({ argv: ['sleep', '1000'] }), null);
    svc.kill(info.id, 'SIGTERM');
    const r = await readAll(svc, info.id);
    assert.equal(r.result.signal, 'SIGTERM');
    assert.equal(r.result.exitCode, null);
    assert.equal(r.result.timedOut, false);
    assert.ok(!alive(info.pid));
    svc.kill(info.id, 'SIGKILL'); // ended: left alone, no error
  });

  test('kill SIGTERM to a command that ignores it: SIGKILL after the grace, to the whole group', async () => {
    const info = await svc.start('me', 's', args({ shell: 'trap "" TERM; sleep 1000 & echo $!; wait' }), null);
    const first = await svc.read(info.id, 0, 0, 10_000, 0);
    const [pid] = pidsIn(first.stdout.toString());
    svc.kill(info.id, 'SIGTERM');
    const r = await readAll(svc, info.id);
    assert.equal(r.result.signal, 'SIGKILL');
    assert.ok(!alive(pid!), 'the grandchild is gone');
    assert.deepEqual(liveInGroup(info.pid), []);
  });

  test('kill SIGUSR1 is only delivered', async () => {
    const info = await svc.start('me', 's', args({ shell: 'trap "echo usr1" USR1; echo ready; while :; do sleep 0.05; done' }), null);
    assert.equal((await svc.read(info.id, 0, 0, 10_000, 0)).stdout.toString(), 'ready\n');
    svc.kill(info.id, 'SIGUSR1');
    // The group's sleep dies of it too, and the shell may say so on stderr: read on until the trap's line.
    let out = '';
    let se = 0;
    let r;
    do {
      r = await svc.read(info.id, 6 + out.length, se, 10_000, 0);
      out += r.stdout.toString();
      se += r.stderr.length;
    } while (!out.includes('usr1') && !r.info.result);
    assert.equal(out, 'usr1\n');
    assert.equal(r.info.result, null, 'still running: no SIGKILL followed');
    svc.kill(info.id, 'SIGKILL');
    assert.equal((await readAll(svc, info.id)).result.signal, 'SIGKILL');
  });

  test('a timeout kills the whole tree', async () => {
    const info = await svc.start('me', 's', args({ shell: 'sleep 1000 & echo $!; sleep 1000 & echo $!; wait', timeoutMs: 1000 }), null);
    const r = await readAll(svc, info.id);
    const pids = pidsIn(r.stdout);
    assert.equal(pids.length, 2);
    assert.equal(r.result.timedOut, true);
    assert.equal(r.result.signal, 'SIGTERM');
    for (const pid of pids) assert.ok(!alive(pid), `pid ${pid} is gone`);
    assert.deepEqual(liveInGroup(info.pid), []);
  });

  test('a timeout waits out a grandchild that ignores SIGTERM, then SIGKILLs it', async () => {
    const info = await svc.start('me', 's', args({ shell: '(trap "" TERM; exec sleep 1000) & echo $!; wait', timeoutMs: 500 }), null);
    const r = await readAll(svc, info.id);
    const [pid] = pidsIn(r.stdout);
    assert.equal(r.result.timedOut, true);
    assert.equal(r.result.signal, 'SIGTERM', 'the shell itself died of the SIGTERM');
    assert.ok(!alive(pid!), 'the result came only once the grandchild was gone');
    assert.deepEqual(liveInGroup(info.pid), []);
  });

  test('output beyond keepBytes is dropped from the front and marked truncated', async () => {
    const own = new ExecService({ keepBytes: 1000 });
    let ended = (): void => {};
    own.onExit(() => ended());
    try {
      // Nothing reads until the end, so dropped bytes were never read.
      const done = new Promise<void>((resolve) => (ended = resolve));
      const big = await own.start('me', 's', args({ shell: 'i=0; while [ $i -lt 500 ]; do printf "%09d\\n" $i; i=$((i+1)); done' }), null);
      await done;
      const last = await own.read(big.id, 0, 0, 0, 0);
      assert.equal(last.stdoutOffset, 4000, 'from the oldest kept byte');
      assert.equal(last.stdout.toString(), Array.from({ length: 100 }, (_, i) => `${String(i + 400).padStart(9, '0')}\n`).join(''));
      assert.ok(last.info.result, 'an answer from the oldest kept byte reaches the end');
      assert.equal(last.info.result.truncated, true);
      const part = await own.read(big.id, 4500, 0, 0, 100);
      assert.equal(part.stdoutOffset, 4500);
      assert.equal(part.stdout.toString(), Array.from({ length: 10 }, (_, i) => `${String(i + 450).padStart(9, '0')}\n`).join(''));
      const small = await own.start('me', 's', args({ shell: 'head -c 1000 /dev/zero' }), null);
      assert.equal((await readAll(own, small.id)).result.truncated, false);
    } finally {
      await own.dispose();
    }
  });

  test('bad starts are refused', async () => {
    await rejectsCode(svc.start('me', 's', args({}), null), 'EINVAL', /nothing to run/);
    await rejectsCode(svc.start('me', 's', args({ argv: ['true'], shell: 'true' }), null), 'EINVAL', /not both/);
    await rejectsCode(svc.start('me', 's', args({ argv: ['zmx-no-such-command-x1'] }), null), 'ENOENT', /command not found: zmx-no-such-command-x1/);
    await rejectsCode(svc.start('me', 's', args({ argv: [join(root, 'file.txt')] }), null), 'EACCES', /permission denied/);
    await rejectsCode(svc.start('me', 's', args({ argv: ['pwd'], cwd: join(root, 'missing') }), null), 'ENOENT', /no directory/);
    await rejectsCode(svc.start('me', 's', args({ argv: ['pwd'], cwd: join(root, 'file.txt') }), null), 'EINVAL', /not a directory/);
    await rejectsCode(svc.start('me', 's', args({ argv: ['pwd'], cwd: tmpdir() }), null), 'EOUTSIDE', /outside the root/);
    await rejectsCode(svc.start('me', 's', args({ argv: ['a\0b'] }), null), 'EINVAL', /cannot start/);
    await rejectsCode(svc.read(424242, 0, 0, 0, 0), 'EINVAL', /no command 424242/);
    throwsCode(() => svc.stdin(424242, Buffer.alloc(0), true), 'EINVAL', /no command 424242/);
    throwsCode(() => svc.kill(424242, 'SIGTERM'), 'EINVAL', /no command 424242/);
    assert.equal(svc.runningCount, 0);
    assert.deepEqual(svc.list('s').filter((i) => i.result === null), []);
  });

  test('past maxRunning, start answers ETOOBIG', async () => {
    const own = new ExecService({ maxRunning: 2 });
    try {
      const a = await own.start('me', 's', args({ argv: ['sleep', '1000'] }), null);
      const b = await own.start('me', 's', args({ argv: ['sleep', '1000'] }), null);
      await rejectsCode(own.start('me', 's', args({ argv: ['true'] }), null), 'ETOOBIG', /2 commands are running/);
      own.kill(a.id, 'SIGKILL');
      await readAll(own, a.id);
      const c = await own.start('me', 's', args({ argv: ['true'] }), null);
      await readAll(own, c.id);
      own.kill(b.id, 'SIGKILL');
      await readAll(own, b.id);
    } finally {
      await own.dispose();
    }
  });

  test('dispose kills every running command and its group', async () => {
    const own = new ExecService({ killGraceMs: 200 });
    const a = await own.start('me', 's', args({ argv: ['sleep', '1000'] }), null);
    const b = await own.start('me', 's', args({ shell: 'trap "" TERM; sleep 1000 & echo $!; wait' }), null);
    const [grandchild] = pidsIn((await own.read(b.id, 0, 0, 10_000, 0)).stdout.toString());
    assert.equal(own.runningCount, 2);
    await own.dispose();
    assert.equal(own.runningCount, 0);
    for (const pid of [a.pid, b.pid, grandchild!]) assert.ok(!alive(pid), `pid ${pid} is gone`);
    assert.deepEqual(liveInGroup(b.pid), []);
    assert.equal(own.get(a.id), null);
    await rejectsCode(own.start('me', 's', args({ argv: ['true'] }), null), 'EINVAL', /shutting down/);
  });
});
