import type { CommandSpec } from '../command.js';
import { UsageError } from '../command.js';
import type { WindowMove } from '../../common/protocol.js';

export const selectWindow: CommandSpec = {
  name: 'select-window',
  aliases: ['selectw'],
  summary: 'Make a window current',
  args: [],
  options: [
    { flags: '-t, --target <target>', description: 'NAME:W (default: this session)' },
    { flags: '-n, --next', description: 'the next window' },
    { flags: '-p, --previous', description: 'the previous window' },
    { flags: '-l, --last', description: 'the window current before this one' },
  ],
  examples: ['zmx select-window -t dev:2', 'zmx select-window -t dev -n'],
  async run(ctx, _args, opts) {
    const moves = (['next', 'previous', 'last'] as const).filter((m) => opts[m]);
    if (moves.length > 1) throw new UsageError('choose one of -n, -p and -l');
    const target = ctx.paneTarget(opts['target'] as string | undefined);
    const move: WindowMove | null = moves[0] === 'previous' ? 'prev' : moves[0] ?? null;
    const conn = await ctx.connectFor(target.name);
    const r = await conn.request('window.select', { name: target.name, window: target.window, move });
    ctx.out(`${target.name}:${r.result.window}\n`);
    return 0;
  },
};
