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

function router(t: TestContext, names: string[], session: Partial<SessionInfo> = {}): { r: PortalRouter; base: string } {
  const base = realpathSync(mkdtempSync(join(tmpdir(), 'zmx-t-router-')));
  const audit = new AuditLog(join(base, 'audit.log'));
  const info = { name: 's', root: base, panes: [], windows: [], activeWindow: 0, ...session } as unknown as SessionInfo;
  const r = new PortalRouter({
    sessionRoot: async () => info.root, session: async () => info, sessionNames: async () => names,
    sendEvent: () => undefined, audit, log: () => undefined,
  });
  t.after(async () => {
    await r.dispose();
    audit.dispose();
    rmSync(base, { recursive: true, force: true });
  });
  return { r, base };
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
