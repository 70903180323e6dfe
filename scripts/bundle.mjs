#!/usr/bin/env node
// Bundles zmx's entries (src/common/entries.ts: the CLI, the front, the pty
// host, the portal's search worker) with esbuild into dist/bundle/NAME.js,
// ESM, code split: what a command imports lazily (the full-screen client with
// blessed and @xterm, the MCP SDK, conf) lands in chunks of its own, read only
// when that command runs. One file (plus a shared chunk or two) instead of
// ~90 of zmx's modules and their packages' is most of a CLI call's start-up
// (docs/performance.md). Run by `npm run build` after tsc, and alone by
// `prepare` (npm install).
//
// Native addons stay outside (their loaders find the .node file relative to
// their own package), and so does blessed: it requires its widgets by computed
// names and reads its terminfo files relative to its own directory.
import { build } from 'esbuild';
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
/**
 * The entry table (src/common/entries.ts), which bin/zmx imports too, as
 * JavaScript: tsc's output when `npm run build` ran tsc first. `npm
 * install` (prepare) bundles without tsc, since esbuild reads the
 * TypeScript sources itself; type-checking and the tests' compiled files
 * are the developer's build. Then the table alone is transpiled here, and
 * again whenever its source is newer (a pull changed it since the last
 * install).
 */
const TABLE = 'dist/src/common/entries.js';
const TABLE_SOURCE = 'src/common/entries.ts';
const mtime = (f) => statSync(`${ROOT}${f}`, { throwIfNoEntry: false })?.mtimeMs ?? -1;
if (mtime(TABLE) < mtime(TABLE_SOURCE)) {
  await build({ absWorkingDir: ROOT, entryPoints: [TABLE_SOURCE], outfile: TABLE, format: 'esm', platform: 'node', target: 'node20', logLevel: 'warning' });
}
const { BUNDLE_DIR: OUT, ENTRIES } = await import(pathToFileURL(`${ROOT}${TABLE}`).href);
/** Packages loaded from node_modules at run time: the native addons, and blessed (above). */
const EXTERNAL = ['zeromq', 'node-pty', '@napi-rs/keyring', 'msgpackr-extract', 'koffi', 'blessed'];
/**
 * The CLI goes without msgpackr's native string extractor: finding and
 * loading that addon (node-gyp-build's search, dlopen) was ≈ 13 ms of every
 * call, and it pays off only on large string-heavy messages, which a CLI
 * process does not unpack (output travels as raw frames). msgpackr falls back
 * to its JavaScript decoder when the require answers nothing. The long-lived
 * front and pty host keep it.
 */
const WITHOUT_EXTRACTOR = {
  name: 'zmx-without-msgpackr-extract',
  setup(b) {
    b.onResolve({ filter: /^msgpackr-extract$/ }, () => ({ path: 'msgpackr-extract', namespace: 'zmx-stub' }));
    b.onLoad({ filter: /.*/, namespace: 'zmx-stub' }, () => ({ contents: 'module.exports = null;', loader: 'js' }));
  },
};

rmSync(`${ROOT}${OUT}`, { recursive: true, force: true });
mkdirSync(`${ROOT}${OUT}`, { recursive: true });
// One build per entry, so that the CLI's start-up reads no chunk it shares
// with the server (a shared chunk would hold code ls does not run).
const outputs = {};
for (const [name, source] of Object.entries(ENTRIES)) {
  const result = await build({
    absWorkingDir: ROOT,
    entryPoints: { [name]: source },
    outdir: OUT,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    external: name === 'cli' ? EXTERNAL.filter((p) => p !== 'msgpackr-extract') : EXTERNAL,
    plugins: name === 'cli' ? [WITHOUT_EXTRACTOR] : [],
    define: { ZMX_BUNDLE: 'true' },
    // CommonJS packages (commander) call require() for node built-ins: an ESM
    // bundle has no require of its own, so give it one. Made on first call:
    // every chunk carries this banner, and a chunk's import.meta is built
    // when first read (≈ 0.4 ms each, a dozen chunks in a CLI call).
    banner: { js: "import { createRequire as __zmxCreateRequire } from 'node:module'; let __zmxRequire; const require = (id) => (__zmxRequire ??= __zmxCreateRequire(import.meta.url))(id);" },
    chunkNames: `${name}-[hash]`,
    sourcemap: 'linked',
    metafile: true,
    logLevel: 'warning',
  });
  Object.assign(outputs, result.metafile.outputs);
}
// ASCII only. esbuild escapes non-ASCII characters in strings and
// identifiers, but keeps the comments it carries over as they are, and one
// "—" or "×" in a comment makes V8 hold the whole file as a two-byte string:
// the loader's decode took twice as long, and the parse scans twice the
// bytes, at every start of the front and the pty host. As \uXXXX the
// character means the same in a comment, a string, a regular expression or
// an identifier; only a source map column on such a line moves.
for (const file of Object.keys(outputs).filter((f) => f.endsWith('.js'))) {
  const text = readFileSync(`${ROOT}${file}`, 'utf8');
  const ascii = text.replace(/[^\x00-\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  if (ascii !== text) writeFileSync(`${ROOT}${file}`, ascii);
}
// Which sources each output file holds: the start-up test reads it.
writeFileSync(`${ROOT}${OUT}/meta.json`, JSON.stringify({ outputs }));
