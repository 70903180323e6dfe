/**
 * DirectStreams without a transport: the test plays the pane (its output
 * numbers and snapshots), the front (grants, releases, leads) and the
 * clients on the direct endpoint. Everything sent is decoded with the
 * protocol module, so an invalid message fails the test.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DirectStreams, type DirectPane } from './direct.js';
import { FLOW } from '../common/constants.js';
import { MsgType, decode, encode, type ErrorMsg, type Header, type Message, type OpArgs } from '../common/protocol.js';

const A = Buffer.from('a'.repeat(32));
const B = Buffer.from('b'.repeat(32));
const KEY_A = 'A'.repeat(40);
const KEY_B = 'B'.repeat(40);
const PANE = 7;
const GOOD_PROOF = 'proof-ok';

/** A pane whose output the test numbers; its snapshot is at the seq of the moment it is asked for, and resolves a turn later. */
class FakePane implements DirectPane {
  seq = 0;
  interactive = 0;
  directViewers = 0;
  readonly typed: string[] = [];
  input(data: Buffer): void { this.typed.push(data.toString()); }
  snapshot(): Promise<{ seq: number; vt: Buffer }> {
    const seq = this.seq;
    return new Promise((r) => setImmediate(() => r({ seq, vt: Buffer.from(`screen@${seq}`) })));
  }
}

const settle = async () => { for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r)); };

class Rig {
  readonly pane = new FakePane();
  readonly sent: { peer: string; msg: Message }[] = [];
  readonly toFront: Header[] = [];
  readonly direct = new DirectStreams({
    send: (peer, frames) => this.sent.push({ peer: peer.toString(), msg: decode(frames) }),
    tellFront: (h) => this.toFront.push(decode(encode(h)).header),
    verifyKey: (_key, proof) => proof === GOOD_PROOF,
    pane: (id) => (id === PANE ? this.pane : null),
  });
  private nextId = 1;

  /** The pane prints a chunk. */
  print(text: string | Buffer): number {
    this.pane.seq += 1;
    this.direct.output(PANE, this.pane.seq, Buffer.isBuffer(text) ? text : Buffer.from(text));
    return this.pane.seq;
  }

  grant(sid: number, over: Partial<OpArgs<'host.grant'>> = {}): Promise<{ seq: number; vt: Buffer }> {
    return this.direct.grant({ name: 's', pane: PANE, interactive: true, sid, client: A.toString('hex'), key: KEY_A, token: `tok${sid}`, readOnly: false, lead: sid, ...over }, PANE, this.pane);
  }

  from(peer: Buffer, header: Header, frames: Buffer[] = []): void {
    this.direct.handle(peer, encode(header, frames));
  }

  /** Sends a request from `peer`; returns its answer. */
  ask(peer: Buffer, op: 'stream.claim' | 'stream.resume', args: Record<string, unknown>): Message {
    const id = this.nextId++;
    this.from(peer, { t: MsgType.Request, id, op, args });
    return this.sent.find((s) => (s.msg.header.t === MsgType.Reply || s.msg.header.t === MsgType.Error) && s.msg.header.id === id)!.msg;
  }

  claim(sid: number, over: Record<string, unknown> = {}, peer = A): Message {
    return this.ask(peer, 'stream.claim', { sid, token: `tok${sid}`, key: KEY_A, proof: GOOD_PROOF, ts: 1, ...over });
  }

  /** What `peer` got of stream `sid`: output as `seq:text`, resyncs and ends as words. */
  got(sid: number, peer = A): string[] {
    return this.sent.filter((s) => s.peer === peer.toString()).flatMap(({ msg }) => {
      const h = msg.header;
      if (h.t === MsgType.Output && h.sid === sid) return [`${h.seq}:${msg.frames[0]!.toString()}`];
      if (h.t === MsgType.Resync && h.sid === sid) return [`resync@${h.seq}+${h.skipped}:${msg.frames[0]!.toString()}`];
      if (h.t === MsgType.StreamEnd && h.sid === sid) return [`end:${h.reason}:${h.exitCode}`];
      return [];
    });
  }
}

test('direct: output from the snapshot on is kept until the claim, then sent once, in order', async () => {
  const rig = new Rig();
  rig.print('before');
  const snap = rig.grant(1);
  // The pane goes on printing while the snapshot is taken and before the client claims.
  rig.print('x');
  rig.print('y');
  const { seq, vt } = await snap;
  assert.equal(seq, 1);
  assert.equal(vt.toString(), 'screen@1');
  rig.print('z');
  assert.deepEqual(rig.got(1), [], 'nothing goes out before the claim');
  const reply = rig.claim(1);
  assert.equal(reply.header.t, MsgType.Reply);
  rig.print('live');
  assert.deepEqual(rig.got(1), ['2:x', '3:y', '4:z', '5:live']);
  assert.equal(rig.pane.interactive, 1, 'an interactive grant answers the program\'s queries itself');
});

test('direct: a claim needs the token, the routing id and the key the front granted, with a valid proof; a token works once', async () => {
  const rig = new Rig();
  await rig.grant(1);
  const refused = (m: Message) => {
    assert.equal(m.header.t, MsgType.Error);
    assert.equal((m.header as ErrorMsg).code, 'EDENIED');
  };
  refused(rig.claim(1, { token: 'tok2' }));
  refused(rig.claim(1, {}, B)); // another client, with the right token
  refused(rig.claim(1, { key: KEY_B }));
  refused(rig.claim(1, { proof: 'forged' }));
  refused(rig.claim(9)); // no such stream
  assert.equal(rig.claim(1).header.t, MsgType.Reply);
  refused(rig.claim(1)); // the same token again
  rig.print('hi');
  assert.deepEqual(rig.got(1, B), [], 'nothing reached the other client');
});

test('direct: Input and Ack count only from the client that claimed the stream', async () => {
  const rig = new Rig();
  await rig.grant(1);
  rig.direct.lead('s', 1); // the front made it the leader as it attached
  rig.from(A, { t: MsgType.Input, sid: 1 }, [Buffer.from('early')]); // not claimed yet
  rig.claim(1);
  rig.from(B, { t: MsgType.Input, sid: 1 }, [Buffer.from('intruder')]);
  rig.from(A, { t: MsgType.Input, sid: 1 }, [Buffer.from('ls\r')]);
  assert.deepEqual(rig.pane.typed, ['ls\r']);
});

test('direct: typing on a stream that does not lead tells the front once, and its keys wait for host.lead (behind the resize to its size)', async () => {
  const rig = new Rig();
  await rig.grant(1, { lead: 10 });
  rig.claim(1);
  rig.from(A, { t: MsgType.Input, sid: 1 }, [Buffer.from('a')]);
  rig.from(A, { t: MsgType.Input, sid: 1 }, [Buffer.from('b')]);
  assert.deepEqual(rig.toFront.map((h) => h.t === MsgType.Event && [h.name, h.data['sid']]), [['stream.typed', 1]]);
  assert.deepEqual(rig.pane.typed, [], 'the keys wait until the front has applied the new leader\'s size');
  rig.direct.lead('s', 99); // the answer for someone else: still waiting
  assert.deepEqual(rig.pane.typed, []);
  rig.direct.lead('s', 10); // the front's answer
  assert.deepEqual(rig.pane.typed, ['a', 'b']);
  rig.from(A, { t: MsgType.Input, sid: 1 }, [Buffer.from('c')]);
  assert.equal(rig.toFront.length, 1, 'the leader\'s own keys cost no message');
  assert.deepEqual(rig.pane.typed, ['a', 'b', 'c']);
});

test('direct: held keys go in anyway when the front does not answer, and are dropped with their stream', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const rig = new Rig();
  await rig.grant(1, { lead: 10 });
  rig.claim(1);
  rig.direct.lead('s', 99); // someone else typed through the front
  rig.from(A, { t: MsgType.Input, sid: 1 }, [Buffer.from('x')]);
  rig.from(A, { t: MsgType.Input, sid: 1 }, [Buffer.from('y')]);
  assert.deepEqual(rig.pane.typed, []);
  t.mock.timers.tick(249);
  assert.deepEqual(rig.pane.typed, []);
  t.mock.timers.tick(1);
  assert.deepEqual(rig.pane.typed, ['x', 'y'], 'in order, after the wait');
  rig.direct.lead('s', 99);
  rig.from(A, { t: MsgType.Input, sid: 1 }, [Buffer.from('lost with the stream')]);
  rig.direct.release(1);
  t.mock.timers.tick(1_000);
  assert.deepEqual(rig.pane.typed, ['x', 'y']);
});

test('direct: a read-only stream gets output but its keystrokes are dropped', async () => {
  const rig = new Rig();
  await rig.grant(1, { readOnly: true, interactive: false });
  rig.claim(1);
  rig.from(A, { t: MsgType.Input, sid: 1 }, [Buffer.from('rm -rf /\r')]);
  assert.deepEqual(rig.pane.typed, []);
  assert.equal(rig.toFront.length, 0);
  assert.equal(rig.pane.interactive, 0);
  assert.equal(rig.pane.directViewers, 1, 'a read-only viewer still watches the pane (it stays awake, its parse goes first)');
  rig.direct.release(1);
  assert.equal(rig.pane.directViewers, 0);
});

test('direct: past its window a stream falls behind; once acknowledged it gets the current screen and goes on', async () => {
  const rig = new Rig();
  await rig.grant(1);
  rig.claim(1);
  const chunk = Buffer.alloc(FLOW.streamWindowBytes / 4, 0x61);
  for (let i = 0; i < 6; i++) rig.print(chunk);
  const sentSeqs = rig.got(1).map((g) => Number(g.split(':')[0]));
  assert.deepEqual(sentSeqs, [1, 2, 3, 4], 'four chunks fill the window; the rest are skipped');
  rig.from(A, { t: MsgType.Ack, sid: 1, seq: 4 });
  await settle();
  const resync = rig.got(1).at(-1)!;
  assert.equal(resync, `resync@6+${chunk.length * 2}:screen@6`);
  rig.print('after');
  assert.equal(rig.got(1).at(-1), '7:after');
});

test('direct: a resume after a lost link resyncs only if output was missed', async () => {
  const rig = new Rig();
  await rig.grant(1);
  rig.claim(1);
  rig.print('one');
  const same = rig.ask(A, 'stream.resume', { sid: 1, seq: 1 });
  assert.deepEqual(same.header.t === MsgType.Reply && same.header.result, { resync: false });
  rig.print('two');
  const missed = rig.ask(A, 'stream.resume', { sid: 1, seq: 1 });
  assert.deepEqual(missed.header.t === MsgType.Reply && missed.header.result, { resync: true });
  rig.print('three'); // while the screen is taken: after it, not before
  await settle();
  assert.deepEqual(rig.got(1), ['1:one', '2:two', 'resync@2+0:screen@2', '3:three']);
  const other = rig.ask(B, 'stream.resume', { sid: 1, seq: 0 });
  assert.equal(other.header.t, MsgType.Error, 'another client cannot resume it');
});

test('direct: the pane\'s end reaches the client behind its last output, claimed or not yet', async () => {
  const rig = new Rig();
  await rig.grant(1);
  await rig.grant(2, { token: 'tok2' });
  rig.claim(1);
  rig.print('bye');
  rig.direct.paneEnded(PANE, 'exited', 3);
  assert.deepEqual(rig.got(1), ['1:bye', 'end:exited:3']);
  assert.equal(rig.claim(2).header.t, MsgType.Reply, 'a stream that ended before its claim is still claimed');
  assert.deepEqual(rig.got(2), ['1:bye', 'end:exited:3']);
  assert.equal(rig.direct.size, 0);
});

test('direct: a released stream goes silent; a new front\'s hello (reset) voids every grant', async () => {
  const rig = new Rig();
  await rig.grant(1);
  await rig.grant(2, { token: 'tok2' });
  rig.claim(1);
  rig.direct.release(1);
  rig.print('gone');
  assert.deepEqual(rig.got(1), [], 'the front tells the client; the pty host sends nothing more');
  assert.equal(rig.pane.interactive, 1);
  assert.equal(rig.pane.directViewers, 1);
  rig.direct.reset();
  assert.equal(rig.claim(2).header.t, MsgType.Error);
});

test('direct: ended streams nobody claims are kept within a bound', async () => {
  const rig = new Rig();
  for (let sid = 1; sid <= 100; sid++) {
    await rig.grant(sid, { token: `tok${sid}` });
    rig.direct.paneEnded(PANE, 'exited', 0);
  }
  assert.ok(rig.direct.size <= 64, `${rig.direct.size} ended streams kept`);
  assert.equal(rig.claim(100).header.t, MsgType.Reply, 'the newest is still claimable');
  assert.equal(rig.claim(1).header.t, MsgType.Error, 'the oldest went');
});
