import { resolve } from 'node:path';
import type { CommandSpec } from '../command.js';
import type { Context } from '../context.js';
import {
  CONFIG_KEYS, STATUS_PLACEHOLDERS, checkConfigKey, configValueText, describeConfigKeys, isThemePath, parseConfigValue,
  type ConfigKey,
} from '../../common/config.js';
import { configDir } from '../../common/paths.js';
import { loadTheme, themeNames } from '../../client/theme-loader.js';
import type { ConfigStore } from '../../platform/config-store.js';

/** conf (and its JSON Schema validator) costs ~200 ms to load: only `config` pays it. */
async function openStore(ctx: Context): Promise<ConfigStore> {
  const { ConfigStore } = await import('../../platform/config-store.js');
  return new ConfigStore(configDir(ctx.env));
}

const KEY_ARG = { name: 'key', description: `a setting: ${CONFIG_KEYS.join(', ')}`, required: true };

const get: CommandSpec = {
  name: 'get',
  aliases: [],
  summary: 'Print a setting\'s value (its default if unset)',
  args: [KEY_ARG],
  options: [],
  async run(ctx, args) {
    const key = checkConfigKey(args[0]!);
    const store = await openStore(ctx);
    ctx.out(configValueText(key, store.get(key)) + '\n');
    return 0;
  },
};

const set: CommandSpec = {
  name: 'set',
  aliases: [],
  summary: 'Change a setting',
  args: [KEY_ARG, { name: 'value', description: 'the new value', required: true }],
  options: [],
  // A getter: the shipped themes are a directory read, made when help is shown, not at every start.
  get details() {
    return [
      'Settings:',
      ...describeConfigKeys().map((l) => `  ${l}`),
      '',
      `A theme is checked by loading it, so a broken theme file is reported now rather than at attach. Shipped themes: ${themeNames().join(', ')}. A path is stored absolute.`,
      `The status format's placeholders: ${STATUS_PLACEHOLDERS.map((p) => `#{${p}}`).join(' ')}; ## is a #, and #[align=right] starts the right-hand part.`,
    ].join('\n');
  },
  examples: [
    'zmx config set prefix C-a',
    'zmx config set theme solarized-dark',
    'zmx config set theme ./my-theme.json',
    'zmx config set status-format \'#{session} #{windows}#[align=right]#{time}\'',
  ],
  async run(ctx, args) {
    const key: ConfigKey = checkConfigKey(args[0]!);
    let value = parseConfigValue(key, args[1]!);
    if (key === 'theme') {
      const theme = value as string;
      loadTheme(theme);
      if (isThemePath(theme)) value = resolve(theme);
    }
    (await openStore(ctx)).set(key, value);
    return 0;
  },
};

const unset: CommandSpec = {
  name: 'unset',
  aliases: [],
  summary: 'Return a setting to its default',
  args: [KEY_ARG],
  options: [],
  async run(ctx, args) {
    const key = checkConfigKey(args[0]!);
    (await openStore(ctx)).unset(key);
    return 0;
  },
};

const list: CommandSpec = {
  name: 'list',
  aliases: [],
  summary: 'Print every setting as key=value (defaults included)',
  args: [],
  options: [{ flags: '--json', description: 'one JSON object, values typed as config.json holds them' }],
  async run(ctx, _args, opts) {
    const config = (await openStore(ctx)).load();
    if (opts['json']) ctx.out(JSON.stringify(config, null, 2) + '\n');
    else ctx.out(CONFIG_KEYS.map((k) => `${k}=${configValueText(k, config[k])}\n`).join(''));
    return 0;
  },
};

export const config: CommandSpec = {
  name: 'config',
  aliases: [],
  summary: 'Read and change settings ($ZMX_CONFIG_DIR/config.json)',
  args: [],
  options: [],
  subcommands: [get, set, unset, list],
};
