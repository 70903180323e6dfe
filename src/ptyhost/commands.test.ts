/**
 * The pty host's commands (host.exec.*), with real child processes and the
 * test playing the front: each end is an Event exec.end until the front
 * acknowledges it, sent again to a new front; a command is its key's.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rejects } from '../common/testing.js';
import { MsgType, type EventMsg, type Header } from '../common/protocol.js';
import type { ExecInfo } from '../common/portal.js';
import { HostCommands, type ExecEnd } from './commands.js';

function rig(t: TestContext): { cmds: HostCommands; sent: Header[]; changes: () => number; root: string; ended: () => Promise<ExecEnd> } {
  const root = realpathSync(mkdtempSync(join(tmpdir(), 'zmx-t-cmds-')));
  const sent: Header[] = [];
  let changes = 0;
  let wake: (() => void) | null = null;
  const cmds = new HostCommands({ send: (h) => { sent.push(h); wake?.(); }, onChange: () => { changes++; }, exec: { killGraceMs: 200 } });
  t.after(async () => {
    await cmds.dispose();
    rmSync(root, { recursive: true, force: true });
  });
  const ends = () => sent.filter((h): h is EventMsg => h.t === MsgType.Event && h.name === 'exec.end');
  let seen = 0;
  /** The next exec.end sent. */
  const ended = async (): Promise<ExecEnd> => {
    while (ends().length <= seen) await new Promise<void>((r) => { wake = r; });
    wake = null;
    return ends()[seen++]!.data as unknown as ExecEnd;
  };
  return { cmds, sent, changes: () => changes, root, ended };
}

function start(root: string, over: { owner?: string; shell?: string; argv?: string[] } = {}) {
  return {
    name: 's', owner: over.owner ?? 'SHA256:me', who: 'laptop', argv: over.argv ?? [], shell: over.shell ?? '', root, cwd: root, env: {}, timeoutMs: 0, stdin: false,
  };
}

test('a command runs and its end is sent as exec.end until acknowledged; a new front gets the unacknowledged ones again', async (t) => {
  const { cmds, root, ended, changes } = rig(t);
  const before = changes();
  const r = await cmds.dispatch('host.exec.start', start(root, { shell: 'echo one; echo oops >&2; exit 7' }), []);
  const exec = r.result['exec'] as ExecInfo;
  assert.ok(changes() > before, 'the pty host hears that a command holds it');
  assert.equal(cmds.holding, 1);
  const end = await ended();
  assert.equal(end.exec.id, exec.id);
  assert.deepEqual(end.exec.result && { exitCode: end.exec.result.exitCode, signal: end.exec.result.signal }, { exitCode: 7, signal: null });
  assert.deepEqual([end.owner, end.who, end.session, end.bytes], ['SHA256:me', 'laptop', 's', 'one\noops\n'.length]);
  assert.equal(cmds.holding, 1, 'an end not acknowledged holds the pty host');
  // Its output and status stay readable by id.
  const read = await cmds.dispatch('host.exec.read', { exec: exec.id, owner: 'SHA256:me', admin: false, stdout: 0, stderr: 0, waitMs: 0, max: 0 }, []);
  assert.deepEqual(read.frames!.map(String), ['one\n', 'oops\n']);
  assert.equal((read.result['exec'] as ExecInfo).result?.exitCode, 7);

  cmds.frontChanged();
  assert.deepEqual(await ended(), { ...end, again: true }, 'a new front gets the end again, marked so');
  await cmds.dispatch('host.exec.ack', { exec: exec.id }, []);
  assert.equal(cmds.holding, 0);
  const n = changes();
  cmds.frontChanged();
  await cmds.dispatch('host.exec.ack', { exec: exec.id }, []); // a second ack is harmless
  assert.equal(changes(), n, 'nothing settled twice');
});

test('a command is its key\'s: another key cannot read, write to, kill or list it; an admin key can', async (t) => {
  const { cmds, root, ended } = rig(t);
  const exec = (await cmds.dispatch('host.exec.start', { ...start(root, { argv: ['cat'] }), stdin: true }, [Buffer.from('in ')])).result['exec'] as ExecInfo;
  const other = { exec: exec.id, owner: 'SHA256:other', admin: false };
  await rejects(cmds.dispatch('host.exec.read', { ...other, stdout: 0, stderr: 0, waitMs: 0, max: 0 }, []), 'EINVAL', 'read');
  await rejects(cmds.dispatch('host.exec.stdin', { ...other, eof: true }, []), 'EINVAL', 'stdin');
  await rejects(cmds.dispatch('host.exec.kill', { ...other, signal: 'SIGKILL' }, []), 'EINVAL', 'kill');
  assert.deepEqual((await cmds.dispatch('host.exec.list', { name: 's', owner: 'SHA256:other', admin: false }, [])).result['execs'], []);
  const mine = (await cmds.dispatch('host.exec.list', { name: 's', owner: 'SHA256:me', admin: false }, [])).result['execs'] as ExecInfo[];
  assert.deepEqual(mine.map((e) => e.id), [exec.id]);
  const all = (await cmds.dispatch('host.exec.list', { name: 's', owner: 'SHA256:other', admin: true }, [])).result['execs'] as ExecInfo[];
  assert.deepEqual(all.map((e) => e.id), [exec.id]);
  await cmds.dispatch('host.exec.stdin', { exec: exec.id, owner: 'SHA256:admin', admin: true, eof: true }, [Buffer.from('more')]);
  const end = await ended();
  assert.equal(end.exec.result?.exitCode, 0);
  const r = await cmds.dispatch('host.exec.read', { exec: exec.id, owner: 'SHA256:me', admin: false, stdout: 0, stderr: 0, waitMs: 0, max: 0 }, []);
  assert.equal(String(r.frames![0]), 'in more');
  await rejects(cmds.dispatch('host.exec.read', { exec: 99, owner: 'SHA256:me', admin: true, stdout: 0, stderr: 0, waitMs: 0, max: 0 }, []), 'EINVAL', 'no such command');
});

test('dispose ends running commands (the pty host is stopping)', async (t) => {
  const { cmds, root, ended } = rig(t);
  await cmds.dispatch('host.exec.start', start(root, { argv: ['sleep', '300'] }), []);
  const disposed = cmds.dispose();
  const end = await ended();
  assert.equal(end.exec.result?.signal, 'SIGTERM');
  await disposed;
  assert.equal(cmds.holding, 0);
});
