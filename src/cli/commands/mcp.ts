import type { CommandSpec } from '../command.js';
import { UsageError } from '../command.js';
import { Hosts } from '../../client/hosts.js';
import { MCP_CLIENTS, isMcpClient } from '../../mcp/clients.js';

export const mcp: CommandSpec = {
  name: 'mcp',
  aliases: [],
  summary: 'Serve MCP on stdio: an agent\'s file, command and terminal tools on one session',
  args: [],
  options: [
    { flags: '-t, --target <session>', description: 'the session the tools act on (required; "." is this one)' },
    { flags: '--print-config <client>', description: `print the configuration ${MCP_CLIENTS.join(', ')} takes to start this server, and exit` },
  ],
  details: [
    'A Model Context Protocol server on stdin/stdout, for an agent to start (claude mcp add zmx -- zmx mcp -H HOST -t SESSION). Its tools act on the session\'s root: read_file, read_files, write_file, edit_file, list_directory, glob, grep and run_command (with command_output, command_wait and command_kill for a command that runs on past its call); and on its terminal: terminal_send, terminal_read; list_sessions lists the server\'s sessions. Paths are relative to the root; one leading outside is refused (EOUTSIDE). A tool\'s failure is a tool error "CODE: message"; a server that cannot be reached answers EUNAVAIL until it can.',
    'Resources: every pane of every session, zmx://SESSION/PANE/screen and zmx://SESSION/PANE/history (PANE is the pane\'s id, $ZMX_PANE inside it); subscribe to hear when one prints.',
    '--print-config CLIENT prints the JSON (claude, cursor, vscode) or TOML (codex) that client takes, with the absolute path of zmx and the environment it needs (ZMX_DIR only when a client\'s minimal environment would not find the server).',
    'stdout carries MCP messages only; problems go to stderr. It exits when stdin closes, ending the commands it started that still run. The server is never started from here: the session must exist.',
  ].join('\n'),
  examples: ['zmx mcp -t dev', 'zmx mcp -H buildbox -t app', 'claude mcp add zmx -- zmx mcp -H buildbox -t app', 'zmx mcp --print-config codex -t dev >> ~/.codex/config.toml'],
  async run(ctx, _args, opts) {
    if (opts['target'] === undefined) throw new UsageError('mcp needs the session its tools act on: zmx mcp -t SESSION');
    const session = ctx.sessionName(String(opts['target']));
    if (ctx.host) new Hosts().get(ctx.host); // an unknown host is a one-line error naming zmx host add
    if (opts['printConfig'] !== undefined) {
      const client = String(opts['printConfig']);
      if (!isMcpClient(client)) throw new UsageError(`--print-config takes one of ${MCP_CLIENTS.join(', ')}, not "${client}"`);
      const { clientConfig, serverEntry } = await import('../../mcp/config.js');
      ctx.stdout.write(clientConfig(client, serverEntry(session, ctx.host, ctx.env)));
      return 0;
    }
    // In this process: the MCP SDK is loaded only here, when the command runs.
    const { runMcp } = await import('../../mcp/run.js');
    await runMcp({ session, host: ctx.host, env: ctx.env, log: (msg) => ctx.stderr.write(`${msg}\n`) });
    return 0;
  },
};
