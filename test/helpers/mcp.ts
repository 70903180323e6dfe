/**
 * The real MCP SDK client on `zmx mcp`, for the black-box MCP tests: it
 * spawns the process as MCP clients do (StdioClientTransport), keeps its
 * stderr, and checks on close that the process is gone.
 */
import assert from 'node:assert/strict';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { ZMX_BIN, alive, until, type Sandbox } from './harness.js';

export interface McpSession {
  client: Client;
  transport: StdioClientTransport;
  stderr(): string;
}

/**
 * An MCP client on `COMMAND ARGS` (default: bin/zmx mcp ARGS). `env` is what
 * the client configures on top of the SDK's default environment (HOME,
 * LOGNAME, PATH, SHELL, TERM, USER of this process); undefined gives the
 * default environment alone, as a client configured with no env does.
 */
export async function mcpClient(args: string[], env: Record<string, string> | undefined, command = ZMX_BIN): Promise<McpSession> {
  const transport = new StdioClientTransport({ command, args, ...(env ? { env } : {}), stderr: 'pipe' });
  let stderr = '';
  transport.stderr?.on('data', (d: Buffer) => { stderr += d.toString(); });
  const client = new Client({ name: 'zmx-test', version: '0' });
  await client.connect(transport);
  return { client, transport, stderr: () => stderr };
}

/** An MCP client on `zmx mcp ARGS` with the sandbox's environment. */
export function sandboxMcp(sb: Sandbox, args: string[]): Promise<McpSession> {
  return mcpClient(['mcp', ...args], sb.env as Record<string, string>);
}

/** Ends the MCP process (closing its stdin) and checks, by pid, that it is gone. */
export async function closeMcp(c: McpSession): Promise<void> {
  const pid = c.transport.pid;
  await c.client.close();
  const gone = await until(() => !alive(pid ?? null), 'zmx mcp to exit').then(() => true, () => false);
  if (pid && alive(pid)) try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
  assert.ok(gone, 'zmx mcp exits when stdin closes');
}

export async function call(client: Client, name: string, args: Record<string, unknown> = {}): Promise<CallToolResult> {
  return (await client.callTool({ name, arguments: args })) as CallToolResult;
}

export function text(r: CallToolResult): string {
  return r.content.map((c) => (c.type === 'text' ? c.text : `<${c.type}>`)).join('\n');
}
