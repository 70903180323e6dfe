import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_CONFIG } from '../common/config.js';
import { ZmxError } from '../common/errors.js';
import { configFile, loadConfig, readConfigFile } from './config-file.js';
import { ConfigStore } from './config-store.js';

function dir(t: { after(fn: () => void): void }): string {
  const d = mkdtempSync(join(tmpdir(), 'zmx-config-file-'));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

test('no file: nothing set, every default', (t) => {
  const d = dir(t);
  assert.deepEqual(readConfigFile(d), {});
  assert.deepEqual(loadConfig(d), DEFAULT_CONFIG);
});

test('reads what zmx set wrote, through the same rules', (t) => {
  const d = dir(t);
  const store = new ConfigStore(d);
  store.set('history-limit', 300);
  store.set('mouse', false);
  assert.deepEqual(readConfigFile(d), { 'history-limit': 300, mouse: false });
  assert.deepEqual(readConfigFile(d), store.explicit());
  assert.equal(loadConfig(d)['size-policy'], DEFAULT_CONFIG['size-policy']);
});

test('a bad file is one EINVAL line naming the file and the key', (t) => {
  const d = dir(t);
  const file = configFile(d);
  for (const [text, why] of [
    ['{"history-limit": "lots"}', /history-limit: .*not an integer/],
    ['{"nope": 1}', /unknown key "nope"/],
    ['{not json', /not valid JSON/],
  ] as const) {
    writeFileSync(file, text);
    assert.throws(() => readConfigFile(d), (err: unknown) => {
      assert.ok(err instanceof ZmxError && err.code === 'EINVAL', String(err));
      assert.ok(err.message.startsWith(`${file}: `), err.message);
      assert.match(err.message, why);
      assert.doesNotMatch(err.message, /\n/);
      return true;
    });
  }
});
