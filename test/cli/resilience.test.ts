/**
 * Resilience of the remote link: a fault-injecting proxy on loopback between
 * client and server (cuts, black holes, delay), and a client stopped while
 * its pane prints hundreds of megabytes. Nothing may be lost or repeated,
 * the server's memory stays bounded, and a woken client shows the pane's
 * current screen.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { ChildProcess } from 'node:child_process';
import { Sandbox, ZMX_BIN, until } from '../helpers/harness.js';
import { sandbox, assertOk } from '../helpers/assert.js';
import { listening } from '../helpers/remote.js';
import { FaultProxy } from '../helpers/fault-proxy.js';
import { mulberry32 } from '../helpers/seeded.js';

type T = { after(fn: () => Promise<void>): void; diagnostic(msg: string): void };

/** A client sandbox that reaches `server` as host "box" at `address` (a proxy's, say). */
async function clientOf(t: T, server: Sandbox, address: string): Promise<Sandbox> {
  const client = sandbox(t);
  const serverKey = (await server.zmx(['keys', 'show', '--server'])).stdout.trim();
  assertOk(await client.zmx(['host', 'add', 'box', address, '--key', serverKey]), 'host add');
  const clientKey = (await client.zmx(['keys', 'show'])).stdout.trim();
  assertOk(await server.zmx(['keys', 'authorize', clientKey, '--name', 'test client']), 'authorize');
  return client;
}

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

async function attachedClients(server: Sandbox, name: string): Promise<number> {
  const sessions = JSON.parse((await server.zmx(['ls', '--json'])).stdout) as { name: string; clients: number }[];
  return sessions.find((s) => s.name === name)?.clients ?? 0;
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

function rssKb(pid: number | null): number {
  if (!pid) return 0;
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : 0;
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

/**
 * What a stopped client's pane prints: over three times the growth allowed
 * below, so a server that buffered it for the client would fail; 500 MB
 * showed no more and cost the suite ≈ 25 s (each MB is a parse in the pty
 * host).
 */
const FLOOD_BYTES = 200_000_000;
/** The server's RSS may grow this much while the client is stopped (credit, parse queue, garbage). */
const FLOOD_GROWTH_MAX_MB = 64;

describe('flow control', () => {
  test(`a client stopped while its pane prints ${FLOOD_BYTES / 1e6} MB: the server stays bounded, the pane runs on, and the woken client shows the current screen`, async (t) => {
    const { server, address } = await listening(t);
    assertOk(await server.zmx(['new', '-s', 'big', '-d']), 'new');
    const client = await clientOf(t, server, address);
    client.tmuxStart(`${ZMX_BIN} attach --raw -H box big`, 100, 30);
    await until(async () => (await attachedClients(server, 'big')) === 1, 'the client to attach', 15_000);
    const clientPid = (await until(() => client.paneClientPid(), 'the client process'))!;

    // A busy session first: its scrollback full, the server warm. What the
    // stopped client may add is measured on top of that.
    assertOk(await server.zmx(['run', 'big', `yes '${'w'.repeat(99)}' | head -c 30000000 | tail -c 0; yes '${'w'.repeat(99)}' | head -n 20000`], { timeoutMs: 60_000 }), 'warm-up');
    const pids = [server.frontPid(), server.ptyhostPid()];
    const base = pids.reduce<number>((n, p) => n + rssKb(p), 0);
    process.kill(clientPid, 'SIGSTOP');
    t.after(async () => { try { process.kill(clientPid, 'SIGCONT'); } catch { /* gone */ } });
    const line = 'zmx flow control: a stopped client must not make the server buffer this line....';
    assertOk(await server.zmx(['run', '-d', 'big', `yes '${line}' | head -c ${FLOOD_BYTES}; echo; echo BIG-$((40+2))-DONE`]), 'run');
    let peak = base;
    const bases = pids.map((p) => rssKb(p));
    const peaks = [...bases];
    const started = Date.now();
    await until(async () => {
      pids.forEach((p, i) => { peaks[i] = Math.max(peaks[i]!, rssKb(p)); });
      peak = Math.max(peak, pids.reduce<number>((n, p) => n + rssKb(p), 0));
      return (await server.zmx(['capture-pane', '-p', '-t', 'big'])).stdout.includes('BIG-42-DONE');
    }, `the pane to print ${FLOOD_BYTES / 1e6} MB`, 240_000, 250);
    const growthMb = (peak - base) / 1024;
    t.diagnostic(`${FLOOD_BYTES / 1e6} MB printed in ${Date.now() - started} ms; server RSS ${Math.round(base / 1024)} MB, peak +${growthMb.toFixed(1)} MB (front, pty host: ${bases.map((k) => Math.round(k / 1024)).join(', ')} MB → peaks ${peaks.map((k) => Math.round(k / 1024)).join(', ')} MB)`);
    assert.ok(growthMb < FLOOD_GROWTH_MAX_MB, `server RSS grew by ${growthMb.toFixed(1)} MB`);

    const woke = Date.now();
    process.kill(clientPid, 'SIGCONT');
    const screen = (await server.zmx(['capture-pane', '-p', '-t', 'big'])).stdout.split('\n').filter((l) => l.trim()).slice(-5);
    // The server's screen of the pane, line for line, on the woken client's terminal.
    await until(() => {
      const shown = client.capture('main');
      return screen.every((l) => shown.includes(l.trimEnd()));
    }, 'the woken client to show the current screen', 10_000);
    t.diagnostic(`the woken client showed the current screen after ${Date.now() - woke} ms`);
    // And it is live again: typing reaches the pane.
    client.tmux('send-keys', '-t', 'main', 'echo AWAKE-$((40+2))', 'Enter');
    await client.waitForScreen(/^AWAKE-42\s*$/m);
  });
});
