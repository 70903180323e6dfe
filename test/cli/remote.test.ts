/**
 * Remote hosts on loopback: a "server" sandbox listening on 127.0.0.1 and a
 * "client" sandbox with its own keys and config. Pairing, -H, the errors a
 * user meets (unauthorized key, wrong or reused code), and revocation
 * cutting a live connection.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { setTimeout as delay } from 'node:timers/promises';
import { ZMX_BIN, alive, until } from '../helpers/harness.js';
import { sandbox, assertOk, assertOneLineError } from '../helpers/assert.js';
import { listening, paired, pairingCode } from '../helpers/remote.js';

describe('remote hosts', { concurrency: 2 }, () => {
  test('pairing by code: afterwards each side knows the other\'s key and -H reaches the server\'s sessions', async (t) => {
    const { server, address } = await listening(t);
    const status = await server.zmx(['server', 'status']);
    assert.match(status.stdout, new RegExp(`^endpoint ${address}$`, 'm'));
    assertOk(await server.zmx(['new', '-s', 'far', '-d']), 'new');
    const client = await paired(t, server, address);
    // The client recorded the host with the server's real key...
    const serverKey = (await server.zmx(['keys', 'show', '--server'])).stdout.trim();
    const hosts = JSON.parse((await client.zmx(['host', 'ls', '--json'])).stdout) as { name: string; endpoint: string; serverKey: string }[];
    assert.deepEqual(hosts.map((h) => [h.name, h.endpoint, h.serverKey]), [['box', address, serverKey]]);
    // ...and the server authorized the client's.
    const clientKey = (await client.zmx(['keys', 'show'])).stdout.trim();
    const keys = JSON.parse((await server.zmx(['keys', 'list', '--json'])).stdout) as { key: string; name: string }[];
    assert.ok(keys.some((k) => k.key === clientKey && /^paired/.test(k.name)), JSON.stringify(keys));
    // Sessions over TCP, by -H and by ZMX_HOST.
    assert.equal((await client.zmx(['ls', '--short', '-H', 'box'])).stdout, 'far\n');
    const run = await client.zmx(['run', '-H', 'box', 'far', 'echo over-tcp-$((6*7))']);
    assertOk(run, 'run -H');
    assert.match(run.stdout, /^over-tcp-42$/m);
    assert.equal((await client.zmx(['ls', '--short'], { env: { ZMX_HOST: 'box' } })).stdout, 'far\n');
    // A session made from here starts in the server's home, not in a directory of this machine.
    assertOk(await client.zmx(['new', '-H', 'box', '-s', 'made-here', '-d'], { cwd: client.home }), 'new -H');
    const made = (JSON.parse((await server.zmx(['ls', '--json'])).stdout) as { name: string; root: string }[]).find((s) => s.name === 'made-here');
    assert.equal(made?.root, server.home);
    assert.equal(client.frontPid(), null, 'the client started no server of its own');
  });

  test('a wrong code and a reused code are refused with the message a user needs', async (t) => {
    const { server, address } = await listening(t);
    const client = await paired(t, server, address);
    const used = await pairingCode(server);
    assertOk(await client.zmx(['pair', 'first', address, used]), 'first use');
    const again = await client.zmx(['pair', 'second', address, used]);
    assertOneLineError(again, 'reused code', /code is wrong, used or expired.*zmx pair on the server/);
    const wrong = await client.zmx(['pair', 'third', address, 'ABCDE-FGHJK']);
    assertOneLineError(wrong, 'wrong code', /code is wrong, used or expired/);
    assertOneLineError(await client.zmx(['pair', 'x', address, 'nope']), 'malformed code', /not a pairing code/);
    assert.deepEqual(JSON.parse((await client.zmx(['host', 'ls', '--json'])).stdout).map((h: { name: string }) => h.name).sort(), ['box', 'first']);
  });

  test('a key the server does not know gets "key not authorized on HOST" with what to run, within seconds', async (t) => {
    const { server, address } = await listening(t);
    const stranger = sandbox(t);
    const serverKey = (await server.zmx(['keys', 'show', '--server'])).stdout.trim();
    assertOk(await stranger.zmx(['host', 'add', 'box', address, '--key', serverKey]), 'host add');
    const started = Date.now();
    const r = await stranger.zmx(['ls', '-H', 'box']);
    assertOneLineError(r, 'unauthorized key', /key not authorized on box \(fingerprint SHA256:[0-9a-f]{16}\); on that server run: zmx keys authorize \S{40}/);
    assert.ok(Date.now() - started < 10_000, 'no hang');
    // Authorizing it lets it in.
    const key = (await stranger.zmx(['keys', 'show'])).stdout.trim();
    assertOk(await server.zmx(['keys', 'authorize', key, '--name', 'stranger']), 'authorize');
    assertOk(await stranger.zmx(['ls', '-H', 'box']), 'ls after authorize');
  });

  test('revoking a key cuts its live connection at once; a new one is refused', async (t) => {
    const { server, address } = await listening(t);
    assertOk(await server.zmx(['new', '-s', 'watched', '-d']), 'new');
    const client = await paired(t, server, address);
    // A live stream: tail follows the session over TCP.
    const tail = spawn(ZMX_BIN, ['tail', '-H', 'box', 'watched'], { env: client.env, stdio: ['ignore', 'pipe', 'pipe'] });
    t.after(() => { tail.kill('SIGKILL'); });
    let stderr = '';
    tail.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const ended = new Promise<number | null>((resolve) => tail.on('exit', (code) => resolve(code)));
    await until(async () => ((JSON.parse((await server.zmx(['ls', '--json'])).stdout) as { clients: number }[])[0]?.clients ?? 0) === 1, 'the tail to follow', 15_000);
    const clientKey = (await client.zmx(['keys', 'show'])).stdout.trim();
    assertOk(await server.zmx(['keys', 'revoke', clientKey]), 'revoke');
    const code = await Promise.race([ended, new Promise<'hung'>((r) => setTimeout(() => r('hung'), 10_000))]);
    assert.notEqual(code, 'hung', 'the revoked client was cut');
    assert.notEqual(code, 0);
    assert.match(stderr, /revoked/);
    assertOneLineError(await client.zmx(['ls', '-H', 'box']), 'a new connection after revoke', /not authorized on box/);
  });

  test('a listening server with no session yet stays after its pty host has gone: pairing and -H still reach it', async (t) => {
    // At a tenth of the time scale the unused pty host leaves after 1 s and
    // the front stops counting a silent client after 0.6 s (src/common/constants.ts).
    const { server, address } = await listening(t, { ZMX_TEST_TIMESCALE: '0.1' });
    const front = server.frontPid();
    const host = server.ptyhostPid();
    await until(() => !alive(host), 'the unused pty host to exit', 15_000);
    // Past the heartbeat timeout and a tick of the front (1 s): a local front would be gone by now.
    await delay(3_000);
    assert.ok(alive(front), 'the listening front is still running');
    const client = await paired(t, server, address, 'box', { ZMX_TEST_TIMESCALE: '0.1' });
    assertOk(await client.zmx(['new', '-H', 'box', '-s', 'later', '-d']), 'new -H after the pause');
    assert.equal((await client.zmx(['ls', '-H', 'box', '--short'])).stdout, 'later\n');
  });

  test('bad addresses and unknown hosts get one-line errors', async (t) => {
    const sb = sandbox(t);
    assertOneLineError(await sb.zmx(['server', 'start', '--listen', 'http://0.0.0.0:80']), 'bad listen', /tcp:\/\/HOST:PORT/);
    assertOneLineError(await sb.zmx(['host', 'add', 'x', 'tcp://127.0.0.1:1', '--key', 'short']), 'bad key', /40 characters of Z85/);
    assertOneLineError(await sb.zmx(['ls', '-H', 'nowhere']), 'unknown host', /unknown host "nowhere"; add it with: zmx host add/);
    assertOneLineError(await sb.zmx(['server', 'status']), 'no server', /no server running/);
    assert.equal(sb.frontPid(), null);
  });
});
