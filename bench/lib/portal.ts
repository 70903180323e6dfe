/**
 * The portal workload's world: 20 real source files, a zmx server (local
 * and on TCP, with a paired client) whose session's root holds them, and a
 * throwaway sshd that sees the same files. zmx is driven as an agent's
 * tools drive it (an in-process client: fs.read, fs.readFiles, exec.*) and
 * as a user does (the `zmx fs`/`exec`/`cp` commands) — each only when this
 * build has it.
 */
import { copyFileSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { Connection } from '../../src/client/connection.js';
import { KeyStore } from '../../src/platform/keystore.js';
import { Cleanup, freePort, runOk } from './procs.js';
import { Sshd } from './sshd.js';
import { ROOT, Zmx, ZMX_BIN, pairedClient } from './zmx.js';

/** Files read per operation, taken from the project's own src/. */
export const FILE_COUNT = 20;
/** The session whose root holds them. */
export const SESSION = 'portal';
/** Host names of the zmx server: direct on loopback, and through the delay proxy. */
export const ZMX_HOST = 'box';
/** Largest slice asked of fs.read (the server caps it at PORTAL.chunkBytes). */
const READ_SLICE = 1024 * 1024;
/** How long one exec.read waits for output before answering. */
const EXEC_WAIT_MS = 10_000;

/** Commands this zmx build must have for its CLI contenders. */
export function zmxCliMissing(commands: Set<string>, ...needed: string[]): string | undefined {
  const lacking = needed.filter((n) => !commands.has(n));
  return lacking.length > 0 ? `not run: zmx ${lacking.join(', ')} not available in this build (zmx help lists no such command)` : undefined;
}

/** 20 .ts files of src/, sorted, as paths relative to src/. */
function pickSources(): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts') && !e.name.endsWith('.test.ts')) out.push(relative(join(ROOT, 'src'), p));
    }
  };
  walk(join(ROOT, 'src'));
  return out.slice(0, FILE_COUNT);
}

export interface World {
  /** The session root (zmx's) where the files are, under relative `files`. */
  root: string;
  files: string[];
  bytes: number;
  server: Zmx;
  client: Zmx;
  address: string;
  serverKey: string;
  sshd: Sshd | null;
  sshdError: string | null;
}

export async function makeWorld(cleanup: Cleanup, withSshd: boolean): Promise<World> {
  const server = new Zmx(cleanup, 'portal');
  const root = join(server.home, 'work');
  const files = pickSources();
  let bytes = 0;
  for (const f of files) {
    mkdirSync(join(root, f, '..'), { recursive: true });
    copyFileSync(join(ROOT, 'src', f), join(root, f));
    bytes += statSync(join(root, f)).size;
  }
  const address = `tcp://127.0.0.1:${await freePort()}`;
  await server.start(address);
  const client = await pairedClient(cleanup, server, address, ZMX_HOST);
  const serverKey = (await server.zmxOk(['keys', 'show', '--server'])).trim();
  const conn = await server.connection();
  await conn.request('session.create', { name: SESSION, cmd: ['sh', '-c', 'exec cat'], cwd: root, env: {}, cols: 80, rows: 24, ifMissing: false });
  let sshd: Sshd | null = null;
  let sshdError: string | null = null;
  if (withSshd) {
    try { sshd = await Sshd.start(cleanup); } catch (err) { sshdError = err instanceof Error ? err.message : String(err); }
  }
  return { root, files, bytes, server, client, address, serverKey, sshd, sshdError };
}

/** An agent's view of the session through one client connection. */
export class PortalClient {
  constructor(private readonly conn: Connection) {}

  /** A client of `world`'s server at `endpoint` (the server itself, or a proxy before it), with the paired client's key. */
  static async over(cleanup: Cleanup, world: World, endpoint: string): Promise<PortalClient> {
    const keys = new KeyStore(join(world.client.env['ZMX_CONFIG_DIR']!, 'keys'), 'file');
    const conn = await Connection.to(endpoint, world.serverKey, ZMX_HOST, { keys });
    cleanup.defer('portal connection', () => conn.close());
    return new PortalClient(conn);
  }

  static async local(world: World): Promise<PortalClient> {
    return new PortalClient(await world.server.connection());
  }

  /** Throws (with the server's message) when the server does not serve the portal. */
  async check(): Promise<void> {
    await this.conn.request('fs.stat', { name: SESSION, path: '.' });
  }

  async read(path: string): Promise<Buffer> {
    const parts: Buffer[] = [];
    let offset = 0;
    for (;;) {
      const r = await this.conn.request('fs.read', { name: SESSION, path, offset, length: READ_SLICE });
      const data = r.frames[0] ?? Buffer.alloc(0);
      parts.push(data);
      offset += data.length;
      if (data.length === 0 || offset >= r.result.size) return Buffer.concat(parts);
    }
  }

  async readFiles(paths: string[]): Promise<number> {
    const r = await this.conn.request('fs.readFiles', { name: SESSION, paths });
    const bad = r.result.files.find((f) => f.error);
    if (bad) throw new Error(`fs.readFiles ${bad.path}: ${JSON.stringify(bad.error)}`);
    return r.frames[0]?.length ?? 0;
  }

  /** Runs argv in the root; resolves with its stdout once it has ended. */
  async exec(argv: string[]): Promise<string> {
    const started = await this.conn.request('exec.start', { name: SESSION, argv, shell: '', cwd: '', env: {}, timeoutMs: 0, stdin: false });
    const id = started.result.exec.id;
    let out = '';
    let stdout = 0;
    let stderr = 0;
    for (;;) {
      const r = await this.conn.request('exec.read', { exec: id, stdout, stderr, waitMs: EXEC_WAIT_MS, max: READ_SLICE });
      out += (r.frames[0] ?? Buffer.alloc(0)).toString();
      stdout = r.result.stdout;
      stderr = r.result.stderr;
      if (r.result.exec.result) return out;
    }
  }
}

/** `zmx fs read` of one file through the CLI (`-H HOST` when given). */
export async function cliRead(world: World, path: string, host?: string): Promise<number> {
  const who = host ? world.client : world.server;
  const out = await runOk(ZMX_BIN, ['fs', 'read', ...(host ? ['-H', host] : []), '-t', SESSION, path], { env: who.env, cwd: who.home });
  return out.length;
}

export async function cliExec(world: World, argv: string[], host?: string): Promise<string> {
  const who = host ? world.client : world.server;
  return runOk(ZMX_BIN, ['exec', ...(host ? ['-H', host] : []), '-t', SESSION, '-n', '--', ...argv], { env: who.env, cwd: who.home });
}

