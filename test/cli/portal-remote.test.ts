/**
 * The agent portal over -H HOST, black-box: a server sandbox listening on
 * loopback TCP (Curve) and client sandboxes paired with it. Files, commands
 * and copies reach the server's disk; the server's audit log names the
 * client's key; per-key limits set with `zmx keys authorize` on the server
 * (a root, a set of operations) hold for a remote key as for a local one.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, realpathSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { until, type Sandbox } from '../helpers/harness.js';
import { assertOk, assertOneLineError } from '../helpers/assert.js';
import { listening, paired } from '../helpers/remote.js';
import type { AuditEntry } from '../../src/common/portal.js';

type After = { after(fn: () => Promise<void>): void };

/** A server with a session `p` whose root is a fresh directory, and a client paired with it as host `box`. */
async function remoteWorkspace(t: After): Promise<{ server: Sandbox; address: string; client: Sandbox; root: string }> {
  const { server, address } = await listening(t);
  const root = join(server.base, 'root');
  mkdirSync(join(root, 'src'), { recursive: true });
  writeFileSync(join(root, 'README.md'), '# hi\n');
  writeFileSync(join(root, 'src', 'a.ts'), 'export const a = 1;\n');
  assertOk(await server.zmx(['new', '-d', '-s', 'p', '-c', root]), 'new on the server');
  const client = await paired(t, server, address);
  return { server, address, client, root: realpathSync(root) };
}

/** Re-authorizes the client's key on the server (replacing its entry); returns its fingerprint there. */
async function authorizeOn(server: Sandbox, client: Sandbox, flags: string[]): Promise<string> {
  const key = (await client.zmx(['keys', 'show'])).stdout.trim();
  assertOk(await server.zmx(['keys', 'authorize', key, ...flags]), `keys authorize ${flags.join(' ')}`);
  const keys = JSON.parse((await server.zmx(['keys', 'list', '--json'])).stdout) as { key: string; fingerprint: string }[];
  const found = keys.find((k) => k.key === key);
  assert.ok(found, `the server lists the client's key: ${JSON.stringify(keys)}`);
  assert.match(found.fingerprint, /^SHA256:/);
  return found.fingerprint;
}

/** The server's audit log, read by `zmx audit --json` run on the server. */
async function serverAudit(server: Sandbox): Promise<AuditEntry[]> {
  const r = await server.zmx(['audit', '--json']);
  assertOk(r, 'zmx audit --json on the server');
  return r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as AuditEntry);
}

/** The server's audit log file as it is on disk. */
function auditFile(server: Sandbox): AuditEntry[] {
  const file = join(server.dir, 'state', 'audit.log');
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as AuditEntry);
}

/** Runs zmx (tracked by the sandbox) and keeps its stdout as bytes, for binary output. */
function zmxBytes(sb: Sandbox, args: string[]): Promise<{ status: number; stdout: Buffer; stderr: string }> {
  const child = sb.start(args);
  child.stdin!.end();
  const out: Buffer[] = [];
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => out.push(d));
  child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
  return new Promise((resolve) => child.on('close', (code, signal) => resolve({ status: code ?? (signal ? 128 : 1), stdout: Buffer.concat(out), stderr })));
}

/** A started zmx whose stdout is gathered as text. */
function started(sb: Sandbox, args: string[]): { child: ChildProcess; out: () => string; exit: Promise<number> } {
  const child = sb.start(args);
  child.stdin!.end();
  let stdout = '';
  child.stdout!.on('data', (d: Buffer) => { stdout += d.toString(); });
  child.stderr!.on('data', () => {});
  const exit = new Promise<number>((resolve) => child.on('close', (code, signal) => resolve(code ?? (signal ? 128 : 1))));
  return { child, out: () => stdout, exit };
}

function sha256(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

describe('portal over -H (TCP + Curve)', { concurrency: 3 }, () => {
  test('fs write/read of binary data, fs ls, exec and a 20 MB cp up and back reach the server; its audit log names the key', async (t) => {
    const { server, client, root } = await remoteWorkspace(t);
    const fp = await authorizeOn(server, client, ['--name', 'laptop']);

    // Every byte value, and more than one chunk, so both write paths (one message, an upload) are crossed.
    const data = Buffer.alloc(1024 * 1024 + 4099);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7 + (i >> 11)) & 0xff;
    assertOk(await client.zmx(['fs', 'write', '-H', 'box', '-t', 'p', 'bin/data.bin', '-p'], { input: data }), 'fs write -H');
    assert.deepEqual(readFileSync(join(root, 'bin/data.bin')), data, 'the bytes on the server\'s disk');
    const small = Buffer.from([0, 255, 10, 13, 0, 0x80, 0xc3, 0x28]);
    assertOk(await client.zmx(['fs', 'write', '-H', 'box', '-t', 'p', 'bin/small.bin'], { input: small }), 'fs write -H (small)');
    assert.deepEqual(readFileSync(join(root, 'bin/small.bin')), small);
    const back = await zmxBytes(client, ['fs', 'read', '-H', 'box', '-t', 'p', 'bin/data.bin']);
    assert.equal(back.status, 0, back.stderr);
    assert.ok(back.stdout.equals(data), `fs read -H gave back the same ${data.length} bytes (got ${back.stdout.length})`);
    const smallBack = await zmxBytes(client, ['fs', 'read', '-H', 'box', '-t', 'p', 'bin/small.bin']);
    assert.ok(smallBack.stdout.equals(small), 'small binary file read back');

    const ls = await client.zmx(['fs', 'ls', '-H', 'box', '-t', 'p', '--json']);
    assertOk(ls, 'fs ls -H');
    assert.deepEqual((JSON.parse(ls.stdout) as { entries: { path: string; type: string }[] }).entries.map((e) => `${e.type} ${e.path}`).sort(),
      ['dir bin', 'dir src', 'file README.md']);

    const x = await client.zmx(['exec', '-H', 'box', '-t', 'p', '--', 'sh', '-c', 'echo to-out; echo to-err >&2; pwd; exit 5']);
    assert.equal(x.status, 5, x.stderr);
    assert.equal(x.stdout, `to-out\n${root}\n`, 'stdout alone, and the command ran in the server\'s root');
    assert.equal(x.stderr, 'to-err\n', 'stderr alone');

    // A ~20 MB file, distinct per MiB so a misplaced chunk changes the hash.
    const MB = 1024 * 1024;
    const src = join(client.base, 'big.bin');
    const fd = openSync(src, 'w');
    const block = Buffer.alloc(MB);
    for (let i = 0; i < 20; i++) {
      block.fill((i * 37) & 0xff);
      block.writeUInt32BE(i, 0);
      writeSync(fd, block);
    }
    writeSync(fd, Buffer.from('tail that is not a whole chunk'));
    closeSync(fd);
    const want = sha256(src);
    const up = await client.zmx(['cp', '-H', 'box', src, 'p:big.bin'], { timeoutMs: 60_000 });
    assertOk(up, 'cp up -H');
    assert.equal(sha256(join(root, 'big.bin')), want, 'the server\'s copy');
    const down = join(client.base, 'back.bin');
    assertOk(await client.zmx(['cp', '-H', 'box', 'p:big.bin', down], { timeoutMs: 60_000 }), 'cp down -H');
    assert.equal(sha256(down), want, 'the copy back');

    const mine = (await serverAudit(server)).filter((e) => e.key === fp);
    const ops = mine.map((e) => `${e.op} ${e.result} ${e.who}`);
    for (const want of ['fs.write OK laptop', 'fs.upload.commit OK laptop', 'fs.read OK laptop', 'fs.list OK laptop', 'fs.stat OK laptop']) {
      assert.ok(ops.includes(want), `the server's audit has "${want}": ${ops.join(', ')}`);
    }
    const commit = mine.filter((e) => e.op === 'fs.upload.commit').map((e) => [e.path, e.bytes]);
    assert.deepEqual(commit.find(([p]) => p === 'big.bin'), ['big.bin', 20 * MB + 30], 'the cp up is one audit line with its size');
    const execEnd = mine.find((e) => e.op === 'exec');
    assert.ok(execEnd, `the command's end is in the server's audit log under the key: ${ops.join(', ')}`);
    assert.deepEqual([execEnd.argv, execEnd.exitCode], [['sh', '-c', 'echo to-out; echo to-err >&2; pwd; exit 5'], 5]);
    // The file on the server's disk says the same.
    assert.ok(auditFile(server).some((e) => e.key === fp && e.who === 'laptop' && e.op === 'fs.read'));
    rmSync(src, { force: true });
    rmSync(down, { force: true });
    rmSync(join(root, 'big.bin'), { force: true });
  });

  test('the audit line of a remote command\'s end carries the key\'s name, as every other line does', async (t) => {
    const { server, client } = await remoteWorkspace(t);
    const fp = await authorizeOn(server, client, ['--name', 'laptop']);
    assertOk(await client.zmx(['exec', '-H', 'box', '-t', 'p', '--', 'true']), 'exec -H');
    const end = (await serverAudit(server)).find((e) => e.key === fp && e.op === 'exec');
    assert.ok(end, 'the command\'s end is logged');
    assert.equal(end.who, 'laptop');
  });

  test('a key with --root DIR: paths resolve in DIR, .. out of it is EOUTSIDE though inside the session\'s root, exec runs in DIR', async (t) => {
    const { server, client, root } = await remoteWorkspace(t);
    const dir = join(root, 'sub', 'jail');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'inside.txt'), 'in the jail\n');
    await authorizeOn(server, client, ['--name', 'jailed', '--root', dir]);

    assertOk(await client.zmx(['fs', 'write', '-H', 'box', '-t', 'p', 'made.txt'], { input: 'landed\n' }), 'fs write in DIR');
    assert.equal(readFileSync(join(dir, 'made.txt'), 'utf8'), 'landed\n', 'the file landed in DIR on the server\'s disk');
    assert.equal(existsSync(join(root, 'made.txt')), false, 'not in the session\'s root');
    const read = await client.zmx(['fs', 'read', '-H', 'box', '-t', 'p', 'inside.txt']);
    assertOk(read, 'fs read in DIR');
    assert.equal(read.stdout, 'in the jail\n');
    const ls = await client.zmx(['fs', 'ls', '-H', 'box', '-t', 'p', '--json']);
    assert.deepEqual((JSON.parse(ls.stdout) as { entries: { path: string }[] }).entries.map((e) => e.path).sort(), ['inside.txt', 'made.txt']);

    // Each of these is inside the session's root, but not inside DIR.
    const readmeBefore = readFileSync(join(root, 'README.md'), 'utf8');
    for (const args of [
      ['fs', 'read', '-H', 'box', '-t', 'p', '../../README.md'],
      ['fs', 'read', '-H', 'box', '-t', 'p', join(root, 'README.md')],
      ['fs', 'ls', '-H', 'box', '-t', 'p', '..'],
      ['fs', 'stat', '-H', 'box', '-t', 'p', '../../src/a.ts'],
      ['exec', '-H', 'box', '-t', 'p', '-C', '../..', '--', 'cat', 'README.md'],
    ]) {
      const r = await client.zmx(args);
      assertOneLineError(r, args.join(' '), /outside/i);
      assert.doesNotMatch(r.stdout, /# hi|export const/, `${args.join(' ')} printed nothing from outside DIR`);
    }
    const w = await client.zmx(['fs', 'write', '-H', 'box', '-t', 'p', '../../README.md'], { input: 'pwned\n' });
    assertOneLineError(w, 'write through .. out of DIR', /outside/i);
    assert.equal(readFileSync(join(root, 'README.md'), 'utf8'), readmeBefore, 'the session\'s root is untouched');

    const pwd = await client.zmx(['exec', '-H', 'box', '-t', 'p', '--', 'pwd']);
    assertOk(pwd, 'exec pwd');
    assert.equal(pwd.stdout, `${realpathSync(dir)}\n`);
    const refused = auditFile(server).filter((e) => e.who === 'jailed' && e.result === 'EOUTSIDE');
    assert.equal(refused.length, 6, `one EOUTSIDE line per attempt: ${JSON.stringify(refused.map((e) => [e.op, e.path]))}`);
  });

  test('a key allowed fs.read,exec: run, send, capture-pane are EDENIED naming the missing op; ls still works', async (t) => {
    const { server, client, root } = await remoteWorkspace(t);
    await authorizeOn(server, client, ['--name', 'agent', '--allow', 'fs.read,exec']);
    const ls = await client.zmx(['ls', '--short', '-H', 'box']);
    assertOk(ls, 'ls -H needs no operation');
    assert.equal(ls.stdout, 'p\n');
    for (const [what, args, re] of [
      // run first makes sure the session exists (session.create, ifMissing): that is the op refused.
      ['run', ['run', '-H', 'box', 'p', `echo x > ${join(root, 'ran')}`], /may not session\.(create|run) \(it lacks "pty"/],
      ['send', ['send', '-H', 'box', 'p', `echo y > ${join(root, 'sent')}`], /may not session\.send \(it lacks "pty"/],
      ['capture-pane', ['capture-pane', '-H', 'box', '-t', 'p'], /may not pane\.capture \(it lacks "pty"/],
    ] as const) {
      const r = await client.zmx([...args]);
      assertOneLineError(r, what, re, true);
    }
    // What it is allowed still works, over the same host.
    assertOk(await client.zmx(['fs', 'read', '-H', 'box', '-t', 'p', 'README.md']), 'fs.read allowed');
    assertOk(await client.zmx(['exec', '-H', 'box', '-t', 'p', '--', 'true']), 'exec allowed');
    assertOneLineError(await client.zmx(['fs', 'write', '-H', 'box', '-t', 'p', 'w.txt'], { input: 'no' }), 'fs.write not allowed', /may not fs\.write \(it lacks "fs\.write"/);
    assert.equal(existsSync(join(root, 'ran')), false, 'run typed nothing');
    assert.equal(existsSync(join(root, 'sent')), false, 'send typed nothing');
    assert.equal(existsSync(join(root, 'w.txt')), false);
    const denied = auditFile(server).filter((e) => e.who === 'agent' && e.result === 'EDENIED').map((e) => e.op);
    assert.ok(denied.includes('session.create') || denied.includes('session.run'), `the refusal of run is audited: ${denied.join(', ')}`);
    for (const op of ['session.send', 'pane.capture', 'fs.write']) assert.ok(denied.includes(op), `the refusal of ${op} is audited: ${denied.join(', ')}`);
  });

  test('exec --list and --attach from another invocation; another key\'s command is neither listed nor attachable', async (t) => {
    const { server, address, client, root } = await remoteWorkspace(t);
    const other = await paired(t, server, address, 'box');
    await authorizeOn(server, other, ['--name', 'other', '--allow', 'fs.read,exec']);

    // It prints a line, waits for a file the test makes, prints another and exits 7.
    const script = 'echo first; echo oops >&2; while [ ! -e go ]; do sleep 0.05; done; echo second; exit 7';
    const runner = started(client, ['exec', '-H', 'box', '-t', 'p', '--', 'sh', '-c', script]);
    await until(() => runner.out().includes('first\n'), 'the command\'s first line', 15_000);

    const list = await client.zmx(['exec', '-H', 'box', '-t', 'p', '--list']);
    assertOk(list, 'exec --list');
    const lines = list.stdout.split('\n').filter(Boolean);
    assert.equal(lines.length, 1, list.stdout);
    const m = /^(\d+)\tpid=(\d+)\trunning\tstarted=\S+\tsh -c (.*)$/.exec(lines[0]!);
    assert.ok(m, `--list shows it running: ${JSON.stringify(lines[0])}`);
    assert.equal(m[3], script);
    const id = m[1]!;

    // The other key sees nothing and cannot attach to it, nor kill it.
    const otherList = await other.zmx(['exec', '-H', 'box', '-t', 'p', '--list']);
    assertOk(otherList, 'exec --list by the other key');
    assert.equal(otherList.stdout, '', 'another key\'s command is not listed');
    assertOneLineError(await other.zmx(['exec', '-H', 'box', '-t', 'p', '--attach', id]), 'attach by the other key', new RegExp(`no command ${id}\\b`), true);
    assertOneLineError(await other.zmx(['exec', '-H', 'box', '-t', 'p', '--kill', id]), 'kill by the other key', new RegExp(`no command ${id}\\b`), true);

    const attached = client.zmx(['exec', '-H', 'box', '-t', 'p', '--attach', id]);
    // The attach has its first output before the command goes on.
    writeFileSync(join(root, 'go'), '');
    const a = await attached;
    assert.equal(a.status, 7, a.stderr);
    assert.equal(a.stdout, 'first\nsecond\n', '--attach prints the whole output');
    assert.equal(a.stderr, 'oops\n');
    assert.equal(await runner.exit, 7, 'the first invocation ends with the command\'s status too');
    assert.equal(runner.out(), 'first\nsecond\n');

    const after = await client.zmx(['exec', '-H', 'box', '-t', 'p', '--list']);
    assert.match(after.stdout, new RegExp(`^${id}\\tpid=\\d+\\texit=7\\t`), 'ended lately, with its status');
    // Attaching once it has ended still gives the whole output and its status.
    const late = await client.zmx(['exec', '-H', 'box', '-t', 'p', '--attach', id]);
    assert.equal(late.status, 7);
    assert.equal(late.stdout, 'first\nsecond\n');
  });

  test('fs watch -H prints create then remove for a file made and removed on the server\'s disk', async (t) => {
    const { server, client, root } = await remoteWorkspace(t);
    const fp = await authorizeOn(server, client, ['--name', 'watcher']);
    const watcher = started(client, ['fs', 'watch', '-H', 'box', '-t', 'p']);
    // The watch is set once the server has logged it.
    await until(() => auditFile(server).some((e) => e.key === fp && e.op === 'fs.watch' && e.result === 'OK'), 'the server to set the watch', 15_000);
    writeFileSync(join(root, 'new.txt'), 'hello\n');
    await until(() => /^create\tnew\.txt$/m.test(watcher.out()), `create\\tnew.txt (got ${JSON.stringify(watcher.out())})`, 10_000);
    rmSync(join(root, 'new.txt'));
    await until(() => /^remove\tnew\.txt$/m.test(watcher.out()), `remove\\tnew.txt (got ${JSON.stringify(watcher.out())})`, 10_000);
    const lines = watcher.out().split('\n').filter((l) => l.endsWith('\tnew.txt'));
    const create = lines.indexOf('create\tnew.txt');
    assert.ok(create >= 0 && create < lines.lastIndexOf('remove\tnew.txt'), `create before remove: ${JSON.stringify(lines)}`);
    process.kill(watcher.child.pid!, 'SIGTERM');
    assert.equal(await watcher.exit, 0, 'the watcher ends cleanly on SIGTERM');
  });
});
