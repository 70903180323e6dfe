import type { CommandSpec } from '../command.js';
import { UsageError } from '../command.js';
import type { PaneMove } from '../../common/protocol.js';

/** tmux's -L/-R/-U/-D and our next/prev. */
const MOVES: [string, PaneMove][] = [['left', 'left'], ['right', 'right'], ['up', 'up'], ['down', 'down'], ['next', 'next'], ['previous', 'prev']];

export const selectPane: CommandSpec = {
  name: 'select-pane',
  aliases: ['selectp'],
  summary: 'Make a pane (and its window) active',
  args: [],
  options: [
    { flags: '-t, --target <target>', description: 'NAME[:W[.P]] (default: this session\'s active pane)' },
    { flags: '-L, --left', description: 'the pane left of the target' },
    { flags: '-R, --right', description: 'the pane right of the target' },
    { flags: '-U, --up', description: 'the pane above the target' },
    { flags: '-D, --down', description: 'the pane below the target' },
    { flags: '--next', description: 'the next pane in the window' },
    { flags: '--previous', description: 'the previous pane in the window' },
  ],
  examples: ['zmx select-pane -t dev:1.0', 'zmx select-pane -t dev -R'],
  async run(ctx, _args, opts) {
    const moves = MOVES.filter(([flag]) => opts[flag]);
    if (moves.length > 1) throw new UsageError('choose one direction');
    const target = ctx.paneTarget(opts['target'] as string | undefined);
    const conn = await ctx.connectFor(target.name);
    const r = await conn.request('pane.select', { ...target, move: moves[0]?.[1] ?? null });
    ctx.out(`${target.name}:${r.result.window}.${r.result.pane}\n`);
    return 0;
  },
};
