import { StringDecoder } from 'node:string_decoder';
import type { CommandSpec } from '../command.js';
import { UsageError } from '../command.js';
import { sessionNotFound } from '../../common/names.js';
import { stripAnsi } from '../util.js';
import { formatBytes } from '../../common/units.js';

export const tail: CommandSpec = {
  name: 'tail',
  aliases: ['t'],
  summary: 'Follow sessions\' output (escapes stripped) until they end',
  args: [{ name: 'name', description: 'sessions; "d.*" matches by prefix', required: true, variadic: true }],
  options: [],
  async run(ctx, args) {
    const { conn, matched, missing } = await ctx.matchSessions(args);
    if (!conn || missing.length > 0) throw new UsageError(sessionNotFound(missing[0]!).message);
    let open = matched.length;
    await new Promise<void>((resolve) => {
      for (const name of matched) {
        conn.request('session.tail', { name }).then(({ result }) => {
          const decoder = new StringDecoder('utf8');
          const sid = result.sid;
          // A slow reader (a pipe into less) holds the server back instead of filling our memory.
          const show = (text: string) => {
            if (ctx.stdout.write(text)) return;
            conn.hold(sid);
            ctx.stdout.once('drain', () => conn.release(sid));
          };
          conn.stream(sid, {
            output: (_seq, data) => show(stripAnsi(decoder.write(data))),
            // Output that was not kept for us: say so, then show where the pane is now.
            resync: (_seq, screen, skipped) => show(`${decoder.end()}\n[zmx: ${name}: skipped ${formatBytes(skipped)} of output; its screen now:]\n${screen.toString('utf8')}`),
            end: () => { if (--open === 0) resolve(); },
          });
        }, () => { if (--open === 0) resolve(); });
      }
    });
    // Streams also end when the server cuts us off (a revoked key): say why.
    if (conn.failed) throw conn.failed;
    return 0;
  },
};
