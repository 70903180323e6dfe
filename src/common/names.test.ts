import { test } from 'node:test';
import assert from 'node:assert/strict';
import { matchNames, validateSessionName, withPrefix } from './names.js';
import { ZmxError } from './errors.js';
import { LIMITS } from './constants.js';

function assertEinval(name: string): void {
  assert.throws(() => validateSessionName(name), (err: unknown) => {
    assert.ok(err instanceof ZmxError, `${JSON.stringify(name)}: not a ZmxError`);
    assert.equal(err.code, 'EINVAL', JSON.stringify(name));
    assert.ok(!err.message.includes('\n'), 'the message is one line');
    return true;
  }, JSON.stringify(name));
}

test('validateSessionName accepts printable names and returns them', () => {
  for (const name of ['dev', 'd', 'd.1', 'agent-7_x', 'a:b', 'a@b', 'ünïcødé', '日本語', 'x'.repeat(LIMITS.maxSessionName)]) {
    assert.equal(validateSessionName(name), name);
  }
});

test('validateSessionName refuses empty, too long, whitespace, separators and control characters', () => {
  const bad = [
    '',
    'x'.repeat(LIMITS.maxSessionName + 1),
    'a b', ' a', 'a ', 'a\tb', 'a\nb', 'a\rb', '\u00a0', 'a\u2028b',
    'a/b', '/', 'a\\b',
    'a\x00b', 'a\x1bb', 'a\x1f', '\x7f', 'a\x01',
  ];
  for (const name of bad) assertEinval(name);
});

test('withPrefix puts ZMX_SESSION_PREFIX from the env argument before every name, as zmx does', () => {
  const env = { ZMX_SESSION_PREFIX: 'ci-' };
  assert.equal(withPrefix('dev', env), 'ci-dev');
  assert.equal(withPrefix('ci-dev', env), 'ci-ci-dev');
  assert.equal(withPrefix('d.*', env), 'ci-d.*');
  assert.equal(withPrefix('dev', {}), 'dev');
  assert.equal(withPrefix('dev', { ZMX_SESSION_PREFIX: '' }), 'dev');
  // The env argument wins over process.env.
  const saved = process.env['ZMX_SESSION_PREFIX'];
  process.env['ZMX_SESSION_PREFIX'] = 'proc-';
  try {
    assert.equal(withPrefix('dev', {}), 'dev');
    assert.equal(withPrefix('dev'), 'proc-dev');
  } finally {
    if (saved === undefined) delete process.env['ZMX_SESSION_PREFIX'];
    else process.env['ZMX_SESSION_PREFIX'] = saved;
  }
});

test('matchNames matches exact names and reports the missing ones', () => {
  const names = ['dev', 'dev2', 'web'];
  assert.deepEqual(matchNames(['dev'], names), { matched: ['dev'], missing: [] });
  assert.deepEqual(matchNames(['web', 'nope', 'dev'], names), { matched: ['web', 'dev'], missing: ['nope'] });
  assert.deepEqual(matchNames(['de'], names), { matched: [], missing: ['de'] });
  assert.deepEqual(matchNames([], names), { matched: [], missing: [] });
  assert.deepEqual(matchNames(['dev'], []), { matched: [], missing: ['dev'] });
});

test('matchNames: a trailing "*" matches by prefix ("d.*" → names starting "d.")', () => {
  const names = ['d', 'd.1', 'd.x', 'dev', 'web', 'xd', 'D2'];
  assert.deepEqual(matchNames(['d.*'], names), { matched: ['d.1', 'd.x'], missing: [] });
  assert.deepEqual(matchNames(['d*'], names), { matched: ['d', 'd.1', 'd.x', 'dev'], missing: [] });
  assert.deepEqual(matchNames(['*'], names), { matched: names, missing: [] });
  assert.deepEqual(matchNames(['z.*'], names), { matched: [], missing: ['z.*'] });
  // Without the "*" a name matches exactly.
  assert.deepEqual(matchNames(['d.'], names), { matched: [], missing: ['d.'] });
});

test('matchNames reports each session once however many patterns hit it', () => {
  const names = ['dev', 'dev2', 'web'];
  const { matched, missing } = matchNames(['dev', 'd*', 'dev2', 'w*', 'web'], names);
  assert.deepEqual(matched, ['dev', 'dev2', 'web']);
  assert.deepEqual(missing, []);
});
