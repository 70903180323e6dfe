import type { CommandSpec } from '../command.js';
import { UsageError } from '../command.js';

export const history: CommandSpec = {
  name: 'history',
  aliases: ['hi'],
  summary: 'Print a session\'s scrollback and screen',
  args: [{ name: 'name', description: 'session (default: this one)' }],
  options: [
    { flags: '--vt', description: 'with escape sequences (colours, modes, cursor)' },
    { flags: '--html', description: 'as HTML with styles' },
  ],
  examples: ['zmx history dev | tail -100', 'zmx history dev --vt > screen.vt'],
  async run(ctx, args, opts) {
    if (opts['vt'] && opts['html']) throw new UsageError('choose one of --vt and --html');
    const name = ctx.sessionName(args[0]);
    const conn = await ctx.connectFor(name);
    const format = opts['vt'] ? 'vt' : opts['html'] ? 'html' : 'text';
    const { frames } = await conn.request('session.history', { name, format });
    ctx.stdout.write(frames[0] ?? Buffer.alloc(0));
    return 0;
  },
};
