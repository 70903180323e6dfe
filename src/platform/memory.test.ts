import { test } from 'node:test';
import assert from 'node:assert/strict';

test('traffic collects the young generation every 8 MiB and the whole heap every fourth time', async () => {
  const calls: unknown[] = [];
  const g = globalThis as { gc?: unknown };
  const saved = g.gc;
  // memory.ts takes gc (present with --expose-gc) when it loads.
  g.gc = (options: unknown) => { calls.push(options); };
  try {
    const { noteTraffic } = await import('./memory.js');
    const MiB = 1024 * 1024;
    noteTraffic(8 * MiB - 1);
    assert.equal(calls.length, 0, 'nothing collected below 8 MiB');
    noteTraffic(1);
    for (let i = 0; i < 7; i++) noteTraffic(8 * MiB);
    assert.deepEqual(calls.map((c) => (c as { type: string }).type), ['minor', 'minor', 'minor', 'major', 'minor', 'minor', 'minor', 'major']);
    assert.ok(calls.every((c) => (c as { execution: string }).execution === 'async'), 'never blocks the caller');
  } finally {
    g.gc = saved;
  }
});
