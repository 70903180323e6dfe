/**
 * The `zmx mcp` process: `node main.js --session NAME [--host HOST]`, its
 * stdin and stdout the MCP client's. The CLI (src/cli/commands/mcp.ts) runs
 * it by file path, as it does the server, so the CLI never loads the MCP SDK.
 * Nothing but JSON-RPC goes to stdout; a problem is one line on stderr.
 */
import { parseArgs } from 'node:util';
import { ZmxError } from '../common/errors.js';
import { Connection } from '../client/connection.js';
import { Hosts } from '../client/hosts.js';
import { connectionBackend, serveStdio } from './server.js';

const { values } = parseArgs({ options: { session: { type: 'string' }, host: { type: 'string' } }, strict: true });
const session = values.session;
if (!session) {
  process.stderr.write('zmx mcp: --session is required\n');
  process.exit(2);
}
const host = values.host || null;

async function open() {
  const conn = host ? await Connection.remote(new Hosts().get(host)) : await Connection.local({ spawn: false });
  if (!conn) throw new ZmxError('EUNAVAIL', 'no zmx server is running on this machine (for this ZMX_DIR); start the session with zmx new -d -s NAME');
  return connectionBackend(conn, session!);
}

// A write to a client that went away is the end, not a crash.
process.stdout.on('error', () => process.exit(0));
await serveStdio({ session, open, log: (msg) => process.stderr.write(`${msg}\n`) });
process.exit(0);
