import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { CommandSpec } from '../command.js';
import { UsageError } from '../command.js';
import { Hosts } from '../../client/hosts.js';

/** The MCP server's own process (src/mcp/main.ts): run by path, so the CLI does not load the MCP SDK. */
const MCP_SCRIPT = fileURLToPath(new URL('../../mcp/main.js', import.meta.url));

/** Signals passed on to the MCP process, so stopping `zmx mcp` stops it. */
const FORWARDED = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

export const mcp: CommandSpec = {
  name: 'mcp',
  aliases: [],
  summary: 'Serve MCP on stdio: an agent\'s file, command and terminal tools on one session',
  args: [],
  options: [{ flags: '-t, --target <session>', description: 'the session the tools act on (required; "." is this one)' }],
  details: [
    'A Model Context Protocol server on stdin/stdout, for an agent to start (claude mcp add zmx -- zmx mcp -H HOST -t SESSION). Its tools act on the session\'s root: read_file, read_files, write_file, edit_file, list_directory, glob, grep and run_command; and on its terminal: terminal_send, terminal_read; list_sessions lists the server\'s sessions. Paths are relative to the root; one leading outside is refused (EOUTSIDE). A tool\'s failure is a tool error "CODE: message"; a server that cannot be reached answers EUNAVAIL until it can.',
    'stdout carries MCP messages only; problems go to stderr. It exits when stdin closes. The server is never started from here: the session must exist.',
  ].join('\n'),
  examples: ['zmx mcp -t dev', 'zmx mcp -H buildbox -t app', 'claude mcp add zmx -- zmx mcp -H buildbox -t app'],
  async run(ctx, _args, opts) {
    if (opts['target'] === undefined) throw new UsageError('mcp needs the session its tools act on: zmx mcp -t SESSION');
    const session = ctx.sessionName(String(opts['target']));
    if (ctx.host) new Hosts().get(ctx.host); // an unknown host is a one-line error naming zmx host add
    const child = spawn(process.execPath, [MCP_SCRIPT, '--session', session, ...(ctx.host ? ['--host', ctx.host] : [])], { stdio: 'inherit', env: ctx.env });
    const forward = (signal: NodeJS.Signals) => { child.kill(signal); };
    for (const s of FORWARDED) process.on(s, forward);
    try {
      return await new Promise<number>((resolve, reject) => {
        child.once('error', reject);
        child.once('exit', (code, signal) => resolve(code ?? 128 + (signal ? constants.signals[signal] : 0)));
      });
    } finally {
      for (const s of FORWARDED) process.off(s, forward);
    }
  },
};
