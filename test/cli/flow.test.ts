/**
 * Flow control end to end: a client stopped while its pane prints hundreds
 * of megabytes. The server's memory stays bounded, the pane runs on, and
 * the woken client shows the pane's current screen. Apart from
 * resilience.test.ts (the faulty link) so that the two long files run side
 * by side in the suite's pool.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ZMX_BIN, until } from '../helpers/harness.js';
import { assertOk } from '../helpers/assert.js';
import { listening, clientOf, attachedClients } from '../helpers/remote.js';

function rssKb(pid: number | null): number {
  if (!pid) return 0;
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : 0;
}

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
