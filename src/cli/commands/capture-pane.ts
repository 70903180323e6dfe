import type { CommandSpec } from '../command.js';
import { UsageError } from '../command.js';

export const capturePane: CommandSpec = {
  name: 'capture-pane',
  aliases: ['capturep'],
  summary: 'Print a pane\'s screen',
  args: [],
  options: [
    { flags: '-p, --print', description: 'print to stdout (the only output there is; accepted for tmux\'s sake)' },
    { flags: '-e, --escapes', description: 'keep colours and attributes as escape sequences' },
    { flags: '-t, --target <target>', description: 'NAME[:W[.P]] (default: this session\'s active pane)' },
  ],
  details: 'Prints the visible screen of the pane as the server\'s terminal holds it, one line per row, as tmux capture-pane -p does. Use history for the scrollback.',
  examples: ['zmx capture-pane -p -t dev:0.1', 'zmx capture-pane -p -e -t dev > screen.txt'],
  async run(ctx, args, opts) {
    if (args.length > 0) throw new UsageError(`unexpected argument "${args[0]}"; name the pane with -t`);
    const target = ctx.paneTarget(opts['target'] as string | undefined);
    const conn = await ctx.connectFor(target.name);
    const { frames } = await conn.request('pane.capture', { ...target, escapes: Boolean(opts['escapes']) });
    ctx.stdout.write(frames[0] ?? Buffer.alloc(0));
    return 0;
  },
};
