import type { CommandSpec } from '../command.js';
import { topLevelHelp } from '../help.js';

/**
 * `zmx help`; `zmx help CMD` is turned into `zmx CMD --help` by main.ts.
 * The table is handed in (table.ts lists this command), never imported back.
 */
export function helpCommand(table: () => readonly CommandSpec[]): CommandSpec {
  return {
    name: 'help',
    aliases: ['h'],
    summary: 'Show this help, or a command\'s',
    args: [{ name: 'command', description: 'a command name' }],
    options: [],
    async run(ctx) {
      ctx.out(topLevelHelp(table()));
      return 0;
    },
  };
}
