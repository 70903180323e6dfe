import type { CommandSpec } from '../command.js';
import { UsageError } from '../command.js';
import { createArgs } from '../util.js';
import { attachSession, ATTACH_OPTIONS } from './attach.js';

export const newSession: CommandSpec = {
  name: 'new',
  aliases: ['new-session'],
  summary: 'Create a session (and attach unless -d)',
  args: [{ name: 'command', description: 'command to run (default: your login shell)', variadic: true }],
  options: [
    { flags: '-s, --session <name>', description: 'session name (required)' },
    { flags: '-c, --cwd <dir>', description: 'start directory (default: the current one)' },
    { flags: '-d, --detach', description: 'do not attach' },
    ...ATTACH_OPTIONS,
  ],
  details: 'Fails if the session exists already; use zmx attach to create-or-attach.',
  examples: ['zmx new -s refactor', 'zmx new -s build -d -- make -j8', 'zmx new -s api -c ~/src/api'],
  async run(ctx, args, opts) {
    if (opts['session'] === undefined) throw new UsageError('new needs a session name: zmx new -s NAME');
    const name = ctx.sessionName(opts['session'] as string);
    const cwd = opts['cwd'] as string | undefined;
    if (!opts['detach']) {
      const running = await ctx.connect(false);
      const exists = running ? (await running.request('session.list', {})).result.sessions.some((s) => s.name === name) : false;
      if (exists) throw new UsageError(`session "${name}" already exists; attach with: zmx attach ${name}`);
      if (!ctx.stdin.isTTY && !ctx.env['ZMX_ATTACH_ANY_STDIN']) throw new UsageError('new needs a terminal on stdin to attach; add -d to create the session without attaching');
      return attachSession(ctx, name, true, args, cwd, { raw: Boolean(opts['raw']), theme: opts['theme'] as string | undefined });
    }
    const conn = (await ctx.connect(true))!;
    await conn.request('session.create', { ...createArgs(ctx, name, args, cwd), ifMissing: false });
    ctx.out(`session "${name}" created\n`);
    return 0;
  },
};
