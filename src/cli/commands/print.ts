import type { CommandSpec } from '../command.js';
import { textArg } from './send.js';

export const print: CommandSpec = {
  name: 'print',
  aliases: ['p'],
  summary: 'Show text on a session\'s screen (the program sees nothing)',
  args: [
    { name: 'name', description: 'session', required: true },
    { name: 'text', description: 'text, joined by spaces; read from stdin when omitted', variadic: true },
  ],
  options: [],
  passThrough: true,
  details: 'The text goes to the session\'s screen and scrollback, and to attached clients. Add \\r\\n yourself.',
  examples: ["printf '\\r\\nbuild done\\r\\n' | zmx print dev"],
  async run(ctx, args) {
    const [rawName, ...words] = args;
    const name = ctx.sessionName(rawName);
    const data = await textArg(ctx, words, false);
    const conn = await ctx.connectFor(name);
    await conn.request('session.print', { name }, [data]);
    return 0;
  },
};
