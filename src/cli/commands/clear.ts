import type { CommandSpec } from '../command.js';

export const clear: CommandSpec = {
  name: 'clear',
  aliases: [],
  summary: 'Remove every label of a session',
  args: [{ name: 'name', description: 'session, or "." for this one', required: true }],
  options: [],
  async run(ctx, args) {
    const name = ctx.sessionName(args[0]);
    const conn = await ctx.connectFor(name);
    await conn.request('session.labels', { name, set: {}, unset: [], clear: true });
    return 0;
  },
};
