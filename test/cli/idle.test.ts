/**
 * A long-lived client with nothing open — zmx mcp between an agent's tool
 * calls — stays known to the front: it pings while idle, so a request after
 * longer than the front's idle grace is served, not refused ("send hello
 * first"). The wait is the behaviour under test: idle time itself. It runs
 * at ZMX_TEST_TIMESCALE (src/common/constants.ts) so that the grace, the
 * heartbeat timeout and the client's pings are all a tenth as long, in the
 * front and in this process alike: 4.4 s of idling instead of 34 s.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { sandbox, assertOk } from '../helpers/assert.js';

const SCALE = '0.1';
// Before the first import of the constants: they read it once, when loaded.
process.env['ZMX_TEST_TIMESCALE'] = SCALE;
const { Connection } = await import('../../src/client/connection.js');
const { runtimePaths } = await import('../../src/common/paths.js');
const { KeyStore } = await import('../../src/platform/keystore.js');
const { FLOW, TIMING, TIMESCALE } = await import('../../src/common/constants.js');

/** The front looks for silent clients once a second (src/server/main.ts, TICK_MS; not scaled). */
const FRONT_TICK_MS = 1_000;
/** Longer than the front keeps a silent client with no stream (away after the heartbeat timeout, forgotten after the grace, at its next tick). */
const IDLE_MS = Math.max(FLOW.resumeGraceIdleMs, TIMING.heartbeatTimeoutMs) + 2 * TIMING.heartbeatIntervalMs + FRONT_TICK_MS;

describe('idle clients', { concurrency: 2 }, () => {

  test('an idle connection outlives the front\'s idle grace and is still served', { timeout: 60_000 }, async (t) => {
    assert.equal(TIMESCALE, Number(SCALE), 'this process runs at the test timescale');
    const sb = sandbox(t, { ZMX_TEST_TIMESCALE: SCALE });
    assertOk(await sb.zmx(['new', '-d', '-s', 'idle']), 'new');
    const conn = (await Connection.local({ spawn: false, paths: runtimePaths(sb.dir), keys: new KeyStore(join(sb.configDir, 'keys'), 'file') }))!;
    // Closed here, before the sandbox's cleanup stops the server: an open local
    // connection would start a new one when its link drops.
    try {
      assert.equal((await conn.request('session.get', { name: 'idle' })).result.session.name, 'idle');
      await delay(IDLE_MS);
      assert.equal((await conn.request('session.get', { name: 'idle' })).result.session.name, 'idle');
    } finally {
      await conn.close();
    }
  });

  test('control: at the same timescale a client that stops pinging is forgotten after the grace (so the wait above is long enough)', { timeout: 60_000 }, async (t) => {
    const sb = sandbox(t, { ZMX_TEST_TIMESCALE: SCALE });
    assertOk(await sb.zmx(['new', '-d', '-s', 'idle']), 'new');
    const conn = (await Connection.local({ spawn: false, paths: runtimePaths(sb.dir), keys: new KeyStore(join(sb.configDir, 'keys'), 'file') }))!;
    try {
      assert.equal((await conn.request('session.get', { name: 'idle' })).result.session.name, 'idle');
      // Silence this client's pings, as a suspended process would be silent.
      clearInterval((conn as unknown as { heartbeat: NodeJS.Timeout }).heartbeat);
      await delay(IDLE_MS);
      await assert.rejects(conn.request('session.get', { name: 'idle' }), /send hello first/, 'the front forgot the silent client');
    } finally {
      await conn.close();
    }
  });
});
