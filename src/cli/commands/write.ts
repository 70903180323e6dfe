import type { CommandSpec } from '../command.js';
import { TASK_SHELL, createArgs } from '../util.js';

export const write: CommandSpec = {
  name: 'write',
  aliases: ['wr'],
  summary: 'Write stdin to a file through a session',
  args: [
    { name: 'name', description: 'session (created if missing)', required: true },
    { name: 'path', description: 'file path, absolute or relative to the shell\'s directory', required: true },
  ],
  options: [],
  details: 'The file is replaced atomically (a temporary file, then rename).',
  examples: ['echo hello | zmx write dev /tmp/hello.txt', 'zmx write dev src/main.ts < main.ts'],
  async run(ctx, args) {
    const name = ctx.sessionName(args[0]);
    const path = args[1]!;
    const data = ctx.stdinIsTTY ? Buffer.alloc(0) : await ctx.readStdin();
    const conn = (await ctx.connect(true))!;
    const { result } = await conn.request('session.create', { ...createArgs(ctx, name, TASK_SHELL, undefined), ifMissing: true });
    if (result.created) ctx.out(`session "${name}" created\n`);
    const written = await conn.request('session.write', { name, path }, [data]);
    ctx.out(`file created ${written.result.path}\n`);
    return 0;
  },
};
