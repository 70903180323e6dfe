import type { CommandSpec } from '../command.js';
import { UsageError } from '../command.js';
import { topLevelHelp } from '../help.js';
import { COMMANDS } from '../table.js';
import { spawnSync } from 'node:child_process';

export const help: CommandSpec = {
  name: 'help',
  aliases: ['h'],
  summary: 'Show this help, or a command\'s',
  args: [{ name: 'command', description: 'a command name' }],
  options: [],
  async run(ctx, args) {
    if (args[0] === undefined) {
      ctx.out(topLevelHelp(COMMANDS));
      return 0;
    }
    const spec = COMMANDS.find((c) => c.name === args[0] || c.aliases.includes(args[0]!));
    if (!spec) throw new UsageError(`unknown command "${args[0]}"; run zmx help for the list`);
    const r = spawnSync(process.execPath, [process.argv[1]!, spec.name, '--help'], { stdio: 'inherit' });
    return r.status ?? 1;
  },
};
