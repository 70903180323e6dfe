/**
 * The command line: builds a commander program from the command table and
 * runs one command line with it. Errors are one line on stderr (`zmx: ...`)
 * and a non-zero status. No side effect on import (main.ts is the entry).
 */
import { Command, CommanderError } from 'commander';
import { ZmxError } from '../common/errors.js';
import { COMMANDS } from './table.js';
import { Context, SESSION_NAME_REQUIRED } from './context.js';
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
  cmd.configureOutput({
    writeErr: (s) => process.stderr.write(s),
    writeOut: (s) => process.stdout.write(s),
    outputError: (s, write) => write(missingSessionName(spec, s) ?? s),
  });
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
  // Made when this command's help is shown: a command's details may read files (config set's themes).
  cmd.addHelpText('after', () => {
    const extra = [spec.details, spec.examples?.length ? `Examples:\n${spec.examples.map((e) => `  ${e}`).join('\n')}` : '']
      .filter(Boolean).join('\n\n');
    return extra ? `\n${extra}` : '';
  });
  cmd.action(async (...values: unknown[]) => {
    const opts = cmd.opts();
    if (typeof opts['host'] === 'string') ctx.host = opts['host'];
    const positional = values.slice(0, spec.args.length).flatMap((v) => (Array.isArray(v) ? v : v === undefined ? [] : [String(v)]));
    done(await spec.run!(ctx, positional as string[], opts));
  });
}

/**
 * commander's "missing required argument 'name'" for an argument that is a
 * session, said as zmx says it (SessionNameRequired) with a sentence.
 */
function missingSessionName(spec: CommandSpec, message: string): string | null {
  const m = /missing required argument '([^']+)'/.exec(message);
  const arg = m ? spec.args.find((a) => a.name === m[1]) : undefined;
  if (!arg || !/session/.test(arg.description)) return null;
  return `zmx: ${SESSION_NAME_REQUIRED}: ${spec.name} needs a session name: zmx ${spec.name} NAME\n`;
}

/**
 * A command whose positional may start with '-' (keys authorize -KEY...):
 * such a word is moved after a `--`, where commander takes it as an argument.
 */
function dashPositionals(args: string[]): string[] {
  let spec = COMMANDS.find((c) => c.name === args[0] || c.aliases.includes(args[0] ?? ''));
  let at = 1;
  if (spec?.subcommands) {
    spec = spec.subcommands.find((c) => c.name === args[1] || c.aliases.includes(args[1] ?? ''));
    at = 2;
  }
  const wants = spec?.positionalWord;
  if (!wants) return args;
  const end = args.indexOf('--', at);
  const before = end < 0 ? args.slice(at) : args.slice(at, end);
  const moved = before.filter((w) => w.startsWith('-') && wants(w));
  if (moved.length === 0) return args;
  const after = end < 0 ? [] : args.slice(end + 1);
  return [...args.slice(0, at), ...before.filter((w) => !moved.includes(w)), '--', ...moved, ...after];
}

/** Whether a command acts on a server a -H can name (it, or its sub-commands, take --host). */
function takesHost(spec: CommandSpec): boolean {
  const own = (s: CommandSpec) => s.options.some((o) => /(^|[ ,])--host\b/.test(o.flags));
  return own(spec) || (spec.subcommands ?? []).some(own);
}

/**
 * `zmx -H HOST CMD ...` (or --host HOST, --host=HOST, -HHOST): the host
 * before the command, as ssh users type it; returns it and the rest. A -H
 * after the command is the command's own option (and wins).
 */
export function leadingHost(argv: readonly string[]): { host: string | null; rest: string[] } {
  let host: string | null = null;
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '-H' || a === '--host') {
      const v = argv[i + 1];
      if (v === undefined || v === '' || v.startsWith('-')) throw new UsageError(`${a} needs a host name before the command: zmx ${a} HOST list (zmx host ls shows them)`, 2);
      host = v;
      i++;
    } else if (a.startsWith('--host=') || (a.startsWith('-H') && !a.startsWith('--'))) {
      host = a.startsWith('--host=') ? a.slice('--host='.length) : a.slice(2);
      if (host === '') throw new UsageError('--host= needs a host name (zmx host ls shows them)', 2);
    } else {
      break;
    }
  }
  return { host, rest: argv.slice(i) };
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
  let args: string[];
  try {
    const lead = leadingHost(argv);
    if (lead.host !== null) {
      ctx.host = lead.host;
      const word = lead.rest[0];
      const spec = COMMANDS.find((c) => c.name === word || c.aliases.includes(word ?? ''));
      if (spec && !takesHost(spec) && spec.name !== 'help') throw new UsageError(`${spec.name} acts on this machine only: drop -H ${lead.host}`, 2);
    }
    args = lead.rest;
  } catch (err) {
    await ctx.dispose();
    return report(err);
  }
  // Bare `zmx` lists sessions, as zmx does; -h/--help/-v/--version are the help and version commands.
  if (args.length === 0) args = ['list'];
  if (args[0] === '-h' || args[0] === '--help') args = ['help', ...args.slice(1)];
  if (args[0] === '-v' || args[0] === '--version') args = ['version', ...args.slice(1)];
  // `help CMD` is CMD's own --help (an unknown CMD is reported as such).
  if ((args[0] === 'help' || args[0] === 'h') && args[1] !== undefined && !args[1].startsWith('-')) args = [...args.slice(1), '--help'];
  args = dashPositionals(args);
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
