import type { CommandSpec } from '../command.js';
import { UsageError } from '../command.js';
import { completions as script } from '../help.js';

/** `zmx completions SHELL`, made from the table it is handed (table.ts lists this command, so it is not imported back). */
export function completionsCommand(table: () => readonly CommandSpec[]): CommandSpec {
  return {
    name: 'completions',
    aliases: ['c'],
    summary: 'Print a shell completion script (bash, zsh, fish)',
    args: [{ name: 'shell', description: 'bash, zsh or fish', required: true }],
    options: [],
    examples: ['eval "$(zmx completions bash)"', 'zmx completions fish > ~/.config/fish/completions/zmx.fish'],
    async run(ctx, args) {
      const text = script(args[0]!, table());
      if (text === null) throw new UsageError(`no completions for shell "${args[0]}"; choose bash, zsh or fish`);
      ctx.out(text);
      return 0;
    },
  };
}
