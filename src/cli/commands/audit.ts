import type { CommandSpec } from '../command.js';
import type { AuditEntry } from '../../common/portal.js';

/** How long one audit read waits for new lines when following: well inside a request's timeout. */
const FOLLOW_WAIT_MS = 5_000;
/** ...and how long the CLI waits for that answer. */
const FOLLOW_TIMEOUT_MS = FOLLOW_WAIT_MS + 15_000;

function line(e: AuditEntry): string {
  const what = e.argv ? e.argv.join(' ') : e.path ?? '';
  const how = e.op === 'exec' && e.result === 'OK' ? (e.timedOut ? 'timeout' : e.exitCode !== null && e.exitCode !== undefined ? `exit=${e.exitCode}` : `signal=${e.signal}`) : e.result;
  return `${e.time}\t${e.key}${e.who ? ` (${e.who})` : ''}\t${e.session || '-'}\t${e.op}\t${how}\t${e.bytes}B\t${e.durationMs}ms\t${what}\n`;
}

export const audit: CommandSpec = {
  name: 'audit',
  aliases: [],
  summary: 'Show the server\'s audit log: who did what, to which session, with what result',
  args: [],
  options: [
    { flags: '-t, --target <name>', description: 'only this session\'s operations' },
    { flags: '-f, --follow', description: 'keep printing new lines as they come' },
    { flags: '--json', description: 'the log\'s own JSON lines' },
  ],
  details: 'The server appends a line for every operation a client asks for: time, key fingerprint (and name), session, operation, result (OK or the error code, e.g. EDENIED, EOUTSIDE), bytes, duration, and the path or argv. A refused operation is always logged; polls and upload chunks are not (the whole is). File contents and command output are never logged. Needs the admin operation on a remote server.',
  examples: ['zmx audit', 'zmx audit -t agent --follow', 'zmx audit --json | jq "select(.result != \\"OK\\")"'],
  async run(ctx, _args, opts) {
    const session = opts['target'] === undefined ? '' : ctx.sessionName(opts['target'] as string);
    const conn = await ctx.connect(false);
    if (!conn) {
      ctx.err('zmx: no server runs here, so there is no audit log yet\n');
      return 1;
    }
    let offset = 0;
    const follow = Boolean(opts['follow']);
    for (;;) {
      const { result } = await conn.request('audit.read', { session, offset, waitMs: follow ? FOLLOW_WAIT_MS : 0 }, [], { timeoutMs: FOLLOW_TIMEOUT_MS });
      for (const e of result.entries) ctx.out(opts['json'] ? JSON.stringify(e) + '\n' : line(e));
      const moved = result.offset !== offset;
      offset = result.offset;
      if (!follow && !moved) return 0;
    }
  },
};
