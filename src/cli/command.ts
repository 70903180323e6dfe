/**
 * Commands as data (as tmux's cmd-*.c): each file in commands/ exports one
 * CommandSpec; table.ts lists them. The parser, `zmx help`, shell
 * completions and man/zmx.1 are all made from the table, so they agree.
 */
import type { Context } from './context.js';

export interface OptionSpec {
  /** commander syntax: '-d, --detach' or '-c, --cwd <dir>'. */
  flags: string;
  description: string;
}

export interface ArgSpec {
  name: string;
  description: string;
  required?: boolean;
  variadic?: boolean;
}

export interface CommandSpec {
  name: string;
  aliases: string[];
  /** One line for `zmx help`. */
  summary: string;
  args: ArgSpec[];
  options: OptionSpec[];
  /** Paragraphs for `--help` and the man page. */
  details?: string;
  examples?: string[];
  /** Options after the first argument belong to the command run in the pane (attach NAME vim -u x). */
  passThrough?: boolean;
  /**
   * A word this returns true for is the positional argument even when it
   * starts with '-' (a Z85 key may: commander would take it for an option).
   */
  positionalWord?(word: string): boolean;
  /** Sub-commands, e.g. `keys show`. */
  subcommands?: CommandSpec[];
  /** Returns the exit status. */
  run?(ctx: Context, args: string[], opts: Record<string, unknown>): Promise<number>;
}

// UsageError lives in its own module so that context.ts, which this file's
// CommandSpec names, can throw it without importing this file back.
export { UsageError } from './usage-error.js';

/** Whether a command's own options take `-h` (split -h, as in tmux): its help is then --help alone. */
export function ownsShortHelp(spec: CommandSpec): boolean {
  return spec.options.some((o) => o.flags.startsWith('-h,'));
}
