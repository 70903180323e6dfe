/**
 * The file service on a real filesystem: every method, the atomicity and
 * memory rules, the upload lifecycle, watch events, and the escape suite
 * run through every method that takes a path (nothing outside may change).
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { rejects } from '../common/testing.js';
import {
  chmodSync, lstatSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, closeSync, readdirSync, readlinkSync,
  realpathSync, renameSync, rmSync, statSync, symlinkSync, truncateSync, writeFileSync, existsSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { FsService } from './fs.js';
import { Root } from './root.js';
import { PORTAL } from '../common/constants.js';
import { ZmxError } from '../common/errors.js';
import type { FsChange } from '../common/portal.js';

/** How long a test waits for a watch event before it fails (an upper bound, not a sleep). */
const EVENT_DEADLINE_MS = 10_000;

interface Fixture {
  base: string;
  dir: string;
  root: Root;
  svc: FsService;
}

/**
 * base/root is the root; base/outside (a sentinel with one file) and
 * base/rootX (a sibling sharing the root's prefix) must never change.
 */
async function fixture(t: TestContext, opts: { now?: () => number } = {}): Promise<Fixture> {
  const base = realpathSync(mkdtempSync(join(tmpdir(), 'zmx-t-fs-')));
  const dir = join(base, 'root');
  mkdirSync(join(dir, 'sub'), { recursive: true });
  writeFileSync(join(dir, 'sub', 'file.txt'), 'hello\n');
  mkdirSync(join(base, 'outside'));
  writeFileSync(join(base, 'outside', 'secret'), 'secret');
  mkdirSync(join(base, 'rootX'));
  writeFileSync(join(base, 'rootX', 'f'), 'sibling');
  symlinkSync('sub/file.txt', join(dir, 'in-file'));
  symlinkSync('sub', join(dir, 'in-dir'));
  symlinkSync('../outside/secret', join(dir, 'out-file'));
  symlinkSync(join(base, 'outside'), join(dir, 'out-dir'));
  symlinkSync('chain2', join(dir, 'chain1'));
  symlinkSync('../outside/secret', join(dir, 'chain2'));
  symlinkSync(join(base, 'outside', 'created-by-dangling'), join(dir, 'dangling'));
  symlinkSync('/proc/self/root/etc', join(dir, 'proc-link'));
  const svc = new FsService(opts);
  t.after(async () => {
    await svc.dispose();
    assert.deepEqual(svc.openCount, { uploads: 0, watches: 0 }, 'dispose ends every upload and watch');
    rmSync(base, { recursive: true, force: true });
  });
  return { base, dir, root: await Root.open(dir), svc };
}

/** Paths that lead outside; `leaf` ones only through their last component (a symlink inside the root). */
function escapes(f: Fixture): { p: string; leaf: boolean }[] {
  return [
    { p: '../x', leaf: false },
    { p: 'a/../../x', leaf: false },
    { p: '/etc/passwd', leaf: false },
    { p: join(f.base, 'rootX'), leaf: false },
    { p: join(f.base, 'rootX', 'new'), leaf: false },
    { p: `${f.dir}/../outside/secret`, leaf: false },
    { p: 'out-dir/secret', leaf: false },
    { p: 'out-dir/new-file', leaf: false },
    { p: 'proc-link/passwd', leaf: false },
    { p: '/proc/self/root/etc/passwd', leaf: false },
    { p: '/proc/self/cwd/x', leaf: false },
    { p: 'out-file', leaf: true },
    { p: 'out-dir', leaf: true },
    { p: 'chain1', leaf: true },
    { p: 'dangling', leaf: true },
  ];
}

/** Everything outside the root: names, modes, sizes, mtimes, contents, link targets. */
function outside(f: Fixture): string[] {
  const out: string[] = readdirSync(f.base).sort();
  const walk = (d: string): void => {
    for (const name of readdirSync(d).sort()) {
      const abs = join(d, name);
      const st = lstatSync(abs);
      const head = `${abs} ${st.mode.toString(8)} ${st.size} ${st.mtimeMs}`;
      if (st.isSymbolicLink()) out.push(`${head} -> ${readlinkSync(abs)}`);
      else if (st.isDirectory()) {
        out.push(head);
        walk(abs);
      } else out.push(`${head} ${readFileSync(abs).toString('hex')}`);
    }
  };
  walk(join(f.base, 'outside'));
  walk(join(f.base, 'rootX'));
  return out;
}

function tempFiles(dir: string): string[] {
  return readdirSync(dir).filter((n) => n.includes('.zmx-') && n.endsWith('.tmp'));
}

/** The asker of searches (grep, list, readFiles): a connection and a key. */
const ME = { client: 'client-1', key: 'key-1' };
const NO_OPTS = { mode: null, parents: false };

test('write then read round-trips binary bytes; read slices, caps and refuses', async (t) => {
  const f = await fixture(t);
  const bytes = Buffer.concat([Buffer.from([0, 1, 2, 0, 255, 0]), randomBytes(1000), Buffer.alloc(10)]);
  assert.deepEqual(await f.svc.write(f.root, 'bin/data.bin', bytes, { mode: null, parents: true }), { path: 'bin/data.bin', bytes: bytes.length });
  assert.deepEqual(readFileSync(join(f.dir, 'bin', 'data.bin')), bytes);
  const all = await f.svc.read(f.root, 'bin/data.bin', 0, bytes.length + 100);
  assert.deepEqual(all.data, bytes);
  assert.equal(all.size, bytes.length);
  assert.equal(all.mtimeMs, statSync(join(f.dir, 'bin', 'data.bin')).mtimeMs);
  assert.deepEqual((await f.svc.read(f.root, `${f.dir}/bin/data.bin`, 3, 5)).data, bytes.subarray(3, 8), 'absolute path inside, offset and length');
  const past = await f.svc.read(f.root, 'bin/data.bin', bytes.length + 10, 10);
  assert.equal(past.data.length, 0);
  assert.equal(past.size, bytes.length);

  const big = Buffer.alloc(PORTAL.chunkBytes + 10, 7);
  await f.svc.write(f.root, 'big', big, NO_OPTS);
  const capped = await f.svc.read(f.root, 'big', 5, PORTAL.chunkBytes * 2);
  assert.equal(capped.data.length, PORTAL.chunkBytes, 'length is capped at one chunk');
  assert.equal(capped.size, big.length);

  await rejects(f.svc.read(f.root, 'sub', 0, 10), 'EINVAL', 'a directory');
  const missing = await rejects(f.svc.read(f.root, 'nope/x.txt', 0, 10), 'ENOENT', 'missing');
  assert.ok(missing.message.includes('nope/x.txt'), missing.message);
  assert.ok(!missing.message.includes(f.base), `no server path in: ${missing.message}`);
  assert.equal((await f.svc.read(f.root, 'in-file', 0, 100)).data.toString(), 'hello\n', 'a symlink inside is followed');
  await rejects(f.svc.read(f.root, 'x', -1, 10), 'EINVAL', 'negative offset');
  execFileSync('mkfifo', [join(f.dir, 'fifo')]);
  await rejects(f.svc.read(f.root, 'fifo', 0, 10), 'EINVAL', 'a FIFO is refused, not waited on');
  assert.equal((await f.svc.readFiles(ME, f.root, ['fifo'])).files[0]?.error?.code, 'EINVAL');
  assert.deepEqual((await f.svc.grep(ME, f.root, '.', { pattern: 'x', glob: 'fifo', ignoreCase: false, max: 0 })).matches, []);
});

test('write is atomic: a new inode renamed over, the old one intact for its readers, mode kept, no temp files left', async (t) => {
  const f = await fixture(t);
  const file = join(f.dir, 'sub', 'file.txt');
  chmodSync(file, 0o640);
  const inode = statSync(file).ino;
  const fd = openSync(file, 'r'); // a reader of the old file
  try {
    await f.svc.write(f.root, 'sub/file.txt', Buffer.from('new content that is longer'), NO_OPTS);
    const buf = Buffer.alloc(100);
    const n = readSync(fd, buf, 0, 100, 0);
    assert.equal(buf.subarray(0, n).toString(), 'hello\n', 'the old reader still sees the whole old file');
  } finally {
    closeSync(fd);
  }
  assert.equal(readFileSync(file, 'utf8'), 'new content that is longer');
  assert.notEqual(statSync(file).ino, inode, 'replaced by rename, not written in place');
  assert.equal(statSync(file).mode & 0o7777, 0o640, 'the existing mode is kept');
  assert.deepEqual(tempFiles(join(f.dir, 'sub')), []);

  await f.svc.write(f.root, 'sub/file.txt', Buffer.from('x'), { mode: 0o755, parents: false });
  assert.equal(statSync(file).mode & 0o7777, 0o755, 'an explicit mode is applied exactly');
  await rejects(f.svc.write(f.root, 'sub/file.txt', Buffer.from('y'), { mode: 0o4755, parents: false }), 'EINVAL', 'setuid mode');
  assert.equal(readFileSync(file, 'utf8'), 'x');
  chmodSync(file, 0o4755);
  await f.svc.write(f.root, 'sub/file.txt', Buffer.from('new program'), NO_OPTS);
  assert.equal(statSync(file).mode & 0o7777, 0o755, 'a setuid bit is not carried over to new content');

  await f.svc.write(f.root, 'in-file', Buffer.from('through the link'), NO_OPTS);
  assert.ok(lstatSync(join(f.dir, 'in-file')).isSymbolicLink(), 'a symlink inside stays a symlink');
  assert.equal(readFileSync(file, 'utf8'), 'through the link');

  const noParent = await rejects(f.svc.write(f.root, 'a/b/c.txt', Buffer.from('x'), NO_OPTS), 'ENOENT', 'missing parent');
  assert.match(noParent.message, /parents/);
  assert.ok(!existsSync(join(f.dir, 'a')));
  await rejects(f.svc.write(f.root, 'sub', Buffer.from('x'), NO_OPTS), 'EINVAL', 'a directory');
  assert.ok(statSync(join(f.dir, 'sub')).isDirectory());
  assert.deepEqual(tempFiles(join(f.dir, 'sub')), []);
  assert.deepEqual(tempFiles(f.dir), []);
});

test('readFiles: each file in its entry, one missing or outside file does not stop the others, bounds truncate', async (t) => {
  const f = await fixture(t);
  writeFileSync(join(f.dir, 'b.txt'), 'bee');
  const { files, data } = await f.svc.readFiles(ME, f.root, ['sub/file.txt', 'missing.txt', 'out-file', 'b.txt']);
  assert.equal(files.length, 4);
  assert.deepEqual(files[0], { path: 'sub/file.txt', size: 6, bytes: 6, truncated: false, error: null });
  assert.equal(files[1]?.error?.code, 'ENOENT');
  assert.ok(files[1]?.error?.message.includes('missing.txt'));
  assert.equal(files[1]?.bytes, 0);
  assert.equal(files[2]?.error?.code, 'EOUTSIDE');
  assert.deepEqual(files[3], { path: 'b.txt', size: 3, bytes: 3, truncated: false, error: null });
  assert.equal(data.toString(), 'hello\nbee');

  // Per file: at most readFilesPerFileBytes; all together: readFilesTotalBytes.
  const per = PORTAL.readFilesPerFileBytes;
  const count = Math.ceil(PORTAL.readFilesTotalBytes / per) + 1;
  const names: string[] = [];
  for (let i = 0; i < count; i++) {
    names.push(`big${i}`);
    writeFileSync(join(f.dir, `big${i}`), Buffer.alloc(per + 1, i));
  }
  const r = await f.svc.readFiles(ME, f.root, names);
  assert.ok(r.files.every((e) => e.truncated && e.size === per + 1));
  assert.equal(r.files[0]?.bytes, per);
  assert.equal(r.data.length, PORTAL.readFilesTotalBytes);
  assert.equal(r.files.reduce((s, e) => s + e.bytes, 0), PORTAL.readFilesTotalBytes);
  assert.equal(r.files.at(-1)?.bytes, 0, 'past the total, nothing more is read');
});

test('edit: replaces exactly count occurrences, refuses other counts leaving the file byte-identical', async (t) => {
  const f = await fixture(t);
  const file = join(f.dir, 'code.ts');
  // Bytes that are not valid UTF-8 must survive an edit elsewhere in the file.
  const original = Buffer.concat([Buffer.from('let a = foo(1);\n'), Buffer.from([0xff, 0xfe, 0x0a]), Buffer.from('let b = foo(2);\n')]);
  writeFileSync(file, original);
  chmodSync(file, 0o600);
  const before = statSync(file);

  const wrong = await rejects(f.svc.edit(f.root, 'code.ts', 'foo(', 'bar(', 1), 'EINVAL', 'count 1 of 2');
  assert.match(wrong.message, /found 2 occurrences of the text, expected 1/);
  await rejects(f.svc.edit(f.root, 'code.ts', 'nothere', 'x', 1), 'EINVAL', 'count 1 of 0');
  await rejects(f.svc.edit(f.root, 'code.ts', 'foo(', 'bar(', 0), 'EINVAL', 'count 0');
  await rejects(f.svc.edit(f.root, 'code.ts', '', 'bar(', 1), 'EINVAL', 'empty old text');
  assert.deepEqual(readFileSync(file), original, 'byte-identical after refusals');
  assert.equal(statSync(file).ino, before.ino, 'not even rewritten');
  assert.equal(statSync(file).mtimeMs, before.mtimeMs);

  assert.deepEqual(await f.svc.edit(f.root, 'code.ts', 'foo(', 'barbaz(', 2), { path: 'code.ts', replaced: 2 });
  assert.deepEqual(
    readFileSync(file),
    Buffer.concat([Buffer.from('let a = barbaz(1);\n'), Buffer.from([0xff, 0xfe, 0x0a]), Buffer.from('let b = barbaz(2);\n')]),
  );
  assert.equal(statSync(file).mode & 0o7777, 0o600, 'mode kept');
  assert.deepEqual(tempFiles(f.dir), []);
  assert.deepEqual(await f.svc.edit(f.root, 'code.ts', 'é', 'e', 1).catch((e: ZmxError) => e.code), 'EINVAL');

  writeFileSync(join(f.dir, 'huge'), '');
  truncateSync(join(f.dir, 'huge'), PORTAL.editMaxBytes + 1);
  await rejects(f.svc.edit(f.root, 'huge', 'a', 'b', 1), 'ETOOBIG', 'over editMaxBytes');
  await rejects(f.svc.edit(f.root, 'missing', 'a', 'b', 1), 'ENOENT', 'missing file');
});

test('stat: lstat of the leaf, paths relative to the root', async (t) => {
  const f = await fixture(t);
  chmodSync(join(f.dir, 'sub', 'file.txt'), 0o604);
  const s = await f.svc.stat(f.root, `${f.dir}/sub/file.txt`);
  assert.deepEqual(s, { path: 'sub/file.txt', type: 'file', size: 6, mode: 0o604, mtimeMs: statSync(join(f.dir, 'sub', 'file.txt')).mtimeMs });
  assert.equal((await f.svc.stat(f.root, 'sub')).type, 'dir');
  assert.equal((await f.svc.stat(f.root, '.')).path, '.');
  assert.equal((await f.svc.stat(f.root, '')).type, 'dir');
  const link = await f.svc.stat(f.root, 'out-file');
  assert.equal(link.type, 'symlink', 'a symlink shows as one, even one pointing out');
  assert.equal(link.path, 'out-file');
  await rejects(f.svc.stat(f.root, 'nope'), 'ENOENT', 'missing');
});

test('list: sorted, recursive, glob, .git and node_modules skipped unless all, max, symlinked dirs not entered', async (t) => {
  const f = await fixture(t);
  const tree = join(f.dir, 'proj');
  for (const d of ['src/lib', '.git/objects', 'node_modules/pkg', 'docs']) mkdirSync(join(tree, d), { recursive: true });
  for (const p of ['src/a.ts', 'src/b.js', 'src/lib/c.ts', '.git/HEAD', '.git/objects/x.ts', 'node_modules/pkg/i.ts', 'docs/z.md', 'README.md']) {
    writeFileSync(join(tree, p), p);
  }
  symlinkSync('src', join(tree, 'srclink'));
  const paths = async (opts: { recursive: boolean; glob: string; all: boolean; max: number }, p = 'proj'): Promise<string[]> =>
    (await f.svc.list(ME, f.root, p, opts)).entries.map((e) => e.path);

  assert.deepEqual(await paths({ recursive: false, glob: '', all: false, max: 0 }), ['proj/README.md', 'proj/docs', 'proj/src', 'proj/srclink']);
  assert.deepEqual(await paths({ recursive: true, glob: '', all: false, max: 0 }), [
    'proj/README.md', 'proj/docs', 'proj/docs/z.md', 'proj/src', 'proj/src/a.ts', 'proj/src/b.js', 'proj/src/lib', 'proj/src/lib/c.ts', 'proj/srclink',
  ]);
  assert.deepEqual(await paths({ recursive: true, glob: '**/*.ts', all: false, max: 0 }), ['proj/src/a.ts', 'proj/src/lib/c.ts']);
  assert.deepEqual(await paths({ recursive: true, glob: '*.md', all: false, max: 0 }), ['proj/README.md'], 'glob relative to the listed dir');
  assert.deepEqual(await paths({ recursive: true, glob: '**/*.ts', all: true, max: 0 }), [
    'proj/node_modules/pkg/i.ts', 'proj/src/a.ts', 'proj/src/lib/c.ts',
  ], 'all enters node_modules; path.matchesGlob\'s ** does not match dot names');
  assert.deepEqual(await paths({ recursive: true, glob: '.git/**', all: true, max: 0 }), ['proj/.git/HEAD', 'proj/.git/objects', 'proj/.git/objects/x.ts']);
  assert.deepEqual(await paths({ recursive: true, glob: '.git/**', all: false, max: 0 }), [], '.git is skipped without all');
  assert.deepEqual(await paths({ recursive: true, glob: '*.ts', all: false, max: 0 }, 'proj/src'), ['proj/src/a.ts']);

  const limited = await f.svc.list(ME, f.root, 'proj', { recursive: true, glob: '', all: false, max: 3 });
  assert.equal(limited.entries.length, 3);
  assert.equal(limited.truncated, true);
  assert.equal((await f.svc.list(ME, f.root, 'proj', { recursive: true, glob: '', all: false, max: 9 })).truncated, false, 'exactly max is not truncated');

  const entries = (await f.svc.list(ME, f.root, 'proj', { recursive: false, glob: '', all: false, max: 0 })).entries;
  const link = entries.find((e) => e.path === 'proj/srclink');
  assert.equal(link?.type, 'symlink');
  const readme = entries.find((e) => e.path === 'proj/README.md');
  assert.equal(readme?.size, 'README.md'.length);
  assert.equal(readme?.type, 'file');

  // A symlink loop is not walked into.
  symlinkSync('..', join(tree, 'src', 'lib', 'loop'));
  const looped = await paths({ recursive: true, glob: '', all: false, max: 0 });
  assert.ok(looped.includes('proj/src/lib/loop') && !looped.some((p) => p.startsWith('proj/src/lib/loop/')));

  assert.deepEqual(await paths({ recursive: false, glob: '', all: false, max: 0 }, 'proj/README.md'), ['proj/README.md'], 'a file lists itself');
  await rejects(f.svc.list(ME, f.root, 'nope', { recursive: false, glob: '', all: false, max: 0 }), 'ENOENT', 'missing');
});

test('grep: line numbers, glob, max, ignoreCase, binary and large files skipped, bad pattern refused', async (t) => {
  const f = await fixture(t);
  const tree = join(f.dir, 'g');
  mkdirSync(join(tree, 'src'), { recursive: true });
  mkdirSync(join(tree, '.git'), { recursive: true });
  writeFileSync(join(tree, 'src', 'a.ts'), 'const x = 1;\n// TODO one\nlet y;\r\n  todo two\n');
  writeFileSync(join(tree, 'src', 'b.md'), 'TODO in markdown\n');
  writeFileSync(join(tree, '.git', 'c.ts'), 'TODO in git\n');
  writeFileSync(join(tree, 'bin.ts'), Buffer.concat([Buffer.from('TODO binary\n'), Buffer.from([0]), Buffer.from('TODO\n')]));
  writeFileSync(join(tree, 'long.ts'), `TODO ${'x'.repeat(PORTAL.grepMaxLineChars * 2)}\n`);
  const grep = (o: Partial<{ pattern: string; glob: string; ignoreCase: boolean; max: number }>, p = 'g') =>
    f.svc.grep(ME, f.root, p, { pattern: 'TODO', glob: '', ignoreCase: false, max: 0, ...o });

  const plain = await grep({});
  assert.deepEqual(plain.matches.map((m) => `${m.path}:${m.line}`), ['g/long.ts:1', 'g/src/a.ts:2', 'g/src/b.md:1']);
  assert.equal(plain.truncated, false);
  assert.equal(plain.matches[1]?.text, '// TODO one');
  assert.equal(plain.matches[0]?.text.length, PORTAL.grepMaxLineChars, 'long lines are cut');

  assert.deepEqual((await grep({ ignoreCase: true, glob: '**/*.ts' })).matches.map((m) => `${m.path}:${m.line}:${m.text}`), [
    `g/long.ts:1:${plain.matches[0]?.text}`, 'g/src/a.ts:2:// TODO one', 'g/src/a.ts:4:  todo two',
  ]);
  const limited = await grep({ ignoreCase: true, max: 2 });
  assert.equal(limited.matches.length, 2);
  assert.equal(limited.truncated, true);
  assert.deepEqual((await grep({ pattern: '^let y;$' })).matches.map((m) => m.line), [3], 'CR of CRLF lines is not part of the line');
  assert.deepEqual((await grep({ pattern: 'x = \\d' }, 'g/src/a.ts')).matches, [{ path: 'g/src/a.ts', line: 1, text: 'const x = 1;' }], 'a file path');

  const bad = await rejects(grep({ pattern: 'a(b' }), 'EINVAL', 'bad pattern');
  assert.ok(bad.message.includes('a(b'), bad.message);

  // A text file over the size bound is skipped.
  writeFileSync(join(tree, 'huge.log'), Buffer.alloc(PORTAL.grepMaxFileBytes + 1, 'TODO\n'));
  assert.ok(!(await grep({})).matches.some((m) => m.path === 'g/huge.log'));
  await rejects(grep({}, 'nope'), 'ENOENT', 'missing');
});

test('mkdir, rm and mv', async (t) => {
  const f = await fixture(t);
  const e = await rejects(f.svc.mkdir(f.root, 'a/b/c', false), 'ENOENT', 'mkdir without parents');
  assert.match(e.message, /parents/);
  assert.deepEqual(await f.svc.mkdir(f.root, 'a/b/c', true), { path: 'a/b/c' });
  assert.ok(statSync(join(f.dir, 'a', 'b', 'c')).isDirectory());
  await f.svc.mkdir(f.root, 'a/b/c', true); // exists: fine with parents
  await rejects(f.svc.mkdir(f.root, 'a/b/c', false), 'EEXIST', 'mkdir existing');

  writeFileSync(join(f.dir, 'a', 'b', 'c', 'f'), 'x');
  await rejects(f.svc.rm(f.root, 'a', false), 'EINVAL', 'rm non-empty dir');
  assert.ok(existsSync(join(f.dir, 'a', 'b', 'c', 'f')));
  assert.deepEqual(await f.svc.rm(f.root, 'a', true), { path: 'a' });
  assert.ok(!existsSync(join(f.dir, 'a')));
  await rejects(f.svc.rm(f.root, '.', true), 'EINVAL', 'rm the root');
  await rejects(f.svc.rm(f.root, f.dir, true), 'EINVAL', 'rm the root by absolute path');
  await rejects(f.svc.rm(f.root, 'nope', false), 'ENOENT', 'rm missing');
  mkdirSync(join(f.dir, 'empty'));
  await f.svc.rm(f.root, 'empty', false);
  assert.ok(!existsSync(join(f.dir, 'empty')));

  // A symlink is removed, not its target (inside or out).
  await f.svc.rm(f.root, 'in-file', false);
  assert.ok(!existsSync(join(f.dir, 'in-file')) && existsSync(join(f.dir, 'sub', 'file.txt')));
  await f.svc.rm(f.root, 'out-dir', true);
  assert.ok(!existsSync(join(f.dir, 'out-dir')));
  assert.equal(readFileSync(join(f.base, 'outside', 'secret'), 'utf8'), 'secret');

  writeFileSync(join(f.dir, 'one'), '1');
  writeFileSync(join(f.dir, 'two'), '2');
  await rejects(f.svc.mv(f.root, 'one', 'two', false), 'EEXIST', 'mv onto existing');
  assert.equal(readFileSync(join(f.dir, 'two'), 'utf8'), '2');
  assert.deepEqual(await f.svc.mv(f.root, 'one', 'two', true), { from: 'one', to: 'two' });
  assert.equal(readFileSync(join(f.dir, 'two'), 'utf8'), '1');
  assert.deepEqual(await f.svc.mv(f.root, 'two', `${f.dir}/sub/three`, false), { from: 'two', to: 'sub/three' });
  assert.equal(readFileSync(join(f.dir, 'sub', 'three'), 'utf8'), '1');
  await rejects(f.svc.mv(f.root, 'nope', 'x', false), 'ENOENT', 'mv missing');
  const noDir = await rejects(f.svc.mv(f.root, 'sub/three', 'no/such/dir', false), 'ENOENT', 'mv into a missing dir');
  assert.match(noDir.message, /no\/such\/dir/);
  assert.ok(!noDir.message.includes(f.base), noDir.message);
  await rejects(f.svc.mv(f.root, '.', 'x', false), 'EINVAL', 'mv the root');
  // mv of a symlink moves the link.
  await f.svc.mv(f.root, 'out-file', 'moved-link', false);
  assert.equal(readlinkSync(join(f.dir, 'moved-link')), '../outside/secret');
});

test('upload: out-of-order chunks then commit give identical bytes; size, owner, chunk bound, abort', async (t) => {
  const f = await fixture(t);
  const content = randomBytes(PORTAL.chunkBytes * 2 + 12345);
  const chunks: [number, Buffer][] = [];
  for (let o = 0; o < content.length; o += PORTAL.chunkBytes) chunks.push([o, content.subarray(o, o + PORTAL.chunkBytes)]);
  writeFileSync(join(f.dir, 'up.bin'), 'old');
  chmodSync(join(f.dir, 'up.bin'), 0o604);

  const id = await f.svc.uploadBegin('A', f.root, 'up.bin', NO_OPTS);
  assert.equal(tempFiles(f.dir).length, 1, 'the temp file exists from begin');
  for (const [o, c] of [chunks[2], chunks[0], chunks[1]] as [number, Buffer][]) assert.equal(await f.svc.uploadChunk('A', id, o, c), c.length);
  assert.equal(readFileSync(join(f.dir, 'up.bin'), 'utf8'), 'old', 'nothing changes before commit');

  await rejects(f.svc.uploadChunk('B', id, 0, Buffer.from('x')), 'EINVAL', 'another owner');
  const other = await rejects(f.svc.uploadCommit('B', id, content.length), 'EINVAL', 'another owner commits');
  assert.match(other.message, new RegExp(`no upload ${id}`));
  await rejects(f.svc.uploadChunk('A', id, 0, Buffer.alloc(PORTAL.chunkBytes + 1)), 'ETOOBIG', 'chunk over the bound');
  await rejects(f.svc.uploadCommit('A', id, content.length + 1), 'EINVAL', 'wrong size');
  assert.equal(f.svc.openCount.uploads, 1, 'a refused commit leaves the upload open');

  assert.deepEqual(await f.svc.uploadCommit('A', id, content.length), { path: 'up.bin', bytes: content.length });
  assert.deepEqual(readFileSync(join(f.dir, 'up.bin')), content);
  assert.equal(statSync(join(f.dir, 'up.bin')).mode & 0o7777, 0o604, 'mode kept');
  assert.deepEqual(tempFiles(f.dir), []);
  assert.equal(f.svc.openCount.uploads, 0);
  await rejects(f.svc.uploadChunk('A', id, 0, Buffer.from('x')), 'EINVAL', 'a committed upload is gone');
  await rejects(f.svc.uploadAbort('A', 999), 'EINVAL', 'unknown upload');

  const id2 = await f.svc.uploadBegin('A', f.root, 'deep/new.bin', { mode: 0o700, parents: true });
  await f.svc.uploadChunk('A', id2, 0, Buffer.from('abc'));
  await f.svc.uploadAbort('A', id2);
  assert.deepEqual(tempFiles(join(f.dir, 'deep')), []);
  assert.ok(!existsSync(join(f.dir, 'deep', 'new.bin')));
  await rejects(f.svc.uploadBegin('A', f.root, 'nodir/x', NO_OPTS), 'ENOENT', 'begin without parents');

  await rejects(f.svc.uploadBegin('A', f.root, 'x', { mode: 0o2755, parents: false }), 'EINVAL', 'setgid mode');
  const many: number[] = [];
  for (let i = 0; i < PORTAL.maxUploadsPerClient; i++) many.push(await f.svc.uploadBegin('C', f.root, `many${i}`, NO_OPTS));
  await rejects(f.svc.uploadBegin('C', f.root, 'one-more', NO_OPTS), 'ETOOBIG', 'one upload too many');
  for (const m of many) await f.svc.uploadAbort('C', m);
  assert.deepEqual(tempFiles(f.dir), []);
  const id3 = await f.svc.uploadBegin('A', f.root, 'moded', { mode: 0o751, parents: false });
  await f.svc.uploadCommit('A', id3, 0);
  assert.equal(statSync(join(f.dir, 'moded')).mode & 0o7777, 0o751);
  assert.equal(statSync(join(f.dir, 'moded')).size, 0);
});

test('upload: one idle for uploadIdleMs is aborted and its temp file removed, an active one is kept', async (t) => {
  let now = 1_000_000;
  const f = await fixture(t, { now: () => now });
  const idle = await f.svc.uploadBegin('A', f.root, 'idle.bin', NO_OPTS);
  now += PORTAL.uploadIdleMs / 2;
  const active = await f.svc.uploadBegin('A', f.root, 'active.bin', NO_OPTS);
  assert.equal(f.svc.openCount.uploads, 2, 'half the idle time: both open');
  now += PORTAL.uploadIdleMs / 2;
  assert.equal(await f.svc.uploadChunk('A', active, 0, Buffer.from('x')), 1);
  await rejects(f.svc.uploadChunk('A', idle, 0, Buffer.from('x')), 'EINVAL', 'the idle upload was aborted');
  assert.equal(f.svc.openCount.uploads, 1);
  assert.deepEqual(tempFiles(f.dir).map((n) => n.startsWith('.active.bin.')), [true]);
  assert.deepEqual(await f.svc.uploadCommit('A', active, 1), { path: 'active.bin', bytes: 1 });
});

/** Collects watch events; `until` resolves once one matches, or fails after EVENT_DEADLINE_MS. */
function recorder(): { events: FsChange[]; on: (c: FsChange) => void; until: (pred: (c: FsChange) => boolean, what: string) => Promise<FsChange> } {
  const events: FsChange[] = [];
  const waiters: { pred: (c: FsChange) => boolean; resolve: (c: FsChange) => void }[] = [];
  return {
    events,
    on: (c) => {
      events.push(c);
      for (const w of [...waiters]) if (w.pred(c)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(c);
      }
    },
    until: (pred, what) => {
      const seen = events.find(pred);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no ${what} event within ${EVENT_DEADLINE_MS} ms; saw ${JSON.stringify(events)}`)), EVENT_DEADLINE_MS);
        waiters.push({ pred, resolve: (c) => { clearTimeout(timer); resolve(c); } });
      });
    },
  };
}

test('watch reports create, write and remove under a watched dir, relative to the root, nothing from outside', async (t) => {
  const f = await fixture(t);
  mkdirSync(join(f.dir, 'w', 'deep'), { recursive: true });
  const rec = recorder();
  const id = await f.svc.watch('A', f.root, 'w', true, rec.on);
  assert.equal(f.svc.openCount.watches, 1);

  writeFileSync(join(f.dir, 'w', 'deep', 'n.txt'), 'one');
  await rec.until((c) => c.kind === 'create' && c.path === 'w/deep/n.txt', 'create');
  writeFileSync(join(f.dir, 'w', 'deep', 'n.txt'), 'two');
  await rec.until((c) => c.kind === 'write' && c.path === 'w/deep/n.txt', 'write');
  rmSync(join(f.dir, 'w', 'deep', 'n.txt'));
  await rec.until((c) => c.kind === 'remove' && c.path === 'w/deep/n.txt', 'remove');
  assert.ok(rec.events.every((c) => c.watch === id));

  // Under a symlinked dir that leads out: a change there is not reported (a marker inside, written after, is).
  const rootRec = recorder();
  await f.svc.watch('A', f.root, '.', true, rootRec.on);
  writeFileSync(join(f.base, 'outside', 'changed-outside'), 'x');
  writeFileSync(join(f.dir, 'marker'), 'x');
  await rootRec.until((c) => c.path === 'marker', 'marker');
  assert.ok(!rootRec.events.some((c) => c.path.startsWith('out-dir/') || c.path.includes('changed-outside')), JSON.stringify(rootRec.events));
  rmSync(join(f.base, 'outside', 'changed-outside'));

  // A directory made after the watch is watched too; a file created in it at once is not missed.
  mkdirSync(join(f.dir, 'w', 'later', 'deeper'), { recursive: true });
  writeFileSync(join(f.dir, 'w', 'later', 'deeper', 'x.txt'), 'x');
  await rec.until((c) => c.kind === 'create' && c.path === 'w/later/deeper/x.txt', 'create in a new dir');
  writeFileSync(join(f.dir, 'w', 'later', 'deeper', 'x.txt'), 'y');
  await rec.until((c) => c.kind === 'write' && c.path === 'w/later/deeper/x.txt', 'write in a new dir');
  // The service's own atomic write: the path is reported, its temp file is not.
  await f.svc.write(f.root, 'w/atomic.txt', Buffer.from('a'), NO_OPTS);
  await rec.until((c) => c.kind === 'create' && c.path === 'w/atomic.txt', 'atomic write');
  assert.ok(!rec.events.some((c) => c.path.includes('.zmx-')), JSON.stringify(rec.events));
  // A removed directory is reported, and a new one by that name is watched again.
  rmSync(join(f.dir, 'w', 'later'), { recursive: true });
  await rec.until((c) => c.kind === 'remove' && c.path === 'w/later', 'remove dir');
  mkdirSync(join(f.dir, 'w', 'later'));
  await rec.until((c) => c.kind === 'create' && c.path === 'w/later', 're-create dir');
  writeFileSync(join(f.dir, 'w', 'later', 'again'), 'x');
  await rec.until((c) => c.kind === 'create' && c.path === 'w/later/again', 'create in the re-created dir');

  f.svc.unwatch('A', id);
  assert.equal(f.svc.openCount.watches, 1);
  assert.throws(() => f.svc.unwatch('A', id), (e: unknown) => e instanceof ZmxError && e.code === 'EINVAL');
  await rejects(f.svc.watch('A', f.root, 'nope', false, rec.on), 'ENOENT', 'watch missing');
});

test('watch: a file through its directory (atomic replaces keep being seen); not recursive; node_modules not entered', async (t) => {
  const f = await fixture(t);
  const file = recorder();
  await f.svc.watch('A', f.root, 'sub/file.txt', false, file.on);
  await f.svc.write(f.root, 'sub/file.txt', Buffer.from('one'), NO_OPTS);
  await file.until((c) => c.kind === 'create', 'first replace');
  const n = file.events.length;
  await f.svc.write(f.root, 'sub/file.txt', Buffer.from('two'), NO_OPTS);
  await file.until((c) => file.events.indexOf(c) >= n && c.kind === 'create', 'second replace');
  writeFileSync(join(f.dir, 'sub', 'other.txt'), 'not this one');
  writeFileSync(join(f.dir, 'sub', 'file.txt'), 'in place');
  await file.until((c) => c.kind === 'write', 'in-place write');
  assert.ok(file.events.every((c) => c.path === 'sub/file.txt'), JSON.stringify(file.events));

  mkdirSync(join(f.dir, 'p', 'node_modules', 'pkg'), { recursive: true });
  mkdirSync(join(f.dir, 'p', 'src'), { recursive: true });
  const flat = recorder();
  const deep = recorder();
  await f.svc.watch('A', f.root, 'p', false, flat.on);
  await f.svc.watch('A', f.root, 'p', true, deep.on);
  writeFileSync(join(f.dir, 'p', 'node_modules', 'pkg', 'i.js'), 'x');
  writeFileSync(join(f.dir, 'p', 'src', 's.ts'), 'x');
  writeFileSync(join(f.dir, 'p', 'top.ts'), 'x');
  await deep.until((c) => c.path === 'p/top.ts', 'marker (recursive)');
  await flat.until((c) => c.path === 'p/top.ts', 'marker (flat)');
  assert.ok(deep.events.some((c) => c.path === 'p/src/s.ts'), JSON.stringify(deep.events));
  assert.ok(!deep.events.some((c) => c.path.startsWith('p/node_modules/')), JSON.stringify(deep.events));
  assert.ok(!flat.events.some((c) => c.path.startsWith('p/src/')), JSON.stringify(flat.events));
});

test('watch: at most maxWatchesPerClient per owner; dropOwner ends one owner\'s uploads (temp files removed) and watches', async (t) => {
  const f = await fixture(t);
  for (let i = 0; i < PORTAL.maxWatchesPerClient; i++) await f.svc.watch('A', f.root, 'sub', false, () => undefined);
  await rejects(f.svc.watch('A', f.root, 'sub', false, () => undefined), 'ETOOBIG', 'one watch too many');
  await f.svc.watch('B', f.root, 'sub', false, () => undefined); // another owner has its own budget
  await f.svc.uploadBegin('A', f.root, 'a.bin', NO_OPTS);
  const b = await f.svc.uploadBegin('B', f.root, 'b.bin', NO_OPTS);
  assert.equal(tempFiles(f.dir).length, 2);
  assert.deepEqual(f.svc.openCount, { uploads: 2, watches: PORTAL.maxWatchesPerClient + 1 });

  await f.svc.dropOwner('A');
  assert.deepEqual(f.svc.openCount, { uploads: 1, watches: 1 });
  assert.deepEqual(tempFiles(f.dir).map((n) => n.startsWith('.b.bin.')), [true], "only B's temp file is left");
  await f.svc.uploadChunk('B', b, 0, Buffer.from('still works'));

  await f.svc.dispose();
  assert.deepEqual(f.svc.openCount, { uploads: 0, watches: 0 });
  assert.deepEqual(tempFiles(f.dir), []);
  await rejects(f.svc.uploadBegin('B', f.root, 'c.bin', NO_OPTS), 'EINVAL', 'closed service');
});

test('the escape suite through every method that takes a path: EOUTSIDE, nothing outside created or changed', async (t) => {
  const f = await fixture(t);
  const before = outside(f);
  writeFileSync(join(f.dir, 'inside.txt'), 'inside');
  const data = Buffer.from('pwned');
  const listOpts = { recursive: true, glob: '', all: true, max: 0 };
  const grepOpts = { pattern: '.', glob: '', ignoreCase: false, max: 0 };
  for (const { p, leaf } of escapes(f)) {
    const q = JSON.stringify(p);
    /** Methods that follow the last component: every escape is refused. */
    const following: [string, () => Promise<unknown>][] = [
      ['write', () => f.svc.write(f.root, p, data, { mode: null, parents: true })],
      ['mkdir', () => f.svc.mkdir(f.root, p, true)],
      ['edit', () => f.svc.edit(f.root, p, 'secret', 'pwned', 1)],
      ['read', () => f.svc.read(f.root, p, 0, 100)],
      ['list', () => f.svc.list(ME, f.root, p, listOpts)],
      ['grep', () => f.svc.grep(ME, f.root, p, grepOpts)],
      ['watch', () => f.svc.watch('A', f.root, p, true, () => undefined)],
      ['uploadBegin', () => f.svc.uploadBegin('A', f.root, p, { mode: null, parents: true })],
      ['mv to', () => f.svc.mv(f.root, 'inside.txt', `${p}/moved`, true)],
    ];
    /** Methods that act on the link itself: only escapes before the last component are refused. */
    const onLink: [string, () => Promise<unknown>][] = [
      ['rm', () => f.svc.rm(f.root, p, true)],
      ['mv from', () => f.svc.mv(f.root, p, 'moved-here', true)],
      ['mv to', () => f.svc.mv(f.root, 'inside.txt', p, true)],
      ['stat', () => f.svc.stat(f.root, p)],
    ];
    for (const [name, call] of following) await rejects(call(), 'EOUTSIDE', `${name}(${q})`);
    if (!leaf) for (const [name, call] of onLink) await rejects(call(), 'EOUTSIDE', `${name}(${q})`);
    const entry = (await f.svc.readFiles(ME, f.root, [p])).files[0];
    assert.equal(entry?.error?.code, 'EOUTSIDE', `readFiles(${q})`);
    assert.deepEqual(outside(f), before, `nothing outside changed after ${q}`);
  }
  assert.ok(!existsSync(join(f.base, 'outside', 'created-by-dangling')), 'writing through a dangling link created nothing');
  assert.equal(readFileSync(join(f.dir, 'inside.txt'), 'utf8'), 'inside');
  assert.deepEqual(f.svc.openCount, { uploads: 0, watches: 0 });

  // A directory swapped for a symlink that leads out while an upload is open: the commit refuses, nothing lands outside.
  mkdirSync(join(f.dir, 'swap'));
  const up = await f.svc.uploadBegin('A', f.root, 'swap/x', NO_OPTS);
  await f.svc.uploadChunk('A', up, 0, data);
  renameSync(join(f.dir, 'swap'), join(f.dir, 'swapped-away'));
  symlinkSync(join(f.base, 'outside'), join(f.dir, 'swap'));
  await rejects(f.svc.uploadCommit('A', up, data.length), 'EOUTSIDE', 'commit after the swap');
  assert.deepEqual(outside(f), before);
  assert.deepEqual(readdirSync(join(f.dir, 'swapped-away')), [], 'the temp file is removed');
  assert.equal(f.svc.openCount.uploads, 0);
  rmSync(join(f.dir, 'swap'));

  // The leaf symlinks themselves are inside: rm removes the link, the target outside stays.
  for (const p of ['out-file', 'chain1', 'dangling', 'out-dir']) await f.svc.rm(f.root, p, true);
  assert.deepEqual(outside(f), before);
});
