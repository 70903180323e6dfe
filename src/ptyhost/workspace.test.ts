/**
 * Worktrees and snapshots with real git in temporary directories. The
 * user's git configuration is kept out (an empty global config, no system
 * config), so these pass on a fresh machine with no git identity.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, unlinkSync, utimesSync, writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  addWorktree, diff, dropSnapshots, encodeName, listSnapshots, relabelNoIndexDiff, removeWorktree, rollback, snapshot, snapshotKind,
  timeLabel, undoWorktree, validateLabel, worktreeChanges, SNAPSHOT_REF_PREFIX, WORKTREES_DIR, type WorkspaceRef,
} from './workspace.js';
import { ZmxError } from '../common/errors.js';
import { git, listing, repoState } from '../../test/helpers/tree.js';

let base: string;

before(() => {
  base = realpathSync(mkdtempSync(join(tmpdir(), 'zmx-ws-')));
  writeFileSync(join(base, 'gitconfig'), '');
  process.env['GIT_CONFIG_GLOBAL'] = join(base, 'gitconfig');
  process.env['GIT_CONFIG_NOSYSTEM'] = '1';
  for (const k of ['GIT_AUTHOR_NAME', 'GIT_AUTHOR_EMAIL', 'GIT_COMMITTER_NAME', 'GIT_COMMITTER_EMAIL', 'EMAIL']) delete process.env[k];
});
after(() => rmSync(base, { recursive: true, force: true }));

let n = 0;
function fresh(what: string): string {
  const dir = join(base, `${what}-${n++}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** A repository with a commit on main: tracked files, an ignore rule. */
function repo(): string {
  const dir = fresh('repo');
  git(dir, 'init', '-q', '-b', 'main');
  writeFileSync(join(dir, 'README'), 'hello\n');
  writeFileSync(join(dir, 'keep.txt'), 'keep\n');
  mkdirSync(join(dir, 'src'));
  writeFileSync(join(dir, 'src', 'a.ts'), 'export const a = 1;\n');
  writeFileSync(join(dir, 'run.sh'), '#!/bin/sh\necho hi\n', { mode: 0o755 });
  writeFileSync(join(dir, '.gitignore'), '*.log\nbuild/\n');
  git(dir, 'add', '-A');
  git(dir, 'commit', '-q', '-m', 'init');
  return dir;
}

async function rejects(p: Promise<unknown>, code: string, pattern: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof ZmxError, `a ZmxError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    assert.match(err.message, pattern);
    assert.doesNotMatch(err.message, /\n/, 'one line');
    return true;
  });
}

/** Changes of every kind: modified, added (also in a new directory), deleted, chmod, a symlink, an ignored file. */
function mess(dir: string): void {
  writeFileSync(join(dir, 'README'), 'changed\n');
  writeFileSync(join(dir, 'new.txt'), 'added since\n');
  mkdirSync(join(dir, 'fresh', 'deep'), { recursive: true });
  writeFileSync(join(dir, 'fresh', 'deep', 'x'), 'x\n');
  unlinkSync(join(dir, 'keep.txt'));
  chmodSync(join(dir, 'run.sh'), 0o644);
  chmodSync(join(dir, 'src', 'a.ts'), 0o755);
  symlinkSync('README', join(dir, 'link'));
  writeFileSync(join(dir, 'debug.log'), 'ignored, made after\n');
}

// ---------------------------------------------------------------------------
// Names

test('encodeName keeps letters, digits, _ and - and escapes the rest', () => {
  assert.equal(encodeName('agent-1_x'), 'agent-1_x');
  assert.equal(encodeName('ci.lint'), 'ci%2Elint');
  assert.equal(encodeName('a:b~c^'), 'a%3Ab%7Ec%5E');
  assert.equal(encodeName('é'), '%C3%A9');
  assert.notEqual(encodeName('a.b'), encodeName('a_b'));
});

test('validateLabel refuses what could climb out or make a bad ref', () => {
  for (const ok of ['before', 'v1.2', '20250102-150405', 'a_b-c']) assert.equal(validateLabel(ok), ok);
  for (const bad of ['', 'a/..', '..', '../x', 'a/b', '.hidden', '-x', 'a..b', 'x.lock', 'a b', 'a\nb', 'x'.repeat(101)]) {
    assert.throws(() => validateLabel(bad), (e: unknown) => e instanceof ZmxError && e.code === 'EINVAL' && !e.message.includes('\n'), bad);
  }
});

test('timeLabel is sortable local time', () => {
  assert.equal(timeLabel(new Date(2025, 0, 2, 15, 4, 5)), '20250102-150405');
});

// ---------------------------------------------------------------------------
// Worktrees

test('addWorktree makes a new branch from HEAD in <git dir>/zmx-worktrees/<name>', async () => {
  const r = repo();
  const before = repoState(r);
  const wt = await addWorktree(r, 'feature/x', 'agent.1');
  assert.equal(wt.path, realpathSync(join(r, '.git', WORKTREES_DIR, encodeName('agent.1'))));
  assert.equal(wt.repo, r);
  assert.equal(wt.branch, 'feature/x');
  assert.equal(wt.createdBranch, true);
  assert.equal(git(wt.path, 'symbolic-ref', 'HEAD'), 'refs/heads/feature/x');
  assert.equal(git(wt.path, 'rev-parse', 'HEAD'), before['head']);
  assert.equal(readFileSync(join(wt.path, 'README'), 'utf8'), 'hello\n');
  // The main checkout does not see it: status is as it was.
  assert.equal(git(r, 'status', '--porcelain'), before['status']);
  assert.equal(git(r, 'symbolic-ref', 'HEAD'), 'refs/heads/main');
});

test('addWorktree checks out an existing branch; two worktrees never share a file', async () => {
  const r = repo();
  git(r, 'branch', 'b1');
  const one = await addWorktree(r, 'b1', 'one');
  const two = await addWorktree(r, 'b2', 'two');
  assert.equal(one.createdBranch, false);
  assert.equal(two.createdBranch, true);
  writeFileSync(join(one.path, 'same.txt'), 'one\n');
  writeFileSync(join(two.path, 'same.txt'), 'two\n');
  assert.equal(readFileSync(join(one.path, 'same.txt'), 'utf8'), 'one\n');
  assert.equal(readFileSync(join(two.path, 'same.txt'), 'utf8'), 'two\n');
  assert.equal(existsSync(join(r, 'same.txt')), false);
});

test('addWorktree from a subdirectory or from a worktree finds the repository', async () => {
  const r = repo();
  const wt = await addWorktree(join(r, 'src'), 'sub', 'sub');
  assert.equal(wt.repo, r);
  const nested = await addWorktree(wt.path, 'nested', 'nested');
  assert.equal(nested.repo, r);
  assert.equal(nested.path, realpathSync(join(r, '.git', WORKTREES_DIR, 'nested')));
});

test('addWorktree errors: not a repository, no directory, bad branch, branch checked out elsewhere, no commits', async () => {
  const r = repo();
  const plain = fresh('plain');
  await rejects(addWorktree(plain, 'x', 's'), 'EINVAL', new RegExp(`${plain} is not a git repository`));
  await rejects(addWorktree(join(plain, 'nope'), 'x', 's'), 'ENOENT', /does not exist/);
  await rejects(addWorktree(r, 'bad..name', 's'), 'EINVAL', /not a valid branch name/);
  await rejects(addWorktree(r, '-x', 's'), 'EINVAL', /not a valid branch name/);
  await rejects(addWorktree(r, 'main', 's'), 'EEXIST', new RegExp(`branch "main" is checked out at ${r}`));
  await addWorktree(r, 'taken', 'first');
  await rejects(addWorktree(r, 'taken', 'second'), 'EEXIST', /branch "taken" is checked out at .*first/);
  await rejects(addWorktree(r, 'other', 'first'), 'EEXIST', /is a worktree of branch "taken"/);
  const empty = fresh('empty');
  git(empty, 'init', '-q');
  await rejects(addWorktree(empty, 'x', 's'), 'EINVAL', /has no commits yet/);
});

test('a worktree left by an ended session is taken up again by the same name and branch', async () => {
  const r = repo();
  const first = await addWorktree(r, 'again', 'agent');
  writeFileSync(join(first.path, 'work.txt'), 'in progress\n');
  const second = await addWorktree(r, 'again', 'agent');
  assert.equal(second.reused, true);
  assert.equal(second.path, first.path);
  assert.equal(readFileSync(join(second.path, 'work.txt'), 'utf8'), 'in progress\n');
  // undo never removes a worktree it took up.
  await undoWorktree(second);
  assert.ok(existsSync(second.path));
});

test('removeWorktree refuses uncommitted changes unless forced, and keeps the branch', async () => {
  const r = repo();
  const wt = await addWorktree(r, 'gone', 'gone');
  assert.deepEqual(await worktreeChanges(wt.path), []);
  writeFileSync(join(wt.path, 'README'), 'dirty\n');
  writeFileSync(join(wt.path, 'untracked'), 'u\n');
  assert.deepEqual((await worktreeChanges(wt.path)).sort(), [' M README', '?? untracked']);
  await rejects(removeWorktree(wt, false), 'EINVAL', /could not remove worktree/);
  assert.ok(existsSync(wt.path));
  await removeWorktree(wt, true);
  assert.equal(existsSync(wt.path), false);
  assert.match(git(r, 'branch', '--list', 'gone'), /gone/);
  assert.doesNotMatch(git(r, 'worktree', 'list'), /zmx-worktrees/);
  // A worktree whose directory is gone already is pruned without a fuss.
  const lost = await addWorktree(r, 'lost', 'lost');
  rmSync(lost.path, { recursive: true, force: true });
  await removeWorktree(lost, false);
  assert.doesNotMatch(git(r, 'worktree', 'list'), /zmx-worktrees/);
});

test('undoWorktree removes a worktree it made and the branch it made', async () => {
  const r = repo();
  const wt = await addWorktree(r, 'oops', 'oops');
  await undoWorktree(wt);
  assert.equal(existsSync(wt.path), false);
  assert.equal(git(r, 'branch', '--list', 'oops'), '');
});

// ---------------------------------------------------------------------------
// Git snapshots

function ws(root: string, session = 'dev'): WorkspaceRef {
  return { session, root, stateDir: join(base, `state-${n++}`) };
}

test('a git root snapshots to a private ref; rollback restores every kind of change byte for byte and leaves HEAD, branch and index alone', async () => {
  const r = repo();
  // The user has work in progress: a staged change, an unstaged one, an untracked file, an ignored one.
  writeFileSync(join(r, 'src', 'a.ts'), 'export const a = 2;\n');
  git(r, 'add', 'src/a.ts');
  writeFileSync(join(r, 'README'), 'hello, unstaged\n');
  writeFileSync(join(r, 'notes.txt'), 'untracked\n');
  writeFileSync(join(r, 'old.log'), 'ignored before\n');
  const w = ws(r);
  assert.equal(await snapshotKind(r), 'git');
  const state = repoState(r);
  const tree = listing(r);
  const snap = await snapshot(w, 'before');
  assert.deepEqual(snap.kind, 'git');
  assert.equal(snap.label, 'before');
  assert.deepEqual(repoState(r), state, 'snapshot touches nothing of the user\'s');
  assert.match(git(r, 'for-each-ref', '--format=%(refname)', SNAPSHOT_REF_PREFIX), /^refs\/zmx\/snapshots\/dev\/before$/);
  // The snapshot holds the untracked file, not the ignored one.
  const files = git(r, 'ls-tree', '-r', '--name-only', `${SNAPSHOT_REF_PREFIX}/dev/before`).split('\n');
  assert.ok(files.includes('notes.txt'));
  assert.ok(!files.includes('old.log'));

  mess(r);
  writeFileSync(join(r, 'old.log'), 'ignored, changed since\n');
  assert.notDeepEqual(listing(r), tree);
  const back = await rollback(w, 'before');
  assert.deepEqual(back, { kind: 'git', label: 'before' });
  const restored = listing(r).filter((l) => !/^(old|debug)\.log /.test(l));
  assert.deepEqual(restored, tree.filter((l) => !/^old\.log /.test(l)));
  // Ignored files are left alone, as they are now.
  assert.equal(readFileSync(join(r, 'old.log'), 'utf8'), 'ignored, changed since\n');
  assert.equal(readFileSync(join(r, 'debug.log'), 'utf8'), 'ignored, made after\n');
  assert.deepEqual(repoState(r), state, 'HEAD, branch, index, staged diff and status as before');
});

test('git snapshots: latest by default, timestamped labels, list, unknown and duplicate labels, diff', async () => {
  const r = repo();
  const w = ws(r, 'ci.lint');
  await rejects(rollback(w, ''), 'ENOENT', /has no snapshots; make one with zmx snapshot -t ci\.lint/);
  const t = new Date(2025, 0, 2, 15, 4, 5);
  const a = await snapshot(w, '', t);
  assert.equal(a.label, '20250102-150405');
  writeFileSync(join(r, 'README'), 'second\n');
  const b = await snapshot(w, '', new Date(t.getTime() + 10));
  assert.equal(b.label, '20250102-150405-2', 'a second snapshot in the same second gets a suffix');
  await rejects(snapshot(w, 'a/..'), 'EINVAL', /snapshot label "a\/\.\."/);
  await snapshot(w, 'named', new Date(t.getTime() + 20));
  await rejects(snapshot(w, 'named'), 'EEXIST', /has a snapshot "named" already/);
  const list = await listSnapshots(w);
  assert.equal(list.kind, 'git');
  assert.deepEqual(list.snapshots.map((s) => s.label), ['20250102-150405', '20250102-150405-2', 'named']);
  await rejects(rollback(w, 'nope'), 'ENOENT', /has no snapshot "nope"; zmx snapshot -t ci\.lint --list shows them/);
  await rejects(diff(w, '../x'), 'EINVAL', /snapshot label/);

  writeFileSync(join(r, 'README'), 'third\n');
  writeFileSync(join(r, 'added.txt'), 'new\n');
  const d = await diff(w, '');
  assert.equal(d.label, 'named');
  const text = d.diff.toString('utf8');
  assert.match(text, /^diff --git a\/README b\/README$/m);
  assert.match(text, /^-second$/m);
  assert.match(text, /^\+third$/m);
  assert.match(text, /^\+\+\+ b\/added\.txt$/m);
  const first = (await diff(w, '20250102-150405')).diff.toString('utf8');
  assert.match(first, /^-hello$/m);
  // Rollback without a label goes to the latest.
  assert.equal((await rollback(w, '')).label, 'named');
  assert.equal(readFileSync(join(r, 'README'), 'utf8'), 'second\n');
  assert.equal(existsSync(join(r, 'added.txt')), false);
  assert.equal((await diff(w, '')).diff.length, 0, 'no difference after a rollback');
  // Sessions have their own snapshots.
  assert.deepEqual((await listSnapshots({ ...w, session: 'other' })).snapshots, []);
  await dropSnapshots(w.session, w.stateDir, r);
  assert.deepEqual((await listSnapshots(w)).snapshots, []);
});

test('concurrent snapshots of one root get distinct labels', async () => {
  const r = repo();
  const w = ws(r);
  const t = new Date(2025, 5, 1, 12, 0, 0);
  const labels = await Promise.all([snapshot(w, '', t), snapshot(w, '', t), snapshot(w, '', t)]);
  assert.deepEqual(labels.map((l) => l.label).sort(), ['20250601-120000', '20250601-120000-2', '20250601-120000-3']);
});

test('a worktree is a git root; a repository with no commit yet snapshots too', async () => {
  const r = repo();
  const wt = await addWorktree(r, 'snap', 'snap');
  const w = ws(wt.path, 'snap');
  assert.equal(await snapshotKind(wt.path), 'git');
  const state = repoState(wt.path);
  const tree = listing(wt.path);
  await snapshot(w, 's1');
  mess(wt.path);
  await rollback(w, 's1');
  assert.deepEqual(listing(wt.path).filter((l) => !l.startsWith('debug.log ')), tree);
  assert.deepEqual(repoState(wt.path), state);

  const empty = fresh('unborn');
  git(empty, 'init', '-q');
  writeFileSync(join(empty, 'f'), 'first\n');
  const we = ws(empty);
  await snapshot(we, 'zero');
  writeFileSync(join(empty, 'f'), 'second\n');
  await rollback(we, 'zero');
  assert.equal(readFileSync(join(empty, 'f'), 'utf8'), 'first\n');
});

// ---------------------------------------------------------------------------
// Copy snapshots

function plainTree(): string {
  const dir = fresh('plain');
  writeFileSync(join(dir, 'README'), 'hello\n');
  writeFileSync(join(dir, 'keep.txt'), 'keep\n');
  mkdirSync(join(dir, 'src'));
  writeFileSync(join(dir, 'src', 'a.ts'), 'export const a = 1;\n');
  writeFileSync(join(dir, 'run.sh'), '#!/bin/sh\necho hi\n', { mode: 0o755 });
  writeFileSync(join(dir, 'secret'), 'mode 600\n', { mode: 0o600 });
  writeFileSync(join(dir, 'bin.dat'), Buffer.from([0, 1, 2, 255, 254, 0]));
  symlinkSync('src/a.ts', join(dir, 'to-a'));
  return dir;
}

test('a root outside git is copied under the state dir; rollback restores it byte for byte, modes and symlinks too', async () => {
  const dir = plainTree();
  const w = ws(dir);
  assert.equal(await snapshotKind(dir), 'copy');
  const tree = listing(dir);
  const snap = await snapshot(w, 'c1');
  assert.equal(snap.kind, 'copy');
  assert.ok(existsSync(join(w.stateDir, 'snapshots', 'dev', 'c1', 'tree', 'README')));
  mess(dir);
  chmodSync(join(dir, 'secret'), 0o644);
  writeFileSync(join(dir, 'bin.dat'), Buffer.from([9, 9]));
  unlinkSync(join(dir, 'to-a'));
  symlinkSync('README', join(dir, 'to-a'));
  rmSync(join(dir, 'src'), { recursive: true });
  writeFileSync(join(dir, 'src'), 'a file where a directory was\n');
  assert.notDeepEqual(listing(dir), tree);
  assert.deepEqual(await rollback(w, ''), { kind: 'copy', label: 'c1' });
  assert.deepEqual(listing(dir), tree);
  assert.deepEqual((await listSnapshots(w)).snapshots.map((s) => s.label), ['c1']);
});

test('copy snapshots: diff names files a/ and b/; unknown labels; another root\'s copies are not shown', async () => {
  const dir = plainTree();
  const w = ws(dir);
  await snapshot(w, 'c1');
  writeFileSync(join(dir, 'README'), 'changed\n');
  writeFileSync(join(dir, 'new.txt'), 'added\n');
  unlinkSync(join(dir, 'keep.txt'));
  const d = (await diff(w, 'c1')).diff.toString('utf8');
  assert.match(d, /^diff --git a\/README b\/README$/m);
  assert.match(d, /^--- a\/README$/m);
  assert.match(d, /^\+\+\+ b\/README$/m);
  assert.match(d, /^-hello$/m);
  assert.match(d, /^\+changed$/m);
  assert.match(d, /^\+\+\+ b\/new\.txt$/m);
  assert.match(d, /^--- a\/keep\.txt$/m);
  assert.doesNotMatch(d, new RegExp(dir.slice(1)), 'no absolute paths');
  await rejects(rollback(w, 'c2'), 'ENOENT', /has no snapshot "c2"/);
  // Same session name, another root: its copies are not this workspace's.
  assert.deepEqual((await listSnapshots({ ...w, root: plainTree() })).snapshots, []);
  await rollback(w, 'c1');
  assert.equal((await diff(w, 'c1')).diff.length, 0);
});

test('the state dir inside a copied root is neither copied nor deleted', async () => {
  const dir = plainTree();
  const w = { session: 'dev', root: dir, stateDir: join(dir, '.zmx-state') };
  await snapshot(w, 'c1');
  assert.equal(existsSync(join(w.stateDir, 'snapshots', 'dev', 'c1', 'tree', '.zmx-state')), false);
  writeFileSync(join(dir, 'README'), 'changed\n');
  await snapshot(w, 'c2');
  await rollback(w, 'c1');
  assert.equal(readFileSync(join(dir, 'README'), 'utf8'), 'hello\n');
  assert.deepEqual((await listSnapshots(w)).snapshots.map((s) => s.label), ['c1', 'c2'], 'the state dir survived the rollback');
  assert.doesNotMatch((await diff(w, 'c1')).diff.toString('utf8'), /zmx-state/);
});

test('a subdirectory of a repository is not a git root: it is copied', async () => {
  const r = repo();
  assert.equal(await snapshotKind(join(r, 'src')), 'copy');
});

test('relabelNoIndexDiff rewrites only header lines', () => {
  const text = [
    'diff --git a/s/t/f b/r/f', 'index 1..2 100644', '--- a/s/t/f', '+++ b/r/f', '@@ -1 +1 @@', '-a/s/t/ inside content', '+x',
    'diff --git a/r/new b/r/new', 'new file mode 100644', '--- /dev/null', '+++ b/r/new', '@@ -0,0 +1 @@', '+n', '',
  ].join('\n');
  assert.equal(relabelNoIndexDiff(text, '/s/t', '/r', null), [
    'diff --git a/f b/f', 'index 1..2 100644', '--- a/f', '+++ b/f', '@@ -1 +1 @@', '-a/s/t/ inside content', '+x',
    'diff --git a/new b/new', 'new file mode 100644', '--- /dev/null', '+++ b/new', '@@ -0,0 +1 @@', '+n', '',
  ].join('\n'));
});

test('a file changed in the same second as it was staged is snapshotted as it is now (racy git)', async () => {
  const r = repo();
  const file = join(r, 'README');
  // Staged at second S, then changed within S (same size): git's cached stat
  // matches, and only the index being no older than S makes git look again.
  const s = new Date(Math.floor(Date.now() / 1000) * 1000 - 10_000);
  writeFileSync(file, 'staged\n');
  utimesSync(file, s, s);
  git(r, 'add', 'README');
  writeFileSync(file, 'latest\n');
  utimesSync(file, s, s);
  utimesSync(join(r, '.git', 'index'), s, s);
  await snapshot(ws(r, 'racy'), 'now');
  assert.equal(git(r, 'show', `${SNAPSHOT_REF_PREFIX}/racy/now:README`), 'latest');
});
