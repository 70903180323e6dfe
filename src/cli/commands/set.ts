import type { CommandSpec } from '../command.js';
import { UsageError } from '../command.js';
import { HISTORY_LIMIT_BOUNDS, parseConfigValue } from '../../common/config.js';
import { configDir } from '../../common/paths.js';
import { TERMINAL } from '../../common/constants.js';

/**
 * Server options `set` takes as `zmx set OPTION VALUE` (tmux's `set -g`):
 * a value without "=" cannot be a label, so the form is never ambiguous
 * with `zmx set NAME k=v`, even for a session of that name.
 */
const OPTIONS = ['history-limit'] as const;
type Option = (typeof OPTIONS)[number];

function isOption(word: string | undefined): word is Option {
  return (OPTIONS as readonly string[]).includes(word ?? '');
}

export const set: CommandSpec = {
  name: 'set',
  aliases: [],
  summary: 'Set session labels (k= removes one), or history-limit N',
  args: [
    { name: 'name', description: 'session, or "." for this one (or the option history-limit)', required: true },
    { name: 'labels', description: 'key=value pairs (or the option\'s value)', required: true, variadic: true },
  ],
  options: [],
  details: [
    'Keys and values may hold letters, digits, "-", "_" and ".". Built-in fields (name, pid, clients, created, cwd, cmd, ended, exit_code) are read-only. Labels live as long as the session.',
    `zmx set history-limit N sets the lines of history (scrollback) each new pane keeps, as tmux's history-limit: ${HISTORY_LIMIT_BOUNDS.min} to ${HISTORY_LIMIT_BOUNDS.max}, default ${TERMINAL.scrollbackLines}. New sessions and panes take the value current when they are made; existing ones keep theirs. It is the setting history-limit of zmx config (stored in config.json), read by the server of this machine.`,
  ].join('\n\n'),
  examples: ['zmx set dev project=zmx env=dev', 'zmx set . status=fail', 'zmx set next "$(zmx get prev)"', 'zmx set history-limit 50000'],
  async run(ctx, args) {
    const [rawName, ...words] = args;
    if (isOption(rawName) && words.length === 1 && !words[0]!.includes('=')) {
      // The setting lives beside the server it configures: a remote one reads its own machine's file.
      if (ctx.host) throw new UsageError(`${rawName} is a setting of the server's machine: run "zmx set ${rawName} ${words[0]}" there`);
      const value = parseConfigValue(rawName, words[0]!);
      const { ConfigStore } = await import('../../platform/config-store.js');
      new ConfigStore(configDir(ctx.env)).set(rawName, value);
      return 0;
    }
    const name = ctx.sessionName(rawName);
    const pairs: Record<string, string> = {};
    for (const token of words.join(' ').split(/\s+/).filter(Boolean)) {
      const eq = token.indexOf('=');
      if (eq < 0) throw new UsageError(`expected key=value, got "${token}"`);
      const key = token.slice(0, eq);
      if (key === '') throw new UsageError('label key cannot be empty');
      pairs[key] = token.slice(eq + 1);
    }
    const conn = await ctx.connectFor(name);
    await conn.request('session.labels', { name, set: pairs, unset: [], clear: false });
    return 0;
  },
};
