import type { CommandSpec } from '../command.js';
import { UsageError } from '../command.js';
import { sessionNotFound } from '../../common/names.js';
import { removeStale, staleLeft } from '../../client/stale.js';
import { TIMING } from '../../common/constants.js';

export const kill: CommandSpec = {
  name: 'kill',
  aliases: ['k', 'kill-session'],
  summary: 'Kill sessions and detach their clients',
  args: [{ name: 'name', description: 'session names; "d.*" matches every name starting with "d."', required: true, variadic: true }],
  options: [
    { flags: '--force', description: 'SIGKILL at once instead of SIGHUP first; with --clean, discard uncommitted changes too; when the server died, remove the sockets and session state it left' },
    { flags: '--clean', description: 'also remove the sessions\' worktrees (zmx new --worktree; branches are kept) and snapshots' },
  ],
  details: '--clean refuses, killing nothing, when a worktree has uncommitted changes or untracked files; commit or stash them, or add --force.\nWhen the server\'s processes died (killed by SIGKILL, a crash) and left their sockets, locks, pid files and the sessions\' state in $ZMX_DIR, kill --force NAME removes them, prints "cleaned up stale session NAME" and exits 0, as zmx does for a dead session\'s socket; nothing is removed while a server process lives.',
  examples: ['zmx kill dev', 'zmx kill "agent.*"', 'zmx kill fix-42 --clean', 'zmx kill --force dev'],
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
    let left = missing;
    // No server answers: one that died (SIGKILL, a crash) may have left its
    // sockets and its sessions' state behind. --force removes them, as zmx
    // removes a dead session's socket; without it, say so.
    if (left.length > 0 && !conn && !ctx.host) {
      if (opts['force']) {
        const { server, sessions } = await removeStale(ctx.paths, left);
        const cleaned = left.filter((n) => server.length > 0 || (sessions.get(n)?.length ?? 0) > 0);
        for (const name of cleaned) ctx.out(`cleaned up stale session ${name}\n`);
        left = left.filter((n) => !cleaned.includes(n));
      } else if (await staleLeft(ctx.paths)) {
        throw new UsageError(`${sessionNotFound(left[0]!).message}; the server in ${ctx.paths.dir} died and left its sockets: zmx kill --force ${left.join(' ')} removes them`);
      }
    }
    if (left.length > 0) throw new UsageError(left.length === 1 ? sessionNotFound(left[0]!).message : `no sessions match ${left.map((m) => `"${m}"`).join(', ')}`);
    return 0;
  },
};
