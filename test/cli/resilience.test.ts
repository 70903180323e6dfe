/**
 * Resilience of the remote link: a fault-injecting proxy on loopback between
 * client and server (cuts, black holes, delay). Nothing may be lost or
 * repeated. Flow control (a stopped client) is in flow.test.ts, apart so
 * that the two long files run side by side.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { ChildProcess } from 'node:child_process';
import { type Sandbox, ZMX_BIN, until } from '../helpers/harness.js';
import { assertOk } from '../helpers/assert.js';
import { listening, clientOf, attachedClients } from '../helpers/remote.js';
import { FaultProxy } from '../helpers/fault-proxy.js';
import { mulberry32 } from '../helpers/seeded.js';

type T = { after(fn: () => Promise<void>): void; diagnostic(msg: string): void };

/** A server with session `name`, a fault proxy in front of it, and a client that reaches it through the proxy as "box". */
async function throughProxy(t: T, name: string): Promise<{ server: Sandbox; client: Sandbox; proxy: FaultProxy }> {
  const { server, address } = await listening(t);
  const proxy = new FaultProxy(Number(/:(\d+)$/.exec(address)![1]));
  const via = await proxy.listen();
  t.after(() => proxy.close());
  assertOk(await server.zmx(['new', '-s', name, '-d']), 'new');
  return { server, client: await clientOf(t, server, via), proxy };
}

/** Collects a child's stdout as text. */
function collect(child: ChildProcess): { text: () => string } {
  const chunks: Buffer[] = [];
  child.stdout!.on('data', (d: Buffer) => chunks.push(d));
  return { text: () => Buffer.concat(chunks).toString('utf8') };
}

/**
 * The lines of `text` that are only a number, as numbers. A carriage return
 * starts the line over, as on a terminal (readline ends a prompt with one).
 */
function numberLines(text: string): number[] {
  return text.split('\n').map((l) => l.split('\r').filter(Boolean).pop() ?? '').filter((l) => /^\d+$/.test(l)).map(Number);
}

function assertExactly1ToN(seen: number[], n: number): void {
  for (let i = 0; i < n; i++) {
    if (seen[i] !== i + 1) assert.fail(`line ${i + 1} is ${seen[i]} (previous ${seen[i - 1]}, next ${seen[i + 1]}): output was lost, repeated or reordered`);
  }
  assert.equal(seen.length, n, `expected ${n} numbers, got ${seen.length}`);
}

const SEQ_LINES = 500_000;
/** The seq is paced (a short sleep every few thousand lines) so that it lasts long enough for many cuts. */
const PACED_SEQ = `seq 1 ${SEQ_LINES} | awk '{ print } NR % 4000 == 0 { system("sleep 0.04") }'`;

describe('resilience over a faulty link', { concurrency: 1 }, () => {
  test(`seq 1 ${SEQ_LINES} followed through a link cut 20+ times arrives exactly once, in order`, async (t) => {
    const { server, client, proxy } = await throughProxy(t, 'flood');

    const tail = client.start(['tail', '-H', 'box', 'flood']);
    const out = collect(tail);
    await until(async () => (await attachedClients(server, 'flood')) === 1, 'the tail to follow the session', 15_000);

    const seed = Number(process.env['ZMX_FAULT_SEED'] ?? Date.now() % 100_000);
    t.diagnostic(`fault seed ${seed} (ZMX_FAULT_SEED=${seed} replays it)`);
    const random = mulberry32(seed);
    // The end marker as the shell prints it, not as the command line echoes it.
    assertOk(await server.zmx(['run', '-d', 'flood', `${PACED_SEQ}; echo FLOOD-$((40+2))-DONE`]), 'run');
    let cuts = 0;
    const started = Date.now();
    while (!out.text().includes('FLOOD-42-DONE')) {
      await new Promise((r) => setTimeout(r, 80 + random() * 170));
      if (proxy.cutAll() > 0) cuts++;
      if (Date.now() - started > 120_000) assert.fail(`the stream did not finish; last output: ${out.text().slice(-300)}`);
    }
    t.diagnostic(`${cuts} cuts in ${Date.now() - started} ms; ${proxy.accepted} connections accepted`);
    assert.ok(cuts >= 20, `only ${cuts} cuts happened during the stream`);
    assert.doesNotMatch(out.text(), /\[zmx: .*skipped/, 'nothing was skipped');
    assertExactly1ToN(numberLines(out.text()), SEQ_LINES);
  });

  test('a black hole longer than the heartbeat timeout: the client reconnects and resumes without loss; a command started meanwhile gets through', async (t) => {
    const { server, client, proxy } = await throughProxy(t, 'hole');
    const tail = client.start(['tail', '-H', 'box', 'hole']);
    const out = collect(tail);
    await until(async () => (await attachedClients(server, 'hole')) === 1, 'the tail to follow the session', 15_000);

    const hole = proxy.blackhole(9_000);
    // Printed while the link is a black hole; a request sent into it waits for its reply.
    assertOk(await server.zmx(['run', 'hole', 'seq 1 3000; echo HOLE-$((40+2))-DONE']), 'run');
    // A command started in the black hole gets through once it ends (its handshake is retried).
    const during = client.zmx(['ls', '-H', 'box', '--short']);
    await hole;
    const got = await during;
    assertOk(got, 'ls across the black hole');
    assert.equal(got.stdout, 'hole\n');
    await until(() => out.text().includes('HOLE-42-DONE'), 'the output after the black hole', 30_000);
    assertExactly1ToN(numberLines(out.text()), 3000);
    t.diagnostic(`${proxy.accepted} connections accepted`);
  });

  test('the full-screen client shows the link lost and back, and carries on without a re-attach', async (t) => {
    const { server, client, proxy } = await throughProxy(t, 'tui');
    client.tmuxStart(`${ZMX_BIN} attach -H box tui`, 100, 30);
    await client.waitForScreen(/box connected \d+ms/, 'main', 15_000);
    const hole = proxy.blackhole(9_000);
    await client.waitForScreen(/box reconnecting \d+s/, 'main', 12_000);
    // Typed while the link is down: delivered when it resumes.
    client.tmux('send-keys', '-t', 'main', 'echo TYPED-IN-THE-HOLE-$((40+2))', 'Enter');
    await hole;
    await client.waitForScreen(/^TYPED-IN-THE-HOLE-42\s*$/m, 'main', 15_000);
    await client.waitForScreen(/box connected/, 'main');
    const log = readFileSync(`${server.dir}/front.log`, 'utf8');
    assert.match(log, /client resumed/, 'the link resumed rather than starting afresh');
  });

  test('a remote list shows the link state and round-trip time; 50 ms each way shows in the rtt', async (t) => {
    const { client, proxy } = await throughProxy(t, 'far');
    const fast = await client.zmx(['ls', '-H', 'box']);
    assertOk(fast, 'ls');
    assert.match(fast.stdout, /^ {2}name=far\t.*\thost=box\tlink=connected\trtt=\d+ms$/m);
    proxy.delay(50);
    const slow = await client.zmx(['ls', '-H', 'box']);
    const rtt = Number(/rtt=(\d+)ms/.exec(slow.stdout)?.[1]);
    assert.ok(rtt >= 100, `a round trip through 2 × 50 ms takes at least 100 ms (got ${rtt})`);
    // --short and --json stay as they were (names; structured fields).
    assert.equal((await client.zmx(['ls', '-H', 'box', '--short'])).stdout, 'far\n');
    const json = JSON.parse((await client.zmx(['ls', '-H', 'box', '--json'])).stdout) as { name: string; link?: { host: string; state: string; rttMs: number } }[];
    assert.equal(json[0]?.link?.host, 'box');
    assert.equal(json[0]?.link?.state, 'connected');
  });
});
