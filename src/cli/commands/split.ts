import type { CommandSpec } from '../command.js';
import { UsageError } from '../command.js';
import { createArgs } from '../util.js';

export const split: CommandSpec = {
  name: 'split',
  aliases: ['split-window', 'splitw'],
  summary: 'Split a pane in two, running a command in the new one',
  args: [{ name: 'command', description: 'command for the new pane (default: your login shell)', variadic: true }],
  options: [
    { flags: '-h, --horizontal', description: 'new pane to the right (tmux -h)' },
    { flags: '-v, --vertical', description: 'new pane below (the default)' },
    { flags: '-t, --target <target>', description: 'pane to split: NAME[:W[.P]] (default: this session\'s active pane)' },
    { flags: '-c, --cwd <dir>', description: 'start directory (default: the split pane\'s)' },
  ],
  examples: ['zmx split -h -t dev -- htop', 'zmx split -t dev:0.1'],
  async run(ctx, args, opts) {
    if (opts['horizontal'] && opts['vertical']) throw new UsageError('choose one of -h and -v');
    const target = ctx.paneTarget(opts['target'] as string | undefined);
    const conn = await ctx.connectFor(target.name);
    const { cmd, env } = createArgs(ctx, target.name, args, undefined);
    const r = await conn.request('pane.split', { ...target, dir: opts['horizontal'] ? 'h' : 'v', cmd, cwd: (opts['cwd'] as string | undefined) ?? '', env });
    ctx.out(`${target.name}:${r.result.window}.${r.result.pane}\n`);
    return 0;
  },
};
