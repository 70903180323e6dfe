/**
 * `zmx mcp --print-config CLIENT`: the configuration each MCP client takes
 * to start `zmx mcp`, exactly as it reads it. The executable is this
 * installation's bin/zmx by absolute path (a client's PATH may not have
 * it), and the environment holds only what `zmx mcp` needs and would not
 * find under the minimal environment MCP clients give the servers they
 * start (HOME, LOGNAME, PATH, SHELL, TERM, USER).
 */
import { join } from 'node:path';
import { packagePath } from '../common/entries.js';
import { configDir, runtimeDir } from '../common/paths.js';
import { KeyStore } from '../platform/keystore.js';
import type { McpClientName } from './clients.js';

/** This installation's zmx executable. */
export const ZMX_BIN = packagePath('bin/zmx');
/** The name of zmx's server in each configuration. */
const SERVER_NAME = 'zmx';
/** What MCP clients pass on to a stdio server unless configured (the MCP SDK's getDefaultEnvironment). */
const CLIENT_ENV = ['HOME', 'LOGNAME', 'PATH', 'SHELL', 'TERM', 'USER'];


export interface ServerEntry {
  command: string;
  args: string[];
  env: Record<string, string>;
}

/** The environment a client started from `env` would give zmx mcp. */
function clientEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(CLIENT_ENV.filter((k) => env[k] !== undefined).map((k) => [k, env[k]]));
}

/**
 * What zmx mcp needs in its environment to reach what `env` reaches: the
 * run-time directory (local server only) and the config directory (keys,
 * hosts) when the client's environment would find others, and the D-Bus
 * session when the client key is in the keychain.
 */
export function neededEnv(env: NodeJS.ProcessEnv, local: boolean, keyInKeychain: boolean): Record<string, string> {
  const bare = clientEnv(env);
  const out: Record<string, string> = {};
  if (local && runtimeDir(bare) !== runtimeDir(env)) out['ZMX_DIR'] = runtimeDir(env);
  if (configDir(bare) !== configDir(env)) out['ZMX_CONFIG_DIR'] = configDir(env);
  if (keyInKeychain && env['DBUS_SESSION_BUS_ADDRESS']) out['DBUS_SESSION_BUS_ADDRESS'] = env['DBUS_SESSION_BUS_ADDRESS'];
  return out;
}

/** `zmx mcp [-H HOST] -t SESSION` with what it needs, for a client started from `env`. */
export function serverEntry(session: string, host: string | null, env: NodeJS.ProcessEnv, bin = ZMX_BIN): ServerEntry {
  const keyInKeychain = new KeyStore(join(configDir(env), 'keys')).location('client') === 'keyring';
  return { command: bin, args: ['mcp', ...(host ? ['-H', host] : []), '-t', session], env: neededEnv(env, host === null, keyInKeychain) };
}

function withEnv(e: ServerEntry): { command: string; args: string[]; env?: Record<string, string> } {
  return { command: e.command, args: e.args, ...(Object.keys(e.env).length ? { env: e.env } : {}) };
}

/** A TOML basic string (a JSON string is one: the same quotes and escapes). */
const tomlString = (s: string) => JSON.stringify(s);

/**
 * The configuration for `client`:
 * - claude: Claude Code's JSON (a project's .mcp.json, `claude --mcp-config FILE`);
 * - codex: the [mcp_servers.zmx] table of ~/.codex/config.toml;
 * - cursor: .cursor/mcp.json or ~/.cursor/mcp.json;
 * - vscode: .vscode/mcp.json ("servers", with a type).
 */
export function clientConfig(client: McpClientName, e: ServerEntry): string {
  switch (client) {
    case 'claude':
      return JSON.stringify({ mcpServers: { [SERVER_NAME]: { type: 'stdio', ...withEnv(e) } } }, null, 2) + '\n';
    case 'cursor':
      return JSON.stringify({ mcpServers: { [SERVER_NAME]: withEnv(e) } }, null, 2) + '\n';
    case 'vscode':
      return JSON.stringify({ servers: { [SERVER_NAME]: { type: 'stdio', ...withEnv(e) } } }, null, 2) + '\n';
    case 'codex': {
      const lines = [`[mcp_servers.${SERVER_NAME}]`, `command = ${tomlString(e.command)}`, `args = [${e.args.map(tomlString).join(', ')}]`];
      const env = Object.entries(e.env);
      if (env.length) lines.push(`env = { ${env.map(([k, v]) => `${k} = ${tomlString(v)}`).join(', ')} }`);
      return lines.join('\n') + '\n';
    }
  }
}
