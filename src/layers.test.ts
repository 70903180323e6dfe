/**
 * Import-direction lint. Every src/**\/*.ts file is parsed (TypeScript's own
 * pre-processor: static imports, re-exports, `import type`, dynamic import()
 * and require() with a literal; comments and strings are not imports) and
 * its specifiers checked against the layer rules:
 *
 *   common    imports no other layer and no native package
 *   platform  common
 *   server    common, platform, portal  (not ptyhost, not client)
 *   ptyhost   common, platform, portal  (not server, not client; it runs the portal's commands)
 *   client    common, platform          (not server, not ptyhost)
 *   cli       common, platform, client, mcp  (spawns server/ptyhost by file path;
 *             runs `zmx mcp` in its own process, importing src/mcp when that command runs)
 *   portal    common, platform          (the file and command services: the front runs the files', the pty host the commands')
 *   mcp       common, platform, client
 *
 * Native packages each have one owner: zeromq -> src/platform/zmq.ts,
 * @napi-rs/keyring -> src/platform/keyring.ts, node-pty -> src/ptyhost/pty.ts,
 * conf -> src/platform/config-store.ts (not native, but one owner all the same).
 * Test files (*.test.ts) are exempt from the layer rules, not from the
 * native-package rules. A new directory under src/ needs a rule here.
 *
 * Import circles are flagged too (issue 15): two modules that import each
 * other, even for types only, are one module in two files, and their order
 * of evaluation decides what each sees. Tests are left out of the graph.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import ts from 'typescript';

/** Which layers each layer may import from (itself included). */
const LAYERS: Record<string, readonly string[]> = {
  common: ['common'],
  platform: ['common', 'platform'],
  server: ['common', 'platform', 'portal', 'server'],
  // The pty host runs the portal's commands (src/portal/exec.ts), so that they outlive the front.
  ptyhost: ['common', 'platform', 'portal', 'ptyhost'],
  client: ['common', 'platform', 'client'],
  // zmx mcp serves MCP in the CLI's process: a second node process cost ~0.4 s of its start-up.
  cli: ['common', 'platform', 'client', 'mcp', 'cli'],
  portal: ['common', 'platform', 'portal'],
  mcp: ['common', 'platform', 'client', 'mcp'],
};

/** Native packages and the one file allowed to import each. */
const NATIVE_OWNERS: Record<string, string> = {
  zeromq: 'src/platform/zmq.ts',
  '@napi-rs/keyring': 'src/platform/keyring.ts',
  'node-pty': 'src/ptyhost/pty.ts',
  koffi: 'src/platform/libc.ts',
  // Not native: one owner so the settings file has one reader and writer, and
  // src/common/config.ts stays pure and unit-testable.
  conf: 'src/platform/config-store.ts',
};

/** Packages src/common must not import even indirectly through a name: native or terminal-emulation code. */
function nativeForCommon(pkg: string): boolean {
  return pkg in NATIVE_OWNERS || pkg.startsWith('@xterm/');
}

interface Import {
  specifier: string;
  line: number;
}

function importsOf(file: string, source: string): Import[] {
  const info = ts.preProcessFile(source, true, true);
  const sf = ts.createSourceFile(file, source, ts.ScriptTarget.Latest, false);
  return info.importedFiles.map((f) => ({ specifier: f.fileName, line: sf.getLineAndCharacterOfPosition(f.pos).line + 1 }));
}

/** 'zeromq/v5-compat' -> 'zeromq', '@xterm/headless/lib' -> '@xterm/headless'. */
function packageName(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}

/** 'src/server/front.ts' -> 'server'; a file directly in src/ -> '(src)'. */
function layerOf(file: string): string {
  const parts = file.split('/');
  return parts.length > 2 ? parts[1]! : '(src)';
}

function isTestFile(file: string): boolean {
  return file.endsWith('.test.ts');
}

/** 'src/cli/a.ts' importing './b.js' -> 'src/cli/b.ts'; a package -> null. */
function resolveRelative(file: string, specifier: string): string | null {
  if (!specifier.startsWith('.') && !specifier.startsWith('/')) return null;
  return path.posix.normalize(path.posix.join(path.posix.dirname(file), specifier)).replace(/\.(m|c)?js$/, '.ts');
}

/**
 * The violations in a set of files, keyed by their path relative to the
 * repository (always 'src/...', with forward slashes), one message each.
 */
function check(files: ReadonlyMap<string, string>): string[] {
  const problems: string[] = [];
  for (const [file, source] of files) {
    const layer = layerOf(file);
    const exempt = isTestFile(file);
    const allowed = LAYERS[layer];
    if (!allowed && !exempt) {
      problems.push(`${file}: no layer rule for ${path.posix.dirname(file)}; add "${layer}" to LAYERS in src/layers.test.ts`);
      continue;
    }
    for (const { specifier, line } of importsOf(file, source)) {
      const where = `${file}:${line} imports '${specifier}'`;
      const target = resolveRelative(file, specifier);
      if (target !== null) {
        if (exempt) continue;
        if (!target.startsWith('src/')) {
          problems.push(`${where} (${target}): code under src/ must not import from outside src/`);
          continue;
        }
        const targetLayer = layerOf(target);
        if (!allowed!.includes(targetLayer)) {
          problems.push(`${where} (${target}): src/${layer} may import only ${allowed!.map((l) => `src/${l}`).join(', ')}`);
        }
        continue;
      }
      if (specifier.startsWith('node:')) continue;
      const pkg = packageName(specifier);
      const owner = NATIVE_OWNERS[pkg];
      if (owner !== undefined && file !== owner) {
        problems.push(`${where}: only ${owner} may import ${pkg}`);
      } else if (layer === 'common' && nativeForCommon(pkg)) {
        problems.push(`${where}: src/common must not import native or terminal packages`);
      }
    }
  }
  return problems;
}

/**
 * The import circles among the non-test files, each as its files sorted,
 * found as the strongly connected components (Tarjan) of more than one file,
 * or one file that imports itself.
 */
function circles(files: ReadonlyMap<string, string>): string[][] {
  const graph = new Map<string, string[]>();
  for (const [file, source] of files) {
    if (isTestFile(file)) continue;
    const edges = importsOf(file, source)
      .map((i) => resolveRelative(file, i.specifier))
      .filter((t): t is string => t !== null && files.has(t) && !isTestFile(t));
    graph.set(file, edges);
  }
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  let next = 0;
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next);
    next++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      component.push(w);
    } while (w !== v);
    if (component.length > 1 || (graph.get(v) ?? []).includes(v)) found.push(component.sort());
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return found;
}

// ---------------------------------------------------------------------------

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function sourceFiles(dir: string, out = new Map<string, string>()): Map<string, string> {
  for (const name of readdirSync(dir)) {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) sourceFiles(full, out);
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) {
      out.set(path.relative(ROOT, full).split(path.sep).join('/'), readFileSync(full, 'utf8'));
    }
  }
  return out;
}

test('every import in src/ follows the layer rules', () => {
  const files = sourceFiles(path.join(ROOT, 'src'));
  // The lint sees the tree: these files and their known imports exist.
  assert.ok(files.size >= 10, `found only ${files.size} files under ${ROOT}src`);
  const zmq = files.get('src/platform/zmq.ts');
  assert.ok(zmq, 'src/platform/zmq.ts not found');
  assert.ok(importsOf('src/platform/zmq.ts', zmq).some((i) => i.specifier === 'zeromq'), 'the parser does not see zmq.ts import zeromq');
  const problems = check(files);
  assert.deepEqual(problems, [], `import-direction violations:\n  ${problems.join('\n  ')}`);
});

test('no two modules in src/ import each other, directly or round a loop', () => {
  const found = circles(sourceFiles(path.join(ROOT, 'src')));
  assert.deepEqual(found, [], `import circles (cut one edge of each: pass the value in, or move the shared part down):\n  ${found.map((c) => c.join(' <-> ')).join('\n  ')}`);
});

test('the circle check finds a two-file circle, a longer loop and a type-only one, and not a chain', () => {
  const files = new Map([
    ['src/cli/table.ts', `import { help } from './commands/help.js';`],
    ['src/cli/commands/help.ts', `import { TABLE } from '../table.js';`],
    ['src/common/a.ts', `import { b } from './b.js';`],
    ['src/common/b.ts', `import type { C } from './c.js';`],
    ['src/common/c.ts', `export { a } from './a.js';`],
    ['src/common/d.ts', `import { a } from './a.js';`],
    ['src/common/d.test.ts', `import { d } from './d.js';`],
  ]);
  assert.deepEqual(
    circles(files).sort((x, y) => x[0]!.localeCompare(y[0]!)),
    [['src/cli/commands/help.ts', 'src/cli/table.ts'], ['src/common/a.ts', 'src/common/b.ts', 'src/common/c.ts']],
  );
  assert.deepEqual(circles(new Map([['src/common/a.ts', `import { b } from './b.js';`], ['src/common/b.ts', `export const b = 1;`]])), []);
});

/** Runs check() on one made-up file. */
function checkOne(file: string, source: string): string[] {
  return check(new Map([[file, source]]));
}

function assertFlags(file: string, source: string, specifier: string): void {
  const problems = checkOne(file, source);
  assert.equal(problems.length, 1, `${file} importing ${specifier} should give one violation, got ${JSON.stringify(problems)}`);
  assert.ok(problems[0]!.startsWith(`${file}:`), `the message names the file: ${problems[0]}`);
  assert.ok(problems[0]!.includes(`'${specifier}'`), `the message names the import: ${problems[0]}`);
}

function assertClean(file: string, source: string): void {
  assert.deepEqual(checkOne(file, source), [], `${file}: ${source}`);
}

test('the lint flags layer violations in every import form', () => {
  assertFlags('src/common/a.ts', `import { x } from '../platform/zmq.js';`, '../platform/zmq.js');
  assertFlags('src/common/a.ts', `export { x } from '../server/front.js';`, '../server/front.js');
  assertFlags('src/common/a.ts', `export * from '../client/connection.js';`, '../client/connection.js');
  assertFlags('src/platform/a.ts', `import type { X } from '../server/front.js';`, '../server/front.js');
  assertFlags('src/platform/a.ts', `const m = await import('../client/connection.js');`, '../client/connection.js');
  assertFlags('src/server/a.ts', `import { Host } from '../ptyhost/host.js';`, '../ptyhost/host.js');
  assertFlags('src/server/a.ts', `import '../client/connection.js';`, '../client/connection.js');
  assertFlags('src/ptyhost/a.ts', `import { Front } from '../server/front.js';`, '../server/front.js');
  assertFlags('src/ptyhost/a.ts', `import { c } from '../client/connection.js';`, '../client/connection.js');
  assertFlags('src/client/a.ts', `import { f } from '../server/front.js';`, '../server/front.js');
  assertFlags('src/client/sub/a.ts', `import { h } from '../../ptyhost/host.js';`, '../../ptyhost/host.js');
  assertFlags('src/client/a.ts', `import { main } from '../cli/main.js';`, '../cli/main.js');
  assertFlags('src/cli/commands/a.ts', `import { main } from '../../server/main.js';`, '../../server/main.js');
  assertFlags('src/cli/a.ts', `import '../ptyhost/main.js';`, '../ptyhost/main.js');
  assertFlags('src/portal/a.ts', `import { x } from '../cli/main.js';`, '../cli/main.js');
  assertFlags('src/portal/a.ts', `import { x } from '../server/front.js';`, '../server/front.js');
  assertFlags('src/portal/a.ts', `import { c } from '../client/connection.js';`, '../client/connection.js');
  assertFlags('src/mcp/a.ts', `import { x } from '../ptyhost/pane.js';`, '../ptyhost/pane.js');
  assertFlags('src/mcp/a.ts', `import { x } from '../portal/a.js';`, '../portal/a.js');
  assertFlags('src/server/a.ts', `import { helper } from '../../test/helpers.js';`, '../../test/helpers.js');
  assertFlags('src/server/a.ts', `import { x } from '../index.js';`, '../index.js');
});

test('the lint flags native packages outside their owner file, tests included', () => {
  assertFlags('src/server/a.ts', `import * as zmq from 'zeromq';`, 'zeromq');
  assertFlags('src/server/a.ts', `import { Dealer } from 'zeromq/v5-compat';`, 'zeromq/v5-compat');
  assertFlags('src/platform/keystore.ts', `import { Entry } from '@napi-rs/keyring';`, '@napi-rs/keyring');
  assertFlags('src/ptyhost/pane.ts', `import { spawn } from 'node-pty';`, 'node-pty');
  assertFlags('src/server/a.ts', `const require = createRequire(import.meta.url);\nconst pty = require('node-pty');`, 'node-pty');
  assertFlags('src/platform/zmq.test.ts', `import * as zmq from 'zeromq';`, 'zeromq');
  assertFlags('src/common/a.ts', `import { Terminal } from '@xterm/headless';`, '@xterm/headless');
  assertFlags('src/common/a.test.ts', `import { SerializeAddon } from '@xterm/addon-serialize';`, '@xterm/addon-serialize');
  assertFlags('src/common/a.ts', `import * as zmq from 'zeromq';`, 'zeromq');
  assertFlags('src/common/config.ts', `import Conf from 'conf';`, 'conf');
  assertFlags('src/cli/commands/config.ts', `const { default: Conf } = await import('conf');`, 'conf');
  // The message gives the line.
  assert.match(checkOne('src/server/a.ts', `// one\n// two\nimport 'node-pty';`)[0]!, /^src\/server\/a\.ts:3 /);
});

test('the lint allows what the rules allow', () => {
  assertClean('src/platform/zmq.ts', `import * as zmq from 'zeromq';\nimport { LIMITS } from '../common/constants.js';`);
  assertClean('src/platform/keyring.ts', `import { Entry } from '@napi-rs/keyring';`);
  assertClean('src/platform/config-store.ts', `import Conf from 'conf';`);
  assertClean('src/ptyhost/pty.ts', `import * as pty from 'node-pty';\nimport { Terminal } from '@xterm/headless';`);
  assertClean('src/common/protocol.ts', `import { Packr } from 'msgpackr';\nimport { ZmxError } from './errors.js';\nimport { readFileSync } from 'node:fs';`);
  assertClean('src/server/front.ts', `import { x } from '../common/protocol.js';\nimport { y } from '../platform/zmq.js';\nimport { z } from '../platform/authorized.js';`);
  assertClean('src/cli/commands/new.ts', `import { c } from '../../client/connection.js';\nimport { k } from '../../platform/keystore.js';\nimport { u } from '../util.js';`);
  assertClean('src/portal/a.ts', `import { c } from '../common/portal.js';\nimport { k } from '../platform/log.js';`);
  assertClean('src/server/a.ts', `import { f } from '../portal/fs.js';`);
  assertClean('src/ptyhost/commands.ts', `import { ExecService } from '../portal/exec.js';`);
  assertClean('src/mcp/a.ts', `import { c } from '../client/connection.js';\nimport { p } from '../common/paths.js';`);
  assertClean('src/cli/commands/mcp.ts', `const { runMcp } = await import('../../mcp/run.js');`);
  // Test files may reach across layers (only the native rules bind them).
  assertClean('src/platform/a.test.ts', `import { front } from '../server/front.js';\nimport { h } from '../../test/helpers.js';`);
  assertClean('src/a.test.ts', `import { x } from './cli/main.js';`);
  // Words in comments and strings are not imports.
  assertClean('src/common/a.ts', `// import * as zmq from 'zeromq';\n/* import 'node-pty'; */\nconst s = "import x from '../server/front.js'";\nexport const t = \`require('node-pty')\`;`);
});

test('the lint asks for a rule for a new directory under src/', () => {
  const problems = checkOne('src/newthing/a.ts', `export const a = 1;`);
  assert.equal(problems.length, 1);
  assert.match(problems[0]!, /^src\/newthing\/a\.ts: no layer rule/);
  assert.equal(checkOne('src/index.ts', `export const a = 1;`).length, 1, 'a file directly in src/ has no layer either');
});
