import type { CommandSpec } from '../command.js';
import { createArgs } from '../util.js';

export const newWindow: CommandSpec = {
  name: 'new-window',
  aliases: ['neww'],
  summary: 'Open a new window in a session and make it current',
  args: [{ name: 'command', description: 'command for its pane (default: your login shell)', variadic: true }],
  options: [
    { flags: '-t, --target <name>', description: 'session (default: this one)' },
    { flags: '-n, --name <title>', description: 'window name shown in the status bar' },
    { flags: '-c, --cwd <dir>', description: 'start directory (default: the active pane\'s)' },
  ],
  examples: ['zmx new-window -t dev -n logs -- tail -f app.log'],
  async run(ctx, args, opts) {
    const name = ctx.sessionName(opts['target'] as string | undefined);
    const conn = await ctx.connectFor(name);
    const { cmd, env } = createArgs(ctx, name, args, undefined);
    const r = await conn.request('window.new', { name, title: (opts['name'] as string | undefined) ?? '', cmd, cwd: (opts['cwd'] as string | undefined) ?? '', env });
    ctx.out(`${name}:${r.result.window}\n`);
    return 0;
  },
};
