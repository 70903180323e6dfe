import type { CommandSpec } from '../command.js';
import { UsageError } from '../command.js';
import { TIMING } from '../../common/constants.js';

export const kill: CommandSpec = {
  name: 'kill',
  aliases: ['k', 'kill-session'],
  summary: 'Kill sessions and detach their clients',
  args: [{ name: 'name', description: 'session names; "d.*" matches every name starting with "d."', required: true, variadic: true }],
  options: [
    { flags: '--force', description: 'SIGKILL at once instead of SIGHUP first; with --clean, discard uncommitted changes too' },
    { flags: '--clean', description: 'also remove the sessions\' worktrees (zmx new --worktree; branches are kept) and snapshots' },
  ],
  details: '--clean refuses, killing nothing, when a worktree has uncommitted changes or untracked files; commit or stash them, or add --force.',
  examples: ['zmx kill dev', 'zmx kill "agent.*"', 'zmx kill fix-42 --clean'],
  async run(ctx, args, opts) {
    const { conn, matched, missing } = await ctx.matchSessions(args);
    if (matched.length > 0) {
      const force = Boolean(opts['force']);
      if (opts['clean']) {
        const { result } = await conn!.request('workspace.kill', { names: matched, force }, [], { timeoutMs: TIMING.workspaceOpMs });
        for (const name of result.killed) ctx.out(`killed session ${name}\n`);
        for (const r of result.removed) ctx.out(`removed worktree ${r.path} (branch ${r.branch} kept)\n`);
      } else {
        const { result } = await conn!.request('session.kill', { names: matched, force }, [], { timeoutMs: 0 });
        for (const name of result.killed) ctx.out(`killed session ${name}\n`);
      }
    }
    if (missing.length > 0) throw new UsageError(missing.length === 1 ? `session "${missing[0]}" does not exist` : `no sessions match ${missing.map((m) => `"${m}"`).join(', ')}`);
    return 0;
  },
};
