/**
 * Reading `$ZMX_CONFIG_DIR/config.json` without `conf`: the servers and the
 * full-screen client only read their settings, so they go without conf and
 * the Ajv, semver and fast-uri it imports (a third of a server bundle, parsed
 * at every start). The same file, the same rules and messages
 * (src/common/config.ts) as src/platform/config-store.ts, which writes it.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { configDir } from '../common/paths.js';
import { ZmxError } from '../common/errors.js';
import { firstLine, parseConfigText, withDefaults, type Config } from '../common/config.js';

const CONFIG_FILE_NAME = 'config.json';

/** The settings file of a config directory. */
export function configFile(dir = configDir()): string {
  return join(dir, CONFIG_FILE_NAME);
}

/** The keys the user set (none without a file); a bad file throws a one-line EINVAL naming the file and the key. */
export function readConfigFile(dir = configDir()): Partial<Config> {
  const file = configFile(dir);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw configError(err, file);
  }
  return parseConfigText(text, file);
}

/** Every setting from the default config directory, defaults filled in. */
export function loadConfig(dir = configDir()): Config {
  return withDefaults(readConfigFile(dir));
}

/** conf's and the file system's errors as one line naming the file. */
export function configError(err: unknown, file: string): ZmxError {
  if (err instanceof ZmxError) return err;
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'EACCES' || code === 'EPERM') return new ZmxError('EACCES', `${file}: permission denied`);
  return new ZmxError('EINVAL', `${file}: ${firstLine(err)}`);
}
