/**
 * PtyHost above the pty boundary: a fake PtySpawner whose ptys the test
 * drives (output, exit; SIGHUP/SIGKILL end them as they would end a shell).
 * The host is fed only protocol messages (`handle(decode(encode(...)))`) and
 * everything it sends is decoded with the protocol module, so an invalid
 * message fails the test. No real process is started.
 */
import { test, mock, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import os from 'node:os';
import { syncBuiltinESMExports } from 'node:module';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PtyHost, TASK_MARKER, READ_ONLY_FIELDS, typedCommand, pastedCommand } from './host.js';
import { LIMITS, TERMINAL, TIMING } from '../common/constants.js';
import {
  MsgType, CAPABILITIES, PROTOCOL_VERSION, decode, encode,
  type ErrorMsg, type EventMsg, type Header, type Message, type OutputMsg, type ReplyMsg, type RequestMsg, type SessionInfo,
} from '../common/protocol.js';
import type { PtyProcess, PtySpawnOptions } from './pty.js';

type Exit = { exitCode: number; signal: number };

const SIGNAL_NUMBERS: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 1, SIGKILL: 9, SIGTERM: 15 };

/**
 * A pty whose output and exit the test controls. It records what is typed,
 * resizes and signals; SIGHUP ends it (unless `ignoreHup`), SIGKILL always
 * does, a moment later, as a real shell would.
 */
class FakePty implements PtyProcess {
  private static nextPid = 10_000;
  readonly pid = FakePty.nextPid++;
  readonly written: string[] = [];
  readonly resizes: [number, number][] = [];
  readonly signals: NodeJS.Signals[] = [];
  ignoreHup = false;
  exited = false;
  disposed = false;
  private readonly dataListeners: ((d: Buffer) => void)[] = [];
  private readonly exitListeners: ((e: Exit) => void)[] = [];

  constructor(readonly opts: PtySpawnOptions) {}

  onData(l: (d: Buffer) => void): void { this.dataListeners.push(l); }
  onExit(l: (e: Exit) => void): void { this.exitListeners.push(l); }
  write(d: Buffer | string): void { if (!this.exited) this.written.push(d.toString()); }
  resize(c: number, r: number): void { this.resizes.push([c, r]); }
  pause(): void {}
  resume(): void {}
  signalGroup(signal: NodeJS.Signals): void {
    this.signals.push(signal);
    if (signal === 'SIGKILL' || (signal === 'SIGHUP' && !this.ignoreHup)) {
      setImmediate(() => this.exit(0, SIGNAL_NUMBERS[signal] ?? 0));
    }
  }
  dispose(): void { this.disposed = true; }

  /** The program prints `text`. */
  emit(text: string | Buffer): void {
    const data = typeof text === 'string' ? Buffer.from(text, 'utf8') : text;
    for (const l of this.dataListeners) l(data);
  }

  /** The program ends. */
  exit(exitCode: number, signal = 0): void {
    if (this.exited) return;
    this.exited = true;
    for (const l of this.exitListeners) l({ exitCode, signal });
  }

  /** Everything typed into the pty so far. */
  get typed(): string { return this.written.join(''); }
}

const tick = () => new Promise<void>((r) => setImmediate(r));

/** Lets promise chains, setImmediate callbacks and zero timers run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) {
    await tick();
    await new Promise<void>((r) => setTimeout(r, 1));
  }
}

/** Polls `get` (through the event loop) until it yields something. */
async function waitFor<T>(get: () => T | undefined | null | false, what: string, ms = 3000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = get();
    if (v) return v;
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await tick();
  }
}

/** Temporarily changes process.env (undefined removes a variable). */
function withEnv<T>(vars: Record<string, string | undefined>, fn: () => T): T {
  const saved: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(vars)) {
    saved[k] = process.env[k];
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  const restore = () => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  };
  try {
    const r = fn();
    if (r instanceof Promise) return r.finally(restore) as T;
    restore();
    return r;
  } catch (err) {
    restore();
    throw err;
  }
}

function tempDir(t: TestContext): string {
  const dir = realpathSync(mkdtempSync(join(os.tmpdir(), 'zmx-host-test-')));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

class Rig {
  /** Every message the host sent, decoded, in order. */
  readonly sent: Message[] = [];
  readonly ptys: FakePty[] = [];
  readonly logs: string[] = [];
  readonly host: PtyHost;
  private nextId = 1;

  constructor(t: TestContext) {
    this.host = new PtyHost({
      spawn: (o) => {
        const p = new FakePty(o);
        this.ptys.push(p);
        return p;
      },
      scrollback: 100,
      // Fake shells draw no prompt: type scripts at once (paste mode has its own test).
      shellReadyMs: 0,
      send: (frames) => { this.sent.push(decode(frames)); },
      log: (m) => { this.logs.push(m); },
    });
    // End every session the test left running, so nothing outlives it.
    t.after(async () => {
      for (const p of this.ptys) p.exit(0);
      await settle();
    });
  }

  /** Hands the host one message, as it would arrive from the front. */
  in(header: Header, frames: Buffer[] = []): void {
    this.host.handle(decode(encode(header, frames)));
  }

  hello(min = 1, max = PROTOCOL_VERSION): Message {
    const before = this.sent.length;
    this.in({ t: MsgType.Hello, min, max, caps: [...CAPABILITIES], agent: 'zmx-front' });
    assert.equal(this.sent.length, before + 1, 'hello is answered at once');
    return this.sent.at(-1)!;
  }

  /** Sends a request; returns its id. */
  request(op: string, args: Record<string, unknown>, frames: Buffer[] = []): number {
    const id = this.nextId++;
    this.in({ t: MsgType.Request, id, op: op as RequestMsg['op'], args }, frames);
    return id;
  }

  /** The Reply or Error answering request `id`, if sent yet. */
  answer(id: number): Message<ReplyMsg | ErrorMsg> | undefined {
    return this.sent.find((m): m is Message<ReplyMsg | ErrorMsg> => (m.header.t === MsgType.Reply || m.header.t === MsgType.Error) && m.header.id === id);
  }

  answerIndex(id: number): number {
    return this.sent.findIndex((m) => (m.header.t === MsgType.Reply || m.header.t === MsgType.Error) && m.header.id === id);
  }

  async answered(id: number): Promise<Message<ReplyMsg | ErrorMsg>> {
    return waitFor(() => this.answer(id), `an answer to request ${id}`);
  }

  /** Waits for the Reply to `id` and returns its result and frames. */
  async replied(id: number): Promise<{ result: Record<string, unknown>; frames: Buffer[] }> {
    const m = await this.answered(id);
    assert.equal(m.header.t, MsgType.Reply, `request ${id} failed: ${JSON.stringify(m.header)}`);
    return { result: (m.header as ReplyMsg).result, frames: m.frames };
  }

  async ok(op: string, args: Record<string, unknown>, frames: Buffer[] = []): Promise<Record<string, unknown>> {
    return (await this.replied(this.request(op, args, frames))).result;
  }

  /** Sends a request that must fail; returns the error (with the request's id). */
  async fails(op: string, args: Record<string, unknown>, frames: Buffer[] = []): Promise<ErrorMsg> {
    const id = this.request(op, args, frames);
    const m = await this.answered(id);
    assert.equal(m.header.t, MsgType.Error, `${op} should fail, got ${JSON.stringify(m.header)}`);
    assert.equal(m.header.id, id);
    return m.header as ErrorMsg;
  }

  async create(name: string, extra: Partial<Record<string, unknown>> = {}): Promise<SessionInfo> {
    const result = await this.ok('session.create', createArgs(name, extra));
    assert.equal(result['created'], true);
    return result['session'] as SessionInfo;
  }

  /** The fake pty of a session, by ZMX_SESSION (the latest one of that name). */
  pty(name: string): FakePty {
    const p = this.ptys.filter((x) => x.opts.env['ZMX_SESSION'] === name).at(-1);
    assert.ok(p, `no pty for session ${name}`);
    return p;
  }

  async get(name: string): Promise<SessionInfo> {
    return (await this.ok('session.get', { name }))['session'] as SessionInfo;
  }

  async names(): Promise<string[]> {
    return ((await this.ok('session.list', {}))['sessions'] as SessionInfo[]).map((s) => s.name);
  }

  async labels(name: string, set: Record<string, string> = {}, unset: string[] = [], clear = false): Promise<Record<string, string>> {
    return (await this.ok('session.labels', { name, set, unset, clear }))['labels'] as Record<string, string>;
  }

  outputs(): Message<OutputMsg>[] {
    return this.sent.filter((m): m is Message<OutputMsg> => m.header.t === MsgType.Output);
  }

  outputText(): string {
    return this.outputs().map((m) => m.frames[0]!.toString()).join('');
  }

  events(name?: string): EventMsg[] {
    return this.sent.filter((m): m is Message<EventMsg> => m.header.t === MsgType.Event && (!name || m.header.name === name)).map((m) => m.header);
  }

  /** Resolves once the pane's emulator has parsed all output so far (OSC 7, queries). */
  async parsed(name: string): Promise<void> {
    await this.ok('session.history', { name, format: 'text' });
  }

  /** Starts `script` in `name` and returns the task id read from what was typed. */
  async run(name: string, script: string, wait: boolean): Promise<{ id: string; req: number; typed: string }> {
    const pty = this.pty(name);
    const before = pty.written.length;
    const req = this.request('session.run', { name, script, wait });
    const typed = await waitFor(() => pty.written.slice(before).join(''), 'the script to be typed');
    const m = new RegExp(`${TASK_MARKER}:([0-9a-f]{4}):\\$\\?\\r$`).exec(typed);
    assert.ok(m, `marker in ${JSON.stringify(typed)}`);
    return { id: m[1]!, req, typed };
  }
}

function createArgs(name: string, extra: Partial<Record<string, unknown>> = {}): Record<string, unknown> {
  return { name, cmd: ['/bin/sh'], cwd: '/', env: {}, cols: 0, rows: 0, ifMissing: false, ...extra };
}

// ---------------------------------------------------------------------------
// Connection control

test('hello is answered with Welcome naming the version, capabilities and the host', (t) => {
  const rig = new Rig(t);
  const w = rig.hello();
  assert.equal(w.header.t, MsgType.Welcome);
  const h = w.header as Extract<Header, { t: typeof MsgType.Welcome }>;
  assert.equal(h.version, PROTOCOL_VERSION);
  assert.deepEqual(h.caps, [...CAPABILITIES]);
  assert.equal(h.agent, `zmx-ptyhost/${process.pid}`);
});

test('hello with no common version is refused with EVERSION, id 0', (t) => {
  const rig = new Rig(t);
  const e = rig.hello(PROTOCOL_VERSION + 1, PROTOCOL_VERSION + 5);
  assert.equal(e.header.t, MsgType.Error);
  assert.equal((e.header as ErrorMsg).id, 0);
  assert.equal((e.header as ErrorMsg).code, 'EVERSION');
});

test('requests are served before and after hello (saying hello first is main.ts\'s job)', async (t) => {
  const rig = new Rig(t);
  assert.deepEqual(await rig.ok('session.list', {}), { sessions: [] });
  rig.hello();
  await rig.create('a');
  assert.deepEqual(await rig.names(), ['a']);
  rig.hello();
  assert.deepEqual(await rig.names(), ['a'], 'a new hello keeps every session');
});

test('ping is answered with pong carrying the same timestamp', (t) => {
  const rig = new Rig(t);
  rig.hello();
  rig.in({ t: MsgType.Ping, ts: 1_763_727_002_000 });
  assert.deepEqual(rig.sent.at(-1)!.header, { t: MsgType.Pong, ts: 1_763_727_002_000 });
});

test('a message type the host does not take is answered with Error EPROTO id 0, and serving goes on', async (t) => {
  const rig = new Rig(t);
  rig.hello();
  const strays: Header[] = [
    { t: MsgType.Welcome, version: 1, caps: [], agent: 'x' },
    { t: MsgType.Pong, ts: 1 },
    { t: MsgType.Reply, id: 5, result: {} },
    { t: MsgType.Output, sid: 1, seq: 1 },
    { t: MsgType.Event, name: 'task.done', data: {} },
  ];
  for (const h of strays) {
    const before = rig.sent.length;
    rig.in(h);
    assert.equal(rig.sent.length, before + 1);
    const e = rig.sent.at(-1)!.header as ErrorMsg;
    assert.equal(e.t, MsgType.Error);
    assert.equal(e.id, 0);
    assert.equal(e.code, 'EPROTO');
    assert.match(e.message, new RegExp(`0x${h.t.toString(16)}`));
  }
  assert.deepEqual(await rig.ok('session.list', {}), { sessions: [] });
});

test('an unknown op, an op the host does not serve and bad arguments fail with the request id', async (t) => {
  const rig = new Rig(t);
  rig.hello();
  const unknown = await rig.fails('session.frobnicate', {});
  assert.equal(unknown.code, 'EPROTO');
  assert.match(unknown.message, /session\.frobnicate/);
  assert.equal((await rig.fails('server.info', {})).code, 'EPROTO');
  assert.equal((await rig.fails('session.attach', { name: 'a', cols: 80, rows: 24, create: null, readOnly: false, mode: 'raw' })).code, 'EPROTO');
  assert.equal((await rig.fails('session.get', { name: 'a', extra: 1 })).code, 'EINVAL');
  assert.equal((await rig.fails('session.get', {})).code, 'EINVAL');
  assert.equal(rig.logs.filter((l) => /failed/.test(l)).length, 0, 'no internal error was logged');
});

// ---------------------------------------------------------------------------
// Sessions

test('session.create spawns the command with its cwd and size, and describes the session', async (t) => {
  const rig = new Rig(t);
  const dir = tempDir(t);
  rig.hello();
  const s = await rig.create('a', { cmd: ['/bin/zsh', '-i'], cwd: dir, cols: 100, rows: 30 });
  const pty = rig.pty('a');
  assert.equal(pty.opts.file, '/bin/zsh');
  assert.deepEqual(pty.opts.args, ['-i']);
  assert.equal(pty.opts.cwd, dir);
  assert.deepEqual([pty.opts.cols, pty.opts.rows], [100, 30]);
  assert.equal(s.name, 'a');
  assert.equal(s.root, dir);
  assert.deepEqual(s.labels, {});
  assert.equal(s.clients, 0);
  assert.equal(s.task, null);
  assert.ok(Math.abs(s.created - Date.now()) < 60_000);
  assert.equal(s.panes.length, 1);
  assert.deepEqual(s.panes[0], { id: s.panes[0]!.id, pid: pty.pid, cmd: ['/bin/zsh', '-i'], cols: 100, rows: 30, title: '', cwdUri: '', exited: null, task: null });
  // One window holding the pane; the window area fits the pane and its title row.
  assert.deepEqual(s.windows, [{ id: s.activeWindow, index: 0, name: '', layout: { pane: s.panes[0]!.id }, active: s.panes[0]!.id, zoomed: false, preset: 'even-horizontal' }]);
  assert.deepEqual([s.cols, s.rows], [100, 31]);
  assert.deepEqual(rig.events(), [], 'the host announces no creation itself');
});

test('session.create: size 0 means the default; sizes are clamped', async (t) => {
  const rig = new Rig(t);
  rig.hello();
  await rig.create('d');
  assert.deepEqual([rig.pty('d').opts.cols, rig.pty('d').opts.rows], [TERMINAL.defaultCols, TERMINAL.defaultRows]);
  await rig.create('big', { cols: 99_999, rows: 99_999 });
  assert.deepEqual([rig.pty('big').opts.cols, rig.pty('big').opts.rows], [LIMITS.maxCols, LIMITS.maxRows]);
  await rig.create('small', { cols: 1, rows: 1 });
  assert.deepEqual([rig.pty('small').opts.cols, rig.pty('small').opts.rows], [2, 1]);
});

test('session.create on an existing name: EEXIST, or the existing session with ifMissing', async (t) => {
  const rig = new Rig(t);
  rig.hello();
  const first = await rig.create('a');
  assert.equal((await rig.fails('session.create', createArgs('a'))).code, 'EEXIST');
  const again = await rig.ok('session.create', createArgs('a', { ifMissing: true }));
  assert.equal(again['created'], false);
  assert.equal((again['session'] as SessionInfo).panes[0]!.id, first.panes[0]!.id);
  assert.equal(rig.ptys.length, 1, 'nothing more was spawned');
  // ifMissing on a new name creates it.
  const fresh = await rig.ok('session.create', createArgs('b', { ifMissing: true }));
  assert.equal(fresh['created'], true);
  assert.equal(rig.ptys.length, 2);
});

test('session.create refuses invalid names with EINVAL and spawns nothing', async (t) => {
  const rig = new Rig(t);
  rig.hello();
  for (const name of ['', 'a b', 'a/b', 'a\\b', '.', '..', 'tab\t', 'nl\n', 'del\x7f', 'x'.repeat(LIMITS.maxSessionName + 1)]) {
    const e = await rig.fails('session.create', createArgs(name));
    assert.equal(e.code, 'EINVAL', JSON.stringify(name));
  }
  assert.equal(rig.ptys.length, 0);
  assert.deepEqual(await rig.names(), []);
  await rig.create('x'.repeat(LIMITS.maxSessionName));
  await rig.create('ok.name-1_é');
});

test('session.create with a cwd that does not exist (or is a file) fails with ENOENT', async (t) => {
  const rig = new Rig(t);
  const dir = tempDir(t);
  writeFileSync(join(dir, 'file'), 'x');
  rig.hello();
  assert.equal((await rig.fails('session.create', createArgs('a', { cwd: join(dir, 'missing') }))).code, 'ENOENT');
  assert.equal((await rig.fails('session.create', createArgs('a', { cwd: join(dir, 'file') }))).code, 'ENOENT');
  assert.equal(rig.ptys.length, 0);
  assert.deepEqual(await rig.names(), []);
});

test('session.create: the environment gets the host\'s, the request\'s, ZMX_SESSION, ZMX_PANE and TERM', async (t) => {
  const rig = new Rig(t);
  rig.hello();
  await withEnv({ TERM: undefined, ZMX_HOST_TEST_VAR: 'from-host' }, async () => {
    const s = await rig.create('a', { env: { MINE: 'yes', ZMX_SESSION: 'spoofed' } });
    const env = rig.pty('a').opts.env;
    assert.equal(env['ZMX_HOST_TEST_VAR'], 'from-host');
    assert.equal(env['MINE'], 'yes');
    assert.equal(env['ZMX_SESSION'], 'a', 'the request cannot override ZMX_SESSION');
    assert.equal(env['ZMX_PANE'], String(s.panes[0]!.id));
    assert.equal(env['TERM'], 'xterm-256color', 'TERM unset → xterm-256color');
  });
  await withEnv({ TERM: 'dumb' }, async () => {
    await rig.create('b');
    assert.equal(rig.pty('b').opts.env['TERM'], 'xterm-256color', 'TERM=dumb → xterm-256color');
  });
  await rig.create('c', { env: { TERM: 'screen-256color' } });
  assert.equal(rig.pty('c').opts.env['TERM'], 'screen-256color', 'a TERM that was set is kept');
  const panes = [rig.pty('a'), rig.pty('b'), rig.pty('c')].map((p) => Number(p.opts.env['ZMX_PANE']));
  assert.equal(new Set(panes).size, 3, 'pane ids are unique');
});

test('session.create: bash gets a PROMPT_COMMAND that reports OSC 7, unless one is set; other shells do not', async (t) => {
  const rig = new Rig(t);
  rig.hello();
  await withEnv({ PROMPT_COMMAND: undefined, SHELL: '/bin/bash' }, async () => {
    await rig.create('bash', { cmd: ['/usr/bin/bash', '--norc'] });
    const pc = rig.pty('bash').opts.env['PROMPT_COMMAND'];
    assert.ok(pc, 'PROMPT_COMMAND is set');
    assert.match(pc, /\\033\]7;file:\/\/%s%s/);
    assert.match(pc, /\$PWD/);

    await rig.create('mine', { cmd: ['bash'], env: { PROMPT_COMMAND: 'my_prompt' } });
    assert.equal(rig.pty('mine').opts.env['PROMPT_COMMAND'], 'my_prompt');

    await rig.create('zsh', { cmd: ['/bin/zsh'] });
    assert.equal(rig.pty('zsh').opts.env['PROMPT_COMMAND'], undefined);

    // No cmd: $SHELL -l, here bash.
    await rig.create('default', { cmd: [] });
    assert.equal(rig.pty('default').opts.file, '/bin/bash');
    assert.deepEqual(rig.pty('default').opts.args, ['-l']);
    assert.match(rig.pty('default').opts.env['PROMPT_COMMAND'] ?? '', /\]7;/);
  });
  await withEnv({ PROMPT_COMMAND: 'inherited' }, async () => {
    await rig.create('inherit', { cmd: ['bash'] });
    assert.equal(rig.pty('inherit').opts.env['PROMPT_COMMAND'], 'inherited', 'one in the host\'s environment is kept');
  });
});

test('session.list is sorted by name; session.get describes one; unknown names give ENOSESSION', async (t) => {
  const rig = new Rig(t);
  rig.hello();
  for (const n of ['b', 'c', 'a', 'B', 'a.1']) await rig.create(n);
  assert.deepEqual(await rig.names(), ['B', 'a', 'a.1', 'b', 'c']);
  const s = await rig.get('c');
  assert.equal(s.name, 'c');
  assert.equal(s.panes[0]!.pid, rig.pty('c').pid);
  const e = await rig.fails('session.get', { name: 'nope' });
  assert.equal(e.code, 'ENOSESSION');
  assert.match(e.message, /nope/);
});

test('session.send types into the pty, session.print shows without typing, host.resize resizes (clamped)', async (t) => {
  const rig = new Rig(t);
  rig.hello();
  await rig.create('a');
  const pty = rig.pty('a');
  await rig.ok('session.send', { name: 'a' }, [Buffer.from('ls\r')]);
  assert.deepEqual(pty.written, ['ls\r']);
  await rig.ok('host.subscribe', { name: 'a', pane: 0, interactive: false });
  await rig.ok('session.print', { name: 'a' }, [Buffer.from('notice\r\n')]);
  await waitFor(() => rig.outputText().includes('notice'), 'printed text as output');
  assert.deepEqual(pty.written, ['ls\r']);
  // host.resize sets the window area: a lone pane gets it less its title row.
  await rig.ok('host.resize', { name: 'a', cols: 120, rows: 41 });
  await rig.ok('host.resize', { name: 'a', cols: 120, rows: 41 });
  await rig.ok('host.resize', { name: 'a', cols: 0, rows: 5000 });
  assert.deepEqual(pty.resizes, [[120, 40], [2, LIMITS.maxRows]], 'same size twice resizes once');
  const p = (await rig.get('a')).panes[0]!;
  assert.deepEqual([p.cols, p.rows], [2, LIMITS.maxRows]);
  assert.equal((await rig.fails('session.send', { name: 'nope' }, [Buffer.from('x')])).code, 'ENOSESSION');
});

// ---------------------------------------------------------------------------
// Labels

test('labels: set, empty value removes, unset, clear; sorted in session info', async (t) => {
  const rig = new Rig(t);
  rig.hello();
  await rig.create('a');
  assert.deepEqual(await rig.labels('a', { role: 'build', Env: 'ci.1', z_z: 'a-b_c.d' }), { role: 'build', Env: 'ci.1', z_z: 'a-b_c.d' });
  assert.deepEqual(Object.keys((await rig.get('a')).labels), ['Env', 'role', 'z_z']);
  assert.deepEqual(await rig.labels('a', { role: '' }), { Env: 'ci.1', z_z: 'a-b_c.d' });
  assert.deepEqual(await rig.labels('a', { role: '' }), { Env: 'ci.1', z_z: 'a-b_c.d' }, 'removing a missing key is fine');
  assert.deepEqual(await rig.labels('a', {}, ['z_z', 'never-set']), { Env: 'ci.1' });
  assert.deepEqual(await rig.labels('a', { role: 'x' }), { Env: 'ci.1', role: 'x' });
  assert.deepEqual(await rig.labels('a', { role: 'y' }), { Env: 'ci.1', role: 'y' }, 'set replaces a value');
  // clear first, then set, then unset.
  assert.deepEqual(await rig.labels('a', { k1: 'v1', k2: 'v2' }, ['k2'], true), { k1: 'v1' });
  assert.deepEqual((await rig.get('a')).labels, { k1: 'v1' });
  assert.deepEqual(await rig.labels('a', {}, [], true), {});
  assert.equal((await rig.fails('session.labels', { name: 'nope', set: {}, unset: [], clear: false })).code, 'ENOSESSION');
});

test('labels: built-in fields are read-only (set and unset) with EINVAL', async (t) => {
  const rig = new Rig(t);
  rig.hello();
  await rig.create('a');
  assert.deepEqual(READ_ONLY_FIELDS.slice().sort(), ['clients', 'cmd', 'created', 'cwd', 'ended', 'exit_code', 'name', 'pid', 'portal', 'start_dir', 'worktree', 'worktree_branch']);
  for (const f of READ_ONLY_FIELDS) {
    const e = await rig.fails('session.labels', { name: 'a', set: { [f]: 'x' }, unset: [], clear: false });
    assert.equal(e.code, 'EINVAL', f);
    assert.match(e.message, /read-only/);
    assert.equal((await rig.fails('session.labels', { name: 'a', set: { [f]: '' }, unset: [], clear: false })).code, 'EINVAL', `${f} (empty)`);
    assert.equal((await rig.fails('session.labels', { name: 'a', set: {}, unset: [f], clear: false })).code, 'EINVAL', `unset ${f}`);
  }
});

test('labels: invalid characters in keys or values give EINVAL', async (t) => {
  const rig = new Rig(t);
  rig.hello();
  await rig.create('a');
  for (const key of ['', 'a b', 'a=b', 'a/b', 'ключ', 'a:b', 'x\n']) {
    assert.equal((await rig.fails('session.labels', { name: 'a', set: { [key]: 'v' }, unset: [], clear: false })).code, 'EINVAL', `key ${JSON.stringify(key)}`);
  }
  for (const value of ['a b', 'a=b', 'a/b', 'é', '$(x)', 'v\n']) {
    assert.equal((await rig.fails('session.labels', { name: 'a', set: { k: value }, unset: [], clear: false })).code, 'EINVAL', `value ${JSON.stringify(value)}`);
  }
  assert.deepEqual((await rig.get('a')).labels, {});
});

test('labels: a refused request changes nothing (no partial clear, set or unset)', async (t) => {
  const rig = new Rig(t);
  rig.hello();
  await rig.create('a');
  const start = { keep: '1', other: '2' };
  await rig.labels('a', start);
  const refused: Record<string, unknown>[] = [
    { set: { fine: 'x', 'bad key': 'v' }, unset: ['keep'], clear: true },
    { set: { fine: 'x', bad: 'bad value' }, unset: [], clear: true },
    { set: { fine: 'x' }, unset: ['other', 'name'], clear: true },
    { set: { fine: 'x', cwd: '/tmp' }, unset: [], clear: false },
  ];
  for (const r of refused) {
    assert.equal((await rig.fails('session.labels', { name: 'a', ...r })).code, 'EINVAL', JSON.stringify(r));
    assert.deepEqual((await rig.get('a')).labels, start, `unchanged after ${JSON.stringify(r)}`);
  }
});

// ---------------------------------------------------------------------------
// run and wait

test('run types the script followed by the marker; wait:false answers status null at once', async (t) => {
  const rig = new Rig(t);
  rig.hello();
  await rig.create('a');
  const { id, req, typed } = await rig.run('a', 'make test', false);
  assert.equal(typed, `make test; echo ${TASK_MARKER}:${id}:$?\r`);
  assert.deepEqual((await rig.replied(req)).result, { status: null });
  assert.deepEqual((await rig.get('a')).task, { status: null, command: 'make test', ended: null });
  // A trailing newline (or CRLF) is not typed twice.
  const second = await rig.run('a', 'echo hi\n', false);
  assert.equal(second.typed, `echo hi; echo ${TASK_MARKER}:${second.id}:$?\r`);
  const third = await rig.run('a', 'echo hi\r\n', false);
  assert.equal(third.typed, `echo hi; echo ${TASK_MARKER}:${third.id}:$?\r`);
  assert.deepEqual((await rig.get('a')).task, { status: null, command: 'echo hi', ended: null }, 'a new run replaces the task');
  // Trailing blank lines too: "ls\n; echo ..." would be a syntax error, and the marker never printed.
  for (const script of ['ls\n\n', 'ls\r\n\r\n', 'ls\n\n\n']) {
    const r = await rig.run('a', script, false);
    assert.equal(r.typed, `ls; echo ${TASK_MARKER}:${r.id}:$?\r`, JSON.stringify(script));
  }
});

test('run with a heredoc puts the marker on its own line after it', async (t) => {
  const rig = new Rig(t);
  rig.hello();
  await rig.create('a');
  const script = 'cat > f.txt <<EOF\nline one\nEOF\n';
  const { id, typed } = await rig.run('a', script, false);
  assert.equal(typed, `cat > f.txt <<EOF\nline one\nEOF\recho ${TASK_MARKER}:${id}:$?\r`);
});

test('run with an empty script fails with EINVAL and types nothing; on an unknown session ENOSESSION', async (t) => {
  const rig = new Rig(t);
  rig.hello();
  await rig.create('a');
  for (const script of ['', '   ', '\n', '\r\n', ' \t\n']) {
    assert.equal((await rig.fails('session.run', { name: 'a', script, wait: true })).code, 'EINVAL', JSON.stringify(script));
  }
  assert.deepEqual(rig.pty('a').written, []);
  assert.equal((await rig.get('a')).task, null);
  assert.equal((await rig.fails('session.run', { name: 'nope', script: 'ls', wait: false })).code, 'ENOSESSION');
});

for (const status of [0, 3, 255]) {
  test(`run wait:true replies with status ${status} once the marker is printed, not on the echoed command`, async (t) => {
    const rig = new Rig(t);
    rig.hello();
    await rig.create('a');
    const pty = rig.pty('a');
    const { id, req } = await rig.run('a', 'make', true);
    // The terminal echoes the typed line, `$?` and all: not a status.
    pty.emit(`make; echo ${TASK_MARKER}:${id}:$?\r\n`);
    // Another task's marker is not this one's.
    pty.emit(`${TASK_MARKER}:${id === 'beef' ? 'cafe' : 'beef'}:9\r\n`);
    pty.emit('building...\r\n');
    await settle();
    assert.equal(rig.answer(req), undefined, 'no reply before the marker');
    assert.deepEqual((await rig.get('a')).task, { status: null, command: 'make', ended: null });
    pty.emit(`${TASK_MARKER}:${id}:${status}\r\n$ `);
    const reply = await rig.replied(req);
    assert.equal(reply.result['status'], status);
    // The reply carries what the pane printed while the task ran, up to the marker.
    const text = (reply.frames[0] ?? Buffer.alloc(0)).toString('latin1');
    assert.ok(text.includes('building...\r\n') && text.includes(`${TASK_MARKER}:${id}:${status}\r\n`), JSON.stringify(text));
    const chunks = reply.result['chunks'] as [number, number][];
    assert.equal(chunks.reduce((n, [, len]) => n + len, 0), text.length, 'chunk lengths add up to the frame');
    assert.equal(reply.result['seq'], chunks[chunks.length - 1]![0], 'seq names the chunk with the marker');
    const { ended, ...rest } = (await rig.get('a')).task!;
    assert.deepEqual(rest, { status, command: 'make' });
    assert.equal(typeof ended, 'number');
    const done = rig.events('task.done');
    assert.equal(done.length, 1);
    assert.equal(done[0]!.data['name'], 'a');
    assert.equal(done[0]!.data['status'], status);
    assert.equal(typeof done[0]!.data['ended'], 'number');
  });
}

test('a marker split across two output chunks is found (and a split status is read whole)', async (t) => {
  const rig = new Rig(t);
  rig.hello();
  await rig.create('a');
  const pty = rig.pty('a');
  const first = await rig.run('a', 'true', true);
  pty.emit(`out\r\nZMX_TASK_COM`);
  await settle();
  pty.emit(`PLETED:${first.id}:0\r\n`);
  assert.deepEqual((await rig.replied(first.req)).result['status'], 0);

  const second = await rig.run('a', 'exit_255', true);
  pty.emit(`${TASK_MARKER}:${second.id}:25`);
  await settle();
  assert.equal(rig.answer(second.req), undefined, '25 is not the whole status');
  pty.emit('5\r\n');
  assert.deepEqual((await rig.replied(second.req)).result['status'], 255);

  const third = await rig.run('a', 'x', true);
  pty.emit(`${TASK_MARKER}:${third.id}:1`);
  await settle();
  pty.emit('\n');
  assert.deepEqual((await rig.replied(third.req)).result['status'], 1, 'a bare LF ends it too');
});

test('run wait:true: the reply comes after the Output carrying the marker, and after task.done', async (t) => {
  const rig = new Rig(t);
  rig.hello();
  await rig.create('a');
  const pty = rig.pty('a');
  const sub = await rig.ok('host.subscribe', { name: 'a', pane: 0, interactive: false });
  const { id, req } = await rig.run('a', 'ls', true);
  pty.emit(`ls; echo ${TASK_MARKER}:${id}:$?\r\nfile\r\n${TASK_MARKER}:${id}:0\r\n$ `);
  await rig.replied(req);
  const outIdx = rig.sent.findIndex((m) => m.header.t === MsgType.Output && m.frames[0]!.toString().includes(`${TASK_MARKER}:${id}:0`));
  const doneIdx = rig.sent.findIndex((m) => m.header.t === MsgType.Event && m.header.name === 'task.done');
  assert.ok(outIdx >= 0, 'the marker went out as Output');
  assert.equal((rig.sent[outIdx]!.header as OutputMsg).sid, sub['paneSid']);
  assert.ok(outIdx < doneIdx, 'Output before task.done');
  assert.ok(doneIdx < rig.answerIndex(req), 'task.done before the reply');
});

test('session.wait answers each session\'s status in the order given, once all are done', async (t) => {
  const rig = new Rig(t);
  rig.hello();
  await rig.create('a');
  await rig.create('b');
  await rig.create('c');
  const a = await rig.run('a', 'ta', false);
  const b = await rig.run('b', 'tb', false);
  const c = await rig.run('c', 'tc', false);
  rig.pty('c').emit(`${TASK_MARKER}:${c.id}:4\r\n`); // done before the wait
  await settle();
  const req = rig.request('session.wait', { names: ['b', 'a', 'c'] });
  await settle();
  assert.equal(rig.answer(req), undefined);
  rig.pty('b').emit(`${TASK_MARKER}:${b.id}:7\r\n`);
  await settle();
  assert.equal(rig.answer(req), undefined, 'a is still running');
  rig.pty('a').emit(`${TASK_MARKER}:${a.id}:0\r\n`);
  assert.deepEqual((await rig.replied(req)).result, { results: [{ name: 'b', status: 7 }, { name: 'a', status: 0 }, { name: 'c', status: 4 }] });
  // Already finished: at once.
  assert.deepEqual(await rig.ok('session.wait', { names: ['a'] }), { results: [{ name: 'a', status: 0 }] });
  assert.deepEqual(await rig.ok('session.wait', { names: [] }), { results: [] });
  assert.equal((await rig.fails('session.wait', { names: ['a', 'nope'] })).code, 'ENOSESSION');
});

test('a shell that exits during a run resolves it (and waits) with its exit status', async (t) => {
  const rig = new Rig(t);
  rig.hello();
  await rig.create('a');
  await rig.create('b');
  const a = await rig.run('a', 'exit 5', true);
  const waitA = rig.request('session.wait', { names: ['a'] });
  rig.pty('a').exit(5);
  assert.deepEqual((await rig.replied(a.req)).result['status'], 5);
  assert.deepEqual((await rig.replied(waitA)).result, { results: [{ name: 'a', status: 5 }] });
  assert.deepEqual(rig.events('task.done').map((e) => [e.data['name'], e.data['status']]), [['a', 5]]);
  // Killed by a signal: 128 + signal.
  const b = await rig.run('b', 'sleep 100', true);
  rig.pty('b').exit(0, 9);
  assert.deepEqual((await rig.replied(b.req)).result['status'], 137);
});

test('session.wait on a session that never ran a task waits for it to end', async (t) => {
  const rig = new Rig(t);
  rig.hello();
  await rig.create('a');
  const req = rig.request('session.wait', { names: ['a'] });
  await settle();
  assert.equal(rig.answer(req), undefined);
  rig.pty('a').exit(2);
  assert.deepEqual((await rig.replied(req)).result, { results: [{ name: 'a', status: 2 }] });
});

// ---------------------------------------------------------------------------
// kill and exit

test('kill sends SIGHUP to the group and replies once the session is gone; session.exit says killed', async (t) => {
  const rig = new Rig(t);
  rig.hello();
  const s = await rig.create('a');
  await rig.create('keep');
  const pty = rig.pty('a');
  const req = rig.request('session.kill', { names: ['a', 'not-there'], force: false });
  assert.deepEqual((await rig.replied(req)).result, { killed: ['a'] }, 'unknown names are skipped');
  assert.deepEqual(pty.signals, ['SIGHUP']);
  assert.ok(pty.disposed, 'the pty is disposed');
  const exits = rig.events('session.exit');
  assert.equal(exits.length, 1);
  assert.deepEqual(exits[0]!.data, { name: 'a', exitCode: 0, signal: 1, killed: true, paneSids: [s.panes[0]!.id] });
  const exitIdx = rig.sent.findIndex((m) => m.header.t === MsgType.Event && m.header.name === 'session.exit');
  assert.ok(exitIdx < rig.answerIndex(req), 'the exit event comes before the reply');
  assert.deepEqual(await rig.names(), ['keep']);
  assert.equal(rig.host.sessionCount, 1);
  assert.equal((await rig.fails('session.get', { name: 'a' })).code, 'ENOSESSION');
  assert.deepEqual(rig.pty('keep').signals, []);
  // The name can be used again.
  const again = await rig.create('a');
  assert.notEqual(again.panes[0]!.id, s.panes[0]!.id);
});

test('kill of several sessions replies with the sorted names; force sends SIGKILL', async (t) => {
  const rig = new Rig(t);
  rig.hello();
  for (const n of ['c', 'a', 'b']) await rig.create(n);
  assert.deepEqual(await rig.ok('session.kill', { names: ['c', 'a'], force: true }), { killed: ['a', 'c'] });
  assert.deepEqual(rig.pty('a').signals, ['SIGKILL']);
  assert.deepEqual(rig.pty('c').signals, ['SIGKILL']);
  assert.deepEqual(rig.events('session.exit').map((e) => [e.data['name'], e.data['signal'], e.data['killed']]).sort(), [['a', 9, true], ['c', 9, true]]);
  assert.deepEqual(await rig.names(), ['b']);
  assert.deepEqual(await rig.ok('session.kill', { names: [], force: false }), { killed: [] });
});

test('a shell that ignores SIGHUP gets SIGKILL after TIMING.killGraceMs', async (t) => {
  const rig = new Rig(t);
  rig.hello();
  await rig.create('stubborn');
  const pty = rig.pty('stubborn');
  pty.ignoreHup = true;
  // The rig's clean-up uses real timers: reset the mock before it runs.
  mock.timers.enable({ apis: ['setTimeout'] });
  try {
    const req = rig.request('session.kill', { names: ['stubborn'], force: false });
    for (let i = 0; i < 10; i++) await tick();
    assert.deepEqual(pty.signals, ['SIGHUP']);
    assert.equal(rig.answer(req), undefined, 'no reply while the shell lives');
    mock.timers.tick(TIMING.killGraceMs - 1);
    for (let i = 0; i < 10; i++) await tick();
    assert.deepEqual(pty.signals, ['SIGHUP'], 'not before the grace period');
    mock.timers.tick(1);
    assert.deepEqual(pty.signals, ['SIGHUP', 'SIGKILL']);
    for (let i = 0; i < 10 && !rig.answer(req); i++) await tick();
    const m = rig.answer(req);
    assert.equal(m?.header.t, MsgType.Reply);
    assert.deepEqual((m!.header as ReplyMsg).result, { killed: ['stubborn'] });
    assert.deepEqual(rig.events('session.exit')[0]!.data['signal'], 9);
  } finally {
    mock.timers.reset();
  }
});

test('a natural exit sends session.exit with killed:false and removes the session', async (t) => {
  const rig = new Rig(t);
  rig.hello();
  const s = await rig.create('a');
  await rig.ok('host.subscribe', { name: 'a', pane: 0, interactive: false });
  const pty = rig.pty('a');
  pty.emit('bye\r\n');
  pty.exit(3);
  const outIdx = rig.sent.findIndex((m) => m.header.t === MsgType.Output && m.frames[0]!.toString() === 'bye\r\n');
  const exitIdx = rig.sent.findIndex((m) => m.header.t === MsgType.Event && m.header.name === 'session.exit');
  assert.ok(outIdx >= 0 && outIdx < exitIdx, 'the last output goes out before the exit');
  assert.deepEqual(rig.events('session.exit').map((e) => e.data), [{ name: 'a', exitCode: 3, signal: 0, killed: false, paneSids: [s.panes[0]!.id] }]);
  assert.deepEqual(rig.events('task.done'), [], 'no task, no task.done');
  assert.ok(pty.disposed);
  assert.deepEqual(await rig.names(), []);
  assert.equal(rig.host.sessionCount, 0);
  assert.equal((await rig.fails('session.get', { name: 'a' })).code, 'ENOSESSION');
  assert.deepEqual(await rig.ok('session.kill', { names: ['a'], force: false }), { killed: [] });
});

// ---------------------------------------------------------------------------
// subscribe

test('subscribe returns the pane id, the seq and a snapshot of the screen', async (t) => {
  const rig = new Rig(t);
  rig.hello();
  const s = await rig.create('a');
  const pty = rig.pty('a');
  pty.emit('\x1b]2;my title\x07before subscribe\r\n');
  await settle();
  assert.equal(rig.outputs().length, 0, 'no Output without a subscriber');
  const { result, frames } = await rig.replied(rig.request('host.subscribe', { name: 'a', pane: 0, interactive: false }));
  assert.equal(result['paneSid'], s.panes[0]!.id);
  assert.equal(result['seq'], 1);
  assert.equal((result['session'] as SessionInfo).name, 'a');
  assert.equal((result['session'] as SessionInfo).panes[0]!.title, 'my title');
  assert.equal(frames.length, 1);
  assert.match(frames[0]!.toString(), /before subscribe/);
  assert.match(frames[0]!.toString(), /\x1b\]2;my title\x07/);
  assert.equal((await rig.fails('host.subscribe', { name: 'nope', pane: 0, interactive: false })).code, 'ENOSESSION');
});

test('Output is sent only while subscribed, numbered by pane seq', async (t) => {
  const rig = new Rig(t);
  rig.hello();
  await rig.create('a');
  const pty = rig.pty('a');
  const sub = await rig.ok('host.subscribe', { name: 'a', pane: 0, interactive: false });
  const sid = sub['paneSid'] as number;
  // A read larger than an echo, then another in the same event-loop turn: one chunk.
  const one = 'one'.padEnd(2048, '.');
  pty.emit(one);
  pty.emit('+two');
  await waitFor(() => rig.outputs().length === 1, 'the first Output');
  await settle();
  assert.deepEqual(rig.outputs().map((m) => [m.header, m.frames[0]!.toString()]), [[{ t: MsgType.Output, sid, seq: 1 }, `${one}+two`]]);
  // Two subscribers; one leaves: still sent.
  await rig.ok('host.subscribe', { name: 'a', pane: 0, interactive: false });
  await rig.ok('host.unsubscribe', { pane: 1, interactive: false });
  pty.emit('three');
  await waitFor(() => rig.outputs().length === 2, 'the second Output');
  assert.deepEqual(rig.outputs()[1]!.header, { t: MsgType.Output, sid, seq: 2 });
  // The last one leaves: nothing is sent, but the pane still counts.
  await rig.ok('host.unsubscribe', { pane: 1, interactive: false });
  pty.emit('four');
  await settle();
  assert.equal(rig.outputs().length, 2);
  // Extra unsubscribes do not go below zero.
  await rig.ok('host.unsubscribe', { pane: 1, interactive: false });
  const again = await rig.ok('host.subscribe', { name: 'a', pane: 0, interactive: false });
  assert.equal(again['seq'], 3, 'the unsent chunk was numbered');
  pty.emit('five');
  await waitFor(() => rig.outputs().length === 3, 'Output after subscribing again');
  assert.deepEqual(rig.outputs()[2]!.header, { t: MsgType.Output, sid, seq: 4 });
  assert.equal(rig.outputs()[2]!.frames[0]!.toString(), 'five');
  assert.deepEqual(await rig.ok('host.unsubscribe', { pane: 999, interactive: true }), {}, 'unsubscribing an unknown pane is harmless');
});

/** Whether the pane's emulator answered a DA1 query (printed by the program) itself. */
async function answersQueries(rig: Rig, name: string): Promise<boolean> {
  const pty = rig.pty(name);
  const before = pty.written.length;
  pty.emit('\x1b[c');
  await rig.parsed(name);
  return pty.written.slice(before).some((w) => w.startsWith('\x1b[?'));
}

test('interactive subscribers are counted: the emulator answers queries only while there are none', async (t) => {
  const rig = new Rig(t);
  rig.hello();
  await rig.create('a');
  assert.equal(await answersQueries(rig, 'a'), true, 'nobody attached');
  await rig.ok('host.subscribe', { name: 'a', pane: 0, interactive: false });
  assert.equal(await answersQueries(rig, 'a'), true, 'a read-only subscriber does not answer');
  await rig.ok('host.subscribe', { name: 'a', pane: 0, interactive: true });
  await rig.ok('host.subscribe', { name: 'a', pane: 0, interactive: true });
  assert.equal(await answersQueries(rig, 'a'), false, 'two terminals attached');
  await rig.ok('host.unsubscribe', { pane: 1, interactive: true });
  assert.equal(await answersQueries(rig, 'a'), false, 'one terminal still attached');
  await rig.ok('host.unsubscribe', { pane: 1, interactive: false });
  assert.equal(await answersQueries(rig, 'a'), false, 'a non-interactive leaving does not count');
  await rig.ok('host.unsubscribe', { pane: 1, interactive: true });
  assert.equal(await answersQueries(rig, 'a'), true, 'the last terminal left');
});

test('a new hello resets subscriptions: no Output until subscribed again, queries answered again', async (t) => {
  const rig = new Rig(t);
  rig.hello();
  await rig.create('a');
  await rig.create('b');
  await rig.ok('host.subscribe', { name: 'a', pane: 0, interactive: true });
  await rig.ok('host.subscribe', { name: 'b', pane: 0, interactive: false });
  rig.pty('a').emit('x');
  await waitFor(() => rig.outputs().length === 1, 'Output while subscribed');
  rig.hello();
  rig.pty('a').emit('after hello a');
  rig.pty('b').emit('after hello b');
  await settle();
  assert.equal(rig.outputs().length, 1, 'no Output after the new hello');
  assert.equal(await answersQueries(rig, 'a'), true, 'interactive count reset');
  await rig.ok('host.subscribe', { name: 'b', pane: 0, interactive: false });
  rig.pty('b').emit('resubscribed');
  await waitFor(() => rig.outputText().includes('resubscribed'), 'Output after subscribing again');
  assert.ok(!rig.outputText().includes('after hello'));
});

// ---------------------------------------------------------------------------
// write

test('write: a relative path is taken from the root, atomically; absolute paths as given', async (t) => {
  const rig = new Rig(t);
  const root = tempDir(t);
  const elsewhere = tempDir(t);
  rig.hello();
  await rig.create('a', { cwd: root });
  assert.deepEqual(await rig.ok('session.write', { name: 'a', path: 'notes.txt' }, [Buffer.from('hello\n')]), { path: join(root, 'notes.txt'), bytes: 6 });
  assert.equal(readFileSync(join(root, 'notes.txt'), 'utf8'), 'hello\n');
  // Replacing a file; no temporary file is left behind.
  await rig.ok('session.write', { name: 'a', path: 'notes.txt' }, [Buffer.from('v2')]);
  assert.equal(readFileSync(join(root, 'notes.txt'), 'utf8'), 'v2');
  mkdirSync(join(root, 'sub'));
  await rig.ok('session.write', { name: 'a', path: 'sub/inner.bin' }, [Buffer.from([0, 1, 2, 255])]);
  assert.deepEqual(readFileSync(join(root, 'sub', 'inner.bin')), Buffer.from([0, 1, 2, 255]));
  assert.deepEqual(readdirSync(root).sort(), ['notes.txt', 'sub']);
  assert.deepEqual(readdirSync(join(root, 'sub')), ['inner.bin']);
  const abs = join(elsewhere, 'abs.txt');
  assert.deepEqual(await rig.ok('session.write', { name: 'a', path: abs }, [Buffer.from('abs')]), { path: abs, bytes: 3 });
  assert.equal(readFileSync(abs, 'utf8'), 'abs');
  // No frame: an empty file.
  assert.deepEqual(await rig.ok('session.write', { name: 'a', path: 'empty' }), { path: join(root, 'empty'), bytes: 0 });
  assert.equal(readFileSync(join(root, 'empty'), 'utf8'), '');
  assert.deepEqual(readdirSync(root).sort(), ['empty', 'notes.txt', 'sub']);
});

test('write: once the shell reports its directory (OSC 7, this host), relative paths are taken from it', async (t) => {
  const rig = new Rig(t);
  const root = tempDir(t);
  const sub = join(root, 'my dir');
  mkdirSync(sub);
  rig.hello();
  await rig.create('a', { cwd: root });
  const pty = rig.pty('a');
  pty.emit(`\x1b]7;file://${os.hostname()}${sub}\x1b\\$ `);
  await rig.parsed('a');
  assert.equal((await rig.get('a')).panes[0]!.cwdUri, `file://${os.hostname()}${sub}`);
  assert.deepEqual(await rig.ok('session.write', { name: 'a', path: 'x.txt' }, [Buffer.from('x')]), { path: join(sub, 'x.txt'), bytes: 1 });
  assert.equal(readFileSync(join(sub, 'x.txt'), 'utf8'), 'x');
  assert.deepEqual(readdirSync(sub), ['x.txt']);
  // localhost and an empty host are this host too; percent-encoding is decoded.
  pty.emit(`\x1b]7;file://localhost${root}\x1b\\`);
  await rig.parsed('a');
  assert.equal((await rig.ok('session.write', { name: 'a', path: 'y.txt' }, [Buffer.from('y')]))['path'], join(root, 'y.txt'));
  pty.emit(`\x1b]7;file://${sub.split('/').map(encodeURIComponent).join('/')}\x1b\\`);
  await rig.parsed('a');
  assert.equal((await rig.ok('session.write', { name: 'a', path: 'z.txt' }, [Buffer.from('z')]))['path'], join(sub, 'z.txt'));
  // The shell went to another host (ssh): the root is used.
  pty.emit(`\x1b]7;file://some-other-host.invalid${sub}\x1b\\`);
  await rig.parsed('a');
  assert.equal((await rig.ok('session.write', { name: 'a', path: 'w.txt' }, [Buffer.from('w')]))['path'], join(root, 'w.txt'));
});

test('write: OSC 7 from a host whose name has capitals (as bash sends $HOSTNAME) still counts as this host', async (t) => {
  const rig = new Rig(t);
  const root = tempDir(t);
  const sub = join(root, 'sub');
  mkdirSync(sub);
  mock.method(os, 'hostname', () => 'Dev-Laptop.Local');
  syncBuiltinESMExports();
  t.after(() => { mock.restoreAll(); syncBuiltinESMExports(); });
  rig.hello();
  await rig.create('a', { cwd: root });
  rig.pty('a').emit(`\x1b]7;file://Dev-Laptop.Local${sub}\x1b\\`);
  await rig.parsed('a');
  assert.equal((await rig.ok('session.write', { name: 'a', path: 'x.txt' }, [Buffer.from('x')]))['path'], join(sub, 'x.txt'));
});

test('write: ETOOBIG over LIMITS.maxWriteBytes, ENOENT for a missing directory, EINVAL for an empty path', async (t) => {
  const rig = new Rig(t);
  const root = tempDir(t);
  rig.hello();
  await rig.create('a', { cwd: root });
  const big = Buffer.alloc(LIMITS.maxWriteBytes + 1, 0x61);
  assert.equal((await rig.fails('session.write', { name: 'a', path: 'big' }, [big])).code, 'ETOOBIG');
  const e = await rig.fails('session.write', { name: 'a', path: 'no/such/dir/f.txt' }, [Buffer.from('x')]);
  assert.equal(e.code, 'ENOENT');
  assert.match(e.message, /no\/such\/dir/);
  assert.equal((await rig.fails('session.write', { name: 'a', path: '' }, [Buffer.from('x')])).code, 'EINVAL');
  assert.equal((await rig.fails('session.write', { name: 'nope', path: 'f' }, [Buffer.from('x')])).code, 'ENOSESSION');
  assert.deepEqual(readdirSync(root), [], 'nothing was written, no temporary file left');
  // Exactly the limit is fine.
  const max = Buffer.alloc(LIMITS.maxWriteBytes, 0x62);
  assert.deepEqual(await rig.ok('session.write', { name: 'a', path: 'max' }, [max]), { path: join(root, 'max'), bytes: LIMITS.maxWriteBytes });
  assert.deepEqual(readdirSync(root), ['max']);
  assert.ok(existsSync(join(root, 'max')));
});

test('typedCommand: the marker goes on its own line after a heredoc, a trailing & or a comment', () => {
  const m = (id: string) => `echo ${TASK_MARKER}:${id}:$?`;
  assert.equal(typedCommand('make', 'ab12'), `make; ${m('ab12')}\r`);
  assert.equal(typedCommand('a && b', 'ab12'), `a && b; ${m('ab12')}\r`);
  assert.equal(typedCommand('sleep 1 &', 'ab12'), `sleep 1 &\r${m('ab12')}\r`);
  assert.equal(typedCommand('make # build it', 'ab12'), `make # build it\r${m('ab12')}\r`);
  assert.equal(typedCommand('# only a comment', 'ab12'), `# only a comment\r${m('ab12')}\r`);
  assert.equal(typedCommand('echo a#b', 'ab12'), `echo a#b; ${m('ab12')}\r`, 'a # inside a word is not a comment');
  assert.equal(typedCommand('cat <<EOF\nx\nEOF', 'ab12'), `cat <<EOF\nx\nEOF\r${m('ab12')}\r`);
});

test('two runs in flight each get their own status; the latest is what list shows', async (t) => {
  const rig = new Rig(t);
  rig.hello();
  await rig.create('a');
  const first = await rig.run('a', 'sleep 1; false', true);
  const second = await rig.run('a', 'true', true);
  rig.pty('a').emit(`${TASK_MARKER}:${first.id}:1\r\n`);
  assert.deepEqual((await rig.replied(first.req)).result['status'], 1);
  assert.equal(rig.answer(second.req), undefined, 'the second run is still going');
  assert.deepEqual((await rig.get('a')).task, { status: null, command: 'true', ended: null });
  rig.pty('a').emit(`${TASK_MARKER}:${second.id}:0\r\n`);
  assert.deepEqual((await rig.replied(second.req)).result['status'], 0);
  const task = (await rig.get('a')).task!;
  assert.equal(task.status, 0);
  assert.ok(task.ended !== null && Math.abs(task.ended - Date.now()) < 60_000, 'the end time is recorded');
});

test('kill does not hang on a pty that never reports its end', async (t) => {
  const rig = new Rig(t);
  rig.hello();
  await rig.create('stuck');
  const pty = rig.pty('stuck');
  pty.signalGroup = (signal) => { pty.signals.push(signal); }; // deaf to every signal
  // The rig's clean-up uses real timers: reset the mock before it runs.
  mock.timers.enable({ apis: ['setTimeout'] });
  try {
    const req = rig.request('session.kill', { names: ['stuck'], force: false });
    for (let i = 0; i < 10; i++) await tick();
    assert.equal(rig.answer(req), undefined);
    mock.timers.tick(TIMING.killGraceMs);
    assert.deepEqual(pty.signals, ['SIGHUP', 'SIGKILL']);
    mock.timers.tick(TIMING.killGraceMs);
    for (let i = 0; i < 10 && !rig.answer(req); i++) await tick();
    const m = rig.answer(req);
    assert.deepEqual((m!.header as ReplyMsg).result, { killed: ['stuck'] });
    assert.equal(rig.host.sessionCount, 0, 'the session is gone');
  } finally {
    mock.timers.reset();
  }
});

test('run pastes the script (bracketed) once the shell takes paste, with the marker on its own line', async (t) => {
  const rig = new Rig(t);
  rig.hello();
  await rig.create('a');
  const pty = rig.pty('a');
  pty.emit('\x1b[?2004h$ '); // readline at its prompt
  await rig.ok('session.history', { name: 'a', format: 'text' }); // let the emulator parse it
  const script = "cat <<'EOF'\n\tindented\nEOF\nfalse # comment &";
  const req = rig.request('session.run', { name: 'a', script, wait: true });
  const typed = await waitFor(() => pty.typed, 'the paste');
  const id = /ZMX_TASK_COMPLETED:([0-9a-f]{4})/.exec(typed)![1]!;
  assert.equal(typed, `\x1b[200~${script}\necho ${TASK_MARKER}:${id}:$?\x1b[201~\r`);
  pty.emit(`${TASK_MARKER}:${id}:1\r\n`);
  assert.deepEqual((await rig.replied(req)).result['status'], 1);
  assert.equal(pastedCommand('a\x1b[201~b', 'ab12'), `\x1b[200~ab\necho ${TASK_MARKER}:ab12:$?\x1b[201~\r`, 'a script cannot end the paste early');
});
