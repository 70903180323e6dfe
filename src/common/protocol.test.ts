/**
 * The wire protocol: every message type round-trips with raw binary frames,
 * decode refuses anything malformed with a ZmxError, request arguments are
 * checked against their op's schema, and version negotiation names both
 * ranges when it fails.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Packr } from 'msgpackr';
import {
  MsgType,
  OP_NAMES,
  PROTOCOL_VERSION,
  MIN_PROTOCOL_VERSION,
  decode,
  encode,
  is,
  negotiateVersion,
  validateArgs,
  type CreateArgs,
  type Header,
  type MsgTypeName,
  type OpArgs,
  type OpName,
  type SessionInfo,
} from './protocol.js';
import { ZmxError, type ErrorCode } from './errors.js';
import { LIMITS } from './constants.js';

/** Packs arbitrary values as a header would be, without encode()'s typing. */
const rawPackr = new Packr({ useRecords: false, mapsAsObjects: true, int64AsType: 'number' });
function rawHeader(value: unknown): Buffer {
  return rawPackr.pack(value);
}

function assertZmxError(fn: () => unknown, code: ErrorCode, includes?: string | RegExp, what = ''): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof ZmxError, `${what}: expected a ZmxError, got ${String(err)}`);
    assert.equal(err.code, code, `${what}: wrong code (message: ${err.message})`);
    if (typeof includes === 'string') assert.ok(err.message.includes(includes), `${what}: message ${JSON.stringify(err.message)} should mention ${includes}`);
    else if (includes) assert.match(err.message, includes, what);
    return true;
  }, what);
}

// ---------------------------------------------------------------------------
// Samples: one header per message type. The mapped type makes a new MsgType
// without a sample a compile error; the first test checks it at run time too.

type HeaderOf<K extends MsgTypeName> = Extract<Header, { t: (typeof MsgType)[K] }>;

const SESSION: SessionInfo = {
  name: 'dev',
  created: 1_700_000_000_000,
  root: '/home/u/src/dev',
  labels: { role: 'agent', 'ünï': 'cødé' },
  panes: [{ id: 3, pid: 4242, cmd: ['bash', '-l'], cols: 80, rows: 24, title: 'bash', cwdUri: 'file:///home/u', exited: null, task: { command: 'make test', status: null } }],
  clients: 1,
  task: { status: null, command: 'make test', ended: null },
  windows: [{ id: 1, index: 0, name: 'ed', preset: 'tiled', active: 3, zoomed: false, layout: { dir: 'h', children: [{ pane: 3 }, { dir: 'v', children: [{ pane: 4 }, { pane: 5 }], sizes: [1, 2] }], sizes: [0.6, 0.4] } }],
  activeWindow: 1,
  cols: 80,
  rows: 25,
};

const SAMPLES: { [K in MsgTypeName]: HeaderOf<K> } = {
  Hello: { t: MsgType.Hello, min: 1, max: 3, caps: ['pty', 'labels', 'resume'], agent: 'zmx/0.1.0 node/20', key: 'k'.repeat(40), proof: 'ab'.repeat(32), ts: 1_700_000_000_000, resume: 41 },
  Welcome: { t: MsgType.Welcome, version: 1, caps: [], agent: 'zmx-server/0.1.0', resumed: true, recv: 12 },
  Ping: { t: MsgType.Ping, ts: 1_700_000_000_123 },
  Pong: { t: MsgType.Pong, ts: 0 },
  Received: { t: MsgType.Received, recv: 2 ** 33 },
  Request: { t: MsgType.Request, id: 7, op: 'session.get', args: { name: 'dev' }, q: 1 },
  Reply: { t: MsgType.Reply, id: 7, result: { session: SESSION }, q: 2 },
  Error: { t: MsgType.Error, id: 0, code: 'ENOSESSION', message: 'no session "dév"', q: 3 },
  Output: { t: MsgType.Output, sid: 3, seq: 2 ** 40, q: 2 ** 41 },
  Input: { t: MsgType.Input, sid: 3, q: 5 },
  Resize: { t: MsgType.Resize, sid: 3, cols: 132, rows: 43, q: 6 },
  Detach: { t: MsgType.Detach, sid: 3, q: 7 },
  StreamEnd: { t: MsgType.StreamEnd, sid: 3, reason: 'exited', exitCode: -1, q: 8 },
  Ack: { t: MsgType.Ack, sid: 3, seq: 99, q: 9 },
  Resync: { t: MsgType.Resync, sid: 3, seq: 1_234, skipped: 500_000_000, q: 77 },
  Event: { t: MsgType.Event, name: 'task.done', data: { name: 'dev', status: 0, nested: { list: [1, 'two', null] } }, q: 10 },
};

/** Binary payloads that would not survive a text encoding. */
const PAYLOADS: Buffer[] = [
  Buffer.alloc(0),
  Buffer.from([0x00]),
  Buffer.from([0x00, 0x00, 0xff, 0xfe, 0x00]),
  Buffer.from([0xc3, 0x28, 0xa0, 0xa1, 0xed, 0xa0, 0x80, 0xf8, 0x88, 0x80, 0x80, 0x80]), // invalid UTF-8
  Buffer.from('\x1b[31mred\x1b[0m ünïcødé\r\n', 'utf8'),
  randomBytes(64 * 1024),
];

test('every MsgType has a sample, and the samples cover nothing else', () => {
  const sampleTypes = new Set<number>(Object.values(SAMPLES).map((h) => h.t));
  for (const [name, code] of Object.entries(MsgType)) {
    assert.ok(sampleTypes.has(code), `MsgType.${name} (0x${code.toString(16)}) has no round-trip sample`);
  }
  assert.equal(sampleTypes.size, Object.values(MsgType).length);
  assert.equal(new Set(Object.values(MsgType)).size, Object.values(MsgType).length, 'two MsgTypes share a code');
});

test('every MsgType round-trips with raw binary frames', () => {
  for (const code of Object.values(MsgType)) {
    const header = Object.values(SAMPLES).find((h) => h.t === code);
    assert.ok(header, `no sample for 0x${code.toString(16)}`);
    for (const frames of [[], PAYLOADS.slice(0, 1), PAYLOADS]) {
      const wire = encode(header, frames);
      assert.equal(wire.length, 1 + frames.length);
      // Frames travel as they are: same length, same bytes, no base64.
      frames.forEach((f, i) => assert.ok(wire[i + 1]!.equals(f), `frame ${i} altered on encode`));
      const msg = decode(wire);
      assert.deepEqual(msg.header, header);
      assert.ok(is(msg, code));
      assert.equal(msg.frames.length, frames.length);
      msg.frames.forEach((f, i) => {
        assert.ok(Buffer.isBuffer(f));
        assert.ok(f.equals(frames[i]!), `frame ${i} of 0x${code.toString(16)} altered on decode`);
      });
    }
  }
});

test('payload frames keep NUL bytes and invalid UTF-8 byte for byte', () => {
  const nasty = Buffer.from([0x00, 0xff, 0x00, 0xc0, 0xc1, 0xf5, 0xfe, 0xff, 0x00]);
  const msg = decode(encode(SAMPLES.Output, [nasty]));
  assert.deepEqual([...msg.frames[0]!], [...nasty]);
  assert.equal(msg.frames[0]!.length, nasty.length);
  // A base64 or UTF-8 round trip would not give these bytes back.
  assert.notDeepEqual([...Buffer.from(nasty.toString('utf8'), 'utf8')], [...nasty]);
});

test('decode reads frames that are views into a larger buffer', () => {
  const backing = Buffer.from('xxxxHELLO\x00WORLDyyyy', 'latin1');
  const view = backing.subarray(4, 15);
  const msg = decode([encode(SAMPLES.Input)[0]!, view]);
  assert.equal(msg.frames[0]!.toString('latin1'), 'HELLO\x00WORLD');
});

test('is() narrows on the type and only on it', () => {
  const msg = decode(encode(SAMPLES.Resize));
  assert.ok(is(msg, MsgType.Resize));
  assert.ok(!is(msg, MsgType.Output));
  if (is(msg, MsgType.Resize)) assert.equal(msg.header.cols + msg.header.rows, 175);
});

// ---------------------------------------------------------------------------
// decode refuses malformed messages

test('decode rejects an empty message', () => {
  assertZmxError(() => decode([]), 'EPROTO', 'empty');
});

test('decode rejects a header that is not msgpack', () => {
  const cases: [string, Buffer][] = [
    ['zero bytes', Buffer.alloc(0)],
    ['truncated map', Buffer.from([0x82, 0xa1, 0x74])],
    ['text', Buffer.from('hello, world')],
    ['valid header plus trailing bytes', Buffer.concat([encode(SAMPLES.Ping)[0]!, Buffer.from([0x01, 0x02])])],
    ['JSON', Buffer.from(JSON.stringify(SAMPLES.Ping))],
  ];
  for (const [what, head] of cases) assertZmxError(() => decode([head]), 'EPROTO', undefined, what);
});

test('decode rejects a header that is not a map', () => {
  const cases: [string, unknown][] = [
    ['array', [MsgType.Ping, 1]],
    ['string', 'hello'],
    ['number', MsgType.Ping],
    ['null', null],
    ['true', true],
    ['binary', Buffer.from([MsgType.Ping])],
  ];
  for (const [what, value] of cases) assertZmxError(() => decode([rawHeader(value)]), 'EPROTO', 'not a map', what);
});

test('decode rejects unknown or missing message types', () => {
  const cases: [string, Record<string, unknown>][] = [
    ['no t', { ts: 1 }],
    ['t = 0', { t: 0, ts: 1 }],
    ['t = 0x7f', { t: 0x7f, ts: 1 }],
    ['t = -1', { t: -1 }],
    ['t = 1.5', { t: 1.5 }],
    ['t as a string', { t: String(MsgType.Ping), ts: 1 }],
    ['t as a type name', { t: 'Ping', ts: 1 }],
    ['t = null', { t: null }],
  ];
  for (const [what, value] of cases) assertZmxError(() => decode([rawHeader(value)]), 'EPROTO', 'unknown message type', what);
});

type Kind = 'uint' | 'intOrNull' | 'string' | 'strings' | 'object' | 'code' | 'reason' | 'event' | 'string?' | 'uint?' | 'bool?';
/**
 * The field kinds docs/protocol.md gives each header (mapped: every field of
 * every type). Reply's `body` exists only on the wire; its own test is below.
 */
const KINDS: { [K in MsgTypeName]: { [F in Exclude<keyof HeaderOf<K>, 't' | 'body'>]-?: Kind } } = {
  Hello: { min: 'uint', max: 'uint', caps: 'strings', agent: 'string', key: 'string?', proof: 'string?', ts: 'uint?', resume: 'uint?' },
  Welcome: { version: 'uint', caps: 'strings', agent: 'string', resumed: 'bool?', recv: 'uint?' },
  Ping: { ts: 'uint' },
  Pong: { ts: 'uint' },
  Received: { recv: 'uint' },
  Request: { id: 'uint', op: 'string', args: 'object', q: 'uint?' },
  Reply: { id: 'uint', result: 'object', q: 'uint?' },
  Error: { id: 'uint', code: 'code', message: 'string', q: 'uint?' },
  Output: { sid: 'uint', seq: 'uint', q: 'uint?' },
  Input: { sid: 'uint', q: 'uint?' },
  Resize: { sid: 'uint', cols: 'uint', rows: 'uint', q: 'uint?' },
  Detach: { sid: 'uint', q: 'uint?' },
  StreamEnd: { sid: 'uint', reason: 'reason', exitCode: 'intOrNull', q: 'uint?' },
  Ack: { sid: 'uint', seq: 'uint', q: 'uint?' },
  Resync: { sid: 'uint', seq: 'uint', skipped: 'uint', q: 'uint?' },
  Event: { name: 'event', data: 'object', q: 'uint?' },
};

const BAD_VALUES: Record<Kind, unknown[]> = {
  uint: [-1, 1.5, '1', null, true, 2 ** 53, {}, []],
  intOrNull: [1.5, '1', true, 2 ** 53, {}],
  string: [1, null, true, ['a'], {}, Buffer.from('a'), 'x'.repeat(LIMITS.maxHeaderString + 1)],
  strings: ['a', null, {}, [1], ['a', null], [['a']], new Array<string>(LIMITS.maxListLength + 1).fill('')],
  object: [null, [], 'x', 1, true, Buffer.from('x')],
  code: ['ENOPE', 'eproto', 1, null],
  reason: ['nope', 'Exited', 1, null],
  event: ['session.nope', 1, null],
  'string?': [1, null, true, ['a'], {}, 'x'.repeat(LIMITS.maxHeaderString + 1)],
  'uint?': [-1, 1.5, '1', null, true],
  'bool?': [0, 1, 'true', null, {}],
};

test('decode rejects every missing or mistyped field of every type', () => {
  let checked = 0;
  for (const name of Object.keys(SAMPLES) as MsgTypeName[]) {
    const sample = SAMPLES[name] as unknown as Record<string, unknown>;
    const kinds = KINDS[name] as Record<string, Kind>;
    assert.deepEqual(Object.keys(kinds).sort(), Object.keys(sample).filter((k) => k !== 't').sort(), `KINDS.${name} lists other fields than its sample`);
    for (const [field, kind] of Object.entries(kinds)) {
      const missing = { ...sample };
      delete missing[field];
      // An optional field may be left out; any other missing field is an error.
      if (kind.endsWith('?')) assert.doesNotThrow(() => decode([rawHeader(missing)]), `${name} without ${field}`);
      else assertZmxError(() => decode([rawHeader(missing)]), 'EPROTO', `"${field}"`, `${name} without ${field}`);
      checked++;
      for (const bad of BAD_VALUES[kind].filter((b) => !(kind.endsWith('?') && b === undefined))) {
        const what = `${name}.${field} = ${JSON.stringify(bad)?.slice(0, 40)}`;
        assertZmxError(() => decode([rawHeader({ ...sample, [field]: bad })]), 'EPROTO', `"${field}"`, what);
        checked++;
      }
    }
  }
  assert.ok(checked > 100, `only ${checked} cases checked`);
});

test('decode accepts the edges of each field kind', () => {
  const ok: Header[] = [
    { ...SAMPLES.StreamEnd, exitCode: null },
    { ...SAMPLES.StreamEnd, exitCode: 255 },
    { ...SAMPLES.Output, seq: Number.MAX_SAFE_INTEGER },
    { ...SAMPLES.Error, message: 'x'.repeat(LIMITS.maxErrorMessage) },
    { ...SAMPLES.Hello, caps: new Array<string>(LIMITS.maxListLength).fill('c') },
    { ...SAMPLES.Reply, result: {} },
  ];
  for (const h of ok) assert.deepEqual(decode(encode(h)).header, h);
});

test('a reply too large for a header travels in a body frame, after its payload frames', () => {
  // What `zmx ls` gets back from hundreds of sessions with long commands.
  const sessions = Array.from({ length: 300 }, (_, i) => ({ ...SESSION, name: `s${i}`, labels: { cmd: 'x'.repeat(500) } }));
  const reply: Header = { t: MsgType.Reply, id: 9, result: { sessions }, q: 4 };
  const payload = Buffer.from('screen');
  const wire = encode(reply, [payload]);
  assert.equal(wire.length, 3, 'header, payload, body');
  assert.ok(wire[0]!.length < LIMITS.maxInlineResultBytes, `header of ${wire[0]!.length} bytes`);
  assert.ok(wire[2]!.length > LIMITS.maxHeaderBytes, 'the body holds more than a header may');
  const back = decode(wire);
  assert.deepEqual(back.header, reply, 'the receiver sees the result in place, and no body field');
  assert.deepEqual(back.frames, [payload]);
  // A small result stays inline.
  assert.equal(encode({ t: MsgType.Reply, id: 1, result: { ok: true } }).length, 1);
});

test('a reply that announces a body it lacks, or a body that is not a map, is EPROTO', () => {
  const head = rawHeader({ t: MsgType.Reply, id: 3, result: {}, body: true });
  assertZmxError(() => decode([head]), 'EPROTO', 'body');
  assertZmxError(() => decode([head, Buffer.from([0xc1])]), 'EPROTO', 'body');
  assertZmxError(() => decode([head, new Packr({ useRecords: false }).pack([1, 2])]), 'EPROTO', 'body');
  assertZmxError(() => decode([rawHeader({ t: MsgType.Reply, id: 3, result: {}, body: 1 })]), 'EPROTO', '"body"');
});

test('decode rejects too many frames, and accepts the limit', () => {
  const head = encode(SAMPLES.Output)[0]!;
  const atLimit = [head, ...new Array<Buffer>(LIMITS.maxFrames - 1).fill(Buffer.from([0]))];
  assert.equal(decode(atLimit).frames.length, LIMITS.maxFrames - 1);
  assertZmxError(() => decode([...atLimit, Buffer.from([0])]), 'EPROTO', 'too many frames');
});

test('decode rejects an oversized header with ETOOBIG, and accepts the limit', () => {
  const padded = (n: number) => rawHeader({ t: MsgType.Request, id: 1, op: 'server.info', args: { pad: 'x'.repeat(n) } });
  const base = padded(60_000).length;
  const exact = padded(60_000 + LIMITS.maxHeaderBytes - base);
  assert.equal(exact.length, LIMITS.maxHeaderBytes);
  assert.equal(decode([exact]).header.t, MsgType.Request);
  const over = padded(60_000 + LIMITS.maxHeaderBytes - base + 1);
  assert.equal(over.length, LIMITS.maxHeaderBytes + 1);
  assertZmxError(() => decode([over]), 'ETOOBIG', String(LIMITS.maxHeaderBytes));
  // Size is checked before parsing: garbage that large is ETOOBIG, not EPROTO.
  assertZmxError(() => decode([Buffer.alloc(LIMITS.maxHeaderBytes + 1, 0xc1)]), 'ETOOBIG');
});

test('decode refuses msgpack extension objects where a map is required', () => {
  const extPackr = new Packr({ useRecords: false, moreTypes: true });
  for (const value of [new Date(0), new Set(['a']), /re/, new Float32Array(2), new Error('x')]) {
    const head = extPackr.pack({ t: MsgType.Request, id: 1, op: 'server.info', args: value });
    assertZmxError(() => decode([head]), 'EPROTO', '"args"', `args = ${Object.prototype.toString.call(value)}`);
  }
});

// ---------------------------------------------------------------------------
// Request arguments

const CREATE: CreateArgs = { name: 'dev', cmd: ['bash', '-l'], cwd: '/tmp', env: { TERM: 'xterm-256color' }, cols: 80, rows: 24 };

/** A well-formed sample per op (mapped: a new op without a sample does not compile). */
const ARGS: { [K in OpName]: OpArgs<K> } = {
  'server.info': {},
  'server.stop': {},
  'server.upgrade': {},
  'session.list': {},
  'session.get': { name: 'dev' },
  'session.create': { ...CREATE, ifMissing: true },
  'server.pair': {},
  'pair.claim': { name: 'laptop', key: 'k'.repeat(40), proof: 'ab'.repeat(32), ts: 1_700_000_000_000 },
  'session.kill': { names: ['dev', 'd.*'], force: false },
  'session.labels': { name: 'dev', set: { role: 'agent' }, unset: ['old'], clear: false },
  'session.send': { name: 'dev' },
  'session.print': { name: 'dev' },
  'session.history': { name: 'dev', format: 'html' },
  'session.run': { name: 'dev', script: 'make test\n', wait: true },
  'session.wait': { names: ['dev'] },
  'session.detach': { name: 'dev' },
  'session.write': { name: 'dev', path: 'notes/a.txt' },
  'session.attach': { name: 'dev', cols: 120, rows: 40, create: CREATE, readOnly: false, mode: 'tui' },
  'pane.subscribe': { attach: 4, pane: 9 },
  'pane.split': { name: 'dev', window: 0, pane: 1, dir: 'h', cmd: ['htop'], cwd: '', env: { A: 'b' } },
  'window.new': { name: 'dev', title: 'logs', cmd: [], cwd: '/tmp', env: {} },
  'pane.select': { name: 'dev', window: 0, pane: 2, move: 'left' },
  'window.select': { name: 'dev', window: 3, move: 'last' },
  'pane.kill': { name: 'dev', window: 1, pane: 2 },
  'pane.resize': { name: 'dev', window: 1, pane: 0, dir: 'down', cells: 5, zoom: false },
  'window.layout': { name: 'dev', window: 2, layout: 'main-vertical' },
  'pane.capture': { name: 'dev', window: 0, pane: 0, escapes: true },
  'session.tail': { name: 'dev' },
  'session.switch': { from: 'dev', to: 'other', create: { ...CREATE, name: 'other' } },
  'host.subscribe': { name: 'dev', pane: 0, interactive: true },
  'host.unsubscribe': { pane: 3, interactive: false },
  'host.input': { pane: 3 },
  'host.snapshot': { pane: 3, text: false },
  'host.resize': { name: 'dev', cols: LIMITS.maxCols, rows: LIMITS.maxRows },
  'host.grant': { name: 'dev', pane: 3, interactive: true, sid: 12, client: 'ab'.repeat(16), key: 'k'.repeat(40), token: 'cd'.repeat(16), readOnly: false, lead: 11 },
  'host.release': { sid: 12 },
  'host.handover': { script: '/opt/zmx/dist/src/ptyhost/main.js' },
  'host.handover.commit': {},
  'host.lead': { name: 'dev', sid: 11 },
  'host.exec.start': { name: 'dev', owner: 'SHA256:abc', who: 'laptop', argv: [], shell: 'make test', root: '/src/app', cwd: '/src/app/pkg', env: { CI: '1' }, timeoutMs: 0, stdin: true },
  'host.exec.read': { exec: 7, owner: 'local', admin: false, stdout: 2 ** 40, stderr: 0, waitMs: 500, max: 0 },
  'host.exec.stdin': { exec: 7, owner: 'local', admin: true, eof: false },
  'host.exec.kill': { exec: 7, owner: 'local', admin: false, signal: 'SIGKILL' },
  'host.exec.list': { name: 'dev', owner: 'local', admin: true },
  'host.exec.ack': { exec: 7 },
  'stream.claim': { sid: 12, token: 'cd'.repeat(16), key: 'k'.repeat(40), proof: 'ab'.repeat(32), ts: 1_700_000_000_000 },
  'stream.resume': { sid: 12, seq: 480 },
  'workspace.create': { ...CREATE, worktree: { repo: '/src/app', branch: 'fix-42' }, portal: { host: 'box', session: 'agent' } },
  'workspace.kill': { names: ['dev'], force: true },
  'workspace.snapshot': { name: 'dev', label: 'before-refactor' },
  'workspace.rollback': { name: 'dev', label: '' },
  'workspace.diff': { name: 'dev', label: '20250102-150405' },
  'workspace.snapshots': { name: 'dev' },
  'fs.read': { name: 'dev', path: 'src/a.ts', offset: 5 * 2 ** 32, length: 1024 * 1024 },
  'fs.readFiles': { name: 'dev', paths: ['a.ts', 'b/c.ts'] },
  'fs.write': { name: 'dev', path: 'out/x.bin', mode: 0o644, parents: true },
  'fs.upload.begin': { name: 'dev', path: 'big.iso', mode: 0o600, parents: false },
  'fs.upload.chunk': { upload: 3, offset: 2 ** 33 },
  'fs.upload.commit': { upload: 3, size: 2 ** 33 + 7 },
  'fs.upload.abort': { upload: 3 },
  'fs.edit': { name: 'dev', path: 'a.ts', old: 'foo', new: 'bar', count: 2 },
  'fs.stat': { name: 'dev', path: '.' },
  'fs.list': { name: 'dev', path: 'src', recursive: true, glob: '**/*.ts', all: false, max: 100 },
  'fs.grep': { name: 'dev', path: '', pattern: 'TODO\\(', glob: '*.md', ignoreCase: true, max: 10 },
  'fs.mkdir': { name: 'dev', path: 'a/b', parents: true },
  'fs.rm': { name: 'dev', path: 'a', recursive: true },
  'fs.mv': { name: 'dev', from: 'a', to: 'b', overwrite: false },
  'fs.watch': { name: 'dev', path: 'src', recursive: true },
  'fs.unwatch': { watch: 2 },
  'exec.start': { name: 'dev', argv: ['npm', 'test'], shell: '', cwd: 'pkg', env: { CI: '1' }, timeoutMs: 60_000, stdin: false },
  'exec.read': { exec: 7, stdout: 2 ** 40, stderr: 0, waitMs: 500, max: 1024 * 1024 },
  'exec.stdin': { exec: 7, eof: true },
  'exec.kill': { exec: 7, signal: 'SIGTERM' },
  'exec.list': { name: 'dev' },
  'audit.read': { session: '', offset: 2 ** 35, waitMs: 0 },
};

function argsOf(op: OpName): Record<string, unknown> {
  return { ...(ARGS[op] as Record<string, unknown>) };
}

/** Arguments that may also be null (their samples hold a value). */
/** Times in ms since the epoch: past 2^32, which other uints may not be. */
const TIMES = new Set(['pair.claim.ts', 'stream.claim.ts']);
/** Byte offsets and sizes: past 2^32 as well (files may be larger than 4 GiB). */
const SIZES = new Set(['fs.read.offset', 'fs.upload.chunk.offset', 'fs.upload.commit.size', 'exec.read.stdout', 'exec.read.stderr', 'host.exec.read.stdout', 'host.exec.read.stderr', 'audit.read.offset']);
const NULLABLE = new Set([
  'fs.write.mode', 'fs.upload.begin.mode',
  'session.attach.create', 'session.switch.create', 'workspace.create.worktree', 'workspace.create.portal', 'pane.select.move', 'window.select.move', 'window.select.window', 'pane.resize.dir', 'window.layout.window',
  ...['pane.split', 'pane.select', 'pane.kill', 'pane.resize', 'pane.capture'].flatMap((op) => [`${op}.window`, `${op}.pane`]),
]);

/** Values of the wrong type, chosen by the type of the sample's value. */
function wrongValues(sample: unknown, nullable = false): unknown[] {
  return wrongValuesOf(sample).filter((v) => !(nullable && v === null));
}
function wrongValuesOf(sample: unknown): unknown[] {
  if (typeof sample === 'string') return [42, null, true, ['x'], {}, 'x'.repeat(LIMITS.maxArgString + 1)];
  if (typeof sample === 'number') return ['1', -1, 1.5, LIMITS.maxUint + 1, null, true];
  if (typeof sample === 'boolean') return ['true', 0, 1, null];
  if (Array.isArray(sample)) return ['x', null, {}, [1], ['a', null], new Array<string>(LIMITS.maxListLength + 1).fill('a')];
  if (sample === null) return ['x', 1, [], {}];
  return [[], 'x', null, 1, { a: 1 }];
}

test('validateArgs accepts a well-formed sample of every op', () => {
  assert.deepEqual([...OP_NAMES].sort(), (Object.keys(ARGS) as OpName[]).sort());
  for (const op of OP_NAMES) assert.doesNotThrow(() => validateArgs(op, argsOf(op)), op);
  assert.doesNotThrow(() => validateArgs('session.attach', { ...argsOf('session.attach'), create: null }));
  for (const format of ['text', 'vt', 'html']) assert.doesNotThrow(() => validateArgs('session.history', { name: 'dev', format }));
});

test('validateArgs refuses an unknown op with EPROTO', () => {
  for (const op of ['session.nope', '', 'SESSION.GET', 'session', 'toString', 'constructor', '__proto__', 'hasOwnProperty']) {
    assertZmxError(() => validateArgs(op, {}), 'EPROTO', `"${op}"`, `op ${op}`);
  }
});

test('validateArgs refuses an unknown key with EINVAL', () => {
  for (const op of OP_NAMES) {
    assertZmxError(() => validateArgs(op, { ...argsOf(op), bogus: 1 }), 'EINVAL', '"bogus"', op);
  }
  const create = { ...CREATE, bogus: 'x' };
  assertZmxError(() => validateArgs('session.attach', { ...argsOf('session.attach'), create }), 'EINVAL', '"create"');
});

test('validateArgs refuses keys inherited from Object.prototype', () => {
  for (const key of ['constructor', 'toString', 'hasOwnProperty', 'valueOf']) {
    assertZmxError(() => validateArgs('session.get', { name: 'dev', [key]: 1 }), 'EINVAL', `"${key}"`, key);
    assertZmxError(() => validateArgs('session.attach', { ...argsOf('session.attach'), create: { ...CREATE, [key]: 1 } }), 'EINVAL', undefined, `create.${key}`);
  }
});

test('validateArgs refuses every missing or mistyped argument with EINVAL', () => {
  let checked = 0;
  for (const op of OP_NAMES) {
    for (const [key, sample] of Object.entries(argsOf(op))) {
      const missing = argsOf(op);
      delete missing[key];
      assertZmxError(() => validateArgs(op, missing), 'EINVAL', `"${key}"`, `${op} without ${key}`);
      checked++;
      for (const bad of wrongValues(sample, NULLABLE.has(`${op}.${key}`)).filter((v) => !((TIMES.has(`${op}.${key}`) || SIZES.has(`${op}.${key}`)) && v === LIMITS.maxUint + 1))) {
        const what = `${op}.${key} = ${JSON.stringify(bad)?.slice(0, 40)}`;
        assertZmxError(() => validateArgs(op, { ...argsOf(op), [key]: bad }), 'EINVAL', `"${key}"`, what);
        checked++;
      }
    }
  }
  assert.ok(checked > 150, `only ${checked} cases checked`);
});

test('validateArgs checks the create arguments nested in session.attach', () => {
  for (const [key, sample] of Object.entries(CREATE)) {
    const missing: Record<string, unknown> = { ...CREATE };
    delete missing[key];
    assertZmxError(() => validateArgs('session.attach', { ...argsOf('session.attach'), create: missing }), 'EINVAL', '"create"', `create without ${key}`);
    for (const bad of wrongValues(sample)) {
      assertZmxError(() => validateArgs('session.attach', { ...argsOf('session.attach'), create: { ...CREATE, [key]: bad } }), 'EINVAL', '"create"', `create.${key}`);
    }
  }
  assertZmxError(() => validateArgs('session.history', { name: 'dev', format: 'pdf' }), 'EINVAL', '"format"');
  // workspace.create's nested worktree and portal: exact keys, strings only.
  const ws = argsOf('workspace.create');
  assertZmxError(() => validateArgs('workspace.create', { ...ws, worktree: { repo: '/r' } }), 'EINVAL', '"worktree"');
  assertZmxError(() => validateArgs('workspace.create', { ...ws, worktree: { repo: '/r', branch: 1 } }), 'EINVAL', '"worktree"');
  assertZmxError(() => validateArgs('workspace.create', { ...ws, portal: { host: 'h', session: 's', extra: 'x' } }), 'EINVAL', '"portal"');
  assert.doesNotThrow(() => validateArgs('workspace.create', { ...ws, worktree: null, portal: null }));
  assertZmxError(() => validateArgs('session.create', { ...argsOf('session.create'), env: { A: 1 } }), 'EINVAL', '"env"');
});

// ---------------------------------------------------------------------------
// Versions

test('negotiateVersion picks the highest version both sides speak', () => {
  assert.equal(negotiateVersion(MIN_PROTOCOL_VERSION, PROTOCOL_VERSION), PROTOCOL_VERSION);
  assert.equal(negotiateVersion(PROTOCOL_VERSION, PROTOCOL_VERSION + 10), PROTOCOL_VERSION);
  assert.equal(negotiateVersion(0, PROTOCOL_VERSION), PROTOCOL_VERSION);
  assert.equal(negotiateVersion(MIN_PROTOCOL_VERSION, MIN_PROTOCOL_VERSION), MIN_PROTOCOL_VERSION);
});

test('negotiateVersion fails with EVERSION naming both ranges', () => {
  const ours = `${MIN_PROTOCOL_VERSION}..${PROTOCOL_VERSION}`;
  const newer = [PROTOCOL_VERSION + 1, PROTOCOL_VERSION + 4] as const;
  assertZmxError(() => negotiateVersion(...newer), 'EVERSION', `${newer[0]}..${newer[1]}`, 'newer peer');
  assertZmxError(() => negotiateVersion(...newer), 'EVERSION', ours, 'newer peer');
  const older = [0, MIN_PROTOCOL_VERSION - 1] as const;
  assertZmxError(() => negotiateVersion(...older), 'EVERSION', `${older[0]}..${older[1]}`, 'older peer');
  assertZmxError(() => negotiateVersion(...older), 'EVERSION', ours, 'older peer');
});

test('encode cuts an Error message that quotes hostile input to the limit', () => {
  const long = { ...SAMPLES.Error, message: 'y'.repeat(LIMITS.maxHeaderString * 2) };
  const decoded = decode(encode(long)).header as { message: string };
  assert.ok(decoded.message.length <= LIMITS.maxErrorMessage + 1);
  assert.ok(decoded.message.startsWith('yyyy'));
});

test('decode refuses a message whose frames together exceed the limit', () => {
  const half = Buffer.alloc(LIMITS.maxMessageBytes / 2 + 1);
  assertZmxError(() => decode(encode(SAMPLES.Input, [half, half])), 'ETOOBIG');
});

test('direct streams: an attach reply carrying a grant and the pty host\'s stream.typed event round-trip; an unknown event name is refused', () => {
  const grant = { endpoint: 'ipc:///run/zmx/direct.sock', serverKey: 'P'.repeat(40), token: 'ab'.repeat(16) };
  const reply = decode(encode({ t: MsgType.Reply, id: 4, result: { sid: 9, seq: 120, session: SESSION, created: false, direct: grant } }, [Buffer.from('screen')]));
  assert.deepEqual(reply.header.t === MsgType.Reply && reply.header.result['direct'], grant);
  const typed = decode(encode({ t: MsgType.Event, name: 'stream.typed', data: { sid: 9 } }));
  assert.deepEqual(typed.header, { t: MsgType.Event, name: 'stream.typed', data: { sid: 9 } });
  assert.throws(() => decode(encode({ t: MsgType.Event, name: 'stream.typo' as never, data: {} })), /event/);
});

test('commands in the pty host: its exec.end event round-trips with the command, its key and its end', () => {
  const exec = { id: 7, pid: 4242, argv: ['sh', '-c', 'exit 7'], cwd: '.', started: 1_700_000_000_000, result: { exitCode: 7, signal: null, durationMs: 12, truncated: false, timedOut: false } };
  const data = { exec, owner: 'SHA256:abc', who: 'laptop', session: 'dev', bytes: 8, ended: 1_700_000_000_012 };
  const end = decode(encode({ t: MsgType.Event, name: 'exec.end', data }));
  assert.deepEqual(end.header, { t: MsgType.Event, name: 'exec.end', data });
});
