/**
 * The settings file, `$ZMX_CONFIG_DIR/config.json`, through `conf` (the only
 * importer of it), for the commands that change it (`zmx set`, `zmx
 * config`); what only reads it goes through src/platform/config-file.ts. It
 * holds only the keys the user set, so `unset` returns a key to its default
 * and a default changed in a later version reaches users who never set it.
 * Rules and messages are src/common/config.ts: every read goes through its
 * parse and check (conf's `deserialize`), every write through its check
 * first. conf gets no JSON Schema of its own: Ajv would compile one at every
 * construction (≈ 60 ms of CPU) to repeat those same checks.
 *
 * The file holds no secrets: mode 0644 (less the umask), in the config
 * directory (0700, shared with the keys).
 */
import Conf from 'conf';
import { configDir, ensurePrivateDir } from '../common/paths.js';
import {
  checkConfigKey, parseConfigText, validateConfigData, withDefaults,
  type Config, type ConfigKey,
} from '../common/config.js';
import { configError as asOneLine, configFile } from './config-file.js';

const CONFIG_FILE_MODE = 0o644;

export class ConfigStore {
  readonly path: string;
  private readonly conf: Conf<Partial<Config>>;

  /** Reads and checks the file (if any); a bad one throws a one-line EINVAL naming the file and the key. */
  constructor(dir = configDir()) {
    ensurePrivateDir(dir);
    this.path = configFile(dir);
    const file = this.path;
    try {
      this.conf = new Conf<Partial<Config>>({
        cwd: dir,
        configName: 'config',
        configFileMode: CONFIG_FILE_MODE,
        accessPropertiesByDotNotation: false,
        clearInvalidConfig: false,
        // Our own parse and check first, for messages that name the file and the key.
        deserialize: (text: string) => parseConfigText(text, file),
        serialize: (value: Partial<Config>) => JSON.stringify(value, null, 2) + '\n',
      });
    } catch (err) {
      throw asOneLine(err, file);
    }
  }

  /** The keys the user set, as stored (read afresh from the file). */
  explicit(): Partial<Config> {
    try {
      return { ...this.conf.store };
    } catch (err) {
      throw asOneLine(err, this.path);
    }
  }

  /** Every setting, defaults filled in. */
  load(): Config {
    return withDefaults(this.explicit());
  }

  get<K extends ConfigKey>(key: K): Config[K] {
    checkConfigKey(key);
    return this.load()[key];
  }

  /** Stores a checked value (parse text with parseConfigValue first). */
  set<K extends ConfigKey>(key: K, value: Config[K]): void {
    checkConfigKey(key);
    const next = { ...this.explicit(), [key]: value };
    validateConfigData(next, this.path);
    try {
      this.conf.set(key, value as never);
    } catch (err) {
      throw asOneLine(err, this.path);
    }
  }

  /** Back to the default. */
  unset(key: ConfigKey): void {
    checkConfigKey(key);
    this.explicit();
    try {
      this.conf.delete(key);
    } catch (err) {
      throw asOneLine(err, this.path);
    }
  }
}
