/**
 * Red team, peers and resources, against a real server:
 * - 100,000 fuzz messages from peers that are not admitted (raw bytes on the
 *   socket, after a valid ZMTP greeting or not; Curve with a stranger's
 *   key; no Curve at all): no crash, a bystander served throughout. (The
 *   same fuzz from an admitted peer is test/transport/hostile.test.ts.)
 * - one admitted key exhausting what it can: parallel greps that backtrack,
 *   a watch on a large tree, oversized writes: bounded memory (the front's
 *   RSS, from /proc), clear errors, others served meanwhile.
 * - a revoked key's live connection is cut (awaited, within a second).
 * - secrets never in logs, audit, config or output.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { LIMITS } from '../../src/common/constants.js';
import { z85Decode } from '../../src/common/z85.js';
import { generateKeyPair } from '../../src/platform/zmq.js';
import { withServer, frontEndpoint, sessionNames, readKey, type ServerContext } from '../transport/wire.js';
import { mulberry32 } from '../helpers/seeded.js';
import { fuzzMessage } from '../helpers/fuzz.js';
import { alive } from '../helpers/harness.js';
import { ask, keyedClient } from './rig.js';

/** Fuzz messages the unadmitted peers send, all together. */
const UNADMITTED_MESSAGES = 100_000;
/** Raw connections they are spread over (libzmq drops each at its first bad byte; a new one goes on). */
const RAW_CONNECTIONS = 200;
/**
 * What the front may grow by while one key exhausts it: 2 searches' workers
 * (256 MiB heap each is their ceiling, a few MiB in practice), a watch of a
 * few thousand directories, refused 33 MiB writes. Far under what unbounded
 * growth would reach; RSS is noisy, so the bound is loose.
 */
const RSS_GROWTH_BOUND_MB = 300;

/** The ZMTP 3.0 greeting of a CURVE client: the handshake parser, not just the signature check, sees what follows. */
function greeting(): Buffer {
  const g = Buffer.alloc(64);
  g[0] = 0xff;
  g[9] = 0x7f;
  g[10] = 3;
  g.write('CURVE', 12, 'latin1');
  return g;
}

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : 0;
}

async function bystanderServed(ctx: ServerContext, what: string): Promise<void> {
  const c = await ctx.openUser();
  assert.ok(sessionNames(await c.request('session.list', {})).includes('a'), what);
  await c.dispose();
}

test(`${UNADMITTED_MESSAGES} fuzz messages from unadmitted peers (raw bytes, a stranger's key, no Curve): no crash, a bystander served`, async () => {
  await withServer(async (ctx) => {
    const { sb } = ctx;
    const frontPid = sb.frontPid()!;
    const path = frontEndpoint(sb).replace(/^ipc:\/\//, '');
    const rand = mulberry32(0x0bad);
    const bystander = await ctx.openUser();
    let sent = 0;
    let served = 0;
    for (let conn = 0; conn < RAW_CONNECTIONS; conn++) {
      const sock: Socket = connect({ path });
      sock.on('error', () => undefined); // libzmq hangs up on garbage: expected
      await new Promise<void>((resolve) => { sock.once('connect', resolve); sock.once('error', resolve); });
      const chunks: Buffer[] = conn % 2 === 0 ? [greeting()] : [];
      for (let i = 0; i < UNADMITTED_MESSAGES / RAW_CONNECTIONS; i++) {
        const frames = fuzzMessage(rand, {});
        // As ZMTP frames (flags, short size) or bare: both reach the parser.
        for (const f of frames) chunks.push(Buffer.from([0x00, Math.min(f.length, 255)]), f.subarray(0, 255));
        sent++;
      }
      await new Promise<void>((resolve) => sock.write(Buffer.concat(chunks), () => resolve()));
      sock.destroy();
      if (conn % 40 === 0) {
        assert.deepEqual(sessionNames(await bystander.request('session.list', {})), ['a'], `after ${sent} raw messages`);
        served++;
      }
    }
    // Curve with a key the server does not know, and no Curve at all: refused at the handshake; their sends never arrive.
    const stranger = ctx.open(generateKeyPair());
    const plain = ctx.open(null);
    for (let i = 0; i < 500; i++) {
      stranger.sendRaw(fuzzMessage(rand, {}));
      plain.sendRaw(fuzzMessage(rand, {}));
    }
    await stranger.authFailure();
    assert.equal(stranger.received.length + plain.received.length, 0, 'nothing is answered to a peer that is not admitted');
    assert.ok(alive(frontPid) && sb.frontPid() === frontPid, 'the front is the same process');
    await bystanderServed(ctx, 'a new client is served after the flood');
    const log = readFileSync(join(sb.dir, 'front.log'), 'utf8');
    assert.ok(!/uncaught exception|unhandled/i.test(log), 'no uncaught exception in front.log');
    process.stderr.write(`# red team unadmitted: ${sent} raw fuzz messages over ${RAW_CONNECTIONS} connections + 1000 by Curve-stranger and NULL peers; 0 crashes; bystander served ${served} times during\n`);
  });
});

test('one key exhausting the server: parallel backtracking greps, a watch on a large tree, oversized writes: bounded memory, clear errors, others served', async () => {
  await withServer(async (ctx) => {
    const { sb } = ctx;
    // A short search deadline, read when the server starts.
    assert.equal((await sb.zmx(['config', 'set', 'search-timeout', '2'])).status, 0);
    assert.equal((await sb.zmx(['server', 'stop'])).status, 0);
    assert.equal((await sb.zmx(['ls'])).status, 0);
    const frontPid = sb.frontPid()!;
    const root = join(sb.base, 'work');
    mkdirSync(join(root, 'evil'), { recursive: true });
    writeFileSync(join(root, 'evil', 'x.txt'), `${'a'.repeat(40)}!\n`.repeat(20));
    writeFileSync(join(root, 'ok.txt'), 'hello\n');
    for (let i = 0; i < 40; i++) for (let j = 0; j < 50; j++) mkdirSync(join(root, 'tree', `d${i}`, `e${j}`), { recursive: true });
    const user = await ctx.openUser();
    assert.ok((await ask(user, 'session.create', { name: 'w', cmd: ['sh'], cwd: root, env: {}, cols: 80, rows: 24, ifMissing: false })).ok);
    const { client: agent } = await keyedClient(ctx, root);
    const rssBefore = rssMb(frontPid);

    const greps = Array.from({ length: 10 }, () => ask(agent, 'fs.grep', { name: 'w', path: '.', pattern: '(a+)+$', glob: '', ignoreCase: false, max: 0 }));
    // While they run, another client reads a file and lists sessions.
    const read = await ask(user, 'fs.read', { name: 'w', path: 'ok.txt', offset: 0, length: 100 });
    assert.equal(Buffer.concat(read.frames).toString(), 'hello\n', 'a bystander\'s read is answered while the greps run');
    assert.deepEqual(sessionNames(await user.request('session.list', {})).sort(), ['a', 'w']);
    const codes = (await Promise.all(greps)).map((r) => r.code).sort();
    assert.deepEqual(codes, [...Array(2).fill('ETIMEDOUT'), ...Array(8).fill('ETOOBIG')], 'two searches per key run to their deadline; the rest are refused at once');

    const watch = await ask(agent, 'fs.watch', { name: 'w', path: 'tree', recursive: true });
    assert.ok(watch.ok || watch.code === 'ETOOBIG', `a watch on 2,040 directories is held or refused clearly: ${watch.code} ${watch.message}`);
    const big = await ask(agent, 'fs.write', { name: 'w', path: 'big', mode: null, parents: false }, [Buffer.alloc(LIMITS.maxWriteBytes + 1)]);
    assert.equal(big.code, 'ETOOBIG', big.message);
    for (let i = 0; i < 20; i++) await ask(agent, 'session.write', { name: 'w', path: 'big' }, [Buffer.alloc(LIMITS.maxWriteBytes + 1)]);
    const rssAfter = rssMb(frontPid);
    assert.ok(rssAfter - rssBefore < RSS_GROWTH_BOUND_MB, `the front grew ${Math.round(rssAfter - rssBefore)} MiB (${Math.round(rssBefore)} -> ${Math.round(rssAfter)})`);
    await bystanderServed(ctx, 'served after the exhaustion');
    process.stderr.write(`# red team exhaustion: 10 parallel backtracking greps -> ${codes.join(',')}; watch ${watch.code}; 21 writes of 32 MiB + 1 -> ETOOBIG; front RSS ${Math.round(rssBefore)} -> ${Math.round(rssAfter)} MiB\n`);
  });
});

test('a revoked key: its live connection is cut (awaited, within a second) and a new one is refused', async () => {
  await withServer(async (ctx) => {
    const { client, pair, keys } = await keyedClient(ctx, null, 'to revoke');
    assert.ok((await ask(client, 'session.list', {})).ok);
    assert.ok(keys.remove(pair.publicKey));
    const cut = await client.error(0, 'the EDENIED that cuts the revoked connection', 1_000);
    assert.equal(cut.code, 'EDENIED');
    assert.match(cut.message, /revoked/);
    const after = await ask(client, 'session.list', {});
    assert.equal(after.ok, false, 'the cut connection is not served any more');
    const again = ctx.open(pair);
    again.hello();
    await again.authFailure();
  });
});

test('secrets never appear in logs, the audit log, config files or output (Z85 and raw bytes)', async () => {
  await withServer(async (ctx) => {
    const { sb } = ctx;
    const outputs: string[] = [];
    const run = async (args: string[]) => {
      const r = await sb.zmx(args);
      outputs.push(r.stdout, r.stderr);
    };
    // A run that touches keys, errors and the audit log.
    const { client, pair, keys } = await keyedClient(ctx, sb.base, 'secret holder');
    await ask(client, 'fs.read', { name: 'a', path: '../../etc/shadow', offset: 0, length: 10 });
    await ask(client, 'fs.write', { name: 'a', path: 'f', mode: null, parents: false }, [Buffer.from('x')]);
    await ask(client, 'exec.start', { name: 'a', argv: ['true'], shell: '', cwd: '', env: {}, timeoutMs: 0, stdin: false });
    keys.remove(pair.publicKey);
    await client.error(0, 'the cut', 1_000);
    for (const args of [['ls'], ['keys', 'show'], ['keys', 'list'], ['audit'], ['server', 'info'], ['config', 'list'], ['fs', 'read', '-t', 'a', '/nope'], ['keys', 'revoke', 'nope']]) await run(args);
    for (const m of client.received) outputs.push(m.frames.map((f) => f.toString('latin1')).join(''));
    const secrets = ['client', 'server', 'ptyhost'].map((role) => readKey(sb, `${role}.key`)).concat(pair.secretKey);
    const needles = secrets.flatMap((z) => [Buffer.from(z, 'latin1'), z85Decode(z), Buffer.from(z85Decode(z).toString('hex'))]);
    const files: string[] = [];
    const walk = (dir: string) => {
      for (const name of readdirSync(dir)) {
        const p = join(dir, name);
        const st = statSync(p, { throwIfNoEntry: false });
        if (!st) continue;
        if (st.isDirectory()) walk(p);
        else if (st.isFile()) files.push(p);
      }
    };
    walk(sb.dir);
    walk(sb.configDir);
    const found: string[] = [];
    let keyFiles = 0;
    for (const f of files) {
      if (/\/keys\/[a-z]+\.key$/.test(f)) {
        keyFiles++;
        assert.equal(statSync(f).mode & 0o777, 0o600, `${relative(sb.base, f)} is 0600`);
        continue; // the key store itself (ZMX_KEYRING=file)
      }
      if (f.endsWith('.sock') || f.endsWith('.lock')) continue;
      const bytes = readFileSync(f);
      for (const n of needles) if (bytes.includes(n)) found.push(relative(sb.base, f));
    }
    for (const o of outputs) for (const n of needles) if (Buffer.from(o, 'latin1').includes(n)) found.push('command output');
    assert.deepEqual(found, [], 'no secret in any file or output');
    assert.equal(keyFiles, 3, 'the three secret key files are where the key store keeps them');
    process.stderr.write(`# red team secrets: ${files.length - keyFiles} files and ${outputs.length} outputs searched for ${secrets.length} secret keys (Z85, raw, hex): 0 found\n`);
  });
});
