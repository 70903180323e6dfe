/**
 * Finds and reads theme files, and picks the theme a TUI client uses:
 * `--theme`, else the `theme` setting, else NO_COLOR's monochrome theme,
 * else the default. Validation is src/common/theme.ts.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { packagePath } from '../common/entries.js';
import { ZmxError } from '../common/errors.js';
import { isThemePath } from '../common/config.js';
import { DEFAULT_THEME, MONO_THEME, noColor, parseTheme, type Theme } from '../common/theme.js';

/** The shipped themes: themes/ at the package root. */
export const THEMES_DIR = packagePath('themes/');

/** The names of the themes in a directory, sorted. */
export function themeNames(themesDir = THEMES_DIR): string[] {
  try {
    return readdirSync(themesDir).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -'.json'.length)).sort();
  } catch {
    return [];
  }
}

/**
 * Loads a theme by name (`themes/NAME.json`) or by path to a .json file
 * (relative to `cwd`). Every failure is a one-line ZmxError naming the file:
 * ENOENT for a missing theme, EINVAL for bad JSON or a bad field.
 */
export function loadTheme(nameOrPath: string, themesDir = THEMES_DIR, cwd = process.cwd()): Theme {
  const byPath = isThemePath(nameOrPath);
  const file = byPath ? resolve(cwd, nameOrPath) : join(themesDir, `${nameOrPath}.json`);
  // Messages name the file as the user wrote it, or the shipped file's full path.
  const shown = byPath ? nameOrPath : file;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && !byPath) {
      throw new ZmxError('ENOENT', `theme "${nameOrPath}" not found (available: ${themeNames(themesDir).join(', ')}; or give a path to a .json file)`);
    }
    if (code === 'ENOENT') throw new ZmxError('ENOENT', `${shown}: no such theme file`);
    if (code === 'EISDIR') throw new ZmxError('EINVAL', `${shown}: is a directory, not a theme file`);
    if (code === 'EACCES' || code === 'EPERM') throw new ZmxError('EACCES', `${shown}: permission denied`);
    throw new ZmxError('EINVAL', `${shown}: cannot read (${code ?? String(err)})`);
  }
  return parseTheme(text, shown, basename(file, '.json'));
}

export interface ThemeChoice {
  /** `--theme NAME|PATH`, if given. */
  flag?: string | undefined;
  /** The `theme` setting, only if the user set it (readConfigFile().theme), not the default. */
  config?: string | undefined;
  env?: NodeJS.ProcessEnv;
  themesDir?: string;
  cwd?: string;
}

/**
 * The theme a client draws with. NO_COLOR (set and non-empty) gives the
 * monochrome theme unless the user chose a theme explicitly, by flag or in
 * the config file: no-color.org asks that per-instance arguments and user
 * configuration override it. The pane contents' own colours are not the
 * theme's business and are left alone either way.
 */
export function resolveTheme(choice: ThemeChoice = {}): Theme {
  const { flag, config, env = process.env, themesDir = THEMES_DIR, cwd = process.cwd() } = choice;
  if (flag !== undefined && flag !== '') return loadTheme(flag, themesDir, cwd);
  if (config !== undefined && config !== '') return loadTheme(config, themesDir, cwd);
  if (noColor(env)) return MONO_THEME;
  // Built in (and equal to themes/default.json): drawing never fails for want of a file.
  return DEFAULT_THEME;
}
