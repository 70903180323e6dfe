/**
 * Compatibility with zmx (neurosnap/zmx) and with tmux and ssh habits,
 * black-box: -H before the command, zmx's errors for get, kill --force of
 * a session whose server died, labels on attach/new/run and list --where,
 * ZMX_NO_DETACH_KEY, the run task marker, keys that start with '-'.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { ZMX_BIN, alive, parseList, until, type Sandbox } from '../helpers/harness.js';
import { sandbox, assertOk, assertOneLineError } from '../helpers/assert.js';
import { listening, paired } from '../helpers/remote.js';
import { z85Encode } from '../../src/common/z85.js';

async function newDetached(sb: Sandbox, name: string, extra: string[] = []): Promise<void> {
  assertOk(await sb.zmx(['new', '-s', name, '-d', ...extra]), `new -s ${name} -d`);
}

/** The number of clients `ls` shows for a session (0 when it is not listed). */
async function clientsOf(sb: Sandbox, name: string): Promise<number> {
  const row = parseList((await sb.zmx(['ls'])).stdout).find((r) => r['name'] === name);
  return row ? Number(row['clients']) : 0;
}

/** A public key (Z85) whose first character is '-', as 1 in 85 keys are. */
function dashKey(): string {
  for (;;) {
    const key = z85Encode(randomBytes(32));
    if (key.startsWith('-')) return key;
  }
}

describe('zmx compatibility', { concurrency: 4 }, () => {
  test('-H HOST / --host HOST before the command reaches the remote server, as after it and as ZMX_HOST', async (t) => {
    const { server, address } = await listening(t);
    assertOk(await server.zmx(['new', '-s', 'far', '-d']), 'new on the server');
    const client = await paired(t, server, address);
    for (const lead of [['-H', 'box'], ['--host', 'box'], ['--host=box'], ['-Hbox']]) {
      const r = await client.zmx([...lead, 'list', '--short']);
      assertOk(r, `zmx ${lead.join(' ')} list`);
      assert.equal(r.stdout, 'far\n', `zmx ${lead.join(' ')} list shows the server's session`);
    }
    // Bare `zmx -H box` lists, as bare `zmx` does.
    const bare = await client.zmx(['-H', 'box']);
    assertOk(bare, 'zmx -H box');
    assert.match(bare.stdout, /name=far\t/);
    const run = await client.zmx(['--host', 'box', 'run', 'far', 'echo lead-$((6*7))']);
    assertOk(run, 'zmx --host box run');
    assert.match(run.stdout, /^lead-42$/m);
    // attach gets as far as wanting a terminal: -H was taken, not refused as an unknown option.
    assertOneLineError(await client.zmx(['--host', 'box', 'attach', 'far']), 'attach without a tty', /needs a terminal/);
    // The -H after the command wins over the one before; ZMX_HOST still works.
    assertOneLineError(await client.zmx(['-H', 'box', 'ls', '-H', 'nowhere']), 'the later -H wins', /nowhere/);
    assert.equal((await client.zmx(['ls', '--short'], { env: { ZMX_HOST: 'box' } })).stdout, 'far\n');
    // Commands about this machine alone say so; a -H with no host is a usage error.
    assertOneLineError(await client.zmx(['-H', 'box', 'keys', 'show']), 'keys with -H', /keys acts on this machine only/, true);
    assertOneLineError(await client.zmx(['-H']), '-H alone', /needs a host name/, true);
    // A host with no sessions is named as the host, not as this machine's directory.
    assertOk(await client.zmx(['-H', 'box', 'kill', 'far']), 'kill on the host');
    const none = await client.zmx(['-H', 'box', 'ls']);
    assert.deepEqual([none.status, none.stdout, none.stderr], [0, '', 'no sessions found on host box\n']);
    assert.equal(client.frontPid(), null, 'the client started no server of its own');
  });

  test('get: a missing session says "not found", a missing name "SessionNameRequired", one line, non-zero', async (t) => {
    const sb = sandbox(t);
    // No server at all, then a server that has other sessions.
    assertOneLineError(await sb.zmx(['get', 'nosuch']), 'get nosuch (no server)', /not found/, true);
    await newDetached(sb, 'here');
    assertOneLineError(await sb.zmx(['get', 'nosuch']), 'get nosuch', /^zmx: session "nosuch" not found/, true);
    assertOneLineError(await sb.zmx(['kill', 'nosuch']), 'kill nosuch', /not found/, true);
    // No name: zmx's error name, and a sentence.
    const none = await sb.zmx(['get']);
    assertOneLineError(none, 'get with no name', /SessionNameRequired/, true);
    assert.match(none.stderr, /session name is required/);
    assertOneLineError(await sb.zmx(['kill']), 'kill with no name', /SessionNameRequired: kill needs a session name/, true);
    // Inside a session (ZMX_SESSION), get with no name reads that session, as zmx does.
    assertOk(await sb.zmx(['set', 'here', 'k=v']), 'set');
    const inside = await sb.zmx(['get'], { env: { ZMX_SESSION: 'here' } });
    assertOk(inside, 'get inside a session');
    assert.equal(inside.stdout, 'k=v');
  });

  test('kill --force of a session whose server was SIGKILLed removes the sockets and state it left, exit 0', async (t) => {
    const sb = sandbox(t);
    const plain = join(sb.base, 'plain');
    mkdirSync(plain);
    await newDetached(sb, 'dead', ['-c', plain]);
    // A copy snapshot: state the server keeps for the session in $ZMX_DIR/state.
    assertOk(await sb.zmx(['snapshot', '-t', 'dead', 'before']), 'snapshot');
    const snapshots = join(sb.dir, 'state', 'snapshots');
    assert.deepEqual(readdirSync(snapshots), ['dead']);
    const front = sb.frontPid()!;
    const ptyhost = sb.ptyhostPid()!;
    process.kill(front, 'SIGKILL');
    process.kill(ptyhost, 'SIGKILL');
    await until(() => !alive(front) && !alive(ptyhost), 'the server processes to die');
    const left = ['front.sock', 'ptyhost.sock', 'front.pid', 'ptyhost.pid'].filter((f) => existsSync(join(sb.dir, f)));
    assert.ok(left.length > 0, 'the dead server left its files (else this test tests nothing)');
    // Without --force: not found, and what to do.
    assertOneLineError(await sb.zmx(['kill', 'dead']), 'kill without --force', /not found.*zmx kill --force dead/, true);
    const r = await sb.zmx(['kill', '--force', 'dead']);
    assertOk(r, 'kill --force dead');
    assert.equal(r.stdout, 'cleaned up stale session dead\n');
    for (const f of ['front.sock', 'ptyhost.sock', 'direct.sock', 'front.lock', 'ptyhost.lock', 'front.pid', 'ptyhost.pid']) {
      assert.equal(existsSync(join(sb.dir, f)), false, `${f} is removed`);
    }
    assert.deepEqual(readdirSync(snapshots), [], 'the session\'s state is removed');
    // Nothing is left to clean: the name is not found again.
    assertOneLineError(await sb.zmx(['kill', '--force', 'dead']), 'kill --force again', /not found/, true);
    assert.equal((await sb.zmx(['ls', '--short'])).stdout, '');
    // The name and the run-time directory serve a new session.
    await newDetached(sb, 'dead');
    assert.equal((await sb.zmx(['ls', '--short'])).stdout, 'dead\n');
    // A live server's files are never taken for stale ones.
    assertOneLineError(await sb.zmx(['kill', '--force', 'other']), 'kill --force of an unknown name, server alive', /not found/, true);
    assert.ok(existsSync(join(sb.dir, 'front.sock')) && alive(sb.frontPid()), 'the live server is untouched');
  });

  test('--labels on run, new and attach set labels; list shows them and --where filters by them', async (t) => {
    const sb = sandbox(t);
    const run = await sb.zmx(['run', '--labels', 'project=api role=worker', 'job', 'echo labelled']);
    assertOk(run, 'run --labels');
    assert.equal((await sb.zmx(['get', 'job'])).stdout, 'project=api role=worker');
    await newDetached(sb, 'web', ['--labels', 'project=web']);
    assert.equal((await sb.zmx(['get', 'web', 'project'])).stdout, 'web');
    // attach --labels, in a terminal: labelled before the client takes over.
    sb.tmuxStart(`${ZMX_BIN} attach --raw --labels "project=api role=tui" tui`);
    await until(async () => (await clientsOf(sb, 'tui')) === 1, 'the attach client');
    assert.equal((await sb.zmx(['get', 'tui'])).stdout, 'project=api role=tui');
    // list shows labels as fields...
    const rows = parseList((await sb.zmx(['ls'])).stdout);
    assert.equal(rows.find((r) => r['name'] === 'web')!['project'], 'web');
    // ...and --where keeps the sessions with every pair given, in each form.
    assert.equal((await sb.zmx(['ls', '--where', 'project=api', '--short'])).stdout, 'job\ntui\n');
    assert.equal((await sb.zmx(['ls', '--where', 'project=api role=tui', '--short'])).stdout, 'tui\n');
    assert.deepEqual(parseList((await sb.zmx(['ls', '--where', 'project=web'])).stdout).map((r) => r['name']), ['web']);
    const json = JSON.parse((await sb.zmx(['ls', '--json', '--where', 'role=worker'])).stdout) as { name: string }[];
    assert.deepEqual(json.map((s) => s.name), ['job']);
    const none = await sb.zmx(['ls', '--where', 'project=nowhere']);
    assert.deepEqual([none.status, none.stdout], [0, '']);
    // Bad --labels are refused before anything is made.
    assertOneLineError(await sb.zmx(['new', '-s', 'bad', '-d', '--labels', 'novalue']), 'labels without =', /key=value/, true);
    assertOneLineError(await sb.zmx(['run', '--labels', '', 'bad', 'true']), 'empty labels', /--labels requires/, true);
    assertOneLineError(await sb.zmx(['ls', '--where', '']), 'empty where', /--where needs key=value/, true);
    assert.equal(parseList((await sb.zmx(['ls'])).stdout).some((r) => r['name'] === 'bad'), false, 'no session was made');
  });

  test('ZMX_NO_DETACH_KEY=1: C-\\ goes to the program, full-screen and --raw, and the client stays', async (t) => {
    const sb = sandbox(t);
    // Each client reads one byte in raw mode and prints it in hex.
    const probe = 'stty raw -echo; echo READY-$((40+2)); head -c1 | od -An -tx1; stty sane';
    for (const [target, how] of [['raw', '--raw'], ['tui', '']] as const) {
      sb.tmuxNew(target, `ZMX_NO_DETACH_KEY=1 ${ZMX_BIN} attach ${how} nd-${target}`);
      await until(async () => (await clientsOf(sb, `nd-${target}`)) === 1, `the ${target} client`);
      sb.tmux('send-keys', '-t', target, '-l', probe);
      sb.tmux('send-keys', '-t', target, 'Enter');
      await sb.waitForScreen(/READY-42/, target);
      const client = sb.paneClientPid(target);
      sb.tmux('send-keys', '-t', target, 'C-\\');
      const screen = await sb.waitForScreen(/(^|\s)1c(\s|$)/m, target);
      assert.doesNotMatch(screen, /detached/, `${target}: C-\\ did not detach`);
      assert.ok(client && alive(client), `${target}: the client still runs`);
      assert.equal(await clientsOf(sb, `nd-${target}`), 1, `${target}: still attached`);
    }
    // End the shells here, so none still writes its history into the sandbox as it is removed.
    const shells = parseList((await sb.zmx(['ls'])).stdout).map((r) => Number(r['pid']));
    assertOk(await sb.zmx(['kill', 'nd-raw', 'nd-tui']), 'kill');
    await until(() => shells.every((p) => !alive(p)), 'the shells to exit');
  });

  test('run prints zmx\'s task marker ZMX_TASK_COMPLETED:<id>:<status> when the command ends', async (t) => {
    const sb = sandbox(t);
    const r = await sb.zmx(['run', 'mark', 'echo out; (exit 3)']);
    assert.equal(r.status, 3, 'run exits with the command\'s status');
    assert.match(r.stdout, /^out\nZMX_TASK_COMPLETED:[0-9a-f]{4}:3$/m, 'the marker follows the output, on a line of its own');
    // In the pane too, where tools that tail it wait for it.
    const ok = await sb.zmx(['run', 'mark', 'cat <<EOF\nheredoc\nEOF']);
    assertOk(ok, 'run with a heredoc');
    assert.match(ok.stdout, /^heredoc\nZMX_TASK_COMPLETED:[0-9a-f]{4}:0$/m);
    const history = (await sb.zmx(['history', 'mark'])).stdout;
    assert.match(history, /^ZMX_TASK_COMPLETED:[0-9a-f]{4}:3$/m);
    assert.match(history, /^ZMX_TASK_COMPLETED:[0-9a-f]{4}:0$/m);
  });

  test('keys authorize/revoke take a key that starts with "-", as the argument or after --', async (t) => {
    const sb = sandbox(t);
    const [a, b] = [dashKey(), dashKey()];
    const one = await sb.zmx(['keys', 'authorize', a, '--name', 'dash-a']);
    assertOk(one, 'authorize -KEY');
    assert.match(one.stdout, /^authorized SHA256:\S+ \(dash-a\)$/m);
    assertOk(await sb.zmx(['keys', 'authorize', '--name', 'dash-b', '--', b]), 'authorize -- -KEY');
    const keys = JSON.parse((await sb.zmx(['keys', 'list', '--json'])).stdout) as { key: string; name: string }[];
    assert.deepEqual(keys.filter((k) => k.name.startsWith('dash-')).map((k) => k.key).sort(), [a, b].sort());
    assertOk(await sb.zmx(['keys', 'revoke', a]), 'revoke -KEY');
    assertOk(await sb.zmx(['keys', 'revoke', '--', b]), 'revoke -- -KEY');
    const after = JSON.parse((await sb.zmx(['keys', 'list', '--json'])).stdout) as { key: string }[];
    assert.equal(after.some((k) => k.key === a || k.key === b), false, 'both revoked');
    // A '-' word that is no key is still an (unknown) option.
    assert.notEqual((await sb.zmx(['keys', 'authorize', '-x'])).status, 0);
  });

  test('completions know -H before the command, --labels and --where', async (t) => {
    const sb = sandbox(t);
    const bash = await sb.zmx(['completions', 'bash']);
    assertOk(bash, 'completions bash');
    const script = join(sb.base, 'zmx.bash');
    writeFileSync(script, bash.stdout);
    const complete = (words: string[]) => {
      const r = spawnSync('bash', ['-c', `source ${script}; COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _zmx; printf '%s\\n' "\${COMPREPLY[@]}"`], { env: sb.env, encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      return r.stdout.split('\n').filter(Boolean);
    };
    assert.ok(complete(['zmx', '-H', 'box', 'ki']).includes('kill'), 'the command after -H HOST');
    assert.ok(complete(['zmx', '--host=box', 'li']).includes('list'), 'the command after --host=HOST');
    assert.deepEqual(complete(['zmx', '-H', 'box', 'list', '--wh']), ['--where']);
    assert.ok(complete(['zmx', 'attach', '--lab']).includes('--labels'));
    assert.ok(complete(['zmx', '-']).includes('-H'));
    const fish = (await sb.zmx(['completions', 'fish'])).stdout;
    assert.match(fish, /__fish_seen_subcommand_from list ls l' -l where -r/);
    assert.match(fish, /__fish_seen_subcommand_from attach a' -l labels -r/);
    assert.match(fish, /__fish_use_subcommand -s H -l host -r/);
  });
});
