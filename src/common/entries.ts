/**
 * The one place that knows where zmx's entry files are: every process and
 * worker zmx starts (the CLI, the front, the pty host, the portal's search
 * worker) and the package's own files (bin/zmx, themes/).
 *
 * The same code runs from two layouts, and a process always starts its
 * children from the layout it runs from:
 * - compiled: tsc's output, dist/src/... (what the tests import), and
 * - bundled: esbuild's dist/bundle/NAME.js (scripts/bundle.mjs, from the
 *   same sources and this table), which bin/zmx runs: one file to read
 *   instead of hundreds of modules, so a CLI call starts in a fraction of
 *   the time.
 * The bundler defines ZMX_BUNDLE; in tsc's output it is not defined.
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

declare const ZMX_BUNDLE: boolean | undefined;

/** Whether this code runs from the bundle (dist/bundle) rather than from tsc's output (dist/src). */
export const BUNDLED = typeof ZMX_BUNDLE !== 'undefined' && ZMX_BUNDLE === true;

/** Every entry zmx starts as a process or a worker: its source, relative to the package root. */
export const ENTRIES = {
  cli: 'src/cli/main.ts',
  front: 'src/server/main.ts',
  ptyhost: 'src/ptyhost/main.ts',
  'search-worker': 'src/portal/search-worker.ts',
} as const;

export type EntryName = keyof typeof ENTRIES;

/** Where the bundler writes the entries, relative to the package root. */
export const BUNDLE_DIR = 'dist/bundle';

/**
 * The package root. This file is dist/src/common/entries.js in tsc's
 * output; in the bundle it is inlined into dist/bundle/NAME.js or into a
 * shared chunk beside them (the bundler writes every file in that one folder).
 */
export const PACKAGE_ROOT = fileURLToPath(new URL(BUNDLED ? '../../' : '../../../', import.meta.url));

/** A file of the package: `bin/zmx`, `themes/`. */
export function packagePath(relative: string): string {
  return join(PACKAGE_ROOT, relative);
}

/** tsc's output for an entry: dist/src/... .js. */
export function compiledPath(name: EntryName): string {
  return packagePath(join('dist', ENTRIES[name].replace(/\.ts$/, '.js')));
}

/** The bundler's output for an entry: dist/bundle/NAME.js. */
export function bundlePath(name: EntryName): string {
  return packagePath(join(BUNDLE_DIR, `${name}.js`));
}

/** The file to start for an entry, in the layout this process runs from. */
export function entryPath(name: EntryName): string {
  return BUNDLED ? bundlePath(name) : compiledPath(name);
}

/**
 * What bin/zmx runs: the bundle, unless it is missing or older than tsc's
 * last build (a developer ran `tsc -b` after changing a source and not the
 * bundler): then tsc's output, which is the current code, only slower to
 * start. An installed package has no tsbuildinfo, so it always runs the bundle.
 */
export function cliEntry(): string {
  const bundle = statSync(bundlePath('cli'), { throwIfNoEntry: false });
  if (!bundle) return compiledPath('cli');
  const built = statSync(packagePath('dist/.tsbuildinfo'), { throwIfNoEntry: false });
  return built && built.mtimeMs > bundle.mtimeMs ? compiledPath('cli') : bundlePath('cli');
}
