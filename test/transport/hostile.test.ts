/**
 * Hostile input from an AUTHORIZED client against a live server: malformed
 * frames and headers, wrong types, internal ops, unknown streams, absurd ids,
 * oversized messages, and a seeded mini-fuzz. Each is answered with an Error
 * carrying the documented code, or dropped; none stops the front, disturbs
 * other clients or touches the session. (docs/protocol.md, "Validation".)
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LIMITS } from '../../src/common/constants.js';
import { MsgType, type Message, type ReplyMsg } from '../../src/common/protocol.js';
import { alive, type Sandbox } from '../helpers/harness.js';
import { withServer, pack, sessionNames, type WireClient } from './wire.js';
import { mulberry32 } from '../helpers/seeded.js';
import { destructive, fuzzMessage, randomBytes } from '../helpers/fuzz.js';

// ---------------------------------------------------------------------------

/** The state a hostile test must leave untouched. */
interface Baseline {
  frontPid: number;
  ptyhostPid: number;
}

async function baseline(sb: Sandbox): Promise<Baseline> {
  const marker = await sb.zmx(['run', 'a', 'echo before-hostile-$((6*7))']);
  assert.equal(marker.status, 0, marker.stderr);
  return { frontPid: sb.frontPid()!, ptyhostPid: sb.ptyhostPid()! };
}

/** After the abuse: same processes alive, the CLI works, the session and its history are intact. */
async function assertIntact(sb: Sandbox, before: Baseline): Promise<void> {
  assert.equal(sb.frontPid(), before.frontPid, 'the front is the same process');
  assert.ok(alive(before.frontPid), 'the front is alive');
  assert.equal(sb.ptyhostPid(), before.ptyhostPid, 'the pty host is the same process');
  assert.ok(alive(before.ptyhostPid), 'the pty host is alive');
  const ls = await sb.zmx(['ls']);
  assert.equal(ls.status, 0, ls.stderr);
  assert.match(ls.stdout, /name=a\t/, 'zmx ls lists the session');
  // The command's output is checked in the session's history, not in run's
  // stdout: `zmx run` can print it late or lose it under load (a separate bug,
  // see the transport report), which is not what these tests are about.
  const run = await sb.zmx(['run', 'a', 'echo after-hostile-$((6*7))']);
  assert.equal(run.status, 0, `zmx run works: ${run.stderr}`);
  const history = await sb.zmx(['history', 'a']);
  assert.equal(history.status, 0, history.stderr);
  assert.match(history.stdout, /^before-hostile-42$/m, 'history from before is intact');
  assert.match(history.stdout, /^after-hostile-42$/m, 'the command typed by zmx run ran');
  assert.ok(history.stdout.indexOf('before-hostile-42\n') < history.stdout.lastIndexOf('after-hostile-42\n'), 'in order');
  assert.ok(!history.stdout.includes('pwned'), 'nothing hostile was typed into the session');
  for (const log of ['front.log', 'ptyhost.log']) {
    const text = readFileSync(join(sb.dir, log), 'utf8');
    assert.ok(!/uncaught exception|unhandled/i.test(text), `${log} records an uncaught exception:\n${text.split('\n').filter((l) => /uncaught|unhandled/i.test(l)).join('\n')}`);
  }
}

// An Error answers the request's id whenever the header still names one
// (too many frames, a bad op or args), else id 0.
interface Case {
  name: string;
  send(c: WireClient): void;
  /** The Error expected (id, code, optional pattern on the message), or 'dropped', or 'either' (Error with code or nothing). */
  expect: { id: number; code: string; message?: RegExp } | 'dropped' | { either: string };
}

const BIG = Number.MAX_SAFE_INTEGER;

function cases(rand: () => number): Case[] {
  const req = (id: unknown, op: unknown, args: unknown) => ({ t: MsgType.Request, id, op, args });
  // A map nested 20 000 deep ({n: {n: ...}}), written by hand: too deep for pack().
  const deepMap = Buffer.concat([Buffer.from('81a16e'.repeat(20_000), 'hex'), Buffer.from([0x01])]);
  // A header nested deeper than any stack: 30 000 one-element arrays in 30 000 bytes.
  const deepArray = Buffer.concat([Buffer.alloc(30_000, 0x91), Buffer.from([0x01])]);
  return [
    { name: 'random bytes as the header', send: (c) => c.sendRaw([randomBytes(rand, 64)]), expect: { either: 'EPROTO' } },
    { name: 'an empty header frame', send: (c) => c.sendRaw([Buffer.alloc(0)]), expect: { id: 0, code: 'EPROTO' } },
    { name: 'a message with no frames', send: (c) => c.sendRaw([]), expect: { either: 'EPROTO' } },
    { name: '20 frames', send: (c) => c.send(req(50, 'server.info', {}), Array.from({ length: 19 }, () => Buffer.from('x'))), expect: { id: 50, code: 'EPROTO', message: /frames/ } },
    { name: 'header: msgpack array', send: (c) => c.sendRaw([pack([MsgType.Request, 1, 'server.info', {}])]), expect: { id: 0, code: 'EPROTO', message: /map/ } },
    { name: 'header: msgpack string', send: (c) => c.sendRaw([pack('hello')]), expect: { id: 0, code: 'EPROTO', message: /map/ } },
    { name: 'header: msgpack number', send: (c) => c.sendRaw([pack(16)]), expect: { id: 0, code: 'EPROTO', message: /map/ } },
    { name: 'header: msgpack nil', send: (c) => c.sendRaw([pack(null)]), expect: { id: 0, code: 'EPROTO' } },
    { name: 'header: msgpack binary', send: (c) => c.sendRaw([pack(Buffer.from([1, 2, 3]))]), expect: { id: 0, code: 'EPROTO' } },
    { name: 'header: nested map without t', send: (c) => c.send({ a: { b: { c: { d: [1, { e: null }] } } } }), expect: { id: 0, code: 'EPROTO', message: /type/ } },
    { name: 'header: map nested 20000 deep', send: (c) => c.sendRaw([deepMap]), expect: { id: 0, code: 'EPROTO' } },
    { name: 'header: arrays nested 30000 deep', send: (c) => c.sendRaw([deepArray]), expect: { id: 0, code: 'EPROTO' } },
    { name: 'header: truncated msgpack', send: (c) => c.sendRaw([pack(req(51, 'server.info', {})).subarray(0, 9)]), expect: { id: 0, code: 'EPROTO' } },
    { name: 'unknown type 0x7f', send: (c) => c.send({ t: 0x7f, id: 52 }), expect: { id: 0, code: 'EPROTO', message: /type/ } },
    { name: 'type as a string', send: (c) => c.send({ t: '16', id: 53, op: 'server.info', args: {} }), expect: { id: 0, code: 'EPROTO' } },
    { name: 'Hello missing fields', send: (c) => c.send({ t: MsgType.Hello, min: 1 }), expect: { id: 0, code: 'EPROTO', message: /max/ } },
    { name: 'Request op "nope"', send: (c) => c.send(req(60, 'nope', {})), expect: { id: 60, code: 'EPROTO', message: /nope/ } },
    { name: 'Request op "__proto__"', send: (c) => c.send(req(61, '__proto__', {})), expect: { id: 61, code: 'EPROTO' } },
    { name: 'Request op "constructor"', send: (c) => c.send(req(62, 'constructor', {})), expect: { id: 62, code: 'EPROTO' } },
    { name: 'Request op not a string', send: (c) => c.send(req(63, 42, {})), expect: { id: 63, code: 'EPROTO', message: /op/ } },
    { name: 'session.get name: number', send: (c) => c.send(req(64, 'session.get', { name: 5 })), expect: { id: 64, code: 'EINVAL', message: /name/ } },
    { name: 'session.history format: pdf', send: (c) => c.send(req(65, 'session.history', { name: 'a', format: 'pdf' })), expect: { id: 65, code: 'EINVAL', message: /format/ } },
    { name: 'session.labels set: numbers', send: (c) => c.send(req(66, 'session.labels', { name: 'a', set: { k: 1 }, unset: [], clear: false })), expect: { id: 66, code: 'EINVAL', message: /set/ } },
    { name: 'session.kill names: string (must not kill)', send: (c) => c.send(req(67, 'session.kill', { names: 'a', force: true })), expect: { id: 67, code: 'EINVAL', message: /names/ } },
    { name: 'session.kill force: "yes" (must not kill)', send: (c) => c.send(req(68, 'session.kill', { names: ['a'], force: 'yes' })), expect: { id: 68, code: 'EINVAL', message: /force/ } },
    { name: 'session.get missing name', send: (c) => c.send(req(69, 'session.get', {})), expect: { id: 69, code: 'EINVAL', message: /name/ } },
    { name: 'args: an array', send: (c) => c.send(req(70, 'session.list', [])), expect: { id: 70, code: 'EPROTO', message: /args/ } },
    { name: 'args: null', send: (c) => c.send(req(71, 'session.list', null)), expect: { id: 71, code: 'EPROTO', message: /args/ } },
    { name: 'unknown arg key', send: (c) => c.send(req(72, 'session.list', { bogus: true })), expect: { id: 72, code: 'EINVAL', message: /bogus/ } },
    { name: 'arg key "__proto__"', send: (c) => c.send(req(73, 'session.get', JSON.parse('{"name":"a","__proto__":{"x":1}}'))), expect: { id: 73, code: 'EINVAL' } },
    { name: 'uint arg above maxUint', send: (c) => c.send(req(74, 'session.attach', { name: 'a', cols: 2 ** 40, rows: 24, create: null, readOnly: true, mode: 'raw' })), expect: { id: 74, code: 'EINVAL', message: /cols/ } },
    { name: 'client op host.subscribe', send: (c) => c.send(req(80, 'host.subscribe', { name: 'a', pane: 0, interactive: true })), expect: { id: 80, code: 'EPROTO', message: /internal/ } },
    { name: 'client op host.resize', send: (c) => c.send(req(81, 'host.resize', { name: 'a', cols: 2, rows: 1 })), expect: { id: 81, code: 'EPROTO', message: /internal/ } },
    { name: 'client op host.unsubscribe', send: (c) => c.send(req(82, 'host.unsubscribe', { pane: 1, interactive: false })), expect: { id: 82, code: 'EPROTO', message: /internal/ } },
    { name: 'client op host.input', send: (c) => c.send(req(83, 'host.input', { pane: 1 }), [Buffer.from('rm -rf ~\r')]), expect: { id: 83, code: 'EPROTO', message: /internal/ } },
    { name: 'Input for a stream that does not exist', send: (c) => c.send({ t: MsgType.Input, sid: 4242 }, [Buffer.from('echo pwned\r')]), expect: { id: 0, code: 'EPROTO', message: /4242/ } },
    { name: 'Input with sid 0', send: (c) => c.send({ t: MsgType.Input, sid: 0 }, [Buffer.from('echo pwned\r')]), expect: { id: 0, code: 'EPROTO' } },
    { name: 'Input with a negative sid', send: (c) => c.send({ t: MsgType.Input, sid: -1 }, [Buffer.from('echo pwned\r')]), expect: { id: 0, code: 'EPROTO', message: /sid/ } },
    { name: 'Input with a huge sid', send: (c) => c.send({ t: MsgType.Input, sid: BIG }, [Buffer.from('echo pwned\r')]), expect: { id: 0, code: 'EPROTO' } },
    { name: 'Resize of a stream that does not exist', send: (c) => c.send({ t: MsgType.Resize, sid: 4243, cols: 1, rows: 1 }), expect: { id: 0, code: 'EPROTO' } },
    { name: 'Detach of a stream that does not exist', send: (c) => c.send({ t: MsgType.Detach, sid: 4244 }), expect: 'dropped' },
    { name: 'Ack of a stream that does not exist', send: (c) => c.send({ t: MsgType.Ack, sid: 4245, seq: 1 }), expect: 'dropped' },
    { name: 'Request id -1', send: (c) => c.send(req(-1, 'server.info', {})), expect: { id: 0, code: 'EPROTO', message: /id/ } },
    { name: 'Request id 1.5', send: (c) => c.send(req(1.5, 'server.info', {})), expect: { id: 0, code: 'EPROTO', message: /id/ } },
    { name: 'Request id 2^53', send: (c) => c.send(req(2 ** 53, 'server.info', {})), expect: { id: 0, code: 'EPROTO', message: /id/ } },
    { name: 'Request id 2^64-1 (uint64)', send: (c) => c.send(req(2n ** 64n - 1n, 'server.info', {})), expect: { id: 0, code: 'EPROTO', message: /id/ } },
    { name: 'Request id -2^63 (int64)', send: (c) => c.send(req(-(2n ** 63n), 'server.info', {})), expect: { id: 0, code: 'EPROTO', message: /id/ } },
    { name: 'Request id as a string', send: (c) => c.send(req('7', 'server.info', {})), expect: { id: 0, code: 'EPROTO', message: /id/ } },
    { name: 'Request id 2^53-1 (largest allowed) with a bad op', send: (c) => c.send(req(BIG, 'nope', {})), expect: { id: BIG, code: 'EPROTO' } },
    { name: 'Welcome from a client', send: (c) => c.send({ t: MsgType.Welcome, version: 1, caps: [], agent: 'x' }), expect: { id: 0, code: 'EPROTO' } },
    { name: 'Reply from a client', send: (c) => c.send({ t: MsgType.Reply, id: 1, result: {} }), expect: { id: 0, code: 'EPROTO' } },
    { name: 'Output from a client', send: (c) => c.send({ t: MsgType.Output, sid: 1, seq: 1 }, [Buffer.from('x')]), expect: { id: 0, code: 'EPROTO' } },
    { name: 'Event from a client', send: (c) => c.send({ t: MsgType.Event, name: 'session.exit', data: { name: 'a', paneSids: [1], exitCode: 0 } }), expect: { id: 0, code: 'EPROTO' } },
    { name: 'StreamEnd from a client', send: (c) => c.send({ t: MsgType.StreamEnd, sid: 1, reason: 'exited', exitCode: 0 }), expect: { id: 0, code: 'EPROTO' } },
    { name: 'Error from a client', send: (c) => c.send({ t: MsgType.Error, id: 1, code: 'EINTERNAL', message: 'x' }), expect: { id: 0, code: 'EPROTO' } },
    { name: 'header of 64 KiB + 1', send: (c) => c.sendRaw([Buffer.concat([pack({ t: MsgType.Ping, ts: 1, pad: 'x'.repeat(LIMITS.maxHeaderBytes) })])]), expect: { id: 0, code: 'ETOOBIG' } },
    { name: 'string field longer than maxHeaderString', send: (c) => c.send({ t: MsgType.Hello, min: 1, max: 1, caps: [], agent: 'x'.repeat(LIMITS.maxHeaderString + 1) }), expect: { id: 0, code: 'EPROTO', message: /agent/ } },
  ];
}

/** Sends one case, then a sentinel request; checks what came back in between. */
async function runCase(c: WireClient, k: Case, sentinelId: number): Promise<void> {
  c.claimAll();
  const start = c.received.length;
  k.send(c);
  c.send({ t: MsgType.Request, id: sentinelId, op: 'server.info', args: {} });
  const sentinel = await c.answer(sentinelId, `the sentinel after "${k.name}"`);
  assert.equal(sentinel.header.t, MsgType.Reply, `the server must keep serving the connection after "${k.name}"`);
  let got: Message | null = null;
  if (typeof k.expect === 'object' && 'id' in k.expect) {
    const want = k.expect;
    got = await c.next((m) => m.header.t === MsgType.Error && m.header.id === want.id, `an Error id ${want.id} for "${k.name}"`, 5_000);
    if (got.header.t === MsgType.Error) {
      assert.equal(got.header.code, want.code, `"${k.name}": ${got.header.message}`);
      if (want.message) assert.match(got.header.message, want.message, `"${k.name}"`);
      assert.ok(!got.header.message.includes('\n'), `"${k.name}": error messages are one line`);
    }
  }
  const others = c.received.slice(start).filter((r) => r.msg !== sentinel && r.msg !== got);
  if (k.expect === 'dropped' || (typeof k.expect === 'object' && 'id' in k.expect)) {
    assert.deepEqual(others.map((r) => r.msg?.header ?? r.undecodable), [], `"${k.name}": nothing else should come back`);
  } else {
    const code = k.expect.either;
    for (const r of others) {
      assert.ok(r.msg && r.msg.header.t === MsgType.Error && r.msg.header.code === code && r.msg.header.id === 0, `"${k.name}": unexpected ${JSON.stringify(r.msg?.header ?? r.undecodable)}`);
    }
  }
}

test('malformed, mistyped and forbidden messages get EPROTO/EINVAL (or are dropped); the server and the session are untouched', async (t: TestContext) => {
  await withServer(async ({ sb, open, openUser, userPair }) => {
    const before = await baseline(sb);
    const hostile = await openUser();
    const bystander = await openUser();

    // Before hello: a connection is served nothing.
    const early = open(userPair);
    early.sendRequest('session.list', {}, [], 9);
    const e = await early.error(9, 'refusal before hello');
    assert.equal(e.code, 'EPROTO');
    assert.match(e.message, /hello/);
    early.send({ t: MsgType.Input, sid: 1 }, [Buffer.from('echo pwned\r')]);
    assert.equal((await early.error(0, 'Input before hello')).code, 'EPROTO');

    const rand = mulberry32(0x2a);
    let sentinel = 10_000;
    for (const k of cases(rand)) {
      await t.test(k.name, () => runCase(hostile, k, sentinel++));
    }

    // Ping still answered, and a largest-allowed id is echoed exactly.
    hostile.send({ t: MsgType.Ping, ts: BIG });
    assert.deepEqual((await hostile.next((m) => m.header.t === MsgType.Pong, 'Pong')).header, { t: MsgType.Pong, ts: BIG });
    hostile.send({ t: MsgType.Request, id: BIG, op: 'session.list', args: {} });
    const big = await hostile.answer(BIG, 'a reply to id 2^53-1');
    assert.equal(big.header.t, MsgType.Reply);

    // Every message the server sent is valid protocol.
    const bad = hostile.received.filter((r) => !r.msg);
    assert.deepEqual(bad.map((r) => r.undecodable), [], 'the server sent undecodable messages');

    // The bystander never heard any of it, and is still served.
    assert.deepEqual(bystander.messages.map((m) => m.header.t), [MsgType.Welcome]);
    assert.deepEqual(sessionNames(await bystander.request('session.list', {})), ['a']);
    await assertIntact(sb, before);
  });
});

test('errors that quote hostile input stay within the protocol limits (the client can decode them)', async () => {
  await withServer(async ({ openUser }) => {
    const c = await openUser();
    // Each is accepted by decode (strings up to maxHeaderString, keys unbounded
    // inside 64 KiB) and refused later with a message that quotes it.
    const longOp = 'o'.repeat(LIMITS.maxHeaderString);
    const longKey = 'k'.repeat(60_000);
    const probes: [number, string, Record<string, unknown>, string][] = [
      [1, longOp, {}, 'EPROTO'],
      [2, 'session.list', { [longKey]: 1 }, 'EINVAL'],
      [3, 'session.get', { name: 'n'.repeat(LIMITS.maxHeaderString) }, 'ENOSESSION|EINVAL'],
    ];
    for (const [id, op, args] of probes) c.sendRequest(op, args, [], id);
    c.sendRequest('server.info', {}, [], 4);
    await c.answer(4, 'server.info');
    const problems: string[] = [];
    for (const [id, op, , codes] of probes) {
      const what = `probe ${id} (${op.slice(0, 20)}${op.length > 20 ? '…' : ''})`;
      const m = await c.answer(id, what, 2_000).catch(() => null);
      if (!m) problems.push(`${what}: no decodable answer`);
      else if (m.header.t !== MsgType.Error || !new RegExp(`^(${codes})$`).test(m.header.code)) problems.push(`${what}: got ${JSON.stringify(m.header).slice(0, 200)}`);
    }
    for (const r of c.received.filter((x) => !x.msg)) problems.push(`undecodable message from the server (${r.frames[0]?.length} byte header): ${r.undecodable}`);
    assert.deepEqual(problems, [], 'every refusal must reach the client as a valid Error');
  });
});

test('a message larger than maxMessageBytes drops only its sender: the server, other clients and a reconnecting client keep working', async () => {
  await withServer(async ({ sb, open, openUser, userPair }) => {
    const before = await baseline(sb);
    const bystander = await openUser();
    const hostile = await openUser();
    const dropped = hostile.connection(false, 30_000);
    const rejoined = dropped.then(() => hostile.connection(true, 30_000));
    hostile.send({ t: MsgType.Request, id: 1000, op: 'session.print', args: { name: 'a' } }, [Buffer.alloc(LIMITS.maxMessageBytes + 1, 0x41)]);
    await dropped;
    // Meanwhile the bystander is served.
    assert.deepEqual(sessionNames(await bystander.request('session.list', {})), ['a']);
    // libzmq reconnects the same DEALER under the same routing id: the front still knows it.
    await rejoined;
    hostile.sendRequest('server.info', {}, [], 1001);
    assert.equal((await hostile.answer(1001, 'server.info after the reconnect')).header.t, MsgType.Reply);
    assert.equal((await hostile.handshake()).header.t, MsgType.Welcome);
    assert.deepEqual(sessionNames(await hostile.request('session.list', {})), ['a']);
    assert.ok(!hostile.messages.some((m) => (m.header.t === MsgType.Reply || m.header.t === MsgType.Error) && m.header.id === 1000), `the oversized request never reached zmx: ${hostile.describe()}`);
    // A new connection works too.
    const fresh = open(userPair);
    assert.equal((await fresh.handshake()).header.t, MsgType.Welcome);
    assert.deepEqual(sessionNames(await fresh.request('session.list', {})), ['a']);
    // At exactly the limit a frame is accepted (and refused by the op itself: no such session).
    const exact = await openUser();
    exact.sendRequest('session.print', { name: 'no-such-session' }, [Buffer.alloc(LIMITS.maxMessageBytes - 1024, 0x42)], 3);
    assert.equal((await exact.error(3, 'answer to a large-but-allowed message', 30_000)).code, 'ENOSESSION');
    await assertIntact(sb, before);
  });
});

test('several frames that together exceed maxMessageBytes are refused, not processed', async () => {
  // ZMQ_MAXMSGSIZE bounds each frame, not the message: 16 frames of just under
  // 64 MiB each would reach the front as one ~1 GiB message.
  await withServer(async ({ sb, openUser }) => {
    const before = await baseline(sb);
    const c = await openUser();
    const half = Buffer.alloc(Math.ceil(LIMITS.maxMessageBytes / 2) + 1, 0x43);
    const disconnected = c.connection(false, 30_000);
    c.sendRequest('session.print', { name: 'no-such-session' }, [half, half], 1);
    const outcome = await Promise.race([
      disconnected.then(() => 'dropped' as const),
      c.answer(1, 'an answer to the oversized multipart request', 30_000).then((m) => m),
    ]);
    if (outcome !== 'dropped') {
      assert.equal(outcome.header.t, MsgType.Error, `a ${2 * half.length}-byte message was processed: ${JSON.stringify(outcome.header)}`);
      if (outcome.header.t === MsgType.Error) assert.equal(outcome.header.code, 'ETOOBIG', `a ${2 * half.length}-byte message (limit ${LIMITS.maxMessageBytes}) was processed: ${outcome.header.message}`);
    }
    await assertIntact(sb, before);
  });
});

// ---------------------------------------------------------------------------
test('seeded fuzz: 100,000 random and mutated messages from an authorized client; the server stays up, serves a bystander throughout, sessions intact', async () => {
  const seed = Number(process.env['ZMX_FUZZ_SEED'] ?? 0x5eed);
  const count = Number(process.env['ZMX_FUZZ_COUNT'] ?? 100_000);
  await withServer(async ({ sb, openUser }) => {
    try {
      await fuzz(sb, openUser);
    } catch (err) {
      (err as Error).message = `[fuzz seed ${seed}; rerun with ZMX_FUZZ_SEED=${seed}] ${(err as Error).message}`;
      throw err;
    }
  });

  async function fuzz(sb: Sandbox, openUser: () => Promise<WireClient>): Promise<void> {
    const before = await baseline(sb);
    const fuzzer = await openUser();
    const bystander = await openUser();
    const rand = mulberry32(seed);
    let sent = 0;
    let skipped = 0;
    let served = 0;
    // Hellos that prove the key get in, so the fuzz also reaches resumable links.
    const proof = fuzzer.proof();
    while (sent < count) {
      const frames = fuzzMessage(rand, proof);
      if (destructive(frames)) { skipped++; continue; }
      fuzzer.sendRaw(frames);
      sent++;
      // Every few thousand messages: the server still answers someone else, and keeps up.
      if (sent % 5_000 === 0) {
        assert.deepEqual(sessionNames(await bystander.request('session.list', {})), ['a'], `seed ${seed}, after ${sent} messages`);
        served++;
      }
    }
    // The fuzzer's own connection is still served once the server has read it all.
    // (An id no fuzz message uses: they are below 1e6 or not valid.)
    fuzzer.hello();
    const last = fuzzer.sendRequest('session.list', {}, [], BIG - 1);
    const answer = await fuzzer.answer(last, 'the reply to a request sent after the fuzz', 30_000);
    assert.equal(answer.header.t, MsgType.Reply, `seed ${seed}: ${JSON.stringify(answer.header)}`);
    assert.deepEqual(sessionNames(answer as Message<ReplyMsg>), ['a'], `seed ${seed}`);
    // Another client is served.
    const other = await openUser();
    assert.deepEqual(sessionNames(await other.request('session.list', {})), ['a'], `seed ${seed}`);
    const codes = new Map<string, number>();
    for (const m of fuzzer.messages) {
      const key = m.header.t === MsgType.Error ? m.header.code : `t${m.header.t}`;
      codes.set(key, (codes.get(key) ?? 0) + 1);
    }
    process.stderr.write(`# fuzz seed ${seed}: ${sent} sent, ${skipped} destructive skipped, bystander served ${served} times; answers ${JSON.stringify(Object.fromEntries(codes))}; undecodable ${fuzzer.received.filter((r) => !r.msg).length}\n`);
    await assertIntact(sb, before);
  }
});
