/**
 * The router's checks before an op of the pty host is forwarded, with the
 * pty host's answers given by hand: the cap on sessions, and the paths of a
 * key with a root (real directories; the walk is root.ts's).
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LIMITS } from '../common/constants.js';
import { ALL_LIMITS } from '../common/portal.js';
import { rejects } from '../common/testing.js';
import type { SessionInfo } from '../common/protocol.js';
import { AuditLog } from '../portal/audit.js';
import { PortalRouter } from './portal-router.js';
import type { Caller } from './policy.js';

/** A request the router sent on to the pty host. */
interface Forwarded { op: string; args: Record<string, unknown>; frames: Buffer[] }

function router(t: TestContext, names: string[], session: Partial<SessionInfo> = {}): { r: PortalRouter; base: string; forwarded: Forwarded[] } {
  const base = realpathSync(mkdtempSync(join(tmpdir(), 'zmx-t-router-')));
  const audit = new AuditLog(join(base, 'audit.log'));
  const info = { name: 's', root: base, panes: [], windows: [], activeWindow: 0, ...session } as unknown as SessionInfo;
  const forwarded: Forwarded[] = [];
  const r = new PortalRouter({
    sessionRoot: async () => info.root, session: async () => info, sessionNames: async () => names,
    sendEvent: () => undefined, audit, log: () => undefined,
    host: async (op, args, frames = []) => {
      forwarded.push({ op, args: args as Record<string, unknown>, frames });
      return { result: {} as never, frames: [Buffer.from('out'), Buffer.from('err')] };
    },
  });
  t.after(async () => {
    await r.dispose();
    audit.dispose();
    rmSync(base, { recursive: true, force: true });
  });
  return { r, base, forwarded };
}

const create = (name: string, cwd = '') => ({ name, cmd: [], cwd, env: {}, cols: 80, rows: 24, ifMissing: true });
const caller = (root: string | null): Caller => ({ client: 'c', key: 'k', who: 'w', limits: { ...ALL_LIMITS, root } });

test('sessions: a new one past LIMITS.maxSessions answers ETOOBIG, for every key; an existing name is no new session', async (t) => {
  const full = Array.from({ length: LIMITS.maxSessions }, (_, i) => `s${i}`);
  const { r } = router(t, full);
  const err = await rejects(r.confine(caller(null), 'session.create', create('new'), []), 'ETOOBIG', 'one session too many');
  assert.match(err.message, /at most 256/);
  await rejects(r.confine(caller(null), 'session.attach', { name: 'new', create: create('new') }, []), 'ETOOBIG', 'attach -c');
  assert.deepEqual(await r.confine(caller(null), 'session.create', create('s3'), []), { args: create('s3') }, 'attaching to an existing one with ifMissing');
  const { r: roomy } = router(t, ['a']);
  assert.deepEqual(await roomy.confine(caller(null), 'session.create', create('b', '/'), []), { args: create('b', '/') }, 'a key without a root: unchanged');
});

test('a rooted key: cwd walked inside the root, \'\' made the root, a pane\'s default the shell\'s directory only when inside', async (t) => {
  const { r, base } = router(t, []);
  const root = join(base, 'root');
  mkdirSync(join(root, 'sub'), { recursive: true });
  const me = caller(root);
  assert.deepEqual(await r.confine(me, 'session.create', create('n', 'sub'), []), { args: create('n', join(root, 'sub')) });
  assert.deepEqual(await r.confine(me, 'session.create', create('n'), []), { args: create('n', root) });
  await rejects(r.confine(me, 'session.create', create('n', base), []), 'EOUTSIDE', 'cwd outside');
  await rejects(r.confine(me, 'session.create', create('n', 'missing'), []), 'ENOENT', 'cwd missing');
  // The session lives outside the root (base) and its shell reports /etc: a new pane starts in the key's root.
  const split = { name: 's', dir: 'h', cmd: [], cwd: '', env: {}, window: null, pane: null };
  assert.deepEqual(await r.confine(me, 'pane.split', split, []), { args: { ...split, cwd: root } });
  await rejects(r.confine(me, 'workspace.rollback', { name: 's', label: '' }, []), 'EOUTSIDE', 'rollback of a session outside the root');
  await rejects(r.confine(me, 'workspace.create', { ...create('n'), worktree: { repo: 'sub', branch: 'b' }, portal: null }, []), 'EOUTSIDE', 'a repository without its .git inside');
});

test('commands go to the pty host: exec.start with the key, its name and the confined root and cwd; reads, stdin, kill and list with the key and whether it is admin', async (t) => {
  const { r, base, forwarded } = router(t, ['s']);
  const root = join(base, 'root');
  mkdirSync(join(root, 'sub'), { recursive: true });
  const me = caller(root);
  const start = { name: 's', argv: ['make'], shell: '', cwd: 'sub', env: { A: 'b' }, timeoutMs: 5, stdin: true };
  await r.handle(me, 'exec.start', start, [Buffer.from('input')]);
  assert.deepEqual(forwarded.shift(), {
    op: 'host.exec.start',
    args: { name: 's', owner: 'k', who: 'w', argv: ['make'], shell: '', root, cwd: join(root, 'sub'), env: { A: 'b' }, timeoutMs: 5, stdin: true },
    frames: [Buffer.from('input')],
  });
  // A directory outside the key's root is refused here: nothing reaches the pty host.
  await rejects(r.handle(me, 'exec.start', { ...start, cwd: '..' }, []), 'EOUTSIDE', 'cwd above the root');
  await rejects(r.handle(me, 'exec.start', { ...start, cwd: base }, []), 'EOUTSIDE', 'cwd outside the root');
  assert.equal(forwarded.length, 0, 'nothing forwarded');
  const read = await r.handle(me, 'exec.read', { exec: 3, stdout: 1, stderr: 2, waitMs: 0, max: 0 }, []);
  assert.deepEqual(read.frames.map(String), ['out', 'err'], 'the output frames come back');
  await r.handle(me, 'exec.stdin', { exec: 3, eof: true }, [Buffer.from('more')]);
  await r.handle(me, 'exec.kill', { exec: 3, signal: 'SIGINT' }, []);
  const reader: Caller = { ...me, limits: { ...me.limits, allow: ['exec'] } };
  await r.handle(reader, 'exec.list', { name: 's' }, []);
  assert.deepEqual(forwarded.map((f) => [f.op, f.args, f.frames.map(String)]), [
    ['host.exec.read', { exec: 3, stdout: 1, stderr: 2, waitMs: 0, max: 0, owner: 'k', admin: true }, []],
    ['host.exec.stdin', { exec: 3, eof: true, owner: 'k', admin: true }, ['more']],
    ['host.exec.kill', { exec: 3, signal: 'SIGINT', owner: 'k', admin: true }, []],
    ['host.exec.list', { name: 's', owner: 'k', admin: false }, []],
  ]);
});
