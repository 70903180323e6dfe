/**
 * `zmx mcp` in the CLI's own process (src/cli/commands/mcp.ts imports this
 * when the command runs, so no other command loads it): connects to the
 * server first, then loads the MCP SDK (src/mcp/server.ts) while the
 * CurveZMQ handshake and hello go on, and serves MCP on stdin/stdout until
 * stdin ends. Nothing but JSON-RPC goes to stdout; a problem is one line on
 * stderr.
 */
import { ZmxError } from '../common/errors.js';
import { runtimePaths, runtimeDir, whereLooked } from '../common/paths.js';
import { Connection } from '../client/connection.js';
import { Hosts } from '../client/hosts.js';
import { connectionBackend, type OpenedBackend } from './backend.js';

export interface McpRunOptions {
  session: string;
  /** A host of `zmx host add`, or null for this machine's server. */
  host: string | null;
  env: NodeJS.ProcessEnv;
  log(msg: string): void;
}

/** Serves MCP until stdin ends. */
export async function runMcp(o: McpRunOptions): Promise<void> {
  const open = async (): Promise<OpenedBackend> => {
    // Found again at each attempt: a server that starts later, in either run-time directory, is found.
    const conn = o.host
      ? await Connection.remote(new Hosts().get(o.host))
      : await Connection.local({ spawn: false, paths: runtimePaths(runtimeDir(o.env)) });
    if (!conn) throw new ZmxError('EUNAVAIL', `no zmx server is running on this machine: ${whereLooked(o.env)}; or start the session with zmx new -d -s ${o.session}`);
    return connectionBackend(conn, o.session);
  };
  const first = open();
  first.catch(() => {}); // answered by the first call that needs it
  const { serveStdio } = await import('./server.js');
  // A client that stops us by signal (after closing stdin, or instead) gets the same orderly end:
  // the commands we started are ended. A second signal ends the process at once.
  const stop = () => process.stdin.destroy();
  for (const s of STOP_SIGNALS) process.once(s, stop);
  try {
    await serveStdio({ session: o.session, open, first, log: o.log });
  } finally {
    for (const s of STOP_SIGNALS) process.off(s, stop);
  }
}

/** Signals that end `zmx mcp` as the end of stdin does. */
const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
