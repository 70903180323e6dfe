/**
 * Where the front listens besides its IPC socket: TCP endpoints set by
 * `zmx server start --listen`, kept in the run-time directory so a front
 * started again (after a crash or `server stop`) listens there too.
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { ZmxError } from '../common/errors.js';

/** tcp://ADDRESS:PORT, the address an IPv4 literal, [IPv6] literal or host name, and the port 1-65535. */
const TCP_ENDPOINT = /^tcp:\/\/(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/;
const MAX_PORT = 65_535;

/** Checks an address given to --listen or `host add`; returns it as is. */
export function checkTcpEndpoint(endpoint: string): string {
  const m = TCP_ENDPOINT.exec(endpoint);
  const port = m ? Number(m[2]) : 0;
  if (!m || port < 1 || port > MAX_PORT) throw new ZmxError('EINVAL', `"${endpoint}" is not an address zmx can use; write it as tcp://HOST:PORT (e.g. tcp://127.0.0.1:7750)`);
  return endpoint;
}

export function readListen(file: string): string[] {
  if (!existsSync(file)) return [];
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as { endpoints?: unknown };
    return Array.isArray(parsed.endpoints) ? parsed.endpoints.filter((e): e is string => typeof e === 'string' && TCP_ENDPOINT.test(e)) : [];
  } catch {
    return [];
  }
}

export function writeListen(file: string, endpoints: string[]): void {
  if (endpoints.length === 0) rmSync(file, { force: true });
  else writeFileSync(file, JSON.stringify({ endpoints }) + '\n', { mode: 0o600 });
}
