/**
 * The history a pane keeps, black-box: 2,000 lines by default (zmx's),
 * `zmx set history-limit N` (or config.json) for new sessions, existing
 * ones keeping theirs; read back with `zmx history` against the screen
 * `zmx capture-pane` shows.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sandbox, assertOk, assertOneLineError } from '../helpers/assert.js';
import { until, type Sandbox } from '../helpers/harness.js';

const DONE = 'PRINTED-ALL';

/** A detached session that prints `lines` numbered lines, then DONE, then idles. */
async function printing(sb: Sandbox, name: string, lines: number): Promise<void> {
  assertOk(await sb.zmx(['new', '-d', '-s', name, '--', 'sh', '-c', `seq 1 ${lines}; echo ${DONE}; exec cat`]), `new ${name}`);
  await until(async () => (await sb.zmx(['capture-pane', '-p', '-t', name])).stdout.includes(DONE), `${name} to print its lines`, 30_000);
}

const nonBlank = (text: string): string[] => {
  const lines = text.split('\n');
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines;
};

/** Lines of history above the screen, and the history's first line. */
async function kept(sb: Sandbox, name: string): Promise<{ scrollback: number; first: string; last: string }> {
  const history = await sb.zmx(['history', name]);
  assertOk(history, `history ${name}`);
  const screen = await sb.zmx(['capture-pane', '-p', '-t', name]);
  assertOk(screen, `capture-pane ${name}`);
  const h = nonBlank(history.stdout);
  const s = nonBlank(screen.stdout);
  assert.deepEqual(h.slice(h.length - s.length), s, 'the history ends with the screen');
  return { scrollback: h.length - s.length, first: h[0]!, last: h[h.length - 1]! };
}

describe('history-limit', { concurrency: 2 }, () => {
  test('2000 lines by default; zmx set history-limit 50 gives new sessions 50, existing ones keep theirs', async (t) => {
    const sb = sandbox(t);
    await printing(sb, 'big', 3000);
    const big = await kept(sb, 'big');
    assert.equal(big.scrollback, 2000, 'the default history-limit is 2000 lines');
    assert.equal(big.last, DONE);
    // Contiguous: the oldest lines went, none in between.
    const screenRows = 3001 - 2000 - Number(big.first) + 1;
    assert.ok(screenRows > 0 && screenRows < 100, `first kept line ${big.first}`);

    const set = await sb.zmx(['set', 'history-limit', '50']);
    assertOk(set, 'set history-limit 50');
    assert.equal(set.stdout + set.stderr, '', 'set is silent');
    assert.equal((await sb.zmx(['config', 'get', 'history-limit'])).stdout, '50\n', 'it is the config setting');

    // The server is running: the next session takes the new value at once.
    await printing(sb, 'small', 200);
    const small = await kept(sb, 'small');
    assert.equal(small.scrollback, 50, 'a pane that printed 200 lines keeps 50 of history');
    assert.equal(Number(small.first), 201 - 50 - (screenRows) + 1, 'the newest lines are the ones kept');
    // The session made before keeps the 2000 it was made with.
    assert.equal((await kept(sb, 'big')).scrollback, 2000, 'an existing pane keeps its history');

    // Bad values: one line saying what is allowed, nothing stored.
    assertOneLineError(await sb.zmx(['set', 'history-limit', 'lots']), 'set history-limit lots', /^zmx: invalid value for history-limit: "lots" is not an integer \(use 0 to 1000000\)\n$/, true);
    assert.equal((await sb.zmx(['config', 'get', 'history-limit'])).stdout, '50\n');
    // Labels still work as before, on a session of any name.
    assertOk(await sb.zmx(['set', 'small', 'role=test']), 'set labels');
    assert.equal((await sb.zmx(['get', 'small', 'role'])).stdout.trim(), 'test');
  });

  test('config.json sets it for a server started later, the old key name included; --help documents it', async (t) => {
    const sb = sandbox(t);
    mkdirSync(sb.configDir, { recursive: true, mode: 0o700 });
    writeFileSync(join(sb.configDir, 'config.json'), '{"scrollback-lines": 120}\n');
    await printing(sb, 'old', 400);
    assert.equal((await kept(sb, 'old')).scrollback, 120, 'scrollback-lines, the name before history-limit, still applies');
    // The next set rewrites the file under the new name.
    assertOk(await sb.zmx(['config', 'set', 'history-limit', '60']), 'config set history-limit 60');
    assert.deepEqual(JSON.parse(readFileSync(join(sb.configDir, 'config.json'), 'utf8')), { 'history-limit': 60 });
    await printing(sb, 'new', 400);
    assert.equal((await kept(sb, 'new')).scrollback, 60);

    const help = await sb.zmx(['set', '--help']);
    assertOk(help, 'set --help');
    assert.match(help.stdout, /zmx set history-limit N/);
    assert.match(help.stdout, /default 2000/);
  });
});
