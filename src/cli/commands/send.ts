import type { CommandSpec } from '../command.js';
import { UsageError } from '../command.js';
import type { Context } from '../context.js';

/** The text for send/print: the arguments joined by spaces, else stdin. */
export async function textArg(ctx: Context, words: string[], stripNewline: boolean): Promise<Buffer> {
  if (words.length > 0) return Buffer.from(words.join(' '), 'utf8');
  if (ctx.stdinIsTTY) throw new UsageError('no text given: pass it as arguments or on stdin');
  let data = await ctx.readStdin();
  if (stripNewline && data.length > 0 && data[data.length - 1] === 0x0a) data = data.subarray(0, data.length - 1);
  if (data.length === 0) throw new UsageError('no text given: stdin was empty');
  return data;
}

export const send: CommandSpec = {
  name: 'send',
  aliases: ['s', 'send-keys'],
  summary: 'Send raw input to a session\'s pty (no Enter is added)',
  args: [
    { name: 'name', description: 'session', required: true },
    { name: 'text', description: 'text, joined by spaces; read from stdin when omitted', variadic: true },
  ],
  options: [],
  passThrough: true,
  details: 'Bytes go to the program as if typed. Append \\r yourself to press Enter. From stdin, one trailing newline is dropped.',
  examples: ["printf 'ls -la\\r' | zmx send dev", "zmx send dev $(printf '\\x03')"],
  async run(ctx, args) {
    const [rawName, ...words] = args;
    const name = ctx.sessionName(rawName);
    const data = await textArg(ctx, words, true);
    const conn = await ctx.connectFor(name);
    await conn.request('session.send', { name }, [data]);
    return 0;
  },
};
