/**
 * What the red-team suite shares: a second key authorized with limits (a
 * root of its own), and requests that answer a Reply or an Error header.
 */
import { join } from 'node:path';
import { MsgType, type OpName } from '../../src/common/protocol.js';
import { AuthorizedKeys } from '../../src/platform/authorized.js';
import { generateKeyPair, type KeyPair } from '../../src/platform/zmq.js';
import type { Operation } from '../../src/common/portal.js';
import type { ServerContext, WireClient } from '../transport/wire.js';

export const ALL_OPS: Operation[] = ['fs.read', 'fs.write', 'exec', 'pty', 'admin'];

/** A key authorized with `root` (null: none) and every operation, connected and welcomed. */
export async function keyedClient(ctx: ServerContext, root: string | null, name = 'agent'): Promise<{ client: WireClient; pair: KeyPair; keys: AuthorizedKeys }> {
  const pair = generateKeyPair();
  const keys = new AuthorizedKeys(join(ctx.sb.configDir, 'authorized_keys.json'));
  keys.add({ key: pair.publicKey, name, root, allow: ALL_OPS, readOnly: false });
  const client = ctx.open(pair);
  const w = await client.handshake();
  if (w.header.t !== MsgType.Welcome) throw new Error(`no Welcome for the ${name} key: ${JSON.stringify(w.header)}`);
  return { client, pair, keys };
}

export interface Answered {
  ok: boolean;
  /** The error code, or 'OK'. */
  code: string;
  result: Record<string, unknown>;
  frames: Buffer[];
  message: string;
}

/** One request; its Reply or Error, whichever comes. */
export async function ask(c: WireClient, op: OpName, args: Record<string, unknown>, frames: Buffer[] = [], timeoutMs = 30_000): Promise<Answered> {
  const id = c.sendRequest(op, args, frames);
  const m = await c.answer(id, `the answer to ${op}`, timeoutMs);
  if (m.header.t === MsgType.Reply) return { ok: true, code: 'OK', result: m.header.result, frames: m.frames, message: '' };
  const h = m.header as { code: string; message: string };
  return { ok: false, code: h.code, result: {}, frames: [], message: h.message };
}
