/**
 * The seeded message fuzz of the hostile-input tests (test/transport/hostile.test.ts)
 * and the red-team suite (test/security/): random and mutated zmx messages,
 * and the check that keeps the destructive ones out.
 */
import { MsgType, OP_NAMES, CAPABILITIES, LINK_CAPABILITIES, decode, type Message, type OpName } from '../../src/common/protocol.js';
import { pack } from '../transport/wire.js';

export function randomBytes(rand: () => number, n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(rand() * 256);
  return b;
}

// Mini-fuzz

/**
 * The only requests the fuzz may send in a form the server would act on:
 * they read, or change nothing the checks afterwards depend on. Any other
 * valid request (stop, kill, create, type into the session, write files,
 * run commands...) is skipped — an allowlist, so ops added later are safe.
 */
const HARMLESS: ReadonlySet<string> = new Set<OpName>([
  'server.info', 'session.list', 'session.get', 'session.history', 'session.labels', 'session.tail', 'session.detach', 'session.wait', 'pane.capture',
  'pane.subscribe', 'pair.claim', 'host.subscribe', 'host.unsubscribe', 'host.resize', 'host.input', 'host.snapshot',
]);

function templates(rand: () => number, proof: Record<string, unknown>): unknown[] {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const name = pick(['a', 'zz', '', 'a/b', 'x'.repeat(300)]);
  return [
    { t: MsgType.Hello, min: 1, max: 1, caps: [...CAPABILITIES], agent: 'fuzz', ...(rand() < 0.5 ? proof : {}) },
    // A resumable link: sequence numbers, confirmations, resumes from anywhere.
    { t: MsgType.Hello, min: 1, max: 1, caps: [...CAPABILITIES, ...LINK_CAPABILITIES], agent: 'fuzz', ...proof, ...(rand() < 0.5 ? { resume: Math.floor(rand() * 50) } : {}) },
    { t: MsgType.Received, recv: Math.floor(rand() * 1e6) },
    { t: MsgType.Request, id: Math.floor(rand() * 1e6), op: 'session.list', args: {}, q: Math.floor(rand() * 20) },
    { t: MsgType.Ack, sid: Math.floor(rand() * 50), seq: Math.floor(rand() * 1e6), q: Math.floor(rand() * 20) },
    { t: MsgType.Resync, sid: Math.floor(rand() * 50), seq: 1, skipped: 5, q: 1 },
    { t: MsgType.Request, id: Math.floor(rand() * 1e6), op: 'host.snapshot', args: { pane: Math.floor(rand() * 5), text: rand() < 0.5 } },
    { t: MsgType.Ping, ts: Math.floor(rand() * 1e9) },
    { t: MsgType.Request, id: Math.floor(rand() * 1e6), op: 'server.info', args: {} },
    { t: MsgType.Request, id: Math.floor(rand() * 1e6), op: 'session.list', args: {} },
    { t: MsgType.Request, id: Math.floor(rand() * 1e6), op: 'session.get', args: { name } },
    { t: MsgType.Request, id: Math.floor(rand() * 1e6), op: 'session.history', args: { name, format: pick(['text', 'vt', 'html']) } },
    { t: MsgType.Request, id: Math.floor(rand() * 1e6), op: 'session.labels', args: { name, set: { fuzz: 'v' }, unset: ['x'], clear: false } },
    { t: MsgType.Request, id: Math.floor(rand() * 1e6), op: 'session.tail', args: { name } },
    { t: MsgType.Request, id: Math.floor(rand() * 1e6), op: 'session.detach', args: { name: 'zz' } },
    { t: MsgType.Request, id: Math.floor(rand() * 1e6), op: 'session.wait', args: { names: ['zz'] } },
    { t: MsgType.Request, id: Math.floor(rand() * 1e6), op: pick(OP_NAMES), args: {} },
    { t: MsgType.Request, id: Math.floor(rand() * 1e6), op: 'host.resize', args: { name: 'a', cols: 2, rows: 1 } },
    { t: MsgType.Input, sid: Math.floor(rand() * 50) },
    { t: MsgType.Resize, sid: Math.floor(rand() * 50), cols: Math.floor(rand() * 3000), rows: Math.floor(rand() * 3000) },
    { t: MsgType.Detach, sid: Math.floor(rand() * 50) },
    { t: MsgType.Ack, sid: Math.floor(rand() * 50), seq: Math.floor(rand() * 1e6) },
    { t: Math.floor(rand() * 256) },
  ];
}

function randomValue(rand: () => number, depth = 0): unknown {
  const r = Math.floor(rand() * (depth > 2 ? 9 : 11));
  switch (r) {
    case 0: return null;
    case 1: return -Math.floor(rand() * 1e6);
    case 2: return 2 ** 53 + Math.floor(rand() * 1e6);
    case 3: return rand() * 1e3;
    case 4: return rand() < 0.5;
    case 5: return 'x'.repeat(Math.floor(rand() * 40));
    case 6: return randomBytes(rand, Math.floor(rand() * 16));
    case 7: return Math.floor(rand() * 0x1_0000_0000);
    case 8: return '';
    case 9: return [randomValue(rand, depth + 1), randomValue(rand, depth + 1)];
    default: return { k: randomValue(rand, depth + 1) };
  }
}

/** One fuzz message: a template, perhaps structurally mutated, perhaps byte-mutated, with random extra frames. */
export function fuzzMessage(rand: () => number, proof: Record<string, unknown>): Buffer[] {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const header = { ...(pick(templates(rand, proof)) as Record<string, unknown>) };
  const fields = Object.keys(header);
  // Half stay structurally valid, so many reach argument checks and the ops themselves.
  const structural = rand() < 0.5 ? 0 : 1 + Math.floor(rand() * 2);
  for (let i = 0; i < structural; i++) {
    const what = rand();
    const field = pick([...fields, 'extra']);
    if (what < 0.2) delete header[field];
    else if (what < 0.5) header[field] = randomValue(rand);
    else if (header['args'] && typeof header['args'] === 'object') {
      const args = { ...(header['args'] as Record<string, unknown>) };
      const key = pick([...Object.keys(args), 'bogus', 'name', 'format', 'names', 'set', 'cols']);
      if (rand() < 0.2) delete args[key];
      else args[key] = randomValue(rand);
      header['args'] = args;
    } else header[field] = randomValue(rand);
  }
  let head = pack(header);
  const bytewise = rand();
  if (bytewise < 0.15) {
    head = Buffer.from(head);
    const flips = 1 + Math.floor(rand() * 4);
    for (let i = 0; i < flips; i++) head[Math.floor(rand() * head.length)] = Math.floor(rand() * 256);
  } else if (bytewise < 0.2) {
    head = head.subarray(0, Math.floor(rand() * head.length));
  } else if (bytewise < 0.25) {
    head = Buffer.concat([head, randomBytes(rand, 1 + Math.floor(rand() * 16))]);
  } else if (bytewise < 0.28) {
    head = randomBytes(rand, Math.floor(rand() * 64));
  }
  const extra = rand() < 0.1 ? Math.floor(rand() * 20) : rand() < 0.3 ? 1 : 0;
  const frames = [head];
  for (let i = 0; i < extra; i++) frames.push(randomBytes(rand, Math.floor(rand() * 512)));
  return frames;
}

/** True when the server would act on this message in a way that changes sessions or stops it. */
export function destructive(frames: Buffer[]): boolean {
  let msg: Message;
  try {
    msg = decode(frames);
  } catch {
    return false;
  }
  return msg.header.t === MsgType.Request && !HARMLESS.has(msg.header.op);
}
