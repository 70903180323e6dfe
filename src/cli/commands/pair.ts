import { hostname } from 'node:os';
import type { CommandSpec } from '../command.js';
import { UsageError } from '../command.js';
import type { Connection } from '../../client/connection.js';
import { Hosts } from '../../client/hosts.js';
import { checkTcpEndpoint } from '../../platform/listen.js';
import { normalizeCode, pairingEndpoint, pairingKeyPair } from '../../common/pairing.js';
import { fingerprint } from '../../common/z85.js';
import { ZmxError } from '../../common/errors.js';
import { helloProof } from '../../common/curve.js';
import { KeyStore } from '../../platform/keystore.js';

/** How long the client waits for the pairing endpoint: a wrong code is silence, so keep it short. */
const PAIR_TIMEOUT_MS = 5_000;

export const pair: CommandSpec = {
  name: 'pair',
  aliases: [],
  summary: 'Pair a client with a server by a one-time code (no keys to copy)',
  args: [
    { name: 'name', description: 'client side: what to call the server (-H NAME)' },
    { name: 'address', description: 'client side: tcp://HOST:PORT the server listens on' },
    { name: 'code', description: 'client side: the code the server printed' },
  ],
  options: [],
  details: 'On the server (listening: zmx server start --listen ...), run zmx pair: it prints a code, good once, for 5 minutes. On the client, run zmx pair NAME tcp://HOST:PORT CODE. Afterwards the server admits the client\'s key and the client knows the server\'s, as host NAME. Pairing uses the port after the listening one. Only public keys cross the wire.',
  examples: ['zmx pair', 'zmx pair box tcp://10.0.0.5:7750 K7QMZ-3RTPA'],
  async run(ctx, args) {
    if (args.length === 0) {
      const conn = await ctx.connect(false);
      if (!conn) throw new UsageError('no server running here; start one listening for clients: zmx server start --listen tcp://ADDRESS:PORT');
      const r = (await conn.request('server.pair', {})).result;
      const minutes = Math.round((r.expires - Date.now()) / 60_000);
      ctx.out(`pairing code ${r.code} (good once, for ${minutes} minutes; pairing on ${r.endpoint})\n`);
      ctx.out(`on the client run: zmx pair NAME tcp://THIS_HOST:PORT ${r.code}\n`);
      return 0;
    }
    if (args.length !== 3) throw new UsageError('on the client: zmx pair NAME tcp://HOST:PORT CODE (on the server: zmx pair)');
    const [name, address, typed] = args as [string, string, string];
    const endpoint = checkTcpEndpoint(address);
    const code = normalizeCode(typed);
    const hosts = new Hosts();
    const where = pairingEndpoint(endpoint);
    const silence = `pairing with ${address} failed: the code is wrong, used or expired, or ${where} cannot be reached; run zmx pair on the server for a new code`;
    let conn: Connection;
    try {
      const { Connection } = await import('../../client/connection.js');
      conn = await Connection.to(where, pairingKeyPair(code).publicKey, `the pairing endpoint ${where}`, { timeoutMs: PAIR_TIMEOUT_MS, silence });
    } catch (err) {
      // A wrong code is silence; a code just used is refused by ZAP until its endpoint closes.
      if (err instanceof ZmxError && (err.code === 'ETIMEDOUT' || err.code === 'EDENIED')) throw new UsageError(silence);
      throw err;
    }
    try {
      const me = new KeyStore().loadOrCreate('client');
      const ts = Date.now();
      const claim = { name: hostname(), key: me.publicKey, proof: helloProof(me.publicKey, me.secretKey, pairingKeyPair(code).publicKey, ts), ts };
      const { serverKey } = (await conn.request('pair.claim', claim, [], { timeoutMs: PAIR_TIMEOUT_MS })).result;
      const entry = hosts.add({ name, endpoint, serverKey });
      ctx.out(`paired with ${name} (${endpoint}, server key ${fingerprint(entry.serverKey)}); try: zmx ls -H ${name}\n`);
    } finally {
      await conn.close();
    }
    return 0;
  },
};
