import type { CommandSpec } from '../command.js';
import { UsageError } from '../command.js';
import type { Direction } from '../../common/layout.js';

const DIRECTIONS: [string, Direction][] = [['left', 'left'], ['right', 'right'], ['up', 'up'], ['down', 'down']];

export const resizePane: CommandSpec = {
  name: 'resize-pane',
  aliases: ['resizep'],
  summary: 'Move a pane\'s edge, or zoom it to fill its window',
  args: [{ name: 'cells', description: 'how far to move the edge (default 1)' }],
  options: [
    { flags: '-t, --target <target>', description: 'NAME[:W[.P]] (default: this session\'s active pane)' },
    { flags: '-L, --left', description: 'move the edge left' },
    { flags: '-R, --right', description: 'move the edge right' },
    { flags: '-U, --up', description: 'move the edge up' },
    { flags: '-D, --down', description: 'move the edge down' },
    { flags: '-Z, --zoom', description: 'toggle zoom' },
  ],
  examples: ['zmx resize-pane -t dev:0.1 -R 10', 'zmx resize-pane -t dev -Z'],
  async run(ctx, args, opts) {
    const dirs = DIRECTIONS.filter(([flag]) => opts[flag]);
    if (dirs.length + (opts['zoom'] ? 1 : 0) !== 1) throw new UsageError('resize-pane needs one of -L, -R, -U, -D or -Z');
    const cells = args[0] === undefined ? 1 : Number(args[0]);
    if (!Number.isInteger(cells) || cells < 1) throw new UsageError(`cells must be a positive whole number, not "${args[0]}"`);
    const target = ctx.paneTarget(opts['target'] as string | undefined);
    const conn = await ctx.connectFor(target.name);
    const r = await conn.request('pane.resize', { ...target, dir: dirs[0]?.[1] ?? null, cells, zoom: Boolean(opts['zoom']) });
    if (opts['zoom']) ctx.out(r.result.zoomed ? 'zoomed\n' : 'unzoomed\n');
    return 0;
  },
};
