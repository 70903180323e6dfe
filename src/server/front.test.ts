/**
 * Front without a transport: fake sendToClient/sendToHost, a fake clock, and
 * the test playing the pty host. Every message the front sends is decoded
 * with the protocol module, so an invalid one fails the test.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Front, type FrontDeps, type PortalHandler } from './front.js';
import type { Caller } from './policy.js';
import type { AuditEntry, KeyLimits } from '../common/portal.js';
import { fingerprint } from '../common/z85.js';
import { FLOW, TIMING } from '../common/constants.js';
import {
  MsgType, CAPABILITIES, DIRECT_CAPABILITY, LINK_CAPABILITIES, PROTOCOL_VERSION, decode, encode,
  type Header, type Message, type RequestMsg, type SessionInfo,
} from '../common/protocol.js';

const SESSION: SessionInfo = {
  name: 'a',
  created: 1_700_000_000_000,
  root: '/tmp',
  labels: {},
  panes: [{ id: 7, pid: 4242, cmd: ['bash'], cols: 80, rows: 24, title: '', cwdUri: '', exited: null, task: null }],
  clients: 0,
  task: null,
  windows: [{ id: 1, index: 0, name: '', layout: { pane: 7 }, active: 7, zoomed: false, preset: 'even-horizontal' }],
  activeWindow: 1,
  cols: 80,
  rows: 25,
};
const PANE = 7;

/** Lets promise chains and setImmediate callbacks run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
}

class Rig {
  now = 1_000_000;
  readonly toClient: { peer: string; msg: Message }[] = [];
  readonly toHost: Message[] = [];
  readonly logs: string[] = [];
  stops = 0;
  wakes = 0;
  readonly front: Front;
  /** Host requests already handled by the test. */
  private readonly taken = new Set<Message>();
  /** The front's timers, on the rig's clock: they fire only when a test advances it. */
  private readonly timers = new Set<{ at: number; fn: () => void }>();

  constructor(extra: Partial<FrontDeps> = {}) {
    this.front = new Front({
      sendToClient: (peer, frames) => this.toClient.push({ peer: peer.toString(), msg: decode(frames) }),
      sendToHost: (frames) => this.toHost.push(decode(frames)),
      info: () => ({ version: '9.9.9', pid: 11, ptyhostPid: 22, endpoints: [] }),
      log: (m) => { this.logs.push(m); },
      stop: () => { this.stops++; },
      wakeHost: () => { this.wakes++; },
      now: () => this.now,
      later: (ms, fn) => {
        const timer = { at: this.now + ms, fn };
        this.timers.add(timer);
        return () => { this.timers.delete(timer); };
      },
      ...extra,
    });
  }

  /** Moves the rig's clock on, firing the front's timers that fall due, in order. */
  advance(ms: number): void {
    this.now += ms;
    for (;;) {
      const due = [...this.timers].filter((t) => t.at <= this.now).sort((a, b) => a.at - b.at)[0];
      if (!due) return;
      this.timers.delete(due);
      due.fn();
    }
  }

  /** The pty host answers the front's hello. */
  hostUp(): void {
    this.front.helloHost();
    const hello = this.toHost.at(-1)!;
    assert.equal(hello.header.t, MsgType.Hello);
    this.taken.add(hello);
    this.fromHost({ t: MsgType.Welcome, version: PROTOCOL_VERSION, caps: [...CAPABILITIES], agent: 'fake-host' });
  }

  fromClient(peer: string, header: Header, frames: Buffer[] = []): void {
    this.front.onClientMessage(Buffer.from(peer), encode(header, frames));
  }

  fromHost(header: Header, frames: Buffer[] = []): void {
    this.front.onHostMessage(encode(header, frames));
  }

  hello(peer: string): void {
    this.fromClient(peer, { t: MsgType.Hello, min: 1, max: PROTOCOL_VERSION, caps: [...CAPABILITIES], agent: 'test' });
    const w = this.to(peer).at(-1);
    assert.equal(w?.header.t, MsgType.Welcome, `${peer} should be welcome`);
  }

  request(peer: string, id: number, op: string, args: Record<string, unknown>, frames: Buffer[] = []): void {
    this.fromClient(peer, { t: MsgType.Request, id, op: op as RequestMsg['op'], args }, frames);
  }

  /** Messages sent to one client, in order. */
  to(peer: string): Message[] {
    return this.toClient.filter((m) => m.peer === peer).map((m) => m.msg);
  }

  /** Host requests not yet taken by the test, optionally of one op. */
  hostRequests(op?: string): Message<RequestMsg>[] {
    return this.toHost.filter((m): m is Message<RequestMsg> => m.header.t === MsgType.Request && !this.taken.has(m) && (!op || m.header.op === op));
  }

  /** Takes the one pending host request of `op` (after letting the front run). */
  async take(op: string): Promise<Message<RequestMsg>> {
    await settle();
    const reqs = this.hostRequests(op);
    assert.equal(reqs.length, 1, `expected one ${op} request to the host, got ${reqs.length}; all: ${this.toHost.map((m) => JSON.stringify(m.header)).join(' | ')}`);
    this.taken.add(reqs[0]!);
    return reqs[0]!;
  }

  reply(req: Message<RequestMsg>, result: Record<string, unknown>, frames: Buffer[] = []): void {
    this.fromHost({ t: MsgType.Reply, id: req.header.id, result }, frames);
  }

  output(seq: number, text: string, pane = PANE): void {
    this.fromHost({ t: MsgType.Output, sid: pane, seq }, [Buffer.from(text)]);
  }

  /**
   * Attaches `peer` to session "a" as request `id`, playing the host; returns
   * the stream id. `leads` says whether the front must first resize the pane.
   */
  async attach(peer: string, id: number, cols: number, rows: number, opts: { leads: boolean; seq?: number; readOnly?: boolean }): Promise<number> {
    this.request(peer, id, 'session.attach', { name: 'a', cols, rows, create: null, readOnly: opts.readOnly ?? false, mode: 'raw' });
    if (opts.leads) {
      const resize = await this.take('host.resize');
      assert.deepEqual(resize.header.args, { name: 'a', cols, rows: rows + 1 }, 'a raw client\'s pane is its terminal: the window adds the title row');
      this.reply(resize, {});
    }
    const sub = await this.take('host.subscribe');
    assert.equal(sub.header.args['name'], 'a');
    this.reply(sub, { paneSid: PANE, seq: opts.seq ?? 0, session: SESSION }, [Buffer.from('SNAPSHOT')]);
    await settle();
    const r = this.to(peer).find((m) => m.header.t === MsgType.Reply && m.header.id === id);
    assert.ok(r && r.header.t === MsgType.Reply, `attach #${id} of ${peer} should be answered: ${JSON.stringify(this.to(peer).map((m) => m.header))}`);
    return r.header.result['sid'] as number;
  }
}

/** A field of a Reply's result (the test knows the shape). */
function resultOf<T = Record<string, unknown>>(m: Message | undefined): T {
  assert.ok(m && m.header.t === MsgType.Reply, `expected a Reply, got ${JSON.stringify(m?.header)}`);
  return m.header.result as T;
}

function errorsOf(msgs: Message[]): { id: number; code: string; message: string }[] {
  return msgs.flatMap((m) => (m.header.t === MsgType.Error ? [{ id: m.header.id, code: m.header.code, message: m.header.message }] : []));
}

// ---------------------------------------------------------------------------

test('hello gets Welcome with the negotiated version; nothing is served before hello', async () => {
  const rig = new Rig();
  rig.fromClient('c1', { t: MsgType.Hello, min: 1, max: 99, caps: ['pty', 'future-cap'], agent: 'test' });
  const w = rig.to('c1')[0]!;
  assert.equal(w.header.t, MsgType.Welcome);
  if (w.header.t === MsgType.Welcome) {
    assert.equal(w.header.version, PROTOCOL_VERSION);
    assert.deepEqual(w.header.caps, [...CAPABILITIES]);
    assert.match(w.header.agent, /9\.9\.9/);
  }
  assert.equal(rig.front.clientCount, 1);

  rig.request('c2', 5, 'server.info', {});
  rig.fromClient('c2', { t: MsgType.Input, sid: 1 }, [Buffer.from('x')]);
  await settle();
  assert.deepEqual(errorsOf(rig.to('c2')).map((e) => [e.id, e.code]), [[5, 'EPROTO'], [0, 'EPROTO']]);
  assert.match(errorsOf(rig.to('c2'))[0]!.message, /hello/);

  rig.fromClient('c3', { t: MsgType.Hello, min: PROTOCOL_VERSION + 1, max: PROTOCOL_VERSION + 5, caps: [], agent: 'future' });
  const e = errorsOf(rig.to('c3'))[0]!;
  assert.equal(e.code, 'EVERSION');
  assert.equal(e.id, 0);
  assert.equal(rig.front.clientCount, 1, 'a client refused on version is not registered');
  assert.equal(rig.toHost.length, 0, 'nothing reached the host');
});

test('server.info is answered by the front itself', async () => {
  const rig = new Rig();
  rig.hello('c1');
  rig.request('c1', 3, 'server.info', {});
  await settle();
  const r = rig.to('c1').find((m) => m.header.t === MsgType.Reply)!;
  assert.deepEqual(r.header.t === MsgType.Reply && r.header.result, { version: '9.9.9', pid: 11, ptyhostPid: 22, endpoints: [], protocol: PROTOCOL_VERSION });
  assert.equal(rig.hostRequests().length, 0);
});

test('requests wait for the pty host to say Welcome, then go with fresh ids; replies reach the right client with its own id', async () => {
  const rig = new Rig();
  rig.hello('c1');
  rig.hello('c2');
  rig.request('c1', 1, 'session.send', { name: 'a' }, [Buffer.from('typed by c1')]);
  rig.request('c2', 1, 'session.history', { name: 'a', format: 'text' });
  await settle();
  assert.equal(rig.hostRequests().length, 0, 'nothing is sent before the host has welcomed the front');
  assert.ok(rig.wakes > 0, 'the front asks for the host to be started');
  rig.hostUp();
  await settle();

  const send = await rig.take('session.send');
  const history = await rig.take('session.history');
  assert.notEqual(send.header.id, history.header.id, 'each host request has its own id');
  assert.deepEqual(send.header.args, { name: 'a' });
  assert.deepEqual(send.frames.map(String), ['typed by c1'], 'payload frames are forwarded as they are');
  assert.deepEqual(history.header.args, { name: 'a', format: 'text' });

  // Answered in the other order.
  rig.reply(history, { bytes: 3 }, [Buffer.from('abc')]);
  rig.reply(send, {});
  await settle();
  const r1 = rig.to('c1').filter((m) => m.header.t === MsgType.Reply);
  const r2 = rig.to('c2').filter((m) => m.header.t === MsgType.Reply);
  assert.equal(r1.length, 1);
  assert.equal(r2.length, 1);
  assert.deepEqual(r1[0]!.header, { t: MsgType.Reply, id: 1, result: {} });
  assert.deepEqual(r2[0]!.header, { t: MsgType.Reply, id: 1, result: { bytes: 3 } });
  assert.deepEqual(r2[0]!.frames.map(String), ['abc']);

  // A host error goes back with the client's id and code.
  rig.request('c1', 42, 'session.get', { name: 'zz' });
  const get = await rig.take('session.get');
  rig.fromHost({ t: MsgType.Error, id: get.header.id, code: 'ENOSESSION', message: 'session "zz" does not exist' });
  await settle();
  assert.deepEqual(errorsOf(rig.to('c1')), [{ id: 42, code: 'ENOSESSION', message: 'session "zz" does not exist' }]);
  assert.equal(errorsOf(rig.to('c2')).length, 0, 'the other client hears nothing of it');

  // Answers to ids the front never used are ignored.
  rig.fromHost({ t: MsgType.Reply, id: 999_999, result: {} });
  rig.fromHost({ t: MsgType.Error, id: 999_998, code: 'EINTERNAL', message: 'stray' });
  await settle();
  assert.equal(rig.to('c1').length + rig.to('c2').length, 2 + 2 + 1, 'no stray message reaches a client');
});

test('pipelining: three requests in flight answered out of order reach the right ids', async () => {
  const rig = new Rig();
  rig.hostUp();
  rig.hello('c1');
  for (const id of [7, 8, 9]) rig.request('c1', id, 'session.history', { name: 'a', format: 'text' });
  await settle();
  const reqs = rig.hostRequests('session.history');
  assert.equal(reqs.length, 3);
  assert.equal(new Set(reqs.map((r) => r.header.id)).size, 3);
  // The front sends them in the order received: client id 7 → reqs[0], etc.
  const byClientId = new Map([[7, reqs[0]!], [8, reqs[1]!], [9, reqs[2]!]]);
  for (const clientId of [9, 7, 8]) rig.reply(byClientId.get(clientId)!, { bytes: clientId }, [Buffer.from(`history for ${clientId}`)]);
  await settle();
  const replies = rig.to('c1').filter((m) => m.header.t === MsgType.Reply);
  assert.deepEqual(replies.map((m) => m.header.t === MsgType.Reply && m.header.id), [9, 7, 8]);
  for (const m of replies) {
    if (m.header.t !== MsgType.Reply) continue;
    assert.equal(m.header.result['bytes'], m.header.id);
    assert.deepEqual(m.frames.map(String), [`history for ${m.header.id}`]);
  }
});

/** Output messages a client received on stream sid: [seq, text]. */
function outputs(rig: Rig, peer: string, sid: number): [number, string][] {
  return rig.to(peer).flatMap((m) => (m.header.t === MsgType.Output && m.header.sid === sid ? [[m.header.seq, m.frames[0]!.toString()] as [number, string]] : []));
}

/** Index of the attach reply in what the client received. */
function replyIndex(rig: Rig, peer: string, id: number): number {
  return rig.to(peer).findIndex((m) => m.header.t === MsgType.Reply && m.header.id === id);
}

/** Checks attach #1 of c1 was answered before any output, and returns that output. */
function outputsAfterAttachReply(rig: Rig): [number, string][] {
  const at = replyIndex(rig, 'c1', 1);
  assert.ok(at >= 0, 'the attach is answered');
  const sid = resultOf<{ sid: number }>(rig.to('c1')[at]).sid;
  const outIdx = rig.to('c1').findIndex((m) => m.header.t === MsgType.Output);
  assert.ok(outIdx === -1 || outIdx > at, 'no output before the reply');
  return outputs(rig, 'c1', sid);
}

test('attach: the reply carries the snapshot and its seq; later output follows on the stream', async () => {
  const rig = new Rig();
  rig.hostUp();
  rig.hello('c1');
  const sid = await rig.attach('c1', 1, 100, 30, { leads: true, seq: 6 });
  const reply = rig.to('c1')[replyIndex(rig, 'c1', 1)]!;
  assert.equal(reply.header.t === MsgType.Reply && reply.header.result['seq'], 6);
  assert.deepEqual(reply.frames.map(String), ['SNAPSHOT']);
  rig.output(7, 'seven');
  rig.output(8, 'eight');
  await settle();
  assert.deepEqual(outputs(rig, 'c1', sid), [[7, 'seven'], [8, 'eight']]);
});

test('attach: output arriving with the snapshot reply is delivered after the reply, only past the snapshot seq, in order, once', async () => {
  const rig = new Rig();
  rig.hostUp();
  rig.hello('c1');
  rig.request('c1', 1, 'session.attach', { name: 'a', cols: 100, rows: 30, create: null, readOnly: false, mode: 'raw' });
  rig.reply(await rig.take('host.resize'), {});
  const sub = await rig.take('host.subscribe');
  // The host's reply, then — before the front has had a chance to run — more
  // output: seq 6 is inside the snapshot, 7 and 8 are not.
  rig.reply(sub, { paneSid: PANE, seq: 6, session: SESSION }, [Buffer.from('SNAPSHOT')]);
  rig.output(6, 'six');
  rig.output(7, 'seven');
  rig.output(8, 'eight');
  await settle();
  rig.output(9, 'nine');
  await settle();
  assert.deepEqual(outputsAfterAttachReply(rig), [[7, 'seven'], [8, 'eight'], [9, 'nine']], 'output past the snapshot, in order, no duplicates, none lost');
});

test('attach: output the host sent while the snapshot was pending is delivered after the reply only if seq > snapshot seq', async () => {
  const rig = new Rig();
  rig.hostUp();
  rig.hello('c1');
  rig.request('c1', 1, 'session.attach', { name: 'a', cols: 100, rows: 30, create: null, readOnly: false, mode: 'raw' });
  rig.reply(await rig.take('host.resize'), {});
  const sub = await rig.take('host.subscribe');
  // The pty host numbers output as it reads it; while it serializes the
  // snapshot (taken at seq 6) it may already send seq 7, before the reply.
  rig.output(5, 'five');
  rig.output(6, 'six');
  rig.output(7, 'seven');
  await settle();
  rig.reply(sub, { paneSid: PANE, seq: 6, session: SESSION }, [Buffer.from('SNAPSHOT')]);
  await settle();
  rig.output(8, 'eight');
  await settle();
  assert.deepEqual(outputsAfterAttachReply(rig), [[7, 'seven'], [8, 'eight']], 'seq 7 reached the front before the reply but is past the snapshot: it must not be lost');
});

test('attach: a second client joining a pane others watch gets only output past its own snapshot', async () => {
  const rig = new Rig();
  rig.hostUp();
  rig.hello('c1');
  rig.hello('c2');
  const sid1 = await rig.attach('c1', 1, 100, 30, { leads: true, seq: 0 });
  rig.output(1, 'one');
  rig.request('c2', 1, 'session.attach', { name: 'a', cols: 90, rows: 20, create: null, readOnly: false, mode: 'raw' });
  const sub = await rig.take('host.subscribe');
  rig.output(2, 'two');
  rig.output(3, 'three');
  await settle();
  rig.reply(sub, { paneSid: PANE, seq: 2, session: SESSION }, [Buffer.from('SNAPSHOT@2')]);
  await settle();
  rig.output(4, 'four');
  await settle();
  const reply = rig.to('c2')[replyIndex(rig, 'c2', 1)]!;
  const sid2 = resultOf<{ sid: number }>(reply).sid;
  assert.notEqual(sid1, sid2);
  assert.deepEqual(outputs(rig, 'c1', sid1), [[1, 'one'], [2, 'two'], [3, 'three'], [4, 'four']], 'the first client sees everything once');
  assert.deepEqual(outputs(rig, 'c2', sid2), [[3, 'three'], [4, 'four']], 'the second sees what its snapshot lacks, once');
  assert.equal(rig.hostRequests('host.resize').length, 0, 'the second attach does not resize: the first client leads');
});

test('leader policy: first attach leads; input from another client takes the lead and resizes to its size; resize from a non-leader is ignored', async () => {
  const rig = new Rig();
  rig.hostUp();
  rig.hello('c1');
  rig.hello('c2');
  rig.hello('c3');
  const s1 = await rig.attach('c1', 1, 100, 30, { leads: true });
  const s2 = await rig.attach('c2', 1, 120, 40, { leads: false });
  const s3 = await rig.attach('c3', 1, 60, 10, { leads: false, readOnly: true });

  const taken = new Set<Message>();
  const newResizes = async () => {
    await settle();
    const rs = rig.hostRequests('host.resize').filter((r) => !taken.has(r));
    rs.forEach((r) => taken.add(r));
    return rs.map((r) => [r.header.args['name'], r.header.args['cols'], r.header.args['rows']]);
  };

  // The leader's resize is applied.
  rig.fromClient('c1', { t: MsgType.Resize, sid: s1, cols: 90, rows: 25 });
  assert.deepEqual(await newResizes(), [['a', 90, 26]], 'the leader resizes the pane (its window: the pane and its title row)');
  // A non-leader's is remembered, not applied.
  rig.fromClient('c2', { t: MsgType.Resize, sid: s2, cols: 130, rows: 50 });
  assert.deepEqual(await newResizes(), [], 'a non-leader does not resize the pane');
  // Input from c2: it leads now, the pane takes its size, and the input is sent.
  rig.fromClient('c2', { t: MsgType.Input, sid: s2 }, [Buffer.from('ls\r')]);
  assert.deepEqual(await newResizes(), [['a', 130, 51]], 'typing takes the lead at the typist\'s size');
  const sends = rig.hostRequests('host.input');
  assert.equal(sends.length, 1);
  assert.deepEqual(sends[0]!.frames.map(String), ['ls\r']);
  const order = rig.toHost.filter((m) => m.header.t === MsgType.Request).map((m) => (m.header as RequestMsg).op).slice(-2);
  assert.deepEqual(order, ['host.resize', 'host.input'], 'the size changes before the input arrives');
  // More input from the leader does not resize again.
  rig.fromClient('c2', { t: MsgType.Input, sid: s2 }, [Buffer.from('x')]);
  assert.deepEqual(await newResizes(), []);
  // c1 is no longer the leader: its resize is ignored...
  rig.fromClient('c1', { t: MsgType.Resize, sid: s1, cols: 80, rows: 20 });
  assert.deepEqual(await newResizes(), []);
  // ...until it types, at the size it last reported.
  rig.fromClient('c1', { t: MsgType.Input, sid: s1 }, [Buffer.from('y')]);
  assert.deepEqual(await newResizes(), [['a', 80, 21]]);
  // A read-only client neither types nor leads.
  rig.fromClient('c3', { t: MsgType.Input, sid: s3 }, [Buffer.from('rm -rf /\r')]);
  rig.fromClient('c3', { t: MsgType.Resize, sid: s3, cols: 50, rows: 5 });
  assert.deepEqual(await newResizes(), []);
  assert.ok(!rig.hostRequests('host.input').some((r) => r.frames[0]?.toString().includes('rm -rf')), 'read-only input is dropped');
});

test('host.subscribe is interactive only for a client that may type (attach, not read-only, not tail)', async () => {
  // The pane's emulator answers terminal queries (DA, DSR) only while no
  // interactive client is attached; a read-only client's terminal answers
  // are never forwarded (its Input is dropped), so it must not count.
  const rig = new Rig();
  rig.hostUp();
  rig.hello('c1');
  rig.hello('c2');
  rig.hello('c3');
  const interactive = async (peer: string, op: string, args: Record<string, unknown>) => {
    rig.request(peer, 1, op, args);
    await settle();
    for (const r of rig.hostRequests('host.resize')) rig.reply(r, {});
    const sub = await rig.take('host.subscribe');
    rig.reply(sub, { paneSid: PANE, seq: 0, session: SESSION }, [Buffer.from('')]);
    await settle();
    return sub.header.args['interactive'];
  };
  assert.equal(await interactive('c1', 'session.attach', { name: 'a', cols: 80, rows: 24, create: null, readOnly: false, mode: 'raw' }), true, 'attach');
  assert.equal(await interactive('c2', 'session.tail', { name: 'a' }), false, 'tail');
  assert.equal(await interactive('c3', 'session.attach', { name: 'a', cols: 80, rows: 24, create: null, readOnly: true, mode: 'raw' }), false, 'read-only attach');
});

test('session.exit ends every stream of the pane with StreamEnd exited and its exit code', async () => {
  const rig = new Rig();
  rig.hostUp();
  rig.hello('c1');
  rig.hello('c2');
  const s1 = await rig.attach('c1', 1, 100, 30, { leads: true });
  rig.request('c2', 1, 'session.tail', { name: 'a' });
  const sub = await rig.take('host.subscribe');
  assert.deepEqual(sub.header.args, { name: 'a', pane: 0, interactive: false });
  rig.reply(sub, { paneSid: PANE, seq: 0, session: SESSION }, [Buffer.from('')]);
  await settle();
  const tail = rig.to('c2').find((m) => m.header.t === MsgType.Reply)!;
  const s2 = resultOf<{ sid: number }>(tail).sid;

  rig.fromHost({ t: MsgType.Event, name: 'session.exit', data: { name: 'a', exitCode: 3, signal: 0, paneSids: [PANE] } });
  await settle();
  const ends = (peer: string) => rig.to(peer).flatMap((m) => (m.header.t === MsgType.StreamEnd ? [m.header] : []));
  assert.deepEqual(ends('c1'), [{ t: MsgType.StreamEnd, sid: s1, reason: 'exited', exitCode: 3 }]);
  assert.deepEqual(ends('c2'), [{ t: MsgType.StreamEnd, sid: s2, reason: 'exited', exitCode: 3 }]);
  // Nothing more arrives on the ended streams.
  rig.output(1, 'late');
  await settle();
  assert.deepEqual(outputs(rig, 'c1', s1), []);
  assert.deepEqual(outputs(rig, 'c2', s2), []);
  // The stream is gone: input on it is refused.
  rig.fromClient('c1', { t: MsgType.Input, sid: s1 }, [Buffer.from('x')]);
  assert.equal(errorsOf(rig.to('c1')).at(-1)?.code, 'EPROTO');
  // A session of that name made later starts without a leader: the first attach leads again.
  await rig.attach('c1', 2, 70, 20, { leads: true });
});

test('tick() drops clients silent for longer than the heartbeat timeout, ending their streams', async () => {
  const rig = new Rig();
  rig.hostUp();
  const t0 = rig.now;
  rig.hello('quiet');
  rig.hello('chatty');
  const sid = await rig.attach('quiet', 1, 100, 30, { leads: true });
  assert.equal(rig.front.clientCount, 2);

  rig.now = t0 + TIMING.heartbeatTimeoutMs / 2;
  rig.fromClient('chatty', { t: MsgType.Ping, ts: 5 });
  assert.deepEqual(rig.to('chatty').at(-1)?.header, { t: MsgType.Pong, ts: 5 });

  rig.now = t0 + TIMING.heartbeatTimeoutMs;
  rig.front.tick();
  assert.equal(rig.front.clientCount, 2, 'exactly the timeout is not yet too long');

  rig.now = t0 + TIMING.heartbeatTimeoutMs + 1;
  rig.front.tick();
  assert.equal(rig.front.clientCount, 1, 'the silent client is dropped, the one that pinged stays');
  const end = rig.to('quiet').find((m) => m.header.t === MsgType.StreamEnd);
  assert.deepEqual(end?.header, { t: MsgType.StreamEnd, sid, reason: 'error', exitCode: null });
  const unsub = await rig.take('host.unsubscribe');
  assert.deepEqual(unsub.header.args, { pane: PANE, interactive: true });

  // The dropped client must say hello again.
  rig.request('quiet', 9, 'server.info', {});
  await settle();
  assert.deepEqual(errorsOf(rig.to('quiet')).map((e) => [e.id, e.code]), [[9, 'EPROTO']]);
  // Its lead is gone: the next attach leads.
  await rig.attach('chatty', 2, 90, 20, { leads: true });
});

test('a client may not use host.* ops: EPROTO, and nothing reaches the host', async () => {
  const rig = new Rig();
  rig.hostUp();
  rig.hello('c1');
  rig.request('c1', 1, 'host.resize', { name: 'a', cols: 10, rows: 10 });
  rig.request('c1', 2, 'host.subscribe', { name: 'a', pane: 0, interactive: true });
  rig.request('c1', 3, 'host.unsubscribe', { pane: 1, interactive: true });
  rig.request('c1', 4, 'host.input', { pane: 1 }, [Buffer.from('x')]);
  await settle();
  const errs = errorsOf(rig.to('c1'));
  assert.deepEqual(errs.map((e) => [e.id, e.code]), [[1, 'EPROTO'], [2, 'EPROTO'], [3, 'EPROTO'], [4, 'EPROTO']]);
  assert.equal(rig.hostRequests().length, 0, 'no host.* request was forwarded');
});

test('bad requests: unknown op EPROTO, bad arguments EINVAL, with the request id', async () => {
  const rig = new Rig();
  rig.hostUp();
  rig.hello('c1');
  rig.request('c1', 1, 'nope', {});
  rig.request('c1', 2, 'session.get', { name: 5 });
  rig.request('c1', 3, 'session.list', { extra: true });
  rig.fromClient('c1', { t: MsgType.Output, sid: 1, seq: 1 }, [Buffer.from('x')]);
  await settle();
  const errs = errorsOf(rig.to('c1')).map((e) => [e.id, e.code]).sort((x, y) => Number(x[0]) - Number(y[0]));
  assert.deepEqual(errs, [[0, 'EPROTO'], [1, 'EPROTO'], [2, 'EINVAL'], [3, 'EINVAL']]);
  assert.equal(rig.hostRequests().length, 0);
});

test('when the pty host is lost, requests waiting on it fail with EUNAVAIL and streams end', async () => {
  const rig = new Rig();
  rig.hostUp();
  rig.hello('c1');
  const sid = await rig.attach('c1', 1, 100, 30, { leads: true });
  rig.request('c1', 2, 'session.history', { name: 'a', format: 'text' });
  await rig.take('session.history');
  rig.front.hostLost();
  await settle();
  assert.deepEqual(errorsOf(rig.to('c1')).map((e) => [e.id, e.code]), [[2, 'EUNAVAIL']]);
  assert.ok(rig.to('c1').some((m) => m.header.t === MsgType.StreamEnd && m.header.sid === sid), 'the stream ends');
});

test('a list the pty host did not answer before it stopped is asked once of the next one; a second loss is EUNAVAIL', async () => {
  const rig = new Rig();
  rig.hostUp();
  rig.hello('c1');
  rig.request('c1', 1, 'session.list', {});
  await rig.take('session.list');
  const wakes = rig.wakes;
  rig.front.hostLost(); // the idle pty host exited as the request reached it
  await settle();
  assert.deepEqual(errorsOf(rig.to('c1')), [], 'no error while a pty host can still answer');
  assert.ok(rig.wakes > wakes, 'a pty host is asked for again');
  rig.hostUp();
  rig.reply(await rig.take('session.list'), { sessions: [] });
  await settle();
  const r = rig.to('c1').find((m) => m.header.t === MsgType.Reply && m.header.id === 1);
  assert.ok(r, 'the list is answered');
  assert.deepEqual(resultOf<{ sessions: SessionInfo[] }>(r).sessions, []);
  // Once only: a pty host that stops again gets the error through.
  rig.request('c1', 2, 'session.get', { name: 'a' });
  await rig.take('session.get');
  rig.front.hostLost();
  rig.hostUp();
  await rig.take('session.get');
  rig.front.hostLost();
  await settle();
  assert.deepEqual(errorsOf(rig.to('c1')).map((e) => [e.id, e.code, e.message]), [[2, 'EUNAVAIL', 'the pty host stopped']]);
});

test('session.list and session.get count the clients attached through the front', async () => {
  const rig = new Rig();
  rig.hostUp();
  rig.hello('c1');
  rig.hello('c2');
  await rig.attach('c1', 1, 100, 30, { leads: true });
  rig.request('c2', 1, 'session.list', {});
  rig.reply(await rig.take('session.list'), { sessions: [SESSION, { ...SESSION, name: 'b' }] });
  await settle();
  const r = rig.to('c2').find((m) => m.header.t === MsgType.Reply)!;
  const sessions = resultOf<{ sessions: SessionInfo[] }>(r).sessions;
  assert.deepEqual(sessions.map((s) => [s.name, s.clients]), [['a', 1], ['b', 0]]);
});

test('a malformed message from the host is logged, not fatal', async () => {
  const rig = new Rig();
  rig.hostUp();
  rig.front.onHostMessage([Buffer.from([0xc1])]);
  rig.front.onHostMessage([]);
  assert.ok(rig.logs.length >= 2);
  rig.hello('c1');
  rig.request('c1', 1, 'server.info', {});
  await settle();
  assert.ok(rig.to('c1').some((m) => m.header.t === MsgType.Reply));
});

test('session.switch: the leading client of "from" gets a switch event naming "to", then StreamEnd replaced', async () => {
  const rig = new Rig();
  rig.hostUp();
  rig.hello('viewer');
  const sid = await rig.attach('viewer', 1, 100, 30, { leads: true });
  rig.hello('cli');
  rig.request('cli', 7, 'session.switch', { from: 'a', to: 'b', create: null });
  const check = await rig.take('session.get');
  assert.deepEqual(check.header.args, { name: 'b' });
  rig.reply(check, { session: { ...SESSION, name: 'b' } });
  await settle();
  const msgs = rig.to('viewer');
  const ev = msgs.findIndex((m) => m.header.t === MsgType.Event && m.header.name === 'session.switch');
  const end = msgs.findIndex((m) => m.header.t === MsgType.StreamEnd && m.header.sid === sid);
  assert.ok(ev >= 0 && end > ev, 'the event comes before the end of the stream');
  assert.deepEqual((msgs[ev]!.header as { data: unknown }).data, { sid, to: 'b' });
  assert.equal((msgs[end]!.header as { reason: string }).reason, 'replaced');
  assert.deepEqual(resultOf(rig.to('cli').find((m) => m.header.t === MsgType.Reply && m.header.id === 7)), { created: false });
});

test('session.switch with no client attached to "from" is a clear EINVAL', async () => {
  const rig = new Rig();
  rig.hostUp();
  rig.hello('cli');
  rig.request('cli', 3, 'session.switch', { from: 'a', to: 'b', create: null });
  await settle();
  const [err] = errorsOf(rig.to('cli'));
  assert.equal(err?.id, 3);
  assert.equal(err?.code, 'EINVAL');
  assert.match(err!.message, /no client is attached to session "a"/);
});

// ---------------------------------------------------------------------------
// Resumable links and credits (LINK_CAPABILITIES)

/** A client that announces resume and credit, numbering what it sends. */
class LinkPeer {
  q = 0;
  constructor(private readonly rig: Rig, readonly peer: string) {}

  hello(resume?: number): Message {
    this.rig.fromClient(this.peer, { t: MsgType.Hello, min: 1, max: PROTOCOL_VERSION, caps: [...CAPABILITIES, ...LINK_CAPABILITIES], agent: 'test', ...(resume === undefined ? {} : { resume }) });
    return this.rig.to(this.peer).filter((m) => m.header.t === MsgType.Welcome).at(-1)!;
  }

  send(header: Header, frames: Buffer[] = []): void {
    this.rig.fromClient(this.peer, { ...header, q: ++this.q } as Header, frames);
  }

  request(id: number, op: string, args: Record<string, unknown>): void {
    this.send({ t: MsgType.Request, id, op: op as RequestMsg['op'], args });
  }

  /** Everything sent to this peer carrying a link number, in order. */
  numbered(): Message[] {
    return this.rig.to(this.peer).filter((m) => 'q' in m.header);
  }

  async attach(id: number, seq = 0): Promise<number> {
    this.request(id, 'session.attach', { name: 'a', cols: 80, rows: 24, create: null, readOnly: false, mode: 'raw' });
    const resize = await this.rig.take('host.resize');
    this.rig.reply(resize, {});
    const sub = await this.rig.take('host.subscribe');
    this.rig.reply(sub, { paneSid: PANE, seq, session: SESSION }, [Buffer.from('SNAPSHOT')]);
    await settle();
    return resultOf<{ sid: number }>(this.rig.to(this.peer).find((m) => m.header.t === MsgType.Reply && m.header.id === id)).sid;
  }
}

function outputSeqs(msgs: Message[], sid: number): number[] {
  return msgs.flatMap((m) => (m.header.t === MsgType.Output && m.header.sid === sid ? [m.header.seq] : []));
}

test('a resumable link numbers every message; a resume replays exactly what the client missed, in order', async () => {
  const rig = new Rig();
  rig.hostUp();
  const c = new LinkPeer(rig, 'c');
  const w = c.hello();
  assert.deepEqual(w.header, { t: MsgType.Welcome, version: PROTOCOL_VERSION, caps: [...CAPABILITIES, ...LINK_CAPABILITIES], agent: 'zmx-front/9.9.9', resumed: false, recv: 0 });
  const sid = await c.attach(1);
  for (let seq = 1; seq <= 5; seq++) rig.output(seq, `out${seq}`);
  const sent = c.numbered();
  assert.deepEqual(sent.map((m) => (m.header as { q: number }).q), [1, 2, 3, 4, 5, 6], 'the reply and five outputs, numbered from 1');

  // The client got the first three; its link dropped; it says hello with resume: 3.
  const before = rig.to('c').length;
  const again = c.hello(3);
  assert.deepEqual(again.header, { t: MsgType.Welcome, version: PROTOCOL_VERSION, caps: [...CAPABILITIES, ...LINK_CAPABILITIES], agent: 'zmx-front/9.9.9', resumed: true, recv: c.q });
  const replay = rig.to('c').slice(before + 1);
  assert.deepEqual(replay.map((m) => (m.header as { q: number }).q), [4, 5, 6]);
  assert.deepEqual(outputSeqs(replay, sid), [3, 4, 5]);
  assert.deepEqual(replay.map((m) => m.frames[0]?.toString()), ['out3', 'out4', 'out5']);
  // The stream goes on where it was, numbered on.
  rig.output(6, 'out6');
  assert.deepEqual(rig.to('c').at(-1)?.header, { t: MsgType.Output, sid, seq: 6, q: 7 });
});

test('a resumable link confirms what it took a moment after the first message, or at once past the message count', async () => {
  const rig = new Rig();
  rig.hostUp();
  const c = new LinkPeer(rig, 'c');
  c.hello();
  const received = () => rig.to('c').filter((m) => m.header.t === MsgType.Received).map((m) => (m.header as { recv: number }).recv);
  c.request(1, 'server.info', {});
  await settle();
  assert.deepEqual(received(), [], 'no confirmation before its delay');
  rig.advance(FLOW.receivedDelayMs - 1);
  assert.deepEqual(received(), []);
  rig.advance(1);
  assert.deepEqual(received(), [1]);
  for (let id = 2; id <= 1 + FLOW.receivedEveryMessages; id++) c.request(id, 'server.info', {});
  assert.deepEqual(received(), [1, 1 + FLOW.receivedEveryMessages], 'a full batch is confirmed without waiting');
  rig.advance(FLOW.receivedDelayMs);
  assert.deepEqual(received(), [1, 1 + FLOW.receivedEveryMessages], 'nothing left to confirm');
});

test('a resumable link takes each client number once: repeats and messages past a gap are dropped', async () => {
  const rig = new Rig();
  rig.hostUp();
  const c = new LinkPeer(rig, 'c');
  c.hello();
  c.request(1, 'server.info', {});
  rig.fromClient('c', { t: MsgType.Request, id: 2, op: 'server.info', args: {}, q: 1 }); // a repeat of q 1
  rig.fromClient('c', { t: MsgType.Request, id: 3, op: 'server.info', args: {}, q: 5 }); // past a gap
  await settle();
  assert.deepEqual(rig.to('c').filter((m) => m.header.t === MsgType.Reply).map((m) => (m.header as { id: number }).id), [1]);
  // A sequenced message without a number is refused on such a link.
  rig.fromClient('c', { t: MsgType.Request, id: 4, op: 'server.info', args: {} });
  assert.equal(errorsOf(rig.to('c')).at(-1)?.code, 'EPROTO');
  // A resume says what the front has taken (q 1 alone); the client sends again from q 2.
  const w = c.hello(c.numbered().length);
  assert.deepEqual([(w.header as { resumed?: boolean }).resumed, (w.header as { recv?: number }).recv], [true, 1]);
  rig.fromClient('c', { t: MsgType.Request, id: 5, op: 'server.info', args: {}, q: 2 });
  await settle();
  assert.deepEqual(rig.to('c').filter((m) => m.header.t === MsgType.Reply).map((m) => (m.header as { id: number }).id), [1, 5]);
});

test('a resume that cannot be honoured starts afresh: resumed false, old streams replaced', async () => {
  const rig = new Rig();
  rig.hostUp();
  const c = new LinkPeer(rig, 'c');
  c.hello();
  await c.attach(1);
  const w = c.hello(99); // claims messages never sent
  assert.equal((w.header as { resumed?: boolean }).resumed, false);
  const unsub = await rig.take('host.unsubscribe');
  assert.equal(unsub.header.args['pane'], PANE);
  // A legacy client (no resume) never sees link numbers.
  rig.hello('old');
  rig.request('old', 1, 'server.info', {});
  await settle();
  assert.ok(rig.to('old').every((m) => !('q' in m.header)));
});

test('credits: past its window a stream stops; once acknowledged it gets the current screen (Resync) and goes on', async () => {
  const rig = new Rig();
  rig.hostUp();
  const c = new LinkPeer(rig, 'c');
  c.hello();
  const sid = await c.attach(1);
  const chunk = 'x'.repeat(FLOW.streamWindowBytes / 4);
  for (let seq = 1; seq <= 10; seq++) rig.output(seq, chunk);
  assert.deepEqual(outputSeqs(rig.to('c'), sid), [1, 2, 3, 4], 'a window of output, then nothing');
  // The client consumed up to 3: three quarters of the window free again, and it is resynced.
  c.send({ t: MsgType.Ack, sid, seq: 3 });
  const snap = await rig.take('host.snapshot');
  assert.deepEqual(snap.header.args, { pane: PANE, text: false });
  rig.output(11, 'during'); // while the snapshot is on its way
  rig.reply(snap, { seq: 10 }, [Buffer.from('SCREEN@10')]);
  await settle();
  const resync = rig.to('c').find((m) => m.header.t === MsgType.Resync)!;
  assert.deepEqual({ ...resync.header, q: 0 }, { t: MsgType.Resync, sid, seq: 10, skipped: chunk.length * 6, q: 0 });
  assert.equal(resync.frames[0]?.toString(), 'SCREEN@10');
  rig.output(12, 'after');
  assert.deepEqual(outputSeqs(rig.to('c'), sid), [1, 2, 3, 4, 11, 12]);
});

test('a client silent past the heartbeat timeout is away (not counted), resumable, and forgotten after the grace', async () => {
  const rig = new Rig();
  rig.hostUp();
  const t0 = rig.now;
  const c = new LinkPeer(rig, 'c');
  c.hello();
  const sid = await c.attach(1);
  rig.request('other', 1, 'session.list', {}); // not even a client: ignored below
  rig.now = t0 + TIMING.heartbeatTimeoutMs + 1;
  rig.front.tick();
  assert.equal(rig.front.clientCount, 0, 'away clients do not count');
  assert.equal(rig.hostRequests('host.unsubscribe').length, 0, 'its stream is kept');
  rig.output(1, 'while away');
  // Back within the grace: it resumes and gets what it missed.
  const w = c.hello(1);
  assert.equal((w.header as { resumed?: boolean }).resumed, true);
  assert.deepEqual(outputSeqs(rig.to('c'), sid), [1, 1], 'sent once into the void, once on resume');
  assert.equal(rig.front.clientCount, 1);
  // Silent past the grace: forgotten.
  rig.now += FLOW.resumeGraceMs + 1;
  rig.front.tick();
  assert.equal(rig.front.clientCount, 0);
  assert.equal((c.hello(3).header as { resumed?: boolean }).resumed, false);
});

test('resuming a client whose stream fell behind replays its numbers without the stale bytes, then the current screen', async () => {
  const rig = new Rig();
  rig.hostUp();
  const c = new LinkPeer(rig, 'c');
  c.hello();
  const sid = await c.attach(1);
  const chunk = 'y'.repeat(FLOW.streamWindowBytes / 2);
  for (let seq = 1; seq <= 4; seq++) rig.output(seq, chunk);
  const before = rig.to('c').length;
  c.hello(1); // got the reply only
  const replay = rig.to('c').slice(before + 1);
  assert.deepEqual(outputSeqs(replay, sid), [1, 2]);
  assert.ok(replay.every((m) => m.frames[0]?.length === 0), 'stale output goes as numbers only');
  const snap = await rig.take('host.snapshot');
  rig.reply(snap, { seq: 4 }, [Buffer.from('NOW')]);
  await settle();
  const resync = rig.to('c').at(-1)!;
  assert.equal(resync.header.t, MsgType.Resync);
  assert.equal(resync.frames[0]?.toString(), 'NOW');
});

// ---------------------------------------------------------------------------
// Key limits and the audit log

/** A front that checks keys, with each key's limits given by the test and a portal that records what reaches it. */
function limitedRig(limits: Record<string, KeyLimits>) {
  const audit: AuditEntry[] = [];
  const calls: { caller: Caller; op: string; args: Record<string, unknown> }[] = [];
  const dropped: string[] = [];
  const portal: PortalHandler = {
    async handle(caller, op, args) {
      calls.push({ caller, op, args });
      return { result: { size: 3, bytes: 3, mtimeMs: 0 }, frames: [Buffer.from('abc')] };
    },
    async dropClient(client) { dropped.push(client); },
    uploadPath: () => null,
  };
  const rig = new Rig({
    verifyKey: () => true,
    isAuthorized: (key) => key in limits,
    limitsOf: (key) => (limits[key] ? { name: `name-of-${key.slice(0, 1)}`, limits: limits[key]! } : null),
    portal,
    audit: (e) => { audit.push(e); },
  });
  rig.hostUp();
  const hello = (peer: string, key: string) => {
    rig.fromClient(peer, { t: MsgType.Hello, min: 1, max: PROTOCOL_VERSION, caps: [...CAPABILITIES], agent: 'test', key, proof: 'p', ts: 1 });
    assert.equal(rig.to(peer).at(-1)?.header.t, MsgType.Welcome);
  };
  return { rig, audit, calls, dropped, hello };
}

const READER = 'R'.repeat(40);
const VIEWER = 'V'.repeat(40);

test('a key without an operation gets EDENIED naming it, nothing reaches the portal or the pty host, and the refusal is audited', async () => {
  const { rig, audit, calls, hello } = limitedRig({ [READER]: { root: null, allow: ['fs.read'], readOnly: false } });
  hello('c', READER);
  rig.request('c', 1, 'exec.start', { name: 'a', argv: ['rm', '-rf', '/'], shell: '', cwd: '', env: {}, timeoutMs: 0, stdin: false });
  rig.request('c', 2, 'session.send', { name: 'a' }, [Buffer.from('x')]);
  await settle();
  const errors = rig.to('c').filter((m) => m.header.t === MsgType.Error).map((m) => m.header as { id: number; code: string; message: string });
  assert.deepEqual(errors.map((e) => [e.id, e.code]), [[1, 'EDENIED'], [2, 'EDENIED']]);
  assert.match(errors[0]!.message, /exec\.start.*"exec"/);
  assert.equal(calls.length, 0);
  assert.equal(rig.hostRequests('session.send').length, 0, 'the pty host never saw the refused send');
  assert.deepEqual(audit.map((e) => [e.op, e.result, e.who, e.key]), [
    ['exec.start', 'EDENIED', 'name-of-R', fingerprint(READER)],
    ['session.send', 'EDENIED', 'name-of-R', fingerprint(READER)],
  ]);
  assert.deepEqual(audit[0]!.argv, ['rm', '-rf', '/']);
  assert.equal(audit[0]!.session, 'a');
});

test('an allowed portal op reaches the portal with the caller\'s key and limits, and its answer and audit line come back', async () => {
  const limits: KeyLimits = { root: '/srv/app', allow: ['fs.read'], readOnly: false };
  const { rig, audit, calls, hello } = limitedRig({ [READER]: limits });
  hello('c', READER);
  rig.request('c', 1, 'fs.read', { name: 'a', path: 'src/x.ts', offset: 0, length: 100 });
  await settle();
  assert.equal(calls.length, 1);
  assert.deepEqual(calls[0]!.caller, { client: Buffer.from('c').toString('hex'), key: fingerprint(READER), who: 'name-of-R', limits });
  const reply = rig.to('c').find((m) => m.header.t === MsgType.Reply)!;
  assert.deepEqual(reply.frames.map(String), ['abc']);
  assert.deepEqual(audit.map((e) => [e.op, e.result, e.path, e.bytes]), [['fs.read', 'OK', 'src/x.ts', 3]]);
});

test('a read-only key is refused what changes things, and its attach is made read-only', async () => {
  const { rig, audit, hello } = limitedRig({ [VIEWER]: { root: null, allow: ['fs.read', 'fs.write', 'exec', 'pty', 'admin'], readOnly: true } });
  hello('v', VIEWER);
  rig.request('v', 1, 'fs.write', { name: 'a', path: 'x', mode: null, parents: false }, [Buffer.from('x')]);
  rig.request('v', 2, 'session.attach', { name: 'a', cols: 80, rows: 24, create: null, readOnly: false, mode: 'raw' });
  const sub = await rig.take('host.subscribe');
  assert.equal(sub.header.args['interactive'], false, 'the attach went on read-only');
  const err = rig.to('v').find((m) => m.header.t === MsgType.Error)!.header as { id: number; code: string; message: string };
  assert.deepEqual([err.id, err.code], [1, 'EDENIED']);
  assert.match(err.message, /read-only/);
  assert.equal(audit[0]!.result, 'EDENIED');
});

test('a connection that goes is dropped from the portal too (its uploads and watches end)', async () => {
  const { rig, dropped, hello } = limitedRig({ [READER]: { root: null, allow: ['fs.read'], readOnly: false } });
  hello('c', READER);
  hello('c', READER); // a fresh hello on the same connection replaces the old client
  await settle();
  assert.deepEqual(dropped, [Buffer.from('c').toString('hex')]);
  rig.now += TIMING.heartbeatTimeoutMs + FLOW.resumeGraceMs + 1;
  rig.front.tick();
  await settle();
  assert.equal(dropped.length, 2, 'and when it goes silent for good');
});

// ---------------------------------------------------------------------------
// Direct streams (docs/protocol.md, "Direct streams")

const DIRECT_ENDPOINT = { endpoint: 'ipc:///run/zmx/direct.sock', serverKey: 'P'.repeat(40) };
const clientKey = (peer: string) => peer.padEnd(40, 'k');

/** A front whose pty host serves direct streams, and clients that prove keys. */
function directRig(): Rig {
  const rig = new Rig({ direct: DIRECT_ENDPOINT, verifyKey: () => true });
  rig.front.helloHost();
  rig.fromHost({ t: MsgType.Welcome, version: PROTOCOL_VERSION, caps: [...CAPABILITIES, DIRECT_CAPABILITY], agent: 'fake-host' });
  return rig;
}

function directHello(rig: Rig, peer: string, direct = true): void {
  rig.fromClient(peer, {
    t: MsgType.Hello, min: 1, max: PROTOCOL_VERSION, caps: [...CAPABILITIES, ...(direct ? [DIRECT_CAPABILITY] : [])], agent: 'test',
    key: clientKey(peer), proof: 'p', ts: 1,
  });
  assert.equal(rig.to(peer).at(-1)?.header.t, MsgType.Welcome);
}

/** Attaches `peer` (raw) through a grant, playing the pty host; returns the grant request and the reply. */
async function directAttach(rig: Rig, peer: string, id: number, leads: boolean): Promise<{ grant: Message<RequestMsg>; sid: number; result: Record<string, unknown> }> {
  rig.request(peer, id, 'session.attach', { name: 'a', cols: 100, rows: 30, create: null, readOnly: false, mode: 'raw' });
  if (leads) rig.reply(await rig.take('host.resize'), {});
  if (leads) rig.reply(await rig.take('host.lead'), {});
  const grant = await rig.take('host.grant');
  rig.reply(grant, { paneSid: PANE, seq: 4, session: SESSION }, [Buffer.from('SNAPSHOT')]);
  await settle();
  const r = rig.to(peer).find((m) => m.header.t === MsgType.Reply && m.header.id === id);
  const result = resultOf(r);
  return { grant, sid: result['sid'] as number, result };
}

test('direct: a local client\'s attach is granted to the pty host with its routing id, key and a fresh token, which the reply carries', async () => {
  const rig = directRig();
  directHello(rig, 'c1');
  const { grant, sid, result } = await directAttach(rig, 'c1', 1, true);
  const args = grant.header.args as Record<string, unknown>;
  assert.match(String(args['token']), /^[0-9a-f]{32}$/);
  assert.deepEqual({ ...args, token: '' }, {
    name: 'a', pane: 0, interactive: true, sid, client: Buffer.from('c1').toString('hex'), key: clientKey('c1'), token: '', readOnly: false, lead: sid,
  });
  assert.deepEqual(result['direct'], { ...DIRECT_ENDPOINT, token: args['token'] });
  assert.equal(result['seq'], 4);
  assert.equal(rig.hostRequests('host.subscribe').length, 0, 'the front does not subscribe itself');
  // The pane's output reaches a direct stream from the pty host only.
  rig.output(5, 'not through the front');
  await settle();
  assert.deepEqual(outputs(rig, 'c1', sid), []);
  // A second attach gets a token of its own.
  const second = await directAttach(rig, 'c1', 2, false);
  assert.notEqual(second.grant.header.args['token'], args['token']);
});

test('direct: no grant for a client that does not announce it, nor from a pty host that does not serve it', async () => {
  const rig = directRig();
  directHello(rig, 'remote', false);
  await rig.attach('remote', 1, 100, 30, { leads: true });
  const old = new Rig({ direct: DIRECT_ENDPOINT, verifyKey: () => true });
  old.hostUp(); // a pty host without 'direct'
  directHello(old, 'c1');
  const sid = await old.attach('c1', 1, 100, 30, { leads: true });
  // Forwarded keystrokes to such a pty host stay requests.
  old.fromClient('c1', { t: MsgType.Input, sid }, [Buffer.from('x')]);
  assert.equal((await old.take('host.input')).frames[0]!.toString(), 'x');
});

test('direct: keystrokes the front forwards go to a direct-serving pty host as Input, with no request to answer', async () => {
  const rig = directRig();
  directHello(rig, 'remote', false);
  const sid = await rig.attach('remote', 1, 100, 30, { leads: true });
  rig.fromClient('remote', { t: MsgType.Input, sid }, [Buffer.from('ls\r')]);
  await settle();
  const input = rig.toHost.filter((m) => m.header.t === MsgType.Input);
  assert.deepEqual(input.map((m) => [m.header.t === MsgType.Input && m.header.sid, m.frames[0]!.toString()]), [[PANE, 'ls\r']]);
  assert.equal(rig.hostRequests('host.input').length, 0);
});

test('direct: typing reported by the pty host makes that stream lead, at its size; a change the front makes is told to the pty host', async () => {
  const rig = directRig();
  directHello(rig, 'c1');
  directHello(rig, 'remote', false);
  const { sid } = await directAttach(rig, 'c1', 1, true);
  rig.request('remote', 1, 'session.attach', { name: 'a', cols: 120, rows: 40, create: null, readOnly: false, mode: 'raw' });
  const sub = await rig.take('host.subscribe');
  rig.reply(sub, { paneSid: PANE, seq: 4, session: SESSION }, [Buffer.from('S')]);
  await settle();
  const remote = resultOf<{ sid: number }>(rig.to('remote').find((m) => m.header.t === MsgType.Reply)).sid;
  // The remote client types through the front: it leads, and the pty host hears of it.
  rig.fromClient('remote', { t: MsgType.Input, sid: remote }, [Buffer.from('x')]);
  assert.deepEqual((await rig.take('host.resize')).header.args, { name: 'a', cols: 120, rows: 41 });
  assert.deepEqual((await rig.take('host.lead')).header.args, { name: 'a', sid: remote });
  // The local client types on its direct stream: the pty host reports it once
  // and holds its keys; the front resizes, then answers with host.lead (the keys go in).
  rig.fromHost({ t: MsgType.Event, name: 'stream.typed', data: { sid } });
  const resize = await rig.take('host.resize');
  assert.deepEqual(resize.header.args, { name: 'a', cols: 100, rows: 31 });
  const lead = await rig.take('host.lead');
  assert.deepEqual(lead.header.args, { name: 'a', sid });
  assert.ok(rig.toHost.indexOf(resize) < rig.toHost.indexOf(lead), 'the answer comes behind the resize');
  await settle();
  assert.equal(rig.hostRequests('host.lead').length, 0, 'one answer');
});

test('direct: the front ends a direct stream with host.release and its own StreamEnd; the pane\'s end is left to the pty host', async () => {
  const rig = directRig();
  directHello(rig, 'c1');
  const a = await directAttach(rig, 'c1', 1, true);
  await directAttach(rig, 'c1', 2, false); // a second stream on the pane, ended by the pane too
  rig.fromClient('c1', { t: MsgType.Detach, sid: a.sid });
  assert.deepEqual((await rig.take('host.release')).header.args, { sid: a.sid });
  const ends = () => rig.to('c1').flatMap((m) => (m.header.t === MsgType.StreamEnd ? [[m.header.sid, m.header.reason]] : []));
  assert.deepEqual(ends(), [[a.sid, 'detached']]);
  rig.fromHost({ t: MsgType.Event, name: 'pane.exit', data: { name: 'a', paneSid: PANE, exitCode: 0, killed: false } });
  await settle();
  assert.deepEqual(ends(), [[a.sid, 'detached']], 'the pty host sends the end behind the stream\'s last output');
  assert.equal(rig.hostRequests('host.release').length, 0, 'nothing to release: the pty host ended it');
});

test('direct: a client that goes (or whose key is revoked) has its grants released', async () => {
  let authorized = true;
  const rig = new Rig({ direct: DIRECT_ENDPOINT, verifyKey: () => true, isAuthorized: () => authorized });
  rig.front.helloHost();
  rig.fromHost({ t: MsgType.Welcome, version: PROTOCOL_VERSION, caps: [...CAPABILITIES, DIRECT_CAPABILITY], agent: 'fake-host' });
  directHello(rig, 'c1');
  const { sid } = await directAttach(rig, 'c1', 1, true);
  authorized = false;
  rig.front.recheckKeys();
  assert.deepEqual((await rig.take('host.release')).header.args, { sid });
});

test('direct: a full-screen client\'s views are granted, led by its tui stream; stream.* ops are refused at the front', async () => {
  const rig = directRig();
  directHello(rig, 'c1');
  rig.request('c1', 1, 'session.attach', { name: 'a', cols: 100, rows: 30, create: null, readOnly: false, mode: 'tui' });
  rig.reply(await rig.take('host.resize'), {});
  rig.reply(await rig.take('host.lead'), {});
  rig.reply(await rig.take('session.get'), { session: SESSION });
  await settle();
  const tui = resultOf<{ sid: number }>(rig.to('c1').find((m) => m.header.t === MsgType.Reply)).sid;
  rig.request('c1', 2, 'pane.subscribe', { attach: tui, pane: PANE });
  const grant = await rig.take('host.grant');
  assert.equal(grant.header.args['lead'], tui);
  assert.equal(grant.header.args['pane'], PANE);
  rig.reply(grant, { paneSid: PANE, seq: 0, session: SESSION }, [Buffer.from('V')]);
  await settle();
  const view = resultOf(rig.to('c1').find((m) => m.header.t === MsgType.Reply && m.header.id === 2));
  assert.equal((view['direct'] as { token: string }).token, grant.header.args['token']);
  rig.request('c1', 3, 'stream.claim', { sid: view['sid'], token: 'x', key: clientKey('c1'), proof: 'p', ts: 1 });
  await settle();
  assert.deepEqual(errorsOf(rig.to('c1')).map((e) => [e.id, e.code]), [[3, 'EPROTO']]);
});

test('a command\'s end from the pty host (Event exec.end): one audit line with how it ended, then host.exec.ack; the same end sent again is acknowledged, not audited twice', async () => {
  const audit: AuditEntry[] = [];
  const rig = new Rig({ audit: (e) => { audit.push(e); } });
  rig.hostUp();
  const exec = { id: 4, pid: 999, argv: ['sh', '-c', 'exit 7'], cwd: '.', started: 1_700_000_000_000, result: { exitCode: 7, signal: null, durationMs: 30, truncated: false, timedOut: false } };
  const end = { exec, owner: 'SHA256:abc', who: 'laptop', session: 'a', bytes: 8, ended: 1_700_000_000_030 };
  rig.fromHost({ t: MsgType.Event, name: 'exec.end', data: end });
  const ack = await rig.take('host.exec.ack');
  assert.deepEqual(ack.header.args, { exec: 4 });
  rig.reply(ack, {});
  assert.deepEqual(audit, [{
    time: new Date(end.ended).toISOString(), key: 'SHA256:abc', who: 'laptop', session: 'a', op: 'exec', argv: ['sh', '-c', 'exit 7'], result: 'OK',
    exitCode: 7, signal: null, timedOut: false, end: '4:999:1700000000000', bytes: 8, durationMs: 30,
  }]);
  // The pty host sends it again (a Hello crossed the ack): acknowledged again, not audited.
  rig.fromHost({ t: MsgType.Event, name: 'exec.end', data: end });
  assert.deepEqual((await rig.take('host.exec.ack')).header.args, { exec: 4 });
  assert.equal(audit.length, 1, 'one audit line per end');
  // Another command with the same id (a new pty host numbers afresh) is another end.
  rig.fromHost({ t: MsgType.Event, name: 'exec.end', data: { ...end, exec: { ...exec, pid: 1000, started: exec.started + 5 } } });
  await rig.take('host.exec.ack');
  assert.equal(audit.length, 2);
});

test('an end sent again to a new front (again: true) is looked up in the audit log: written by the last front, only acknowledged', async () => {
  const audit: AuditEntry[] = [];
  const looked: string[] = [];
  const inLog = new Set(['4:999:1700000000000']);
  const rig = new Rig({ audit: (e) => { audit.push(e); }, auditedEnd: (end) => { looked.push(end); return inLog.has(end); } });
  rig.hostUp();
  const exec = { id: 4, pid: 999, argv: ['true'], cwd: '.', started: 1_700_000_000_000, result: { exitCode: 0, signal: null, durationMs: 1, truncated: false, timedOut: false } };
  const end = { exec, owner: 'SHA256:abc', who: '', session: 'a', bytes: 0, ended: 1_700_000_000_001, again: true };
  rig.fromHost({ t: MsgType.Event, name: 'exec.end', data: end });
  assert.deepEqual((await rig.take('host.exec.ack')).header.args, { exec: 4 }, 'acknowledged, so the pty host forgets it');
  assert.equal(audit.length, 0, 'the last front wrote it');
  // Not in the log (it ended while no front ran): written.
  rig.fromHost({ t: MsgType.Event, name: 'exec.end', data: { ...end, exec: { ...exec, id: 5 } } });
  await rig.take('host.exec.ack');
  assert.deepEqual(audit.map((e) => e.end), ['5:999:1700000000000']);
  // A first delivery is not looked up: the log is read only for ends sent again.
  rig.fromHost({ t: MsgType.Event, name: 'exec.end', data: { ...end, exec: { ...exec, id: 6 }, again: undefined } });
  await rig.take('host.exec.ack');
  assert.deepEqual(looked, ['4:999:1700000000000', '5:999:1700000000000']);
  assert.equal(audit.length, 2);
});
