import type { CommandSpec } from '../command.js';
import { UsageError } from '../command.js';

const now = () => Math.floor(Date.now() / 1000);

export const wait: CommandSpec = {
  name: 'wait',
  aliases: ['w'],
  summary: 'Wait for sessions\' run tasks to finish; exit with the aggregate status',
  args: [{ name: 'name', description: 'sessions; "d.*" matches by prefix', required: true, variadic: true }],
  options: [],
  details: 'Exits 0 when every task succeeded, else with the status of a failed one.',
  examples: ['zmx run dev -d make test && zmx wait dev'],
  async run(ctx, args) {
    const { conn, matched, missing } = await ctx.matchSessions(args);
    if (missing.length > 0 || matched.length === 0) throw new UsageError(`no matching sessions found: ${missing.join(', ')}`, 2);
    for (const name of matched) ctx.out(`[${now()}] waiting task=${name}\n`);
    const { result } = await conn!.request('session.wait', { names: matched }, [], { timeoutMs: 0 });
    let status = 0;
    for (const r of result.results) {
      ctx.out(`[${now()}] completed task=${r.name} exit_code=${r.status}\n`);
      if (r.status !== 0) status = r.status;
    }
    ctx.out(status === 0 ? 'task(s) completed!\n' : 'task(s) failed!\n');
    return status;
  },
};
