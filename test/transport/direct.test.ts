/**
 * Direct streams on a real server (docs/protocol.md, "Direct streams"): a
 * client that announces `direct` gets its attach granted to the pty host
 * and claims it on direct.sock, with real Curve keys and ZAP. Only the
 * client the front granted the stream to — its routing id, proving its key,
 * with the token, once — can claim it; a stranger's key cannot even
 * connect; credit and Resync hold on the direct link; and output crosses
 * the snapshot → stream handover exactly once while the pane floods.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { generateKeyPair, type KeyPair } from '../../src/platform/zmq.js';
import { AuthorizedKeys } from '../../src/platform/authorized.js';
import { helloProof } from '../../src/common/curve.js';
import { FLOW } from '../../src/common/constants.js';
import { DIRECT_CAPABILITY, MsgType, type DirectGrant, type ErrorMsg, type Message } from '../../src/common/protocol.js';
import { until } from '../helpers/harness.js';
import { withServer, directEndpoint, readKey, quiet, type ServerContext, type WireClient } from './wire.js';

/** How long a refused peer must stay unanswered. */
const SILENCE_MS = 1_000;

interface Attached { front: WireClient; routingId: string; sid: number; seq: number; grant: DirectGrant; snapshot: Buffer }

/** A front client that announces `direct` and attaches raw to `name`: the reply's grant. */
async function attachDirect(ctx: ServerContext, pair: KeyPair, name = 'a'): Promise<Attached> {
  const routingId = randomBytes(16).toString('hex');
  const front = ctx.open(pair, { routingId });
  const w = await front.handshake(undefined, [DIRECT_CAPABILITY]);
  assert.equal(w.header.t, MsgType.Welcome, JSON.stringify(w.header));
  const r = await front.request('session.attach', { name, cols: 80, rows: 24, create: null, readOnly: false, mode: 'raw' });
  const grant = r.header.result['direct'] as DirectGrant | undefined;
  assert.ok(grant, `a local client's attach is granted direct: ${JSON.stringify(r.header.result)}`);
  return { front, routingId, sid: r.header.result['sid'] as number, seq: r.header.result['seq'] as number, grant, snapshot: r.frames[0] ?? Buffer.alloc(0) };
}

/** A DEALER on direct.sock under `routingId`. */
function openDirect(ctx: ServerContext, pair: KeyPair, routingId: string): WireClient {
  return ctx.open(pair, { endpoint: directEndpoint(ctx.sb), serverKey: readKey(ctx.sb, 'ptyhost.pub'), routingId });
}

/** Claims `sid` with `token`, proving `prover`'s key while naming `key`; the answer. */
async function claim(c: WireClient, ctx: ServerContext, sid: number, token: string, prover: KeyPair, key = prover.publicKey): Promise<Message> {
  const ts = Date.now();
  const proof = helloProof(prover.publicKey, prover.secretKey, readKey(ctx.sb, 'ptyhost.pub'), ts);
  const id = c.sendRequest('stream.claim', { sid, token, key, proof, ts });
  return c.answer(id, `the answer to stream.claim of ${sid}`);
}

function assertDenied(m: Message, what: string): void {
  assert.equal(m.header.t, MsgType.Error, `${what}: ${JSON.stringify(m.header)}`);
  assert.equal((m.header as ErrorMsg).code, 'EDENIED', what);
}

function authorize(ctx: ServerContext, pair: KeyPair, name: string): void {
  new AuthorizedKeys(join(ctx.sb.configDir, 'authorized_keys.json')).add({ key: pair.publicKey, name, root: null, allow: ['fs.read', 'fs.write', 'exec', 'pty', 'admin'], readOnly: false });
}

/** The text of the Output messages of stream `sid` received so far. */
function outputText(c: WireClient, sid: number): string {
  return c.messages.filter((m) => m.header.t === MsgType.Output && m.header.sid === sid).map((m) => m.frames[0]!.toString('latin1')).join('');
}

test('direct: a stranger\'s key cannot connect to direct.sock; the granted client claims its stream, types and sees the echo there', async () => {
  await withServer(async (ctx) => {
    const stranger = openDirect(ctx, generateKeyPair(), randomBytes(16).toString('hex'));
    stranger.sendRequest('stream.claim', { sid: 1, token: 'x', key: 'k', proof: 'p', ts: 1 });
    const a = await attachDirect(ctx, ctx.userPair);
    const d = openDirect(ctx, ctx.userPair, a.routingId);
    assert.equal((await claim(d, ctx, a.sid, a.grant.token, ctx.userPair)).header.t, MsgType.Reply);
    d.send({ t: MsgType.Input, sid: a.sid }, [Buffer.from('echo DIRECT-$((40+2))\r')]);
    await until(() => outputText(d, a.sid).includes('DIRECT-42'), 'the echo on the direct link');
    assert.equal(a.front.messages.filter((m) => m.header.t === MsgType.Output).length, 0, 'no output through the front');
    await stranger.authFailure();
    await quiet(SILENCE_MS);
    assert.equal(stranger.received.length, 0, `a stranger got ${stranger.describe()}`);
  });
});

test('direct: the token works once, and only for the routing id and key the front granted it to', async () => {
  await withServer(async (ctx) => {
    const other = generateKeyPair();
    authorize(ctx, other, 'other');
    const a = await attachDirect(ctx, ctx.userPair);
    // The right key and token from another connection.
    const elsewhere = openDirect(ctx, ctx.userPair, randomBytes(16).toString('hex'));
    assertDenied(await claim(elsewhere, ctx, a.sid, a.grant.token, ctx.userPair), 'another routing id');
    // The right routing id and token, another authorized key: naming its own key, or the granted one it cannot prove.
    const impostor = openDirect(ctx, other, a.routingId);
    assertDenied(await claim(impostor, ctx, a.sid, a.grant.token, other), 'another key');
    assertDenied(await claim(impostor, ctx, a.sid, a.grant.token, other, ctx.userPair.publicKey), 'another key claiming to be the granted one');
    await impostor.dispose();
    const d = openDirect(ctx, ctx.userPair, a.routingId);
    assertDenied(await claim(d, ctx, a.sid, 'f'.repeat(32), ctx.userPair), 'a wrong token');
    assert.equal((await claim(d, ctx, a.sid, a.grant.token, ctx.userPair)).header.t, MsgType.Reply, 'the granted client');
    assertDenied(await claim(d, ctx, a.sid, a.grant.token, ctx.userPair), 'the token again');
    // And the impostor's connection never got the stream's output.
    d.send({ t: MsgType.Input, sid: a.sid }, [Buffer.from('echo ONCE-$((1+1))\r')]);
    await until(() => outputText(d, a.sid).includes('ONCE-2'), 'the echo');
    assert.equal(outputText(elsewhere, a.sid), '');
  });
});

test('direct: a claim after the key was revoked fails, even on a connection made before', async () => {
  await withServer(async (ctx) => {
    const other = generateKeyPair();
    authorize(ctx, other, 'soon revoked');
    const a = await attachDirect(ctx, other);
    const d = openDirect(ctx, other, a.routingId);
    await d.connection(true);
    new AuthorizedKeys(join(ctx.sb.configDir, 'authorized_keys.json')).remove(other.publicKey);
    const cut = await a.front.error(0, 'the front cutting the revoked key');
    assert.equal(cut.code, 'EDENIED');
    assertDenied(await claim(d, ctx, a.sid, a.grant.token, other), 'a claim after revocation');
  });
});

test('direct: a client that does not acknowledge stops getting output past its window; its Ack brings the current screen (Resync)', async () => {
  await withServer(async (ctx) => {
    const a = await attachDirect(ctx, ctx.userPair);
    const d = openDirect(ctx, ctx.userPair, a.routingId);
    assert.equal((await claim(d, ctx, a.sid, a.grant.token, ctx.userPair)).header.t, MsgType.Reply);
    d.send({ t: MsgType.Input, sid: a.sid }, [Buffer.from(`yes 'direct credit test line' | head -c ${3 * FLOW.streamWindowBytes}; echo FLOOD-$((40+2))-DONE\r`)]);
    // The pane finishes whatever the client takes: ask the server's own screen.
    await until(async () => {
      const r = await a.front.request('pane.capture', { name: 'a', window: null, pane: null, escapes: false });
      return r.frames[0]!.toString().includes('FLOOD-42-DONE');
    }, 'the flood to end', 60_000, 100);
    const outputs = () => d.messages.filter((m): m is Message => m.header.t === MsgType.Output && m.header.sid === a.sid);
    const got = outputs().reduce((n, m) => n + m.frames[0]!.length, 0);
    const largest = Math.max(...outputs().map((m) => m.frames[0]!.length));
    assert.ok(got <= FLOW.streamWindowBytes + largest, `${got} bytes in flight exceed the window`);
    const last = outputs().at(-1)!.header as { seq: number };
    d.send({ t: MsgType.Ack, sid: a.sid, seq: last.seq });
    const resync = await d.next((m) => m.header.t === MsgType.Resync && m.header.sid === a.sid, 'a Resync');
    assert.ok(resync.header.t === MsgType.Resync && resync.header.skipped > 0, JSON.stringify(resync.header));
    assert.match(resync.frames[0]!.toString(), /FLOOD-42-DONE/);
    // Live again after it.
    d.send({ t: MsgType.Input, sid: a.sid }, [Buffer.from('echo AFTER-$((1+1))\r')]);
    await until(() => outputText(d, a.sid).includes('AFTER-2'), 'output after the Resync');
  });
});

test('direct: attached while the pane floods, the snapshot and the direct stream meet exactly: no chunk lost or doubled', async () => {
  await withServer(async (ctx) => {
    const setup = await ctx.openUser();
    await setup.request('session.create', { name: 'n', cmd: ['seq', '1', '100000000'], cwd: '/', env: {}, cols: 80, rows: 24, ifMissing: false });
    const a = await attachDirect(ctx, ctx.userPair, 'n');
    const d = openDirect(ctx, ctx.userPair, a.routingId);
    assert.equal((await claim(d, ctx, a.sid, a.grant.token, ctx.userPair)).header.t, MsgType.Reply);
    // Take output as a client does, acknowledging it, until enough lines have come.
    let acked = 0;
    await until(() => {
      const outs = d.messages.filter((m) => m.header.t === MsgType.Output && m.header.sid === a.sid);
      const lastSeq = (outs.at(-1)?.header as { seq?: number } | undefined)?.seq ?? 0;
      if (lastSeq > acked) { d.send({ t: MsgType.Ack, sid: a.sid, seq: lastSeq }); acked = lastSeq; }
      return outputText(d, a.sid).split('\n').length > 5_000;
    }, 'five thousand lines on the direct stream', 30_000);
    await a.front.request('session.kill', { names: ['n'], force: true });
    const outs = d.messages.filter((m): m is Message => m.header.t === MsgType.Output && m.header.sid === a.sid);
    assert.equal(d.messages.filter((m) => m.header.t === MsgType.Resync).length, 0, 'an acknowledging client never falls behind');
    // Every chunk after the snapshot's seq, each once, in order.
    outs.forEach((m, i) => assert.equal((m.header as { seq: number }).seq, a.seq + 1 + i, `chunk ${i}`));
    // And the bytes: the numbers go on from the snapshot's screen without a gap or a repeat.
    const screen = a.snapshot.toString('latin1').replace(/\x1b\[[0-9;?]*[ -\/]*[@-~]|\x1b\][^\x07\x1b]*(\x07|\x1b\\)|\x1b[()][0-9A-Za-z]/g, ' ');
    const combined = screen + outs.map((m) => m.frames[0]!.toString('latin1')).join('');
    const numbers = (combined.match(/\d+/g) ?? []).map(Number);
    const firstOfStream = (screen.match(/\d+/g) ?? []).length - 1; // the screen's last number may be cut by the handover
    const tail = numbers.slice(Math.max(0, firstOfStream));
    assert.ok(tail.length > 5_000);
    const breaks = tail.flatMap((n, i) => (i > 0 && n !== tail[i - 1]! + 1 ? [`${tail[i - 1]} → ${n}`] : []));
    // The last chunk may end inside a number.
    assert.ok(breaks.length === 0 || (breaks.length === 1 && tail.at(-1)! < tail.at(-2)!), `numbers jump: ${breaks.slice(0, 5).join(', ')}`);
  });
});
