/**
 * Workspaces for parallel agents, black-box: worktree sessions, kill
 * --clean, snapshots (git and copy), portal panes, and the same over -H.
 * Real bin/zmx, real servers, real git; files are changed through the
 * sessions' shells (zmx run) and checked on disk.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, readFileSync, realpathSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, parseList, until, type Sandbox } from '../helpers/harness.js';
import { zmxBatch } from '../helpers/cli-batch.js';
import { sandbox, assertOk, assertOneLineError, runLines } from '../helpers/assert.js';
import { listening, paired } from '../helpers/remote.js';
import { git, listing, repoState } from '../helpers/tree.js';

/** No system git config: the server's git sees only what the test makes (and HOME is the sandbox's). */
const GIT_ENV = { GIT_CONFIG_NOSYSTEM: '1' };

/** A repository with one commit on main. */
function makeRepo(dir: string): string {
  mkdirSync(join(dir, 'src'), { recursive: true });
  git(dir, 'init', '-q', '-b', 'main');
  writeFileSync(join(dir, 'README'), 'hello\n');
  writeFileSync(join(dir, 'keep.txt'), 'keep\n');
  writeFileSync(join(dir, 'src', 'a.ts'), 'export const a = 1;\n');
  writeFileSync(join(dir, 'run.sh'), '#!/bin/sh\necho hi\n', { mode: 0o755 });
  writeFileSync(join(dir, '.gitignore'), '*.log\n');
  git(dir, 'add', '-A');
  git(dir, 'commit', '-q', '-m', 'init');
  return realpathSync(dir);
}

/** Changes of every kind, typed into the session's shell. */
const MESS = 'printf changed > README; echo new > new.txt; rm keep.txt; chmod +x src/a.ts; chmod -x run.sh; mkdir -p fresh/deep && echo x > fresh/deep/x; ln -s README link';

async function run(sb: Sandbox, name: string, script: string, host: string[] = []): Promise<string[]> {
  const r = await sb.zmx(['run', ...host, name, script]);
  assertOk(r, `run ${name} ${script}`);
  return runLines(r.stdout);
}

async function fields(sb: Sandbox, name: string, host: string[] = []): Promise<Record<string, string>> {
  const r = await sb.zmx(['ls', ...host]);
  assertOk(r, 'ls');
  const line = parseList(r.stdout).find((f) => f['name'] === name);
  assert.ok(line, `${name} in ${r.stdout}`);
  return line;
}

/** A command line, what it checks, and the one-line error it must give (null: it must succeed). */
type Refusal = [argv: string[], what: string, error: RegExp | null];

/** Runs `cases` in order as separate calls in one process (cli-batch) and checks each. */
async function expectAll(sb: Sandbox, cases: Refusal[]): Promise<void> {
  const results = await zmxBatch(cases.map(([argv]) => argv), sb.env);
  assert.equal(results.length, cases.length);
  for (const [i, [, what, error]] of cases.entries()) {
    if (error) assertOneLineError(results[i]!, what, error, true);
    else assertOk(results[i]!, what);
  }
}

describe('workspaces', { concurrency: 3 }, () => {
  test('two worktree sessions on two branches write the same path without seeing each other; the main checkout is untouched', async (t) => {
    const sb = sandbox(t, GIT_ENV);
    const repo = makeRepo(join(sb.base, 'repo'));
    git(repo, 'branch', 'existing');
    const main = repoState(repo);
    const mainTree = listing(repo);
    const a = await sb.zmx(['new', '-s', 'a', '-d', '--worktree', 'feature-a', '-c', repo]);
    assertOk(a, 'new --worktree feature-a');
    const pathA = join(repo, '.git', 'zmx-worktrees', 'a');
    assert.equal(a.stdout, `session "a" created\nworktree ${pathA} on new branch feature-a\n`);
    const b = await sb.zmx(['new', '-s', 'b', '-d', '--worktree', 'existing', '-c', repo]);
    assertOk(b, 'new --worktree existing');
    const pathB = join(repo, '.git', 'zmx-worktrees', 'b');
    assert.match(b.stdout, new RegExp(`^worktree ${pathB} on branch existing$`, 'm'));

    // The sessions start in their worktrees, on their branches.
    assert.deepEqual(await run(sb, 'a', 'pwd; git symbolic-ref HEAD'), [pathA, 'refs/heads/feature-a']);
    assert.deepEqual(await run(sb, 'b', 'pwd; git symbolic-ref HEAD'), [pathB, 'refs/heads/existing']);
    await run(sb, 'a', 'echo from-a > same.txt && printf a >> README');
    await run(sb, 'b', 'echo from-b > same.txt');
    assert.equal(readFileSync(join(pathA, 'same.txt'), 'utf8'), 'from-a\n');
    assert.equal(readFileSync(join(pathB, 'same.txt'), 'utf8'), 'from-b\n');
    assert.equal(readFileSync(join(pathB, 'README'), 'utf8'), 'hello\n');
    assert.deepEqual(await run(sb, 'b', 'cat same.txt'), ['from-b']);
    assert.deepEqual(listing(repo), mainTree, 'the main checkout has neither file');
    assert.deepEqual(repoState(repo), { ...main, refs: git(repo, 'for-each-ref', '--format=%(refname) %(objectname)', 'refs/heads', 'refs/tags') });
    assert.match(git(repo, 'branch', '--list', 'feature-a'), /feature-a/);

    // list and get show the worktree, read-only.
    const fa = await fields(sb, 'a');
    assert.equal(fa['worktree'], pathA);
    assert.equal(fa['worktree_branch'], 'feature-a');
    assert.equal((await sb.zmx(['get', 'a', 'worktree'])).stdout, pathA);
    assert.equal((await sb.zmx(['get', 'a', 'worktree_branch'])).stdout, 'feature-a');
    assertOneLineError(await sb.zmx(['set', 'a', 'worktree=elsewhere']), 'set worktree', /read-only/);
    const json = JSON.parse((await sb.zmx(['ls', '--json'])).stdout) as { name: string; worktree: unknown }[];
    assert.deepEqual(json.find((s) => s.name === 'a')!.worktree, { path: pathA, branch: 'feature-a', repo });

    // kill --clean: refused while there are uncommitted changes, nothing killed...
    assertOneLineError(await sb.zmx(['kill', 'a', '--clean']), 'kill --clean with changes', /worktree .*zmx-worktrees\/a of session "a" has uncommitted changes \(2 files\); commit or stash them, or add --force/, true);
    assert.ok(await fields(sb, 'a'), 'a still runs');
    // ...after a commit it goes, and the branch stays.
    await run(sb, 'a', 'git add -A && git -c user.name=T -c user.email=t@t commit -qm work');
    const killed = await sb.zmx(['kill', 'a', '--clean']);
    assertOk(killed, 'kill --clean');
    assert.equal(killed.stdout, `killed session a\nremoved worktree ${pathA} (branch feature-a kept)\n`);
    assert.equal(existsSync(pathA), false);
    assert.doesNotMatch(git(repo, 'worktree', 'list'), /zmx-worktrees\/a/);
    assert.equal(git(repo, 'show', 'feature-a:same.txt'), 'from-a');
    // --force discards changes.
    const forced = await sb.zmx(['kill', 'b', '--clean', '--force']);
    assertOk(forced, 'kill --clean --force');
    assert.equal(existsSync(pathB), false);
    assert.deepEqual(listing(repo), mainTree);
  });

  test('a worktree kept by a plain kill is taken up again by the same name and branch', async (t) => {
    const sb = sandbox(t, GIT_ENV);
    const repo = makeRepo(join(sb.base, 'repo'));
    assertOk(await sb.zmx(['new', '-s', 'w', '-d', '--worktree', 'wip', '-c', repo]), 'new');
    await run(sb, 'w', 'echo unfinished > work.txt');
    assertOk(await sb.zmx(['kill', 'w']), 'plain kill');
    const path = join(repo, '.git', 'zmx-worktrees', 'w');
    assert.equal(readFileSync(join(path, 'work.txt'), 'utf8'), 'unfinished\n', 'a plain kill keeps the worktree');
    const again = await sb.zmx(['new', '-s', 'w', '-d', '--worktree', 'wip', '-c', repo]);
    assertOk(again, 'new again');
    assert.match(again.stdout, /on branch wip \(taken up again\)$/m);
    assert.deepEqual(await run(sb, 'w', 'cat work.txt'), ['unfinished']);
  });

  test('bad input gets one-line errors and leaves nothing behind', async (t) => {
    const sb = sandbox(t, GIT_ENV);
    const repo = makeRepo(join(sb.base, 'repo'));
    const plain = join(sb.base, 'plain');
    mkdirSync(plain);
    const before = listing(repo);
    assertOneLineError(await sb.zmx(['new', '-s', 'x', '-d', '--worktree', 'b', '-c', plain]), 'not a repo', new RegExp(`^zmx: ${plain} is not a git repository; pass -c REPO`), true);
    // The rest as separate calls in one process (cli-batch); the one above and `new one` through the executable.
    await expectAll(sb, [
      [['new', '-s', 'x', '-d', '--worktree', 'b', '-c', join(plain, 'nope')], 'no dir', /does not exist/],
      [['new', '-s', 'x', '-d', '--worktree', 'main', '-c', repo], 'checked out elsewhere', new RegExp(`branch "main" is checked out at ${repo}; choose another branch`)],
      [['new', '-s', 'x', '-d', '--worktree', 'bad..name', '-c', repo], 'bad branch', /"bad\.\.name" is not a valid branch name/],
      [['new', '-s', 'x', '-d', '--worktree', 'b', '--portal', 'local:y', '-c', repo], 'both', /choose one of --worktree and --portal/],
    ]);
    assertOk(await sb.zmx(['new', '-s', 'one', '-d', '--worktree', 'taken', '-c', repo]), 'new one');
    await expectAll(sb, [
      [['new', '-s', 'two', '-d', '--worktree', 'taken', '-c', repo], 'branch in use', /branch "taken" is checked out at .*zmx-worktrees\/one/],
      [['new', '-s', 'one', '-d', '--worktree', 'other', '-c', repo], 'session exists', /session "one" already exists/],
    ]);
    assert.deepEqual((await sb.zmx(['ls', '--short'])).stdout, 'one\n');
    assert.deepEqual(git(repo, 'worktree', 'list', '--porcelain').match(/^worktree /gm)?.length, 2, 'only the main tree and one');
    assert.deepEqual(listing(repo), before);

    // Snapshot errors.
    await expectAll(sb, [
      [['rollback', '-t', 'one'], 'no snapshots', /session "one" has no snapshots; make one with zmx snapshot -t one/],
      [['snapshot', '-t', 'one', 'a/..'], 'label with /..', /snapshot label "a\/\.\.": use letters/],
      [['snapshot', '-t', 'one', '..'], 'label ..', /snapshot label/],
      [['snapshot', '-t', 'one', 'first'], 'snapshot', null],
      [['snapshot', '-t', 'one', 'first'], 'duplicate label', /has a snapshot "first" already/],
      [['rollback', '-t', 'one', 'nope'], 'unknown label', /session "one" has no snapshot "nope"; zmx snapshot -t one --list shows them/],
      [['diff', '-t', 'one', 'x/../../etc'], 'diff label', /snapshot label/],
      [['snapshot', '-t', 'ghost'], 'no session', /session "ghost" not found/],
      [['snapshot'], 'no target', /session name is required/],
    ]);
  });

  test('snapshot, change everything through the session, rollback: the tree comes back byte for byte and HEAD, branch and index stay', async (t) => {
    const sb = sandbox(t, GIT_ENV);
    const repo = makeRepo(join(sb.base, 'repo'));
    // Work in progress the user must not lose: staged, unstaged, untracked, ignored.
    writeFileSync(join(repo, 'src', 'a.ts'), 'export const a = 2;\n');
    git(repo, 'add', 'src/a.ts');
    writeFileSync(join(repo, 'README'), 'hello, unstaged\n');
    writeFileSync(join(repo, 'notes.txt'), 'untracked\n');
    writeFileSync(join(repo, 'build.log'), 'ignored\n');
    assertOk(await sb.zmx(['new', '-s', 'g', '-d', '-c', repo]), 'new in the repo');
    const state = repoState(repo);
    const tree = listing(repo);

    const snap = await sb.zmx(['snapshot', '-t', 'g']);
    assertOk(snap, 'snapshot');
    const label = snap.stdout.trim();
    assert.match(label, /^\d{8}-\d{6}$/, 'a timestamped label is printed');
    assert.equal(git(repo, 'for-each-ref', '--format=%(refname)', 'refs/zmx'), `refs/zmx/snapshots/g/${label}`);
    assert.deepEqual(repoState(repo), state);

    await run(sb, 'g', `${MESS}; echo later > build.log`);
    assert.notDeepEqual(listing(repo), tree);
    const d = await sb.zmx(['diff', '-t', 'g']);
    assertOk(d, 'diff');
    assert.match(d.stdout, /^diff --git a\/README b\/README$/m);
    assert.match(d.stdout, /^-hello, unstaged$/m);
    assert.match(d.stdout, /^\+changed$/m);
    assert.match(d.stdout, /^\+\+\+ b\/new\.txt$/m);
    assert.match(d.stdout, /^--- a\/keep\.txt$/m);
    assert.match(d.stdout, /^old mode 100755\nnew mode 100644$/m);
    assert.doesNotMatch(d.stdout, /build\.log/, 'ignored files are not compared');

    const rb = await sb.zmx(['rollback', '-t', 'g']);
    assertOk(rb, 'rollback');
    assert.equal(rb.stdout, `rolled back session g to snapshot ${label}\n`);
    assert.deepEqual(listing(repo).filter((l) => !l.startsWith('build.log ')), tree.filter((l) => !l.startsWith('build.log ')));
    assert.equal(readFileSync(join(repo, 'build.log'), 'utf8'), 'later\n', 'the ignored file is left alone');
    assert.deepEqual(repoState(repo), state, 'HEAD, branch, index file, staged diff and status as before');
    assert.equal((await sb.zmx(['diff', '-t', 'g'])).stdout, '');

    // Named snapshots, --list oldest first, rollback to one by name.
    assertOk(await sb.zmx(['snapshot', '-t', 'g', 'second']), 'snapshot second');
    const list = await sb.zmx(['snapshot', '-t', 'g', '--list']);
    assertOk(list, '--list');
    assert.deepEqual(list.stdout.split('\n').filter(Boolean).map((l) => [l.split('\t')[0], l.split('\t')[2]]), [[label, 'git'], ['second', 'git']]);
    // kill --clean drops the session's snapshot refs.
    assertOk(await sb.zmx(['kill', 'g', '--clean']), 'kill --clean');
    assert.equal(git(repo, 'for-each-ref', 'refs/zmx'), '');
  });

  test('a root outside git is copied: rollback restores it byte for byte, modes too', async (t) => {
    const sb = sandbox(t);
    const dir = join(sb.base, 'plain');
    mkdirSync(join(dir, 'src'), { recursive: true });
    writeFileSync(join(dir, 'README'), 'hello\n');
    writeFileSync(join(dir, 'keep.txt'), 'keep\n');
    writeFileSync(join(dir, 'src', 'a.ts'), 'a\n');
    writeFileSync(join(dir, 'run.sh'), '#!/bin/sh\n', { mode: 0o755 });
    writeFileSync(join(dir, 'private'), 'p\n');
    chmodSync(join(dir, 'private'), 0o600);
    assertOk(await sb.zmx(['new', '-s', 'c', '-d', '-c', dir]), 'new');
    const tree = listing(dir);
    assertOk(await sb.zmx(['snapshot', '-t', 'c', 'base']), 'snapshot');
    assert.ok(existsSync(join(sb.dir, 'state', 'snapshots', 'c', 'base', 'tree', 'README')), 'the copy is in the state dir');
    await run(sb, 'c', `${MESS}; chmod 644 private`);
    assert.match((await sb.zmx(['diff', '-t', 'c', 'base'])).stdout, /^\+\+\+ b\/new\.txt$/m);
    assertOk(await sb.zmx(['rollback', '-t', 'c', 'base']), 'rollback');
    assert.deepEqual(listing(dir), tree);
    assert.equal((await sb.zmx(['snapshot', '-t', 'c', '--list'])).stdout.split('\t')[2], 'copy\n');
    // The copies end with the session.
    assertOk(await sb.zmx(['kill', 'c']), 'kill');
    await until(() => !existsSync(join(sb.dir, 'state', 'snapshots', 'c')), 'the copies to go');
  });

  test('portal pane: ZMX_PORTAL, ZMX_MCP_CONFIG and a 0600 config naming zmx mcp -H HOST -t SESSION; claude gets --mcp-config', async (t) => {
    const sb = sandbox(t);
    const key = (await sb.zmx(['keys', 'show'])).stdout.trim();
    assertOk(await sb.zmx(['host', 'add', 'gpu', 'tcp://127.0.0.1:9', '--key', key]), 'host add');
    const r = await sb.zmx(['new', '-s', 'p', '-d', '--portal', 'gpu:work']);
    assertOk(r, 'new --portal');
    assert.equal(r.stdout, 'session "p" created\nportal to gpu:work\n');
    const [portal, file] = await run(sb, 'p', 'printenv ZMX_PORTAL; printenv ZMX_MCP_CONFIG');
    assert.equal(portal, 'gpu:work');
    assert.equal(file, join(sb.dir, 'state', 'portal', 'p.mcp.json'));
    assert.equal(statSync(file!).mode & 0o777, 0o600);
    assert.deepEqual(JSON.parse(readFileSync(file!, 'utf8')), {
      mcpServers: { zmx: { command: join(ROOT, 'bin', 'zmx'), args: ['mcp', '-H', 'gpu', '-t', 'work'] } },
    });
    assert.equal((await fields(sb, 'p'))['portal'], 'gpu:work');
    assert.equal((await sb.zmx(['get', 'p', 'portal'])).stdout, 'gpu:work');

    // A known agent gets the flag; the local server is "local" (or nothing) and needs no -H.
    const bin = join(sb.base, 'bin');
    mkdirSync(bin);
    const out = join(sb.base, 'claude.out');
    writeFileSync(join(bin, 'claude'), `#!/bin/sh\nprintf '%s\\n' "$@" "$ZMX_PORTAL" "$ZMX_MCP_CONFIG" > ${out}.tmp && mv ${out}.tmp ${out}\nexec sleep 600\n`, { mode: 0o755 });
    assertOk(await sb.zmx(['new', '-s', 'agent', '-d', '--portal', 'local:work', '--', join(bin, 'claude'), '--resume']), 'new --portal local');
    const lines = (await until(() => (existsSync(out) ? readFileSync(out, 'utf8') : ''), 'the agent to start')).split('\n');
    const cfg = join(sb.dir, 'state', 'portal', 'agent.mcp.json');
    assert.deepEqual(lines.slice(0, 5), ['--mcp-config', cfg, '--resume', 'local:work', cfg]);
    assert.deepEqual(JSON.parse(readFileSync(cfg, 'utf8')).mcpServers.zmx.args, ['mcp', '-t', 'work']);
    assertOk(await sb.zmx(['new', '-s', 'empty-host', '-d', '--portal', ':work']), 'new --portal :work');
    assert.equal((await fields(sb, 'empty-host'))['portal'], 'local:work');
    // The configuration goes with the session.
    assertOk(await sb.zmx(['kill', 'agent']), 'kill');
    assert.equal(existsSync(cfg), false);

    assertOneLineError(await sb.zmx(['new', '-s', 'q', '-d', '--portal', 'nowhere:work']), 'unknown host', /unknown host "nowhere"; add it with: zmx host add/, true);
    assertOneLineError(await sb.zmx(['new', '-s', 'q', '-d', '--portal', 'gpu']), 'no session', /--portal takes HOST:SESSION/, true);
    assertOneLineError(await sb.zmx(['new', '-s', 'q', '-d', '--portal', 'gpu:']), 'empty session', /--portal takes HOST:SESSION/, true);
    assertOneLineError(await sb.zmx(['new', '-s', 'q', '-d', '--portal', 'gpu:work', '-H', 'gpu']), 'portal with -H', /a portal pane runs on this machine/, true);
    assert.equal((await sb.zmx(['ls', '--short'])).stdout, 'empty-host\np\n');
  });

  test('over -H: a worktree session on the server, snapshots, diff, rollback and kill --clean', async (t) => {
    const { server, address } = await listening(t, GIT_ENV);
    const client = await paired(t, server, address, 'box', GIT_ENV);
    const H = ['-H', 'box'];
    const repo = makeRepo(join(server.base, 'repo'));
    assertOneLineError(await client.zmx(['new', ...H, '-s', 'far', '-d', '--worktree', 'remote-b', '-c', 'repo']), 'relative repo', /absolute -c REPO/, true);
    const made = await client.zmx(['new', ...H, '-s', 'far', '-d', '--worktree', 'remote-b', '-c', repo]);
    assertOk(made, 'new -H --worktree');
    const path = join(repo, '.git', 'zmx-worktrees', 'far');
    assert.match(made.stdout, new RegExp(`^worktree ${path} on new branch remote-b$`, 'm'));
    assert.equal(client.frontPid(), null, 'the client started no server of its own');
    await run(client, 'far', 'echo one > f.txt', H);
    assert.equal((await client.zmx(['snapshot', ...H, '-t', 'far', 's1'])).stdout, 's1\n');
    await run(client, 'far', 'echo two > f.txt; rm README', H);
    const d = await client.zmx(['diff', ...H, '-t', 'far']);
    assertOk(d, 'diff -H');
    assert.match(d.stdout, /^-one$/m);
    assert.match(d.stdout, /^\+two$/m);
    assert.match(d.stdout, /^deleted file mode 100644$/m);
    assertOk(await client.zmx(['rollback', ...H, '-t', 'far']), 'rollback -H');
    assert.equal(readFileSync(join(path, 'f.txt'), 'utf8'), 'one\n');
    assert.equal(readFileSync(join(path, 'README'), 'utf8'), 'hello\n');
    assertOneLineError(await client.zmx(['kill', ...H, 'far', '--clean']), 'dirty -H', /uncommitted changes/, true);
    assertOk(await client.zmx(['kill', ...H, 'far', '--clean', '--force']), 'kill -H --clean --force');
    assert.equal(existsSync(path), false);
    assert.match(git(repo, 'branch', '--list', 'remote-b'), /remote-b/);
  });
});
