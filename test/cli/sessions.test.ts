/**
 * Sessions from the command line, black-box: new, ls (all its forms), kill,
 * ZMX_DIR isolation, ZMX_SESSION_PREFIX, the pane's environment and labels.
 * Real bin/zmx, real servers, one private sandbox per test.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { Sandbox, alive, parseList, until } from '../helpers/harness.js';
import { sandbox, assertOneLineError, assertOk, runLines } from '../helpers/assert.js';
import { zmxBatch } from '../helpers/cli-batch.js';

async function newDetached(sb: Sandbox, name: string, extra: string[] = []): Promise<void> {
  const r = await sb.zmx(['new', '-s', name, '-d', ...extra]);
  assertOk(r, `new -s ${name} -d`);
  assert.equal(r.stdout, `session "${name}" created\n`);
}

async function list(sb: Sandbox, env: NodeJS.ProcessEnv = {}): Promise<Record<string, string>[]> {
  const r = await sb.zmx(['ls'], { env });
  assertOk(r, 'ls');
  return parseList(r.stdout);
}

async function shortList(sb: Sandbox): Promise<string[]> {
  const r = await sb.zmx(['ls', '--short']);
  assertOk(r, 'ls --short');
  return r.stdout.split('\n').filter(Boolean);
}

// Independent sandboxes: a few tests at a time keep the file fast.
describe('sessions', { concurrency: 4 }, () => {
  test('new -s NAME -d creates a session and says so; ls shows it', async (t) => {
    const sb = sandbox(t);
    await newDetached(sb, 'alpha');
    assert.deepEqual(await shortList(sb), ['alpha']);
  });

  test('new on an existing name fails with one line on stderr (with and without -d)', async (t) => {
    const sb = sandbox(t);
    await newDetached(sb, 'dup');
    const pid = (await list(sb))[0]!['pid'];
    assertOneLineError(await sb.zmx(['new', '-s', 'dup', '-d']), 'new -s dup -d again', /dup/);
    assertOneLineError(await sb.zmx(['new', '-s', 'dup']), 'new -s dup again (attaching)', /dup/);
    const after = await list(sb);
    assert.equal(after.length, 1);
    assert.equal(after[0]!['pid'], pid, 'the existing session is left alone');
  });

  test('ls lists sessions whose descriptions add up to more than a message header holds', async (t) => {
    // Each session's command is 30 KB; together they are far past
    // LIMITS.maxHeaderBytes (64 KB), so the list must travel as a body.
    const sb = sandbox(t);
    const padding = 'x'.repeat(30_000);
    const names = ['long0', 'long1', 'long2', 'long3'];
    for (const name of names) await newDetached(sb, name, ['--', 'sh', '-c', 'exec sleep 600', padding]);
    const rows = await list(sb);
    assert.deepEqual(rows.map((r) => r['name']).sort(), names);
    assert.ok(rows.every((r) => r['cmd']!.startsWith("sh -c 'exec sleep 600' xxx")), 'each row shows its command (cut for the line)');
    const json = await sb.zmx(['ls', '--json']);
    assertOk(json, 'ls --json');
    const sessions = JSON.parse(json.stdout) as { panes: { cmd: string[] }[] }[];
    assert.equal(sessions.length, names.length);
    assert.ok(sessions.every((s) => s.panes[0]!.cmd[3] === padding), 'the JSON carries each whole command');
  });

  test('ls with no server: "no sessions found in DIR" on stderr, exit 0, starts no server', async (t) => {
    const sb = sandbox(t);
    const r = await sb.zmx(['ls']);
    assert.equal(r.status, 0);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr, `no sessions found in ${sb.dir}\n`);
    const short = await sb.zmx(['ls', '--short']);
    assert.deepEqual([short.status, short.stdout, short.stderr], [0, '', '']);
    const json = await sb.zmx(['ls', '--json']);
    assert.equal(json.status, 0);
    assert.deepEqual(JSON.parse(json.stdout), []);
    assert.equal(existsSync(join(sb.dir, 'front.pid')), false, 'ls must not start a server');
    assert.equal(sb.frontPid(), null);
    assert.equal(sb.ptyhostPid(), null);
  });

  test('ls line: tab-separated key=value with name, pid, clients, created, cwd (OSC 7 after cd)', async (t) => {
    const sb = sandbox(t);
    const start = join(sb.home, 'work');
    mkdirSync(start);
    await newDetached(sb, 'dev', ['-c', start]);
    const r = await sb.zmx(['ls']);
    assertOk(r, 'ls');
    const lines = r.stdout.split('\n').filter(Boolean);
    assert.equal(lines.length, 1);
    // Two-character mark, then fields joined by tabs, each key=value.
    assert.match(lines[0]!, /^ {2}name=dev\tpid=\d+\tclients=\d+\tcreated=\d+\tcwd=\S+(\t[^\t=]+=[^\t]*)*$/);
    const s = parseList(r.stdout)[0]!;
    assert.equal(s['name'], 'dev');
    const pid = Number(s['pid']);
    assert.ok(pid > 0 && alive(pid), `pid=${s['pid']} is a live process`);
    assert.equal(s['clients'], '0');
    const now = Math.floor(Date.now() / 1000);
    assert.ok(Math.abs(Number(s['created']) - now) < 60, `created=${s['created']} is Unix seconds near ${now}`);
    assert.ok(s['cwd'] === start || s['cwd'] === `file://${hostname()}${start}`, `cwd=${s['cwd']} is the start directory`);

    const cd = await sb.zmx(['run', 'dev', 'cd /tmp']);
    assertOk(cd, 'run dev "cd /tmp"');
    // The shell reports its directory with OSC 7 at the next prompt.
    const after = (await until(async () => {
      const l = (await list(sb))[0];
      return l && l['cwd'] === `file://${hostname()}/tmp` ? l : null;
    }, 'cwd to become file://HOST/tmp'))!;
    assert.equal(after['pid'], s['pid']);
  });

  test('ls --short prints names only, sorted; ls --json is machine-readable', async (t) => {
    const sb = sandbox(t);
    await newDetached(sb, 'b-two');
    await newDetached(sb, 'a-one');
    assert.deepEqual(await shortList(sb), ['a-one', 'b-two']);
    const r = await sb.zmx(['ls', '--json']);
    assertOk(r, 'ls --json');
    const sessions = JSON.parse(r.stdout) as { name: string; created: number; panes: { pid: number }[] }[];
    assert.ok(Array.isArray(sessions));
    assert.deepEqual(sessions.map((s) => s.name), ['a-one', 'b-two']);
    const lines = await list(sb);
    for (const s of sessions) {
      const line = lines.find((l) => l['name'] === s.name)!;
      assert.equal(String(s.panes[0]!.pid), line['pid'], `json and ls agree on ${s.name}'s pid`);
    }
  });

  test('bare zmx lists sessions like zmx ls', async (t) => {
    const sb = sandbox(t);
    const empty = await sb.zmx([]);
    assert.deepEqual([empty.status, empty.stdout, empty.stderr], [0, '', `no sessions found in ${sb.dir}\n`]);
    await newDetached(sb, 'bare');
    const bare = await sb.zmx([]);
    const ls = await sb.zmx(['ls']);
    assertOk(bare, 'zmx');
    assert.equal(bare.stdout, ls.stdout);
    assert.equal(parseList(bare.stdout)[0]!['name'], 'bare');
  });

  test('kill NAME prints "killed session NAME" and the shell is gone', async (t) => {
    const sb = sandbox(t);
    await newDetached(sb, 'victim');
    await newDetached(sb, 'bystander');
    const before = await list(sb);
    const pid = Number(before.find((s) => s['name'] === 'victim')!['pid']);
    const other = Number(before.find((s) => s['name'] === 'bystander')!['pid']);
    assert.ok(alive(pid));
    const r = await sb.zmx(['kill', 'victim']);
    assertOk(r, 'kill victim');
    assert.equal(r.stdout, 'killed session victim\n');
    await until(() => !alive(pid), `the shell (pid ${pid}) to be gone`);
    assert.deepEqual(await shortList(sb), ['bystander']);
    assert.ok(alive(other), 'the other session still runs');
  });

  test('kill "d.*" kills by prefix and leaves the others', async (t) => {
    const sb = sandbox(t);
    for (const n of ['d.one', 'd.two', 'dev', 'other']) await newDetached(sb, n);
    const r = await sb.zmx(['kill', 'd.*']);
    assertOk(r, 'kill "d.*"');
    assert.deepEqual(r.stdout.split('\n').filter(Boolean).sort(), ['killed session d.one', 'killed session d.two']);
    assert.deepEqual(await shortList(sb), ['dev', 'other']);
  });

  test('kill of a missing session is a one-line error; the others live on', async (t) => {
    const sb = sandbox(t);
    assertOneLineError(await sb.zmx(['kill', 'ghost']), 'kill ghost without a server', /ghost/);
    await newDetached(sb, 'real');
    assertOneLineError(await sb.zmx(['kill', 'ghost']), 'kill ghost', /ghost/);
    assert.deepEqual(await shortList(sb), ['real']);
  });

  test('ZMX_DIR isolates: two directories never see each other\'s sessions', async (t) => {
    const a = sandbox(t);
    // Same user, same HOME and keys, another ZMX_DIR.
    const b = sandbox(t, { HOME: a.home, ZMX_CONFIG_DIR: a.configDir });
    await newDetached(a, 'shared-name');
    await newDetached(a, 'only-a');
    const lsB = await b.zmx(['ls']);
    assert.deepEqual([lsB.status, lsB.stdout, lsB.stderr], [0, '', `no sessions found in ${b.dir}\n`]);
    await newDetached(b, 'shared-name');
    assert.deepEqual(await shortList(a), ['only-a', 'shared-name']);
    assert.deepEqual(await shortList(b), ['shared-name']);
    const pidA = (await list(a)).find((s) => s['name'] === 'shared-name')!['pid'];
    const pidB = (await list(b))[0]!['pid'];
    assert.notEqual(pidA, pidB, 'same name, different sessions');
    assert.notEqual(a.frontPid(), b.frontPid());
    const killed = await b.zmx(['kill', 'shared-name']);
    assertOk(killed, 'kill in b');
    assert.deepEqual(await shortList(a), ['only-a', 'shared-name'], 'killing in b leaves a alone');
  });

  test('ZMX_SESSION_PREFIX is put before every session name', async (t) => {
    const sb = sandbox(t);
    const env = { ZMX_SESSION_PREFIX: 'p.' };
    const created = await sb.zmx(['new', '-s', 'x', '-d'], { env });
    assertOk(created, 'new with prefix');
    assert.equal(created.stdout, 'session "p.x" created\n');
    assert.deepEqual(await shortList(sb), ['p.x']);
    const ran = await sb.zmx(['run', 'x', 'echo "in=$ZMX_SESSION"'], { env });
    assertOk(ran, 'run with prefix');
    assert.deepEqual(runLines(ran.stdout), ['in=p.x']);
    assertOk(await sb.zmx(['set', 'x', 'k=v'], { env }), 'set with prefix');
    assert.equal((await sb.zmx(['get', 'p.x', 'k'])).stdout, 'v');
    const killed = await sb.zmx(['kill', 'x'], { env });
    assertOk(killed, 'kill with prefix');
    assert.equal(killed.stdout, 'killed session p.x\n');
    assert.deepEqual(await shortList(sb), []);
  });

  test('inside a pane ZMX_SESSION and ZMX_PANE are set', async (t) => {
    const sb = sandbox(t);
    await newDetached(sb, 'envy');
    const r = await sb.zmx(['run', 'envy', 'echo "session=$ZMX_SESSION pane=$ZMX_PANE"']);
    assertOk(r, 'run echo');
    const lines = runLines(r.stdout);
    assert.equal(lines.length, 1, JSON.stringify(r.stdout));
    assert.match(lines[0]!, /^session=envy pane=\S+$/);
    // A session made by run has them too.
    const r2 = await sb.zmx(['run', 'byrun', 'echo "session=$ZMX_SESSION pane=$ZMX_PANE"']);
    assertOk(r2, 'run in a new session');
    assert.match(runLines(r2.stdout).join('\n'), /^session=byrun pane=\S+$/);
  });

  test('labels: set, get, get KEY, unset, k=, clear; built-in fields are read-only', async (t) => {
    const sb = sandbox(t);
    await newDetached(sb, 'lab');
    assertOk(await sb.zmx(['set', 'lab', 'project=zmx', 'env=dev', 'tier=1']), 'set');
    const got = await sb.zmx(['get', 'lab']);
    assertOk(got, 'get');
    assert.equal(got.stdout, 'env=dev project=zmx tier=1', 'sorted k=v pairs, no trailing newline');
    const one = await sb.zmx(['get', 'lab', 'project']);
    assert.deepEqual([one.status, one.stdout], [0, 'zmx']);
    assertOneLineError(await sb.zmx(['get', 'lab', 'nope']), 'get of a missing key', /nope/);
    // Labels show in ls after the built-in fields.
    const line = (await list(sb))[0]!;
    assert.equal(line['project'], 'zmx');
    assert.equal(line['env'], 'dev');
    assert.equal(line['name'], 'lab');

    // The rest as separate calls in one process (cli-batch), in order: the
    // calls above went through the executable; each here is its own connection.
    await newDetached(sb, 'lab2');
    const [unset, afterUnset, emptied, afterEmpty, copy] = await zmxBatch([
      ['unset', 'lab', 'env'], ['get', 'lab'], ['set', 'lab', 'tier='], ['get', 'lab'], ['get', 'lab'],
    ], sb.env);
    assertOk(unset!, 'unset');
    assert.equal(afterUnset!.stdout, 'project=zmx tier=1');
    assertOk(emptied!, 'set tier=');
    assert.equal(afterEmpty!.stdout, 'project=zmx');
    // set next "$(get prev)" copies labels.
    const [copied, copiedGet, cleared, afterClear, ro, badKey, badValue] = await zmxBatch([
      ['set', 'lab2', copy!.stdout], ['get', 'lab2'], ['clear', 'lab'], ['get', 'lab'],
      ['set', 'lab', 'name=x'], ['set', 'lab', 'k!y=v'], ['set', 'lab', 'k=v$'],
    ], sb.env);
    assertOk(copied!, 'set from get');
    assert.equal(copiedGet!.stdout, 'project=zmx');
    assertOk(cleared!, 'clear');
    assert.deepEqual([afterClear!.status, afterClear!.stdout], [0, '']);
    assertOneLineError(ro!, 'set name=x', /read-only/);
    assertOneLineError(badKey!, 'set with a bad character in a key', /k!y/);
    assertOneLineError(badValue!, 'set with a bad character in a value', /v\$/);
    assert.deepEqual(await shortList(sb), ['lab', 'lab2']);
    assert.equal((await list(sb)).find((s) => s['name'] === 'lab')!['name'], 'lab', 'the name is unchanged');
    assertOneLineError(await sb.zmx(['get', 'ghost']), 'get of a missing session', /ghost/);
    assertOneLineError(await sb.zmx(['set', 'ghost', 'a=b']), 'set on a missing session', /ghost/);
  });

  test('"." means this session ($ZMX_SESSION) for labels', async (t) => {
    const sb = sandbox(t);
    await newDetached(sb, 'here');
    assertOk(await sb.zmx(['set', '.', 'status=ok'], { env: { ZMX_SESSION: 'here' } }), 'set . with ZMX_SESSION');
    assert.equal((await sb.zmx(['get', 'here', 'status'])).stdout, 'ok');
    assertOneLineError(await sb.zmx(['get', '.']), 'get . outside a session', /ZMX_SESSION/);
  });

  test('a ZMX_DIR too long for unix sockets is a one-line error naming the limit; nothing starts', async (t) => {
    const sb = sandbox(t);
    const long = join(sb.base, 'x'.repeat(120));
    const r = await sb.zmx(['new', '-s', 'a', '-d'], { env: { ZMX_DIR: long } });
    assertOneLineError(r, 'new with a long ZMX_DIR', /too long for sockets .*max 107/);
    assert.ok(!existsSync(long), 'no run-time directory was made');
  });

  test('new without -d and without a terminal says to add -d, and creates nothing', async (t) => {
    const sb = sandbox(t);
    assertOneLineError(await sb.zmx(['new', '-s', 'tty']), 'new with no terminal', /-d/);
    assert.equal(sb.frontPid(), null, 'no server was started');
  });
});
