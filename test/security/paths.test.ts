/**
 * Red team, paths: a key confined to a root (`zmx keys authorize --root`)
 * tries every way out we know against every fs op and every op that takes
 * a directory, over the wire to a real server. Nothing outside the root may
 * be read, created, changed or removed: the outside tree and its canary are
 * compared byte for byte after every attempt, and no answer carries the
 * canary's bytes. The figures go to SECURITY.md.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { linkSync, mkdirSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { OpName } from '../../src/common/protocol.js';
import { withServer } from '../transport/wire.js';
import { listing } from '../helpers/tree.js';
import { ask, keyedClient } from './rig.js';

const CANARY = 'canary-7f3a9c: must never be read through the portal';

test('path escapes: 0 of every (op, path) pair reaches outside the key\'s root', async () => {
  await withServer(async (ctx) => {
    const { sb } = ctx;
    const base = realpathSync(sb.base);
    const root = join(base, 'keyroot');
    const outside = join(base, 'outside');
    mkdirSync(join(root, 'src'), { recursive: true });
    mkdirSync(outside);
    writeFileSync(join(outside, 'canary'), CANARY);
    mkdirSync(join(base, 'keyrootX')); // a sibling sharing the root's name as a prefix
    writeFileSync(join(root, 'src', 'a.txt'), 'inside\n');
    writeFileSync(join(root, 'line\nbreak.txt'), 'a name with a newline\n');
    symlinkSync(outside, join(root, 'mid')); // a symlink in the middle of a path
    symlinkSync(join(outside, 'canary'), join(root, 'leaf'));
    symlinkSync('../outside/canary', join(root, 'rel-leaf'));
    symlinkSync('/proc/self/root' + outside, join(root, 'proc'));
    linkSync(join(outside, 'canary'), join(root, 'hard')); // a hard link to a file outside
    const user = await ctx.openUser();
    assert.ok((await ask(user, 'session.create', { name: 'p', cmd: ['sh'], cwd: root, env: {}, cols: 80, rows: 24, ifMissing: false })).ok);
    const { client } = await keyedClient(ctx, root);
    const outsideBefore = listing(outside);
    const siblingBefore = listing(join(base, 'keyrootX'));

    const escapes = [
      '../outside/canary', '..', 'src/../../outside/canary', 'nonexistent/../../outside/x', '../keyroot/src/a.txt', '../keyrootX/new',
      join(outside, 'canary'), join(outside, 'new'), '/etc/passwd', '/',
      'mid/canary', 'mid/new', 'mid/deeper/new', 'leaf', 'rel-leaf', 'proc/canary',
      `/proc/self/root${outside}/canary`, '/proc/self/cwd/x', `/proc/self/root${root}/../outside/canary`,
      'src/a.txt\0../../outside/canary', '\0', `${'x/'.repeat(3000)}../../outside`, `${'y'.repeat(300)}/../../outside/canary`,
      '../outside/canary\n', 'line\nbreak.txt/../../outside/canary',
    ];
    const data = Buffer.from('pwned');
    const ops: [OpName, (p: string) => Record<string, unknown>, Buffer[]?][] = [
      ['fs.read', (p) => ({ name: 'p', path: p, offset: 0, length: 1024 })],
      ['fs.readFiles', (p) => ({ name: 'p', paths: [p] })],
      ['fs.write', (p) => ({ name: 'p', path: p, mode: null, parents: true }), [data]],
      ['fs.upload.begin', (p) => ({ name: 'p', path: p, mode: null, parents: true })],
      ['fs.edit', (p) => ({ name: 'p', path: p, old: 'canary', new: 'pwned', count: 1 })],
      ['fs.stat', (p) => ({ name: 'p', path: `${p}/x` })],
      ['fs.list', (p) => ({ name: 'p', path: p, recursive: true, glob: '', all: true, max: 0 })],
      ['fs.grep', (p) => ({ name: 'p', path: p, pattern: 'canary', glob: '', ignoreCase: false, max: 0 })],
      ['fs.mkdir', (p) => ({ name: 'p', path: `${p}/made`, parents: true })],
      ['fs.rm', (p) => ({ name: 'p', path: `${p}/x`, recursive: true })],
      ['fs.mv', (p) => ({ name: 'p', from: 'src/a.txt', to: `${p}/moved`, overwrite: true })],
      ['fs.watch', (p) => ({ name: 'p', path: p, recursive: true })],
      ['exec.start', (p) => ({ name: 'p', argv: ['true'], shell: '', cwd: p, env: {}, timeoutMs: 0, stdin: false })],
      ['session.create', (p) => ({ name: 'q', cmd: ['sh'], cwd: p, env: {}, cols: 80, rows: 24, ifMissing: false })],
      ['session.attach', (p) => ({ name: 'q', cols: 80, rows: 24, create: { name: 'q', cmd: ['sh'], cwd: p, env: {}, cols: 80, rows: 24 }, readOnly: false, mode: 'raw' })],
      ['pane.split', (p) => ({ name: 'p', window: null, pane: null, dir: 'h', cmd: ['sh'], cwd: p, env: {} })],
      ['window.new', (p) => ({ name: 'p', title: '', cmd: ['sh'], cwd: p, env: {} })],
      ['workspace.create', (p) => ({ name: 'q', cmd: ['sh'], cwd: '', env: {}, cols: 80, rows: 24, worktree: { repo: p, branch: 'b' }, portal: null })],
      ['session.write', (p) => ({ name: 'p', path: `${p}/w` }), [data]],
    ];
    const tally = new Map<string, number>();
    let attempts = 0;
    const leaks: string[] = [];
    for (const [op, args, frames] of ops) {
      for (const p of escapes) {
        const r = await ask(client, op, args(p), frames ?? []);
        attempts++;
        // readFiles answers per file: its one entry's error is the answer.
        if (op === 'fs.readFiles' && r.ok) r.code = (r.result['files'] as { error: { code: string } | null }[])[0]?.error?.code ?? 'OK';
        tally.set(r.code, (tally.get(r.code) ?? 0) + 1);
        // An escape answers EOUTSIDE, or EINVAL for a path that is no path (NUL, too long); never OK outside.
        const refused = r.code !== 'OK' && (r.code === 'EOUTSIDE' || r.code === 'EINVAL' || r.code === 'ENOENT');
        const bytes = Buffer.concat(r.frames).toString('latin1') + JSON.stringify(r.result);
        if (!refused || bytes.includes('canary-7f3a9c')) leaks.push(`${op} ${JSON.stringify(p).slice(0, 80)}: ${r.code} ${r.message || JSON.stringify(r.result).slice(0, 200)}`);
        if (r.ok && op === 'fs.upload.begin') await ask(client, 'fs.upload.abort', { upload: r.result['upload'] });
        if (r.ok && op === 'fs.watch') await ask(client, 'fs.unwatch', { watch: r.result['watch'] });
      }
      assert.deepEqual(listing(outside), outsideBefore, `nothing outside changed after ${op}`);
      assert.deepEqual(listing(join(base, 'keyrootX')), siblingBefore, `the sibling is untouched after ${op}`);
    }
    // The hard link is the canary's inode: this key may not read it, and a write replaces the link, not the canary.
    assert.equal((await ask(client, 'fs.read', { name: 'p', path: 'hard', offset: 0, length: 100 })).code, 'EOUTSIDE');
    assert.ok((await ask(client, 'fs.write', { name: 'p', path: 'hard', mode: null, parents: false }, [data])).ok);
    assert.ok((await ask(client, 'fs.rm', { name: 'p', path: 'leaf', recursive: false })).ok, 'a leaf symlink itself is inside: rm removes the link');
    assert.deepEqual(listing(outside), outsideBefore, 'the canary is intact');
    // Inside stays usable: a name with a newline, and a cwd inside for a new session.
    const nl = await ask(client, 'fs.read', { name: 'p', path: 'line\nbreak.txt', offset: 0, length: 100 });
    assert.equal(Buffer.concat(nl.frames).toString(), 'a name with a newline\n');
    assert.ok((await ask(client, 'session.create', { name: 'inside', cmd: ['sh'], cwd: 'src', env: {}, cols: 80, rows: 24, ifMissing: false })).ok);
    const got = await ask(client, 'session.get', { name: 'inside' });
    assert.equal((got.result['session'] as { root: string }).root, join(root, 'src'), 'a relative cwd is taken inside the key\'s root');
    // A key without a root is unchanged: it may start a session anywhere.
    assert.ok((await ask(user, 'session.create', { name: 'free', cmd: ['sh'], cwd: outside, env: {}, cols: 80, rows: 24, ifMissing: false })).ok);
    assert.deepEqual(leaks, [], `${leaks.length} of ${attempts} attempts got out`);
    process.stderr.write(`# red team paths: ${attempts} attempts (${ops.length} ops x ${escapes.length} paths), 0 escapes; answers ${JSON.stringify(Object.fromEntries(tally))}\n`);
  });
});
