import type { CommandSpec } from '../command.js';
import { UsageError } from '../command.js';
import { workspaceFields } from '../util.js';

export const get: CommandSpec = {
  name: 'get',
  aliases: ['g'],
  summary: 'Print a session\'s labels (or one label\'s value)',
  args: [
    { name: 'name', description: 'session, or "." for this one (default: this one, inside a session)' },
    { name: 'key', description: 'print only this label\'s value' },
  ],
  options: [],
  details: 'Labels print as k=v pairs separated by spaces, with no trailing newline, so that zmx set next "$(zmx get prev)" copies them. The read-only fields worktree, worktree_branch and portal (zmx new --worktree, --portal) print when asked for by key.',
  async run(ctx, args) {
    const name = ctx.sessionName(args[0]);
    const conn = await ctx.connectFor(name);
    const { result } = await conn.request('session.get', { name });
    const labels = result.session.labels;
    const key = args[1];
    if (key !== undefined) {
      const builtIn = workspaceFields(result.session)[key];
      if (builtIn !== undefined) {
        ctx.out(builtIn);
        return 0;
      }
      if (!(key in labels)) throw new UsageError(`session "${name}" has no label "${key}"`);
      ctx.out(labels[key]!);
      return 0;
    }
    ctx.out(Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(' '));
    return 0;
  },
};
