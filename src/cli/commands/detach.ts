import type { CommandSpec } from '../command.js';
import { UsageError } from '../command.js';

export const detach: CommandSpec = {
  name: 'detach',
  aliases: ['d'],
  summary: 'Detach every client attached to a session (C-\\ detaches just this one)',
  args: [{ name: 'name', description: 'session (default: this one, $ZMX_SESSION)' }],
  options: [],
  async run(ctx, args) {
    if (args[0] === undefined && !ctx.env['ZMX_SESSION']) throw new UsageError('not inside a zmx session; name one: zmx detach NAME');
    const name = ctx.sessionName(args[0]);
    const conn = await ctx.connectFor(name);
    await conn.request('session.detach', { name });
    return 0;
  },
};
