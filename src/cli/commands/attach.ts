import type { CommandSpec } from '../command.js';
import { UsageError } from '../command.js';
import { rawAttach } from '../../client/raw-attach.js';
import { createArgs } from '../util.js';
import type { Context } from '../context.js';

/** Attaches this terminal to a session (creating it when `create`), raw pass-through. */
export async function attachSession(ctx: Context, name: string, create: boolean, cmd: string[], cwd: string | undefined): Promise<number> {
  if (!ctx.stdin.isTTY && !ctx.env['ZMX_ATTACH_ANY_STDIN']) {
    throw new UsageError('attach needs a terminal on stdin; use zmx run, send or tail from scripts');
  }
  if (ctx.env['ZMX_SESSION'] === name) throw new UsageError(`cannot attach session "${name}" to itself; detach first (C-\\)`);
  const conn = (await ctx.connect(true))!;
  const end = await rawAttach(conn, {
    name,
    create: create ? createArgs(ctx, name, cmd, cwd) : null,
    readOnly: false,
    stdin: ctx.stdin,
    stdout: ctx.stdout,
    stderr: ctx.stderr,
    detachKey: ctx.env['ZMX_NO_DETACH_KEY'] === undefined,
    onCreated: () => ctx.out(`session "${name}" created\n`),
  });
  if (end.reason === 'detached') ctx.err(`[detached from session ${name}]\n`);
  else if (end.reason === 'exited') ctx.err(`[session ${name} exited${end.exitCode ? ` with status ${end.exitCode}` : ''}]\n`);
  else if (end.reason === 'killed' || end.reason === 'error') ctx.err(`[lost session ${name}]\n`);
  return 0;
}

export const attach: CommandSpec = {
  name: 'attach',
  aliases: ['a'],
  summary: 'Attach to a session, creating it if needed',
  args: [
    { name: 'name', description: 'session name' },
    { name: 'command', description: 'command to run when the session is created (default: your login shell)', variadic: true },
  ],
  options: [
    { flags: '-t, --target <name>', description: 'session name (tmux style)' },
    { flags: '-c, --cwd <dir>', description: 'directory to start a new session in' },
    { flags: '-r, --raw', description: 'pass one pane straight through to this terminal (the default for now)' },
  ],
  passThrough: true,
  details: 'The screen, cursor, title and modes come back exactly as they were. C-\\ detaches (unless ZMX_NO_DETACH_KEY is set).\nA command given for a session that exists already is ignored.',
  examples: ['zmx attach dev', 'zmx attach dev vim', 'zmx attach -t dev'],
  async run(ctx, args, opts) {
    const [first, ...rest] = args;
    const target = opts['target'] as string | undefined;
    const name = ctx.sessionName(target ?? first);
    const cmd = target !== undefined && first !== undefined ? [first, ...rest] : rest;
    return attachSession(ctx, name, true, cmd, opts['cwd'] as string | undefined);
  },
};
