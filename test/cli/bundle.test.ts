/**
 * The CLI's start-up: bin/zmx runs the esbuild bundle (dist/bundle/cli.js,
 * `npm run build`), and `zmx ls` reads only what listing needs — no blessed,
 * no @xterm, no MCP SDK, no conf — checked by the modules the loader actually
 * loads and, for the bundled ones, by the bundler's map of which sources each
 * output file holds. Behaviour, not timing: the timing is in the bench.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { bundlePath, compiledPath } from '../../src/common/entries.js';
import { ROOT } from '../helpers/harness.js';
import { sandbox, assertOk } from '../helpers/assert.js';

const LOAD_LOG_HOOK = pathToFileURL(join(ROOT, 'dist/test/helpers/load-log.js')).href;
/**
 * Packages a plain request must not load: the full-screen client's, the MCP
 * server's, the settings', and msgpackr's native string extractor (the CLI
 * bundle goes without it, scripts/bundle.mjs).
 */
const HEAVY = /node_modules\/(blessed|@xterm\/|@modelcontextprotocol\/|conf\/|ajv\/|cli-progress\/|pino\/|msgpackr-extract\/|node-gyp-build)/;
const STALE = 'dist/bundle is missing or older than tsc\'s output: run npm run build';

interface Meta { outputs: Record<string, { inputs: Record<string, unknown> }> }

function loadedBy(run: (env: NodeJS.ProcessEnv) => Promise<unknown>): Promise<string[]> {
  const dir = mkdtempSync(join(tmpdir(), 'zmx-load-'));
  const log = join(dir, 'loaded.txt');
  return run({ NODE_OPTIONS: `--import=${LOAD_LOG_HOOK}`, ZMX_T_LOAD_LOG: log })
    .then(() => readFileSync(log, 'utf8').split('\n').filter(Boolean))
    .finally(() => rmSync(dir, { recursive: true, force: true }));
}

/** The files (paths) among what loadedBy logged. */
function filesOf(loaded: string[]): string[] {
  return loaded.filter((u) => u.startsWith('file:')).map((u) => new URL(u).pathname);
}

function readMeta(): Meta {
  return JSON.parse(readFileSync(join(ROOT, 'dist/bundle/meta.json'), 'utf8')) as Meta;
}

/** The sources bundled into each loaded output file of dist/bundle, as [file, source] pairs (bundler's map). */
function bundledSources(meta: Meta, files: string[]): [string, string][] {
  const bundleDir = join(ROOT, 'dist/bundle/');
  return files.filter((f) => f.startsWith(bundleDir)).flatMap((f) => {
    const output = meta.outputs[f.slice(ROOT.length + (ROOT.endsWith('/') ? 0 : 1))];
    assert.ok(output, `${f} is not in dist/bundle/meta.json: ${STALE}`);
    return Object.keys(output.inputs).map((i): [string, string] => [f, i]);
  });
}

test('bin/zmx runs the bundle, and zmx ls loads no blessed, @xterm, MCP SDK, conf or native msgpack extractor', async (t) => {
  const sb = sandbox(t);
  // The server first, without the hook: only the ls process is watched.
  assertOk(await sb.zmx(['new', '-d', '-s', 'one']), 'new');
  let out = '';
  const loaded = await loadedBy(async (env) => {
    const r = await sb.zmx(['ls'], { env });
    assertOk(r, 'ls');
    out = r.stdout;
  });
  assert.match(out, /name=one/);
  const files = filesOf(loaded);
  assert.ok(files.includes(bundlePath('cli')), `${STALE}; loaded: ${files.join(' ')}`);
  assert.ok(!files.includes(compiledPath('cli')), 'tsc\'s CLI ran beside the bundle');
  assert.deepEqual(files.filter((f) => HEAVY.test(f)), [], 'ls loaded a heavy package from node_modules');
  // Bundled packages are inside the output files: none ls loaded may hold one.
  const meta = readMeta();
  const heavyInside = bundledSources(meta, files).filter(([, i]) => HEAVY.test(i)).map(([f, i]) => `${f}: ${i}`);
  assert.deepEqual(heavyInside, [], 'ls loaded a bundle chunk that holds a heavy package');
  // And the lazy parts are really there, for the commands that use them.
  const all = Object.values(meta.outputs).flatMap((o) => Object.keys(o.inputs));
  for (const pkg of ['@xterm/headless', '@modelcontextprotocol/sdk', 'conf']) {
    assert.ok(all.some((i) => i.includes(`node_modules/${pkg}/`)), `${pkg} is in no chunk of the bundle`);
  }
});

test('a server started from the bundle runs the bundled front and pty host', async (t) => {
  const sb = sandbox(t);
  assertOk(await sb.zmx(['new', '-d', '-s', 'one']), 'new');
  for (const pid of [sb.frontPid(), sb.ptyhostPid()]) {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    assert.ok(cmdline.some((a) => a.startsWith(join(ROOT, 'dist/bundle/'))), `not from the bundle: ${cmdline.join(' ')}`);
  }
});

/**
 * What reaching a server takes: the zeromq addon and the client's codec and
 * link (src/client/connection.ts, msgpackr, bundled into a chunk of their own).
 */
const CONNECTING = /node_modules\/(zeromq|msgpackr)\/|src\/client\/connection\.ts$/;

test('zmx --version and zmx config get load neither zeromq nor the client\'s codec: they reach no server', async (t) => {
  const sb = sandbox(t);
  const meta = readMeta();
  for (const args of [['--version'], ['config', 'get', 'prefix']]) {
    const files = filesOf(await loadedBy(async (env) => assertOk(await sb.zmx(args, { env }), args.join(' '))));
    assert.ok(files.includes(bundlePath('cli')), `${STALE}; loaded: ${files.join(' ')}`);
    const reached = [...files, ...bundledSources(meta, files).map(([, i]) => i)].filter((i) => CONNECTING.test(i));
    assert.deepEqual(reached, [], `zmx ${args.join(' ')} loaded what only a connection needs`);
  }
});
