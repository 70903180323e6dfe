import type { CommandSpec } from '../command.js';
import { UsageError } from '../command.js';

export const set: CommandSpec = {
  name: 'set',
  aliases: [],
  summary: 'Set session labels (k= removes one)',
  args: [
    { name: 'name', description: 'session, or "." for this one', required: true },
    { name: 'labels', description: 'key=value pairs', required: true, variadic: true },
  ],
  options: [],
  details: 'Keys and values may hold letters, digits, "-", "_" and ".". Built-in fields (name, pid, clients, created, cwd, cmd, ended, exit_code) are read-only. Labels live as long as the session.',
  examples: ['zmx set dev project=zmx env=dev', 'zmx set . status=fail', 'zmx set next "$(zmx get prev)"'],
  async run(ctx, args) {
    const [rawName, ...words] = args;
    const name = ctx.sessionName(rawName);
    const pairs: Record<string, string> = {};
    for (const token of words.join(' ').split(/\s+/).filter(Boolean)) {
      const eq = token.indexOf('=');
      if (eq < 0) throw new UsageError(`expected key=value, got "${token}"`);
      const key = token.slice(0, eq);
      if (key === '') throw new UsageError('label key cannot be empty');
      pairs[key] = token.slice(eq + 1);
    }
    const conn = await ctx.connectFor(name);
    await conn.request('session.labels', { name, set: pairs, unset: [], clear: false });
    return 0;
  },
};
