/**
 * Portal panes: a local pane whose agent's tools act on a session elsewhere.
 * zmx writes an MCP configuration naming `zmx mcp [-H HOST] -t SESSION`
 * (the standard `mcpServers` JSON that Claude Code, Cursor, Gemini CLI and
 * others read), puts its path in the pane's environment, and for the agents
 * it knows adds the command-line flag that loads it.
 *
 * Transport-free: strings and argv in, strings and argv out; the pty host
 * writes the file.
 */
import { basename } from 'node:path';
import { packagePath } from '../common/entries.js';
import { ZmxError } from '../common/errors.js';
import { validateSessionName } from '../common/names.js';

/** This installation's zmx executable: what the MCP configuration starts. */
export const ZMX_BIN = packagePath('bin/zmx');
/** The name of zmx's server in the MCP configuration. */
export const MCP_SERVER_NAME = 'zmx';
/** A portal to the local server: `local:SESSION` or `:SESSION`. */
export const LOCAL_HOST = 'local';
/** Host names as `zmx host add` takes them (src/client/hosts.ts). */
const HOST_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export interface PortalTarget {
  /** '' for the local server. */
  host: string;
  session: string;
}

/** Checks a portal target; 'local' becomes ''. */
export function portalTarget(host: string, session: string): PortalTarget {
  const h = host === LOCAL_HOST ? '' : host;
  if (h !== '' && !HOST_NAME.test(h)) throw new ZmxError('EINVAL', `portal host ${JSON.stringify(host)} is not a host name (zmx host ls lists them)`);
  validateSessionName(session);
  return { host: h, session };
}

/** How the pane names its portal: `HOST:SESSION` (`local:SESSION` for this server). */
export function portalName(t: PortalTarget): string {
  return `${t.host || LOCAL_HOST}:${t.session}`;
}

/** `zmx mcp [-H HOST] -t SESSION`, without the executable. */
export function mcpArgs(t: PortalTarget): string[] {
  return ['mcp', ...(t.host ? ['-H', t.host] : []), '-t', t.session];
}

/** The MCP configuration file's contents. */
export function mcpConfig(t: PortalTarget, bin = ZMX_BIN): string {
  return JSON.stringify({ mcpServers: { [MCP_SERVER_NAME]: { command: bin, args: mcpArgs(t) } } }) + '\n';
}

/**
 * Agents zmx knows, by executable name: the arguments (put right after the
 * executable) that make each load the portal's MCP server.
 * - claude: `--mcp-config FILE` (Claude Code reads the file).
 * - codex: no config-file flag; `-c` overrides set mcp_servers.zmx (TOML values;
 *   a JSON string or array of strings is valid TOML).
 */
const AGENTS: Record<string, (file: string, t: PortalTarget, bin: string) => string[]> = {
  claude: (file) => ['--mcp-config', file],
  codex: (_file, t, bin) => [
    '-c', `mcp_servers.${MCP_SERVER_NAME}.command=${JSON.stringify(bin)}`,
    '-c', `mcp_servers.${MCP_SERVER_NAME}.args=${JSON.stringify(mcpArgs(t))}`,
  ],
};

/** The agents that get a flag; the others read ZMX_MCP_CONFIG. */
export const KNOWN_AGENTS = Object.keys(AGENTS);

/** The pane's argv: a known agent gets the flag that loads the configuration. */
export function portalArgv(cmd: readonly string[], file: string, t: PortalTarget, bin = ZMX_BIN): string[] {
  const [exe, ...rest] = cmd;
  if (exe === undefined) return [];
  const flags = AGENTS[basename(exe)];
  return flags ? [exe, ...flags(file, t, bin), ...rest] : [...cmd];
}

/** What the pane's environment gets. */
export function portalEnv(t: PortalTarget, file: string): Record<string, string> {
  return { ZMX_PORTAL: portalName(t), ZMX_MCP_CONFIG: file };
}
