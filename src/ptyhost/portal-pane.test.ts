import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { ZMX_BIN, mcpArgs, mcpConfig, portalArgv, portalEnv, portalName, portalTarget } from './portal-pane.js';
import { ZmxError } from '../common/errors.js';

test('the MCP configuration names this installation\'s zmx mcp with -H for a remote host only', () => {
  assert.ok(existsSync(ZMX_BIN), ZMX_BIN);
  const remote = portalTarget('gpu', 'work');
  assert.equal(mcpConfig(remote, '/opt/zmx/bin/zmx'), '{"mcpServers":{"zmx":{"command":"/opt/zmx/bin/zmx","args":["mcp","-H","gpu","-t","work"]}}}\n');
  assert.deepEqual(mcpArgs(portalTarget('local', 'w')), ['mcp', '-t', 'w']);
  assert.deepEqual(mcpArgs(portalTarget('', 'w')), ['mcp', '-t', 'w']);
  assert.equal(portalName(portalTarget('', 'w')), 'local:w');
  assert.deepEqual(portalEnv(remote, '/s/p.json'), { ZMX_PORTAL: 'gpu:work', ZMX_MCP_CONFIG: '/s/p.json' });
});

test('portalTarget refuses bad host and session names', () => {
  for (const [host, session] of [['bad host', 'w'], ['-x', 'w'], ['h', ''], ['h', 'a/b'], ['h', '..']] as const) {
    assert.throws(() => portalTarget(host, session), (e: unknown) => e instanceof ZmxError && e.code === 'EINVAL', `${host}:${session}`);
  }
});

test('known agents get the flag that loads the configuration; others run as given', () => {
  const t = portalTarget('gpu', 'work');
  assert.deepEqual(portalArgv(['/usr/local/bin/claude', '--resume'], '/c.json', t, '/z'), ['/usr/local/bin/claude', '--mcp-config', '/c.json', '--resume']);
  assert.deepEqual(portalArgv(['codex', 'fix it'], '/c.json', t, '/z'), [
    'codex', '-c', 'mcp_servers.zmx.command="/z"', '-c', 'mcp_servers.zmx.args=["mcp","-H","gpu","-t","work"]', 'fix it',
  ]);
  assert.deepEqual(portalArgv(['aider', '--yes'], '/c.json', t, '/z'), ['aider', '--yes']);
  assert.deepEqual(portalArgv([], '/c.json', t, '/z'), [], 'the default shell stays the default');
});
