/** The MCP clients `zmx mcp --print-config` writes a configuration for (src/mcp/config.ts). No imports: the CLI lists them in its help. */
export const MCP_CLIENTS = ['claude', 'codex', 'cursor', 'vscode'] as const;
export type McpClientName = (typeof MCP_CLIENTS)[number];

export function isMcpClient(name: string): name is McpClientName {
  return (MCP_CLIENTS as readonly string[]).includes(name);
}
