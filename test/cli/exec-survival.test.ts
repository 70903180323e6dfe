/**
 * Commands outlive the front (issue 16): `zmx exec` commands run in the pty
 * host, so a front killed with SIGKILL or stopped with `zmx server stop`
 * ends none of them. The command here prints "one", then waits on a FIFO
 * the test writes to only once the front is gone (no sleeps), prints "two"
 * and exits 7: its whole output and status must be readable by id from the
 * next front, its follower must carry on, and the audit log must hold its
 * end exactly once.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { alive, until, type Sandbox } from '../helpers/harness.js';
import { sandbox, assertOk } from '../helpers/assert.js';
import type { AuditEntry } from '../../src/common/portal.js';

const SCRIPT = 'echo one; read x < fifo; echo two; exit 7';

function auditEnds(sb: Sandbox): AuditEntry[] {
  const file = join(sb.dir, 'state', 'audit.log');
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as AuditEntry)
    .filter((e) => e.op === 'exec' && e.argv?.join(' ') === `/bin/sh -c ${SCRIPT}`);
}

async function frontPid(sb: Sandbox): Promise<number> {
  const r = await sb.zmx(['server', 'status', '--json']);
  assertOk(r, 'server status');
  return (JSON.parse(r.stdout) as { pid: number }).pid;
}

/** A session working in its own directory, with the FIFO the command waits on. */
async function setUp(sb: Sandbox): Promise<string> {
  const work = join(sb.base, 'work');
  mkdirSync(work);
  execFileSync('mkfifo', [join(work, 'fifo')]);
  assertOk(await sb.zmx(['new', '-d', '-s', 'w'], { cwd: work }), 'new');
  return work;
}

/** Starts the command under a `zmx exec` that follows it; resolves once it printed "one", with its id and pid. */
async function startCommand(sb: Sandbox): Promise<{ follower: ChildProcess; out: () => string; id: number; pid: number; status: Promise<number> }> {
  const follower = sb.start(['exec', '-t', 'w', '-n', '--', SCRIPT]);
  let out = '';
  follower.stdout!.on('data', (d) => { out += d; });
  const status = new Promise<number>((resolve) => follower.on('close', (code) => resolve(code ?? -1)));
  await until(() => out.includes('one\n'), 'the command to print "one"');
  const line = (await sb.zmx(['exec', '-t', 'w', '--list'])).stdout.split('\n').find((l) => l.includes('running'));
  assert.ok(line, 'exec --list shows the command running');
  const [id, pid] = [/^(\d+)\t/.exec(line)![1], /pid=(\d+)/.exec(line)![1]].map(Number) as [number, number];
  return { follower, out: () => out, id, pid, status };
}

async function attachJson(sb: Sandbox, id: number): Promise<{ exitCode: number; stdout: string }> {
  const r = await sb.zmx(['exec', '-t', 'w', '--attach', String(id), '--json']);
  assert.equal(r.status, 7, `exec --attach exits with the command's status: ${r.stderr}`);
  return JSON.parse(r.stdout) as { exitCode: number; stdout: string };
}

describe('commands survive the front', { concurrency: 2 }, () => {
  test('SIGKILL of the front: the command runs on, its follower carries on, its output and status are read by id from the new front, its end audited once', async (t) => {
    const sb = sandbox(t);
    const work = await setUp(sb);
    const { out, id, pid, status } = await startCommand(sb);
    const front = await frontPid(sb);
    process.kill(front, 'SIGKILL');
    await until(() => !alive(front), 'the front to die');
    assert.ok(alive(pid), 'the command outlives the front');

    // The next call brings a new front, which knows the command.
    const list = await sb.zmx(['exec', '-t', 'w', '--list']);
    assertOk(list, 'exec --list after the front died');
    assert.match(list.stdout, new RegExp(`^${id}\\tpid=${pid}\\trunning\\t`, 'm'));
    const newFront = await frontPid(sb);
    assert.notEqual(newFront, front, 'a new front serves');

    await writeFile(join(work, 'fifo'), 'go\n');
    const j = await attachJson(sb, id);
    assert.equal(j.stdout, 'one\ntwo\n', 'the whole output, from before and after the restart');
    assert.equal(j.exitCode, 7);
    assert.equal(await status, 7, 'the follower started before the restart ends with the command\'s status');
    assert.equal(out(), 'one\ntwo\n', 'and printed all of its output once');
    await until(() => auditEnds(sb).length > 0, 'the audit line of its end');
    const ends = auditEnds(sb);
    assert.equal(ends.length, 1, `one audit line for the end: ${JSON.stringify(ends)}`);
    assert.deepEqual([ends[0]!.exitCode, ends[0]!.session, ends[0]!.bytes], [7, 'w', 8]);
  });

  test('zmx server stop while it runs, and an end that comes with no front: the next front reads it by id and audits it once, even after another restart', async (t) => {
    const sb = sandbox(t);
    const work = await setUp(sb);
    const { follower, id, pid, status } = await startCommand(sb);
    // Its follower goes (commands belong to their key, not a connection), so nothing brings a front back meanwhile.
    follower.kill('SIGKILL');
    await status;
    const front = await frontPid(sb);
    assertOk(await sb.zmx(['server', 'stop']), 'server stop');
    await until(() => !alive(front), 'the front to exit');
    assert.ok(alive(pid), 'the command outlives server stop');

    // It ends while no front runs: the pty host keeps its end for the next one.
    await writeFile(join(work, 'fifo'), 'go\n');
    await until(() => !alive(pid), 'the command to end');
    assert.equal(sb.frontPid(), null, 'no front ran meanwhile');
    assert.equal(auditEnds(sb).length, 0, 'no front, no audit line yet');

    const j = await attachJson(sb, id);
    assert.equal(j.stdout, 'one\ntwo\n');
    assert.equal(j.exitCode, 7);
    assert.equal(auditEnds(sb).length, 1, 'the new front audited the end it was sent');

    // Acknowledged: a third front is not sent it again.
    const second = await frontPid(sb);
    process.kill(second, 'SIGKILL');
    await until(() => !alive(second), 'the second front to die');
    assertOk(await sb.zmx(['exec', '-t', 'w', '--list']), 'exec --list from a third front');
    assert.equal(auditEnds(sb).length, 1, 'still one audit line for the end');
    assert.equal((await attachJson(sb, id)).stdout, 'one\ntwo\n', 'still readable by id');
  });
});
