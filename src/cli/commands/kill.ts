import type { CommandSpec } from '../command.js';
import { UsageError } from '../command.js';

export const kill: CommandSpec = {
  name: 'kill',
  aliases: ['k', 'kill-session'],
  summary: 'Kill sessions and detach their clients',
  args: [{ name: 'name', description: 'session names; "d.*" matches every name starting with "d."', required: true, variadic: true }],
  options: [{ flags: '--force', description: 'SIGKILL at once instead of SIGHUP first' }],
  examples: ['zmx kill dev', 'zmx kill "agent.*"'],
  async run(ctx, args, opts) {
    const { conn, matched, missing } = await ctx.matchSessions(args);
    if (matched.length > 0) {
      const { result } = await conn!.request('session.kill', { names: matched, force: Boolean(opts['force']) }, [], { timeoutMs: 0 });
      for (const name of result.killed) ctx.out(`killed session ${name}\n`);
    }
    if (missing.length > 0) throw new UsageError(missing.length === 1 ? `session "${missing[0]}" does not exist` : `no sessions match ${missing.map((m) => `"${m}"`).join(', ')}`);
    return 0;
  },
};
