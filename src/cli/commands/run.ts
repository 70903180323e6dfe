import { StringDecoder } from 'node:string_decoder';
import type { CommandSpec } from '../command.js';
import { UsageError } from '../command.js';
import { TASK_SHELL, createArgs, shellJoin, labelsOption, setLabels, LABELS_OPTION } from '../util.js';
import { RunOutputFilter } from '../../client/run-output.js';


export const run: CommandSpec = {
  name: 'run',
  aliases: ['r'],
  summary: 'Type a command into a session\'s shell, wait for it, exit with its status',
  args: [
    { name: 'name', description: 'session (created, running bash, if missing)', required: true },
    { name: 'command', description: 'command and arguments; read from stdin when omitted', variadic: true },
  ],
  options: [{ flags: '-d, --detach', description: 'do not wait: print "command sent!" and exit (see zmx wait)' }, LABELS_OPTION],
  passThrough: true,
  details: "The command goes to the pane's shell followed by zmx's completion marker, echo ZMX_TASK_COMPLETED:<id>:$? (id: 4 hex digits, new for each task; on the command's line, or on a line of its own after a heredoc), which the shell prints as ZMX_TASK_COMPLETED:<id>:<status> when the command ends, in the pane and in run's output, for tools that wait on it. The script is pasted when the shell takes bracketed paste, so tabs and heredocs arrive intact; its output (escapes stripped) is printed until the marker, and zmx exits with the command's status. One argument is a script as written; several are joined and quoted. A script on stdin (quotes, $VARS, heredocs, tabs) is passed unchanged.",
  examples: ['zmx run dev make test', 'zmx run --labels "role=ci" ci -d make test', 'zmx run dev -d sleep 10 && zmx wait dev', "printf 'cat <<EOF\\nhello $USER\\nEOF\\n' | zmx run dev"],
  async run(ctx, args, opts) {
    const [rawName, ...rest] = args;
    const name = ctx.sessionName(rawName);
    const labels = labelsOption(opts);
    let detach = Boolean(opts['detach']);
    // zmx compatibility: `zmx run NAME -d cmd` — a -d right after the name is the flag.
    while (rest[0] === '-d' || rest[0] === '--detach') {
      detach = true;
      rest.shift();
    }
    let script: string;
    if (rest.length === 1) {
      // One argument is a script as written: zmx run dev "make && make test".
      script = rest[0]!;
      if (script.trim() === '') throw new UsageError('run needs a command, or a script on stdin');
    } else if (rest.length > 1) {
      script = shellJoin(rest);
    } else {
      if (ctx.stdinIsTTY) throw new UsageError('run needs a command, or a script on stdin');
      script = (await ctx.readStdin()).toString('utf8');
      if (script.trim() === '') throw new UsageError('run needs a command, or a script on stdin');
    }
    const conn = (await ctx.connect(true))!;
    const { result } = await conn.request('session.create', { ...createArgs(ctx, name, TASK_SHELL, undefined), ifMissing: true });
    if (result.created) ctx.out(`session "${name}" created\n`);
    // Labels land before the command is typed: a watcher filtering by them sees the task from its start.
    if (labels) await setLabels(conn, name, labels);
    if (detach) {
      await conn.request('session.run', { name, script, wait: false });
      ctx.out('command sent!\n');
      return 0;
    }
    // Follow the pane's output while the command runs, without the shell's echo.
    const tail = await conn.request('session.tail', { name });
    const filter = new RunOutputFilter(script);
    const decoder = new StringDecoder('utf8');
    /** The last output chunk printed: a chunk is printed once, from the stream or the reply. */
    let printed = tail.result.seq;
    const print = (seq: number, data: Buffer) => {
      if (seq <= printed) return;
      printed = seq;
      ctx.out(filter.push(decoder.write(data)));
    };
    // Output numbers follow one another; a gap (or a Resync, after the stream
    // fell behind) means the stream lost some: the reply brings it, in order.
    let streamLost = false;
    let ended: (() => void) | null = null;
    const streamDone = new Promise<void>((res) => { ended = res; });
    conn.stream(tail.result.sid, {
      output: (seq, data) => {
        if (seq !== printed + 1) streamLost = true;
        if (!streamLost) print(seq, data);
      },
      resync: () => { streamLost = true; },
      end: () => ended?.(),
    });
    const { result: done, frames } = await conn.request('session.run', { name, script, wait: true }, [], { timeoutMs: 0 });
    // The reply carries what the pane printed while the command ran; print
    // whatever the stream has not brought (yet), so no output is ever lost.
    const body = frames[0] ?? Buffer.alloc(0);
    let at = 0;
    for (const [seq, length] of done.chunks ?? []) {
      print(seq, body.subarray(at, at + length));
      at += length;
    }
    ctx.out(filter.push(decoder.end()) + filter.end());
    printed = Number.POSITIVE_INFINITY; // after the marker only the next prompt comes
    conn.detach(tail.result.sid);
    await Promise.race([streamDone, conn.request('server.info', {}).then(() => {})]);
    return done.status ?? 0;
  },
};
