/**
 * Version negotiation over a real CurveZMQ link: a hello whose range misses
 * the server's gets Error EVERSION naming both ranges and leaves the client
 * unregistered, while the server keeps serving; and the real CLI, facing a
 * front that speaks other versions, reports it as one line.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ServerEndpoint, ZapHandler, generateKeyPair } from '../../src/platform/zmq.js';
import { MsgType, PROTOCOL_VERSION, MIN_PROTOCOL_VERSION, CAPABILITIES, decode, encode } from '../../src/common/protocol.js';
import { Sandbox, alive } from '../helpers/harness.js';
import { withServer, sessionNames, frontEndpoint } from './wire.js';

const OURS = `${MIN_PROTOCOL_VERSION}..${PROTOCOL_VERSION}`;

test('a hello outside the server\'s range gets EVERSION naming both ranges; the server keeps serving', async () => {
  await withServer(async ({ sb, open, openUser, userPair }) => {
    const frontPid = sb.frontPid();
    const bystander = await openUser();
    const c = open(userPair);
    const ranges: [number, number][] = [
      [PROTOCOL_VERSION + 1, PROTOCOL_VERSION + 4], // only newer
      [0, MIN_PROTOCOL_VERSION - 1], // only older
      [PROTOCOL_VERSION + 2, PROTOCOL_VERSION], // min above max
    ];
    for (const [min, max] of ranges) {
      c.hello(min, max);
      const e = await c.error(0, `EVERSION for ${min}..${max}`);
      assert.equal(e.code, 'EVERSION', e.message);
      assert.ok(e.message.includes(`${min}..${max}`), `the message names the peer's range ${min}..${max}: ${e.message}`);
      assert.ok(e.message.includes(OURS), `the message names the server's range ${OURS}: ${e.message}`);
      assert.ok(!e.message.includes('\n'), 'one line');
      assert.ok(!c.messages.some((m) => m.header.t === MsgType.Welcome), 'no Welcome');
    }
    // Refused on version means not registered: requests are not served.
    c.sendRequest('session.list', {}, [], 77);
    const e = await c.error(77, 'refusal of a request after a failed hello');
    assert.equal(e.code, 'EPROTO');
    assert.match(e.message, /hello/);

    // The same connection may try again with a range that overlaps.
    c.hello(MIN_PROTOCOL_VERSION, 2 ** 31);
    const w = await c.next((m) => m.header.t === MsgType.Welcome, 'Welcome for an overlapping range');
    assert.equal(w.header.t === MsgType.Welcome && w.header.version, PROTOCOL_VERSION, 'the highest common version is chosen');
    assert.deepEqual(sessionNames(await c.request('session.list', {})), ['a']);
    // Others were never disturbed, and the front is the same process.
    assert.deepEqual(sessionNames(await bystander.request('session.list', {})), ['a']);
    assert.equal(sb.frontPid(), frontPid);
    assert.ok(alive(frontPid));
    const ls = await sb.zmx(['ls', '--short']);
    assert.equal(ls.stdout, 'a\n', ls.stderr);
  });
});

/**
 * A fake front on the sandbox's endpoint that speaks protocol versions
 * `theirs` (answering hello as a real one would) and serves session.list
 * with no sessions. `front.pid` points at a placeholder process so the CLI
 * does not start a real server.
 */
async function withFakeFront(theirs: [number, number], fn: (sb: Sandbox) => Promise<void>): Promise<void> {
  const sb = new Sandbox();
  const placeholder = spawn('sleep', ['300'], { stdio: 'ignore' });
  const zap = new ZapHandler(() => true);
  let endpoint: ServerEndpoint | null = null;
  try {
    const keys = generateKeyPair();
    mkdirSync(join(sb.configDir, 'keys'), { recursive: true, mode: 0o700 });
    writeFileSync(join(sb.configDir, 'keys', 'server.pub'), keys.publicKey + '\n');
    mkdirSync(sb.dir, { recursive: true, mode: 0o700 });
    await zap.start();
    const ep: ServerEndpoint = new ServerEndpoint({
      endpoints: [frontEndpoint(sb)],
      secretKey: keys.secretKey,
      onMessage: (peer, frames) => {
        const h = decode(frames).header;
        if (h.t === MsgType.Hello) {
          const [min, max] = theirs;
          const version = Math.min(h.max, max);
          if (version < h.min || version < min) {
            ep.send(peer, encode({ t: MsgType.Error, id: 0, code: 'EVERSION', message: `no common protocol version: peer speaks ${h.min}..${h.max}, this side ${min}..${max}` }));
          } else {
            ep.send(peer, encode({ t: MsgType.Welcome, version, caps: [...CAPABILITIES], agent: 'fake-front' }));
          }
        } else if (h.t === MsgType.Request) {
          ep.send(peer, encode(h.op === 'session.list' ? { t: MsgType.Reply, id: h.id, result: { sessions: [] } } : { t: MsgType.Error, id: h.id, code: 'EPROTO', message: 'fake' }));
        }
      },
    });
    endpoint = ep;
    await ep.bind();
    writeFileSync(join(sb.dir, 'front.pid'), `${placeholder.pid}\n`);
    await fn(sb);
  } finally {
    await endpoint?.dispose();
    await zap.dispose();
    placeholder.kill('SIGKILL');
    await sb.cleanup();
  }
}

test('the CLI reports a front that speaks other versions as one line naming both ranges', async () => {
  const theirs: [number, number] = [PROTOCOL_VERSION + 5, PROTOCOL_VERSION + 7];
  await withFakeFront(theirs, async (sb) => {
    const started = Date.now();
    const r = await sb.zmx(['ls']);
    assert.equal(r.status, 1, `zmx ls should fail: ${r.stdout} ${r.stderr}`);
    assert.equal(r.stdout, '');
    const lines = r.stderr.split('\n').filter((l) => l !== '');
    assert.equal(lines.length, 1, `one line on stderr, got: ${JSON.stringify(r.stderr)}`);
    assert.match(lines[0]!, /^zmx: /);
    assert.ok(lines[0]!.includes(`${theirs[0]}..${theirs[1]}`), `names the server's range: ${lines[0]}`);
    assert.ok(lines[0]!.includes(OURS), `names the CLI's range: ${lines[0]}`);
    assert.ok(Date.now() - started < 10_000, 'fails at once, not after the request timeout');
  });
});

test('control: the same fake front speaking our version serves the CLI', async () => {
  await withFakeFront([MIN_PROTOCOL_VERSION, PROTOCOL_VERSION], async (sb) => {
    const r = await sb.zmx(['ls']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /no sessions/);
  });
});
