/**
 * The agent portal, black-box: zmx fs, exec, cp and audit against a real
 * private server (its front runs the file and command services), checked on
 * disk and in the audit log. Per-key limits are set the way a user sets
 * them (zmx keys authorize), on the key the CLI uses.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, openSync, closeSync, readFileSync, readdirSync, realpathSync, statSync, symlinkSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { ZMX_BIN, alive, until, type RunResult, type Sandbox } from '../helpers/harness.js';
import { zmxBatch } from '../helpers/cli-batch.js';
import { sandbox, assertOk, assertOneLineError } from '../helpers/assert.js';
import type { AuditEntry } from '../../src/common/portal.js';
import { listing } from '../helpers/tree.js';

/** A session whose root is a fresh directory beside an `outside` one the tests check stays untouched. */
async function workspace(sb: Sandbox, name = 'p'): Promise<{ root: string; outside: string }> {
  const root = join(sb.base, 'root');
  const outside = join(sb.base, 'outside');
  mkdirSync(join(root, 'src'), { recursive: true });
  mkdirSync(outside, { recursive: true });
  writeFileSync(join(root, 'src', 'a.ts'), 'export const a = 1; // TODO one\n');
  writeFileSync(join(root, 'src', 'b.ts'), 'export const b = 2;\n// todo two\n');
  writeFileSync(join(root, 'README.md'), '# hi\n');
  writeFileSync(join(outside, 'secret'), 'outside secret\n');
  assertOk(await sb.zmx(['new', '-d', '-s', name, '-c', root]), 'new');
  return { root: realpathSync(root), outside: realpathSync(outside) };
}

function auditLines(sb: Sandbox): AuditEntry[] {
  const file = join(sb.dir, 'state', 'audit.log');
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as AuditEntry);
}

async function sha256(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** Ended: no such process, or a zombie waiting for a parent (this container's init may not reap). */
function gone(pid: number): boolean {
  if (!alive(pid)) return true;
  try {
    return /^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true;
  }
}

const MiB = 1024 * 1024;
/**
 * The size of the cp round trip: four times the growth allowed on either
 * side, so a copy that buffered the file would fail. 1 GiB showed no more
 * and cost the suite ≈ 25 s of hashing and copying on 2 cores.
 */
const CP_BYTES = 256 * MiB;

function vmRss(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

describe('portal', { concurrency: 3 }, () => {
  test('fs: write, read, ls, stat, edit, grep, mv, rm, mkdir act on the session\'s root', async (t) => {
    const sb = sandbox(t);
    const { root } = await workspace(sb);
    const data = Buffer.from([0, 1, 2, 255, 10, 13, 0, 65]);
    assertOk(await sb.zmx(['fs', 'write', '-t', 'p', 'deep/er/x.bin', '-p'], { input: data }), 'fs write -p');
    assert.deepEqual(readFileSync(join(root, 'deep/er/x.bin')), data);
    const noParents = await sb.zmx(['fs', 'write', '-t', 'p', 'nope/x.txt'], { input: 'x' });
    assertOneLineError(noParents, 'write without parents', /parent|-p/i);
    assert.equal(existsSync(join(root, 'nope')), false);

    const read = await sb.zmx(['fs', 'read', '-t', 'p', 'src/a.ts']);
    assertOk(read, 'fs read');
    assert.equal(read.stdout, 'export const a = 1; // TODO one\n');
    const range = await sb.zmx(['fs', 'read', '-t', 'p', 'src/a.ts', '--offset', '7', '--length', '5']);
    assert.equal(range.stdout, 'const');

    const ls = await sb.zmx(['fs', 'ls', '-t', 'p', '-R', '--glob', '**/*.ts', '--json']);
    assertOk(ls, 'fs ls');
    assert.deepEqual((JSON.parse(ls.stdout) as { entries: { path: string }[] }).entries.map((e) => e.path), ['src/a.ts', 'src/b.ts']);
    const st = JSON.parse((await sb.zmx(['fs', 'stat', '-t', 'p', 'README.md', '--json'])).stdout) as { type: string; size: number };
    assert.deepEqual([st.type, st.size], ['file', 5]);

    // An edit whose count is wrong writes nothing.
    const before = readFileSync(join(root, 'src/b.ts'));
    const wrong = await sb.zmx(['fs', 'edit', '-t', 'p', 'src/b.ts', '--old', 'const', '--new', 'let', '--count', '2']);
    assertOneLineError(wrong, 'edit with a wrong count', /1|occurrence/);
    assert.deepEqual(readFileSync(join(root, 'src/b.ts')), before);
    assertOk(await sb.zmx(['fs', 'edit', '-t', 'p', 'src/b.ts', '--old', 'const', '--new', 'let']), 'edit');
    assert.equal(readFileSync(join(root, 'src/b.ts'), 'utf8'), 'export let b = 2;\n// todo two\n');

    const grep = await sb.zmx(['fs', 'grep', '-t', 'p', '-i', 'todo', 'src']);
    assertOk(grep, 'grep');
    assert.equal(grep.stdout, 'src/a.ts:1:export const a = 1; // TODO one\nsrc/b.ts:2:// todo two\n');
    assert.equal((await sb.zmx(['fs', 'grep', '-t', 'p', 'nothing-matches-this'])).status, 1);

    assertOk(await sb.zmx(['fs', 'mkdir', '-t', 'p', 'm/n', '-p']), 'mkdir -p');
    assert.ok(statSync(join(root, 'm/n')).isDirectory());
    assertOk(await sb.zmx(['fs', 'mv', '-t', 'p', 'README.md', 'm/n/README.md']), 'mv');
    assert.equal(readFileSync(join(root, 'm/n/README.md'), 'utf8'), '# hi\n');
    assertOk(await sb.zmx(['fs', 'rm', '-t', 'p', 'm', '-r']), 'rm -r');
    assert.equal(existsSync(join(root, 'm')), false);

    const ops = auditLines(sb).map((e) => `${e.op} ${e.result}`);
    for (const want of ['fs.write OK', 'fs.write ENOENT', 'fs.read OK', 'fs.edit EINVAL', 'fs.edit OK', 'fs.grep OK', 'fs.mv OK', 'fs.rm OK']) assert.ok(ops.includes(want), `audit has "${want}": ${ops.join(', ')}`);
  });

  test('every path that leads out of the root is refused (EOUTSIDE) and nothing outside is read or touched', async (t) => {
    const sb = sandbox(t);
    const { root, outside } = await workspace(sb);
    symlinkSync(outside, join(root, 'link-out'));
    symlinkSync(join(outside, 'secret'), join(root, 'secret-link'));
    symlinkSync(join(outside, 'created-through-dangling'), join(root, 'dangling'));
    symlinkSync('link-out', join(root, 'chain'));
    mkdirSync(`${root}X`);
    writeFileSync(join(`${root}X`, 'sibling'), 'sibling\n');
    const escapes = [
      '../outside/secret', 'src/../../outside/secret', join(outside, 'secret'), '/etc/passwd', join(`${root}X`, 'sibling'),
      'link-out/secret', 'secret-link', 'chain/secret', 'dangling', `/proc/self/root${outside}/secret`, '/proc/self/cwd/secret',
    ];
    const outsideBefore = listing(outside);
    const siblingBefore = listing(`${root}X`);
    const attempts: [string, string[], string | null][] = [];
    for (const p of escapes) {
      attempts.push(['fs.read', ['fs', 'read', '-t', 'p', p], null]);
      attempts.push(['fs.write', ['fs', 'write', '-t', 'p', p, '-p'], 'pwned\n']);
      // stat shows a symlink itself (inside the root), as ls -l does: only paths through one are refused.
      if (p !== 'secret-link' && p !== 'dangling') attempts.push(['fs.stat', ['fs', 'stat', '-t', 'p', p], null]);
    }
    attempts.push(['fs.edit', ['fs', 'edit', '-t', 'p', 'secret-link', '--old', 'outside', '--new', 'pwned'], null]);
    attempts.push(['fs.rm', ['fs', 'rm', '-t', 'p', 'link-out/secret'], null]);
    attempts.push(['fs.mv', ['fs', 'mv', '-t', 'p', 'src/a.ts', 'link-out/a.ts'], null]);
    attempts.push(['fs.mkdir', ['fs', 'mkdir', '-t', 'p', 'link-out/newdir', '-p'], null]);
    attempts.push(['fs.ls', ['fs', 'ls', '-t', 'p', 'link-out'], null]);
    attempts.push(['fs.grep', ['fs', 'grep', '-t', 'p', 'secret', '../outside'], null]);
    attempts.push(['exec.start', ['exec', '-t', 'p', '-C', '../outside', '--', 'ls'], null]);
    // Those that read stdin (writes) through the executable; the rest as separate calls in one process (cli-batch).
    const withInput = attempts.filter(([, , input]) => input !== null);
    const withoutInput = attempts.filter(([, , input]) => input === null);
    const results: [string[], RunResult][] = [];
    for (const [, args, input] of withInput) results.push([args, await sb.zmx(args, { input: input! })]);
    const batched = await zmxBatch(withoutInput.map(([, args]) => args), sb.env);
    for (const [i, [, args]] of withoutInput.entries()) results.push([args, batched[i]!]);
    for (const [args, r] of results) {
      assertOneLineError(r, args.join(' '), /outside/i);
      assert.doesNotMatch(r.stdout, /outside secret|sibling/, `${args.join(' ')} printed nothing from outside`);
    }
    assert.deepEqual(listing(outside), outsideBefore, 'nothing outside the root changed');
    assert.deepEqual(listing(`${root}X`), siblingBefore);
    assert.equal(existsSync(join(outside, 'created-through-dangling')), false);
    const refused = auditLines(sb).filter((e) => e.result === 'EOUTSIDE');
    assert.equal(refused.length, attempts.length, `one EOUTSIDE audit line per attempt: ${JSON.stringify(auditLines(sb).map((e) => [e.op, e.path, e.result]))}`);
  });

  test('a key allowed only fs.read: write and exec are EDENIED, each attempt audited; a read-only key cannot write', async (t) => {
    const sb = sandbox(t);
    const { root } = await workspace(sb);
    const key = (await sb.zmx(['keys', 'show'])).stdout.trim();
    assertOk(await sb.zmx(['keys', 'authorize', key, '--name', 'reader', '--allow', 'fs.read']), 'authorize --allow fs.read');
    assertOk(await sb.zmx(['fs', 'read', '-t', 'p', 'README.md']), 'read is allowed');
    const w = await sb.zmx(['fs', 'write', '-t', 'p', 'new.txt'], { input: 'no' });
    assertOneLineError(w, 'write with fs.read only', /may not fs\.write.*fs\.write/);
    const x = await sb.zmx(['exec', '-t', 'p', '--', 'touch', 'made-by-exec']);
    assertOneLineError(x, 'exec with fs.read only', /may not exec\.start/);
    const a = await sb.zmx(['audit']);
    assertOneLineError(a, 'audit needs admin', /admin/);
    assert.equal(existsSync(join(root, 'new.txt')), false);
    assert.equal(existsSync(join(root, 'made-by-exec')), false);
    const lines = auditLines(sb).filter((e) => e.who === 'reader');
    assert.deepEqual(lines.map((e) => `${e.op} ${e.result}`), ['fs.read OK', 'fs.write EDENIED', 'exec.start EDENIED', 'audit.read EDENIED']);
    assert.deepEqual(lines.find((e) => e.op === 'exec.start')?.argv, ['touch', 'made-by-exec']);
    assert.match(lines[0]!.key, /^SHA256:/);
    assert.equal(statSync(join(sb.dir, 'state', 'audit.log')).mode & 0o777, 0o600);

    assertOk(await sb.zmx(['keys', 'authorize', key, '--name', 'ro', '--read-only']), 'authorize --read-only');
    assertOneLineError(await sb.zmx(['fs', 'write', '-t', 'p', 'new.txt'], { input: 'no' }), 'read-only write', /read-only/);
    assertOneLineError(await sb.zmx(['send', 'p', 'echo hi']), 'read-only send', /read-only/);
    assertOk(await sb.zmx(['fs', 'read', '-t', 'p', 'README.md']), 'read-only read');
    // zmx audit reads the log through the server; the read-only key has admin.
    const shown = await sb.zmx(['audit', '--json', '-t', 'p']);
    assertOk(shown, 'audit --json');
    const seen = shown.stdout.trim().split('\n').map((l) => JSON.parse(l) as AuditEntry);
    assert.ok(seen.some((e) => e.who === 'ro' && e.op === 'fs.write' && e.result === 'EDENIED'), 'zmx audit shows the refusal');
    assert.ok(seen.every((e) => e.session === 'p'));
  });

  test('exec: stdout, stderr and the exit code apart; --json; a timeout kills the whole process tree', async (t) => {
    const sb = sandbox(t);
    const { root } = await workspace(sb);
    const r = await sb.zmx(['exec', '-t', 'p', '--', 'sh', '-c', 'echo out; echo err >&2; pwd; exit 3']);
    assert.equal(r.status, 3);
    assert.equal(r.stdout, `out\n${root}\n`);
    assert.equal(r.stderr, 'err\n');
    const lines = 3000;
    const j = await sb.zmx(['exec', '-t', 'p', '--json', '--', `for i in $(seq 1 ${lines}); do echo out$i; echo err$i >&2; done`]);
    assertOk(j, 'exec --json');
    const res = JSON.parse(j.stdout) as { exitCode: number; signal: string | null; durationMs: number; truncated: boolean; stdout: string; stderr: string };
    assert.equal(res.exitCode, 0);
    assert.equal(res.signal, null);
    assert.equal(res.truncated, false);
    assert.equal(typeof res.durationMs, 'number');
    const seq = (p: string) => Array.from({ length: lines }, (_, i) => `${p}${i + 1}\n`).join('');
    assert.equal(res.stdout, seq('out'));
    assert.equal(res.stderr, seq('err'));
    // Stdin is passed on.
    const cat = await sb.zmx(['exec', '-t', 'p', '--', 'tr', 'a-z', 'A-Z'], { input: 'shout\n' });
    assert.equal(cat.stdout, 'SHOUT\n');

    // A child and a grandchild that ignores SIGTERM: all gone at the timeout.
    const tree = await sb.zmx(['exec', '-t', 'p', '--timeout', '1', '--', 'sh', '-c', 'sleep 300 & echo $!; sh -c \'trap "" TERM; echo $$; exec sleep 300\' & wait'], { timeoutMs: 20_000 });
    assert.equal(tree.status, 124, tree.stderr);
    assertOneLineError(tree, 'timeout', /ran out of time/);
    const pids = tree.stdout.trim().split('\n').map(Number);
    assert.equal(pids.length, 2, tree.stdout);
    await until(() => pids.every(gone), 'every process of the command ended');
    const timedOut = auditLines(sb).find((e) => e.op === 'exec' && e.timedOut);
    assert.ok(timedOut, 'the audit log has the command\'s end');
  });

  test(`cp: ${CP_BYTES / MiB} MiB up and back with bounded memory on both sides, byte for byte`, { timeout: 600_000 }, async (t) => {
    const sb = sandbox(t);
    const { root } = await workspace(sb);
    const MB = MiB;
    const src = join(sb.base, 'big.bin');
    // Distinct content per MiB, so a chunk put at the wrong offset changes the hash.
    const fd = openSync(src, 'w');
    const block = Buffer.alloc(MB);
    for (let i = 0; i < CP_BYTES / MB; i++) {
      block.fill(i & 0xff);
      block.writeUInt32BE(i, 0);
      writeSync(fd, block);
    }
    closeSync(fd);
    const want = await sha256(src);
    const front = sb.frontPid()!;
    const frontBefore = vmRss(front);
    let frontMax = frontBefore;
    const sampler = setInterval(() => { frontMax = Math.max(frontMax, vmRss(front)); }, 20);
    t.after(() => clearInterval(sampler));
    /** zmx run under GNU time: its peak RSS in bytes. */
    const peak = (args: string[]) => new Promise<{ status: number; rss: number; stderr: string }>((resolve) => {
      const child = spawn('/usr/bin/time', ['-f', 'maxrss=%M', ZMX_BIN, ...args], { env: sb.env, stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d) => { stderr += d; });
      child.on('close', (code) => resolve({ status: code ?? 1, rss: Number(/maxrss=(\d+)/.exec(stderr)?.[1] ?? 0) * 1024, stderr }));
    });
    writeFileSync(join(sb.base, 'tiny.bin'), 'x');
    const tiny = await peak(['cp', join(sb.base, 'tiny.bin'), 'p:tiny.bin']);
    assert.equal(tiny.status, 0, tiny.stderr);
    const up = await peak(['cp', src, 'p:big.bin']);
    assert.equal(up.status, 0, up.stderr);
    const back = join(sb.base, 'back.bin');
    const down = await peak(['cp', 'p:big.bin', back]);
    assert.equal(down.status, 0, down.stderr);
    clearInterval(sampler);
    assert.equal(await sha256(join(root, 'big.bin')), want, 'the server\'s copy');
    assert.equal(await sha256(back), want, 'the copy back');
    const limit = 64 * MB;
    t.diagnostic(`growth: server ${((frontMax - frontBefore) / MB).toFixed(1)} MB, cp up ${((up.rss - tiny.rss) / MB).toFixed(1)} MB, cp down ${((down.rss - tiny.rss) / MB).toFixed(1)} MB`);
    assert.ok(frontMax - frontBefore < limit, `the server grew by ${((frontMax - frontBefore) / MB).toFixed(1)} MB`);
    assert.ok(up.rss - tiny.rss < limit, `zmx cp up grew by ${((up.rss - tiny.rss) / MB).toFixed(1)} MB over a 1-byte copy`);
    assert.ok(down.rss - tiny.rss < limit, `zmx cp down grew by ${((down.rss - tiny.rss) / MB).toFixed(1)} MB over a 1-byte copy`);
    assert.deepEqual(readdirSync(root).filter((f) => f.includes('.tmp')), [], 'no temporary files left');
    spawnSync('rm', ['-f', src, back, join(root, 'big.bin')]);
  });
});
