import type { CommandSpec } from '../command.js';
import { LAYOUT_PRESETS } from '../../common/layout.js';

export const selectLayout: CommandSpec = {
  name: 'select-layout',
  aliases: ['selectl'],
  summary: 'Tile a window\'s panes with a preset layout',
  args: [{ name: 'layout', description: `${LAYOUT_PRESETS.join(', ')} (default: the next one)` }],
  options: [{ flags: '-t, --target <target>', description: 'NAME[:W] (default: this session\'s current window)' }],
  examples: ['zmx select-layout -t dev tiled', 'zmx select-layout -t dev:1 main-vertical'],
  async run(ctx, args, opts) {
    const target = ctx.paneTarget(opts['target'] as string | undefined);
    const conn = await ctx.connectFor(target.name);
    const r = await conn.request('window.layout', { name: target.name, window: target.window, layout: args[0] ?? 'next' });
    ctx.out(`${r.result.layout}\n`);
    return 0;
  },
};
