/**
 * One hop: a message to another process and back, on zmx's own link (the
 * one a keystroke crosses twice: src/platform/zmq.ts, CurveZMQ over ipc)
 * against a Node `net` Unix socket — the floor below the keystroke rows, and
 * what staying on ZeroMQ costs. Back to back (as the echo measure types) and
 * after a pause (as a person types: the threads on both sides have gone
 * idle, and libzmq wakes two more than a socket does).
 */
import { spawn } from 'node:child_process';
import { createConnection, type Socket } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Contender, Measure } from '../lib/measure.js';
import { hrms, sleep, stopPids, tempDir, type Cleanup } from '../lib/procs.js';
import { median } from '../lib/stats.js';
import { ClientLink, generateKeyPair } from '../../src/platform/zmq.js';

/** Round trips per round, back to back; and with a pause before each. */
const HOT = 400;
const HOT_QUICK = 100;
const IDLE = 60;
const IDLE_QUICK = 20;
/** The pause before an "idle" round trip: a fast typist's gap between keys is ≈ 100 ms; this is enough for the threads to sleep. */
const PAUSE_MS = 15;
/** Untimed round trips after connecting. */
const WARM_UP = 50;
const ECHO_SCRIPT = fileURLToPath(new URL('../lib/hop-echo.js', import.meta.url));

/** Starts the echo process; resolves once it listens. */
async function startEcho(cleanup: Cleanup, kind: 'zmq' | 'net', path: string, env: NodeJS.ProcessEnv = {}): Promise<void> {
  const child = spawn(process.execPath, [ECHO_SCRIPT, kind, path], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  cleanup.defer(`hop echo ${kind}`, () => stopPids(child.pid ? [child.pid] : []));
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`hop echo (${kind}) exited ${code}`)));
    child.stdout!.on('data', (d: Buffer) => { if (d.toString().includes('ready')) resolve(); });
  });
}

/** A one-byte message there and back, as a promise. */
type Ping = () => Promise<void>;

/** The median of `n` round trips, µs, each after `pauseMs` (0: back to back). */
async function medianUs(ping: Ping, n: number, pauseMs: number): Promise<number> {
  const us: number[] = [];
  for (let i = 0; i < n; i++) {
    if (pauseMs > 0) await sleep(pauseMs);
    const t0 = hrms();
    await ping();
    us.push((hrms() - t0) * 1000);
  }
  return median(us);
}

async function times(ping: Ping, hot: number, idle: number): Promise<{ hotUs: number; idleUs: number }> {
  return { hotUs: await medianUs(ping, hot, 0), idleUs: await medianUs(ping, idle, PAUSE_MS) };
}

export const hops: Measure = {
  id: 'hops',
  title: 'One hop',
  how: `A one-byte message to an echo process and back. "zmx link": zmx's own CurveZMQ link (src/platform/zmq.ts: a DEALER to a ROUTER over ipc, with its ZAP handler and send queue), as a keystroke crosses it to the pty host and its echo back; "net": a Node \`net\` Unix socket. ${HOT} round trips back to back per round (--quick: ${HOT_QUICK}), the median ("back to back", as the echo measure types), and ${IDLE} (--quick: ${IDLE_QUICK}) each after a ${PAUSE_MS} ms pause ("after a pause", as a person types), the median; ${WARM_UP} untimed ones first. Both ends are Node processes, so the difference is the transport: libzmq moves each message through an I/O thread on either side, a socket does not.`,
  metrics: [
    { key: 'hotUs', label: 'back to back', unit: 'µs' },
    { key: 'idleUs', label: 'after a pause', unit: 'µs' },
  ],
  contenders(opts) {
    const hot = opts.quick ? HOT_QUICK : HOT;
    const idle = opts.quick ? IDLE_QUICK : IDLE;
    let zmqPing: Ping;
    let netPing: Ping;
    const zmx: Contender = {
      name: 'zmx link (CurveZMQ, ipc)', zmx: true, versus: ['Node net (Unix socket)'],
      async setup(cleanup) {
        const dir = tempDir(cleanup, 'zb-hop-');
        const server = generateKeyPair();
        const client = generateKeyPair();
        await startEcho(cleanup, 'zmq', join(dir, 'hop.sock'), { HOP_KEYS: JSON.stringify({ serverSecret: server.secretKey, client: client.publicKey }) });
        let answered: (() => void) | null = null;
        const link = new ClientLink({ endpoint: `ipc://${join(dir, 'hop.sock')}`, curve: { serverKey: server.publicKey, publicKey: client.publicKey, secretKey: client.secretKey }, onMessage: () => answered?.() });
        link.connect();
        cleanup.defer('hop link', () => link.dispose());
        const byte = [Buffer.from('x')];
        zmqPing = () => new Promise<void>((resolve) => { answered = resolve; link.send(byte); });
        for (let i = 0; i < WARM_UP; i++) await zmqPing();
      },
      sample: () => times(zmqPing, hot, idle),
    };
    const net: Contender = {
      name: 'Node net (Unix socket)', zmx: false,
      async setup(cleanup) {
        const dir = tempDir(cleanup, 'zb-hop-');
        const path = join(dir, 'hop.sock');
        await startEcho(cleanup, 'net', path);
        const socket: Socket = createConnection(path);
        await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
        cleanup.defer('hop socket', () => { socket.destroy(); });
        let answered: (() => void) | null = null;
        socket.on('data', () => answered?.());
        netPing = () => new Promise<void>((resolve) => { answered = resolve; socket.write('x'); });
        for (let i = 0; i < WARM_UP; i++) await netPing();
      },
      sample: () => times(netPing, hot, idle),
    };
    return [zmx, net];
  },
};
