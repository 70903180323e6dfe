import type { CommandSpec } from '../command.js';
import { listLine, matchesWhere, parseLabels } from '../util.js';
import { UsageError } from '../command.js';

export const list: CommandSpec = {
  name: 'list',
  aliases: ['ls', 'l'],
  summary: 'List sessions',
  args: [],
  options: [
    { flags: '--short', description: 'names only' },
    { flags: '--json', description: 'machine-readable JSON' },
    { flags: '--where <k=v>', description: 'only sessions with these labels: "k=v" or "k=v k2=v2" (all must match), as zmx list --where' },
  ],
  details: 'Each line holds tab-separated key=value fields: name, pid, clients, created (Unix seconds), cwd (the shell\'s OSC 7 file:// URI once it reports one), cmd, exit_code of the last run, worktree and worktree_branch (zmx new --worktree) or portal (zmx new --portal), then labels (zmx set, --labels on attach, new and run). --where k=v keeps the sessions whose label k is v (several pairs, space-separated: all of them; name= and the read-only fields match too), in every form (--short, --json). With -H, each line ends with the link to that host: host, link (connected) and rtt (round-trip time); --json adds them as "link". An unreachable host is an error after the request timeout. "→" marks the session you are in.',
  examples: ['zmx list', 'zmx list --short', 'zmx list --where project=api', 'zmx list --where "project=api role=worker" --short'],
  async run(ctx, _args, opts) {
    const where = opts['where'] === undefined ? null : parseLabels(String(opts['where']));
    if (where && Object.keys(where).length === 0) throw new UsageError('--where needs key=value, e.g. zmx list --where project=api');
    const conn = await ctx.connect(false);
    const all = conn ? (await conn.request('session.list', {})).result.sessions : [];
    const sessions = where ? all.filter((s) => matchesWhere(s, where)) : all;
    // A remote host: say how the link to it is, measured now.
    const link = conn && ctx.host ? { host: ctx.host, state: 'connected', rttMs: await conn.ping() } : null;
    if (opts['json']) {
      ctx.out(JSON.stringify(link ? sessions.map((s) => ({ ...s, link })) : sessions, null, 2) + '\n');
      return 0;
    }
    if (sessions.length === 0) {
      if (!opts['short'] && !where) ctx.err(ctx.host ? `no sessions found on host ${ctx.host}\n` : `no sessions found in ${ctx.paths.dir}\n`);
      return 0;
    }
    const linkFields = link ? `\thost=${link.host}\tlink=${link.state}\trtt=${link.rttMs}ms` : '';
    for (const s of sessions) ctx.out(opts['short'] ? `${s.name}\n` : listLine(s, ctx.env['ZMX_SESSION']).replace(/\n$/, `${linkFields}\n`));
    return 0;
  },
};
