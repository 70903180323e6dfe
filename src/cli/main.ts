/**
 * The zmx executable: builds a commander program from the command table and
 * runs it. Errors are one line on stderr (`zmx: ...`) with a non-zero exit.
 */
import { Command, CommanderError } from 'commander';
import { ZmxError } from '../common/errors.js';
import { COMMANDS } from './table.js';
import { Context } from './context.js';
import { UsageError, ownsShortHelp, type CommandSpec } from './command.js';

function argSyntax(a: CommandSpec['args'][number]): string {
  const inner = a.variadic ? `${a.name}...` : a.name;
  return a.required ? `<${inner}>` : `[${inner}]`;
}

function build(spec: CommandSpec, parent: Command, ctx: Context, done: (status: number) => void): void {
  const cmd = parent.command(spec.name).description(spec.summary);
  for (const alias of spec.aliases) cmd.alias(alias);
  // A command whose own -h means something (split -h, as in tmux) keeps --help alone.
  cmd.helpOption(ownsShortHelp(spec) ? '--help' : '-h, --help', 'show this help');
  cmd.configureOutput({ writeErr: (s) => process.stderr.write(s), writeOut: (s) => process.stdout.write(s) });
  cmd.exitOverride();
  if (spec.subcommands) {
    cmd.enablePositionalOptions();
    for (const sub of spec.subcommands) build(sub, cmd, ctx, done);
    cmd.action(() => {
      cmd.outputHelp();
      done(0);
    });
    return;
  }
  for (const a of spec.args) cmd.argument(argSyntax(a), a.description);
  for (const o of spec.options) cmd.option(o.flags, o.description);
  if (spec.passThrough) cmd.passThroughOptions();
  const extra = [spec.details, spec.examples?.length ? `Examples:\n${spec.examples.map((e) => `  ${e}`).join('\n')}` : '']
    .filter(Boolean).join('\n\n');
  if (extra) cmd.addHelpText('after', `\n${extra}`);
  cmd.action(async (...values: unknown[]) => {
    const opts = cmd.opts();
    if (typeof opts['host'] === 'string') ctx.host = opts['host'];
    const positional = values.slice(0, spec.args.length).flatMap((v) => (Array.isArray(v) ? v : v === undefined ? [] : [String(v)]));
    done(await spec.run!(ctx, positional as string[], opts));
  });
}

export async function main(argv: string[]): Promise<number> {
  const ctx = new Context();
  let status = 0;
  const program = new Command('zmx');
  program.enablePositionalOptions();
  program.exitOverride();
  program.helpOption(false);
  program.configureOutput({ writeErr: (s) => process.stderr.write(s), writeOut: (s) => process.stdout.write(s) });
  for (const spec of COMMANDS) build(spec, program, ctx, (s) => { status = s; });
  program.on('command:*', (operands: string[]) => {
    throw new UsageError(`unknown command "${operands[0]}"; run zmx help for the list`);
  });
  // Bare `zmx` lists sessions, as zmx does; -h/--help/-v/--version are the help and version commands.
  let args = argv.length === 0 ? ['list'] : argv;
  if (args[0] === '-h' || args[0] === '--help') args = ['help', ...args.slice(1)];
  if (args[0] === '-v' || args[0] === '--version') args = ['version', ...args.slice(1)];
  // `help CMD` is CMD's own --help (an unknown CMD is reported as such).
  if ((args[0] === 'help' || args[0] === 'h') && args[1] !== undefined && !args[1].startsWith('-')) args = [...args.slice(1), '--help'];
  try {
    await program.parseAsync(args, { from: 'user' });
  } catch (err) {
    status = report(err);
  } finally {
    await ctx.dispose();
  }
  return status;
}

/** Prints an error as one line and returns the exit status. */
function report(err: unknown): number {
  if (err instanceof CommanderError) {
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.help' || err.code === 'commander.version') return 0;
    // commander already printed "error: ..." on stderr.
    return err.exitCode || 1;
  }
  if (err instanceof UsageError) {
    process.stderr.write(`zmx: ${err.message}\n`);
    return err.status;
  }
  if (err instanceof ZmxError) {
    process.stderr.write(`zmx: ${err.message}\n`);
    return 1;
  }
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`zmx: ${message.split('\n')[0]}\n`);
  return 1;
}

// A reader that stops early (`zmx help | head -3`) closes the pipe: that is
// the end of the output, not an error to crash on.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
}

const status = await main(process.argv.slice(2));
process.exitCode = status;
// Sockets are closed; anything left (a pipe on stdin) must not keep us alive.
setImmediate(() => process.exit(status));
