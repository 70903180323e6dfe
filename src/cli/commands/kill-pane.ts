import type { CommandSpec } from '../command.js';

export const killPane: CommandSpec = {
  name: 'kill-pane',
  aliases: ['killp'],
  summary: 'End a pane\'s program and close the pane',
  args: [],
  options: [{ flags: '-t, --target <target>', description: 'NAME[:W[.P]] (default: this session\'s active pane)' }],
  details: 'The rest of the window is tiled again; the last pane of a session ends the session.',
  examples: ['zmx kill-pane -t dev:0.1'],
  async run(ctx, _args, opts) {
    const target = ctx.paneTarget(opts['target'] as string | undefined);
    const conn = await ctx.connectFor(target.name);
    await conn.request('pane.kill', target);
    return 0;
  },
};
