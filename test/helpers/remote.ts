/**
 * A server sandbox listening on loopback and a client sandbox paired with
 * it, for CLI tests that check a command also works with -H HOST.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import type { Sandbox } from './harness.js';
import { sandbox, assertOk } from './assert.js';

type After = { after(fn: () => Promise<void>): void };

/** A free loopback port whose successor (the pairing port) is free too. */
export async function freePorts(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const s = createServer();
      s.once('error', reject);
      s.listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const nextFree = await new Promise<boolean>((resolve) => {
      const s = createServer();
      s.once('error', () => resolve(false));
      s.listen(port + 1, '127.0.0.1', () => s.close(() => resolve(true)));
    });
    if (nextFree && port < 65_535) return port;
  }
}

/** A server sandbox listening on TCP. */
export async function listening(t: After, env: NodeJS.ProcessEnv = {}): Promise<{ server: Sandbox; address: string }> {
  const server = sandbox(t, env);
  const address = `tcp://127.0.0.1:${await freePorts()}`;
  const r = await server.zmx(['server', 'start', '--listen', address]);
  assertOk(r, 'server start');
  assert.match(r.stdout, new RegExp(`^listening on ${address}$`, 'm'));
  server.notePids();
  return { server, address };
}

/** A fresh one-time code from `zmx pair` on the server. */
export async function pairingCode(server: Sandbox): Promise<string> {
  const r = await server.zmx(['pair']);
  assertOk(r, 'zmx pair on the server');
  const m = /pairing code (\S+)/.exec(r.stdout);
  assert.ok(m, `zmx pair printed no code: ${JSON.stringify(r.stdout)}`);
  return m[1]!;
}

/** A client sandbox paired with `server` as host `name`. */
export async function paired(t: After, server: Sandbox, address: string, name = 'box', env: NodeJS.ProcessEnv = {}): Promise<Sandbox> {
  const client = sandbox(t, env);
  const code = await pairingCode(server);
  const r = await client.zmx(['pair', name, address, code]);
  assertOk(r, 'pair');
  assert.match(r.stdout, new RegExp(`^paired with ${name} `));
  return client;
}

/** A client sandbox that reaches `server` as host "box" at `address` (a proxy's, say). */
export async function clientOf(t: After, server: Sandbox, address: string): Promise<Sandbox> {
  const client = sandbox(t);
  const serverKey = (await server.zmx(['keys', 'show', '--server'])).stdout.trim();
  assertOk(await client.zmx(['host', 'add', 'box', address, '--key', serverKey]), 'host add');
  const clientKey = (await client.zmx(['keys', 'show'])).stdout.trim();
  assertOk(await server.zmx(['keys', 'authorize', clientKey, '--name', 'test client']), 'authorize');
  return client;
}

/** How many clients are attached to session `name` on `server`. */
export async function attachedClients(server: Sandbox, name: string): Promise<number> {
  const sessions = JSON.parse((await server.zmx(['ls', '--json'])).stdout) as { name: string; clients: number }[];
  return sessions.find((s) => s.name === name)?.clients ?? 0;
}
