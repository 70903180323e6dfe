/**
 * A long-lived client with nothing open — zmx mcp between an agent's tool
 * calls — stays known to the front: it pings while idle, so a request after
 * longer than the front's idle grace is served, not refused ("send hello
 * first"). The wait is the behaviour under test: idle time itself.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { sandbox, assertOk } from '../helpers/assert.js';
import { Connection } from '../../src/client/connection.js';
import { runtimePaths } from '../../src/common/paths.js';
import { KeyStore } from '../../src/platform/keystore.js';
import { FLOW, TIMING } from '../../src/common/constants.js';

test('an idle connection outlives the front\'s idle grace and is still served', { timeout: 120_000 }, async (t) => {
  const sb = sandbox(t);
  assertOk(await sb.zmx(['new', '-d', '-s', 'idle']), 'new');
  const conn = (await Connection.local({ spawn: false, paths: runtimePaths(sb.dir), keys: new KeyStore(join(sb.configDir, 'keys'), 'file') }))!;
  // Closed here, before the sandbox's cleanup stops the server: an open local
  // connection would start a new one when its link drops.
  try {
    assert.equal((await conn.request('session.get', { name: 'idle' })).result.session.name, 'idle');
    // Longer than the front keeps a silent client with no stream (away after the heartbeat timeout, forgotten after the grace).
    await delay(Math.max(FLOW.resumeGraceIdleMs, TIMING.heartbeatTimeoutMs) + 2 * TIMING.heartbeatIntervalMs);
    assert.equal((await conn.request('session.get', { name: 'idle' })).result.session.name, 'idle');
  } finally {
    await conn.close();
  }
});
