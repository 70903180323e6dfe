import type { CommandSpec } from '../command.js';
import { topLevelHelp } from '../help.js';
import { COMMANDS } from '../table.js';

/** `zmx help`; `zmx help CMD` is turned into `zmx CMD --help` by main.ts. */
export const help: CommandSpec = {
  name: 'help',
  aliases: ['h'],
  summary: 'Show this help, or a command\'s',
  args: [{ name: 'command', description: 'a command name' }],
  options: [],
  async run(ctx) {
    ctx.out(topLevelHelp(COMMANDS));
    return 0;
  },
};
