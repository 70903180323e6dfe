import type { CommandSpec } from '../command.js';
import { UsageError } from '../command.js';
import { TARGET, intOpt, portalFor } from './fs.js';
import { LIMITS } from '../../common/constants.js';
import type { ExecInfo } from '../../common/portal.js';
import type { ExecOutcome, PortalClient } from '../../client/portal.js';
import type { Context } from '../context.js';

/** timeout(1)'s status for a command that ran out of time. */
const TIMED_OUT_STATUS = 124;
/** A shell's status for a command ended by signal N. */
const SIGNAL_STATUS_BASE = 128;
const SIGNAL_NUMBERS: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGUSR1: 10, SIGUSR2: 12, SIGTERM: 15 };

/** The status `zmx exec` exits with: the command's own, as a shell would report it. */
export function execStatus(o: ExecOutcome): number {
  if (o.timedOut) return TIMED_OUT_STATUS;
  if (o.exitCode !== null) return o.exitCode;
  return SIGNAL_STATUS_BASE + (o.signal ? SIGNAL_NUMBERS[o.signal] ?? 0 : 0);
}

function infoLine(e: ExecInfo): string {
  const state = e.result ? (e.result.exitCode !== null ? `exit=${e.result.exitCode}` : `signal=${e.result.signal}`) : 'running';
  return `${e.id}\tpid=${e.pid}\t${state}\tstarted=${new Date(e.started).toISOString()}\t${e.argv.join(' ')}\n`;
}

function finish(ctx: Context, outcome: ExecOutcome, json: boolean, timeoutS: number): number {
  if (json) {
    const { exitCode, signal, durationMs, truncated, timedOut } = outcome;
    ctx.out(JSON.stringify({ exitCode, signal, durationMs, truncated, timedOut, stdout: outcome.stdout.toString('utf8'), stderr: outcome.stderr.toString('utf8') }) + '\n');
  } else if (outcome.timedOut) {
    ctx.err(`zmx: the command ran out of time (${timeoutS} s) and was killed with its children\n`);
  }
  return execStatus(outcome);
}

export const exec: CommandSpec = {
  name: 'exec',
  aliases: [],
  summary: 'Run a command in a session\'s root: separate stdout and stderr, its exit code',
  args: [{ name: 'cmd', description: 'the command and its arguments (after --); one argument is run by /bin/sh -c', variadic: true }],
  options: [
    TARGET,
    { flags: '--json', description: 'print {"exitCode","signal","durationMs","truncated","timedOut","stdout","stderr"} when it ends' },
    { flags: '--timeout <seconds>', description: 'kill it and everything it started after this long (exit 124)' },
    { flags: '-C, --cwd <dir>', description: 'run it here, relative to the root' },
    { flags: '-n, --no-stdin', description: 'do not pass this stdin on (as ssh -n)' },
    { flags: '--list', description: 'list the session\'s commands (running, and ended lately): id, pid, state' },
    { flags: '--attach <id>', description: 'follow a command started earlier to its end, from its first output kept' },
    { flags: '--kill <id>', description: 'end a running command and its children (SIGTERM, then SIGKILL)' },
  ],
  passThrough: true,
  details: 'Unlike zmx run, which types into a pane a person watches, exec starts the command itself, in its own process group: stdout and stderr stay apart, Ctrl-C is passed on, and zmx exits with the command\'s status (128+N for signal N, 124 on --timeout). A single argument with spaces is a shell command line (zmx exec -t S -- "make && make test"); several are an argv, run without a shell. Stdin is passed on when it is not a terminal.',
  examples: ['zmx exec -t agent -- npm test', 'zmx exec -t agent --json --timeout 60 -- "make -j4 && make check"', 'zmx exec -t agent --list', 'zmx exec -t agent --attach 3'],
  async run(ctx, args, opts) {
    const portal = await portalFor(ctx, opts);
    const json = Boolean(opts['json']);
    if (opts['list']) {
      for (const e of await portal.execs()) ctx.out(infoLine(e));
      return 0;
    }
    if (opts['kill'] !== undefined) {
      await portal.kill(intOpt(opts, 'kill', '--kill', 0));
      return 0;
    }
    const timeoutS = opts['timeout'] === undefined ? 0 : Number(opts['timeout']);
    if (!Number.isFinite(timeoutS) || timeoutS < 0) throw new UsageError(`--timeout takes seconds, not "${String(opts['timeout'])}"`);
    const onStdout = json ? undefined : (d: Buffer) => { ctx.stdout.write(d); };
    const onStderr = json ? undefined : (d: Buffer) => { ctx.stderr.write(d); };
    if (opts['attach'] !== undefined) {
      return finish(ctx, await portal.follow(intOpt(opts, 'attach', '--attach', 0), { onStdout, onStderr }), json, timeoutS);
    }
    const words = args[0] === '--' ? args.slice(1) : args;
    if (words.length === 0) throw new UsageError('exec needs a command: zmx exec -t SESSION -- CMD [ARGS...]');
    const shell = words.length === 1 && /\s/.test(words[0]!) ? words[0]! : '';
    const passStdin = opts['stdin'] !== false && !ctx.stdinIsTTY;
    const info = await portal.execStart({
      argv: shell ? [] : words, shell, cwd: (opts['cwd'] as string | undefined) ?? '', timeoutMs: Math.round(timeoutS * 1000),
    }, passStdin);
    // Ctrl-C and kill go on to the command; its end, reported as usual, ends us.
    const forward = (signal: 'SIGINT' | 'SIGTERM' | 'SIGHUP') => () => { portal.kill(info.id, signal).catch(() => {}); };
    const handlers = (['SIGINT', 'SIGTERM', 'SIGHUP'] as const).map((s) => [s, forward(s)] as const);
    for (const [s, h] of handlers) process.on(s, h);
    if (passStdin) void pumpStdin(ctx, portal, info.id);
    try {
      return await finish(ctx, await portal.follow(info.id, { onStdout, onStderr }), json, timeoutS);
    } finally {
      for (const [s, h] of handlers) process.off(s, h);
    }
  },
};

/** This process's stdin to the command's, then its end. */
async function pumpStdin(ctx: Context, portal: PortalClient, id: number): Promise<void> {
  try {
    for await (const chunk of ctx.stdin) {
      const data = chunk as Buffer;
      for (let at = 0; at < data.length; at += LIMITS.maxWriteBytes) {
        await portal.conn.request('exec.stdin', { exec: id, eof: false }, [data.subarray(at, at + LIMITS.maxWriteBytes)]);
      }
    }
    await portal.conn.request('exec.stdin', { exec: id, eof: true });
  } catch {
    /* the command ended first, or does not read its stdin */
  }
}
