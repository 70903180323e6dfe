import type { CommandSpec } from '../command.js';
import { UsageError } from '../command.js';
import { rawAttach } from '../../client/raw-attach.js';
import { createArgs } from '../util.js';
import type { Context } from '../context.js';

/** Attaches this terminal to a session (creating it when `create`), raw pass-through. */
export async function attachSession(ctx: Context, name: string, create: boolean, cmd: string[], cwd: string | undefined): Promise<number> {
  const current = ctx.env['ZMX_SESSION'];
  if (current === name) throw new UsageError(`cannot attach session "${name}" to itself; detach first (C-\\)`);
  if (current) {
    // Inside a session, as zmx does: the client showing this session moves
    // to the other one (made here, in this directory, if it does not exist).
    const conn = await ctx.connectFor(current);
    await conn.request('session.switch', { from: current, to: name, create: create ? createArgs(ctx, name, cmd, cwd) : null });
    return 0;
  }
  if (!ctx.stdin.isTTY && !ctx.env['ZMX_ATTACH_ANY_STDIN']) {
    throw new UsageError('attach needs a terminal on stdin; use zmx run, send or tail from scripts');
  }
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
  if (end.reason === 'detached') ctx.err(`[detached from session ${end.name}]\n`);
  else if (end.reason === 'exited') ctx.err(`[session ${end.name} exited${end.exitCode ? ` with status ${end.exitCode}` : ''}]\n`);
  else if (end.reason === 'killed' || end.reason === 'error') ctx.err(`[lost session ${end.name}]\n`);
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
  details: 'The screen, cursor, title and modes come back exactly as they were. C-\\ detaches (unless ZMX_NO_DETACH_KEY is set).\nA command given for a session that exists already is ignored. Inside a session, attach switches the client showing it to NAME (creating NAME in the current directory if needed), as zmx does.',
  examples: ['zmx attach dev', 'zmx attach dev vim', 'zmx attach -t dev'],
  async run(ctx, args, opts) {
    const [first, ...rest] = args;
    const target = opts['target'] as string | undefined;
    const name = ctx.sessionName(target ?? first);
    const cmd = target !== undefined && first !== undefined ? [first, ...rest] : rest;
    return attachSession(ctx, name, true, cmd, opts['cwd'] as string | undefined);
  },
};
