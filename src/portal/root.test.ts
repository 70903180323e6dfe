/**
 * Path confinement: the escape suite (every way out we know of must answer
 * EOUTSIDE and touch nothing), the ways that stay inside, followLeaf, and
 * Root.open / relative.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rejects } from '../common/testing.js';
import { lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Root } from './root.js';

let base = '';
let rootDir = '';
let root: Root;

/** Everything under `dir`: type, mode, size, mtime, content or link target. Used to prove nothing changed. */
function snapshot(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string, rel: string): void => {
    for (const name of readdirSync(d).sort()) {
      const abs = join(d, name);
      const r = rel === '' ? name : `${rel}/${name}`;
      const st = lstatSync(abs);
      const head = `${r} ${st.mode.toString(8)} ${st.size} ${st.mtimeMs}`;
      if (st.isSymbolicLink()) out.push(`${head} -> ${readlinkSync(abs)}`);
      else if (st.isDirectory()) {
        out.push(`${head} dir`);
        walk(abs, r);
      } else out.push(`${head} ${readFileSync(abs).toString('hex')}`);
    }
  };
  walk(dir, '');
  return out;
}

/** The base directory without the root: the sibling, the sentinel dir, and the base's own names. */
function outsideSnapshot(): string[] {
  return [...readdirSync(base).sort(), ...snapshot(join(base, 'outside')), ...snapshot(join(base, 'rootX'))];
}

before(() => {
  base = realpathSync(mkdtempSync(join(tmpdir(), 'zmx-t-root-')));
  rootDir = join(base, 'root');
  mkdirSync(join(rootDir, 'sub'), { recursive: true });
  writeFileSync(join(rootDir, 'sub', 'file.txt'), 'hello');
  mkdirSync(join(base, 'rootX'));
  writeFileSync(join(base, 'rootX', 'f'), 'sibling');
  mkdirSync(join(base, 'outside'));
  writeFileSync(join(base, 'outside', 'secret'), 'secret');
  symlinkSync('..', join(rootDir, 'sub', 'up'));
  symlinkSync('../..', join(rootDir, 'sub', 'up2'));
  symlinkSync('sub/file.txt', join(rootDir, 'in-file'));
  symlinkSync('sub', join(rootDir, 'in-dir'));
  symlinkSync(join(rootDir, 'sub'), join(rootDir, 'in-dir-abs'));
  symlinkSync('../outside/secret', join(rootDir, 'out-file'));
  symlinkSync(join(base, 'outside', 'secret'), join(rootDir, 'out-file-abs'));
  symlinkSync(join(base, 'outside'), join(rootDir, 'out-dir'));
  symlinkSync('chain2', join(rootDir, 'chain1'));
  symlinkSync('sub/chain3', join(rootDir, 'chain2'));
  symlinkSync('../../outside/secret', join(rootDir, 'sub', 'chain3'));
  symlinkSync('in-file', join(rootDir, 'chain-in'));
  symlinkSync(join(base, 'outside', 'created-by-dangling'), join(rootDir, 'dangling'));
  symlinkSync(join(base, 'outside', 'nodir'), join(rootDir, 'dangling-dir'));
  symlinkSync('/proc/self/root/etc', join(rootDir, 'proc-link'));
  symlinkSync('loop2', join(rootDir, 'loop1'));
  symlinkSync('loop1', join(rootDir, 'loop2'));
});

after(() => {
  if (base !== '') rmSync(base, { recursive: true, force: true });
});

/** Paths that lead outside; `leaf` ones do so only through their last component (a symlink). */
function escapes(): { p: string; leaf: boolean }[] {
  return [
    { p: '../x', leaf: false },
    { p: '..', leaf: false },
    { p: 'a/../../x', leaf: false },
    { p: 'sub/../../outside/secret', leaf: false },
    { p: 'nonexistent/../../x', leaf: false },
    { p: 'nonexistent/../x', leaf: false }, // '..' past a missing component: refused too
    { p: '/etc/passwd', leaf: false },
    { p: '/', leaf: false },
    { p: base, leaf: false },
    { p: join(base, 'rootX'), leaf: false },
    { p: join(base, 'rootX', 'f'), leaf: false },
    { p: join(base, 'rootX', 'new'), leaf: false },
    { p: `${rootDir}/../outside/secret`, leaf: false },
    { p: 'out-file', leaf: true },
    { p: 'out-file-abs', leaf: true },
    { p: 'out-dir', leaf: true },
    { p: 'out-dir/secret', leaf: false },
    { p: 'out-dir/new-file', leaf: false },
    { p: 'out-dir/new-dir/new-file', leaf: false },
    { p: 'chain1', leaf: true },
    { p: 'dangling', leaf: true },
    { p: 'dangling-dir/x', leaf: false },
    { p: 'sub/up2', leaf: true },
    { p: 'sub/up2/outside/secret', leaf: false },
    { p: 'sub/up/../outside/secret', leaf: false },
    { p: 'proc-link/passwd', leaf: false },
    { p: '/proc/self/root/etc/passwd', leaf: false },
    { p: `/proc/self/root${rootDir}/../outside/secret`, leaf: false },
    { p: '/proc/self/cwd', leaf: false },
    { p: '/proc/self/cwd/x', leaf: false },
    { p: `/proc/self/root${base}/rootX/f`, leaf: false },
    // Out and back in: a relative walk never leaves the root, even for a moment (as RESOLVE_BENEATH).
    { p: '../root/sub', leaf: false },
  ];
}

test('the escape suite: every path that leads outside answers EOUTSIDE and nothing outside changes', async () => {
  root = await Root.open(rootDir);
  const before = outsideSnapshot();
  for (const { p, leaf } of escapes()) {
    const err = await rejects(root.resolve(p), 'EOUTSIDE', `resolve(${JSON.stringify(p)})`);
    assert.ok(err.message.includes(JSON.stringify(p).slice(1, -1)), `the message names the path as given: ${err.message}`);
    assert.ok(p.includes(base) || !err.message.includes(base), `the message does not show the server's layout: ${err.message}`);
    if (!leaf) await rejects(root.resolve(p, { followLeaf: false }), 'EOUTSIDE', `resolve(${JSON.stringify(p)}, followLeaf false)`);
  }
  assert.deepEqual(outsideSnapshot(), before);
  assert.deepEqual(snapshot(join(base, 'outside')).map((l) => l.split(' ')[0]), ['secret']);
});

test('a symlink as the last component is not followed with followLeaf false (the link itself is inside)', async () => {
  root = await Root.open(rootDir);
  for (const { p } of escapes().filter((e) => e.leaf)) {
    const got = await root.resolve(p, { followLeaf: false });
    assert.equal(got, join(rootDir, p));
  }
  assert.equal(await root.resolve('in-file', { followLeaf: false }), join(rootDir, 'in-file'));
  assert.equal(await root.resolve('in-dir/file.txt', { followLeaf: false }), join(rootDir, 'sub', 'file.txt'), 'the parent is still followed');
});

test('paths that stay inside resolve to real paths under the root', async () => {
  root = await Root.open(rootDir);
  const cases: [string, string][] = [
    ['', rootDir],
    ['.', rootDir],
    ['./', rootDir],
    [rootDir, rootDir],
    [`${rootDir}/`, rootDir],
    ['sub/..', rootDir],
    ['sub/up', rootDir],
    ['sub/file.txt', join(rootDir, 'sub', 'file.txt')],
    [`${rootDir}/sub/file.txt`, join(rootDir, 'sub', 'file.txt')],
    ['sub//./file.txt', join(rootDir, 'sub', 'file.txt')],
    ['in-file', join(rootDir, 'sub', 'file.txt')],
    ['chain-in', join(rootDir, 'sub', 'file.txt')],
    ['in-dir/file.txt', join(rootDir, 'sub', 'file.txt')],
    ['in-dir-abs/file.txt', join(rootDir, 'sub', 'file.txt')],
    ['sub/up/sub/file.txt', join(rootDir, 'sub', 'file.txt')],
    ['new/deep/file', join(rootDir, 'new', 'deep', 'file')],
    ['in-dir/new-file', join(rootDir, 'sub', 'new-file')],
    [`/proc/self/root${rootDir}/sub`, join(rootDir, 'sub')],
  ];
  for (const [p, want] of cases) assert.equal(await root.resolve(p), want, `resolve(${JSON.stringify(p)})`);
});

test('NUL bytes and symlink loops are refused with EINVAL', async () => {
  root = await Root.open(rootDir);
  await rejects(root.resolve('sub\0/file.txt'), 'EINVAL', 'NUL');
  await rejects(root.resolve('loop1'), 'EINVAL', 'loop');
  await rejects(root.resolve('loop1/x', { followLeaf: false }), 'EINVAL', 'loop in the parent');
  assert.equal(await root.resolve('loop1', { followLeaf: false }), join(rootDir, 'loop1'));
});

test('Root.open: real path, ENOENT, EINVAL', async () => {
  const viaLink = join(base, 'root-link');
  symlinkSync(rootDir, viaLink);
  try {
    assert.equal((await Root.open(viaLink)).path, rootDir);
    assert.equal((await Root.open(`${rootDir}/sub/..`)).path, rootDir);
  } finally {
    rmSync(viaLink);
  }
  await rejects(Root.open(join(base, 'missing')), 'ENOENT', 'missing root');
  await rejects(Root.open(join(base, 'rootX', 'f')), 'EINVAL', 'file as root');
});

test('relative: root-relative, "/"-separated, "." for the root', async () => {
  root = await Root.open(rootDir);
  assert.equal(root.relative(rootDir), '.');
  assert.equal(root.relative(join(rootDir, 'sub', 'file.txt')), 'sub/file.txt');
  assert.equal(root.contains(join(base, 'rootX')), false);
  assert.equal(root.contains(join(rootDir, 'sub')), true);
});
