/**
 * What --print-config puts in a client's configuration: the environment
 * zmx mcp needs beyond a client's minimal one, and each client's format.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clientConfig, neededEnv } from './config.js';

const base = { HOME: '/home/u', PATH: '/usr/bin', USER: 'u' };

test('ZMX_DIR and ZMX_CONFIG_DIR are given only when a minimal environment would find others', () => {
  assert.deepEqual(neededEnv({ ...base, ZMX_DIR: '/srv/zmx', ZMX_CONFIG_DIR: '/srv/cfg' }, true, false), { ZMX_DIR: '/srv/zmx', ZMX_CONFIG_DIR: '/srv/cfg' });
  assert.deepEqual(neededEnv({ ...base, ZMX_CONFIG_DIR: '/home/u/.config/zmx', XDG_CONFIG_HOME: '/home/u/.config' }, true, false), {}, 'the same directories as HOME gives');
  assert.deepEqual(neededEnv({ ...base, ZMX_DIR: '/srv/zmx', XDG_CONFIG_HOME: '/xdg' }, false, false), { ZMX_CONFIG_DIR: '/xdg/zmx' }, 'a remote host needs the keys and hosts, not the run-time directory');
});

test('a client key in the keychain brings the D-Bus session address along, when there is one', () => {
  assert.deepEqual(neededEnv({ ...base, DBUS_SESSION_BUS_ADDRESS: 'unix:path=/run/user/1/bus' }, false, true), { DBUS_SESSION_BUS_ADDRESS: 'unix:path=/run/user/1/bus' });
  assert.deepEqual(neededEnv({ ...base, DBUS_SESSION_BUS_ADDRESS: 'unix:path=/run/user/1/bus' }, false, false), {});
});

test('each client gets its own format; env only when there is some', () => {
  const entry = { command: '/opt/zmx/bin/zmx', args: ['mcp', '-H', 'gpu', '-t', 'a "b"'], env: { ZMX_DIR: '/srv/z' } };
  assert.deepEqual(JSON.parse(clientConfig('claude', entry)), { mcpServers: { zmx: { type: 'stdio', ...entry } } });
  assert.deepEqual(JSON.parse(clientConfig('cursor', { ...entry, env: {} })), { mcpServers: { zmx: { command: entry.command, args: entry.args } } });
  assert.deepEqual(JSON.parse(clientConfig('vscode', entry)), { servers: { zmx: { type: 'stdio', ...entry } } });
  assert.equal(clientConfig('codex', entry), '[mcp_servers.zmx]\ncommand = "/opt/zmx/bin/zmx"\nargs = ["mcp", "-H", "gpu", "-t", "a \\"b\\""]\nenv = { ZMX_DIR = "/srv/z" }\n');
});
