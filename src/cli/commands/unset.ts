import type { CommandSpec } from '../command.js';

export const unset: CommandSpec = {
  name: 'unset',
  aliases: [],
  summary: 'Remove session labels',
  args: [
    { name: 'name', description: 'session, or "." for this one', required: true },
    { name: 'keys', description: 'label keys', required: true, variadic: true },
  ],
  options: [],
  async run(ctx, args) {
    const [rawName, ...keys] = args;
    const name = ctx.sessionName(rawName);
    const conn = await ctx.connectFor(name);
    await conn.request('session.labels', { name, set: {}, unset: keys, clear: false });
    return 0;
  },
};
