/**
 * zmx mcp as real MCP clients start it: with the SDK's default environment
 * (HOME, LOGNAME, PATH, SHELL, TERM, USER — no XDG_RUNTIME_DIR, no ZMX_*),
 * and from the configuration `zmx mcp --print-config` prints.
 *
 * The first part needs /run/user/UID, where a desktop's sessions live. It
 * is made for the test (mode 0700) only when it does not exist — an
 * existing one may hold this user's real sessions — and removed after;
 * without it the part is skipped, saying why.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Sandbox, ZMX_BIN, alive, until } from '../helpers/harness.js';
import { assertOk, sandbox } from '../helpers/assert.js';
import { call, closeMcp, mcpClient, text } from '../helpers/mcp.js';

const USER_DIR = `/run/user/${process.getuid!()}`;

/** Makes /run/user/UID for the test; the reason to skip when it cannot. */
function makeUserDir(): string | undefined {
  if (existsSync(USER_DIR)) return `${USER_DIR} exists: it may hold this user's real sessions`;
  try {
    mkdirSync(USER_DIR, { mode: 0o700 });
    return undefined;
  } catch (err) {
    return `cannot make ${USER_DIR} (${(err as NodeJS.ErrnoException).code}): run as root, or where /run/user is writable`;
  }
}

/** The configuration --print-config prints for `client`, as the object a client reads. */
async function printed(sb: Sandbox, client: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ command: string; args: string[]; env?: Record<string, string> }> {
  const r = await sb.zmx(['mcp', '--print-config', client, ...args], { env });
  assertOk(r, `mcp --print-config ${client}`);
  if (client === 'codex') {
    const value = (key: string) => r.stdout.match(new RegExp(`^${key} = (.*)$`, 'm'))?.[1];
    assert.match(r.stdout, /^\[mcp_servers\.zmx\]\n/);
    const env = value('env');
    return {
      command: JSON.parse(value('command')!) as string,
      args: JSON.parse(value('args')!) as string[],
      // An inline table of strings: { K = "v", ... } is JSON once its keys are quoted.
      ...(env ? { env: JSON.parse(env.replace(/([A-Z_]+) = /g, '"$1": ')) as Record<string, string> } : {}),
    };
  }
  const json = JSON.parse(r.stdout) as Record<string, Record<string, { command: string; args: string[]; env?: Record<string, string>; type?: string }>>;
  const entry = (client === 'vscode' ? json['servers'] : json['mcpServers'])!['zmx']!;
  if (client !== 'cursor') assert.equal(entry.type, 'stdio');
  return entry;
}

const skip = makeUserDir();

describe('zmx mcp under an MCP client\'s default environment, sessions in /run/user/UID', { skip }, () => {
  let sb: Sandbox;
  const homeBefore = process.env['HOME'];
  /** The test's server, by the pids in its run-time directory (the sandbox's own ZMX_DIR is not it). */
  const serverPids = () => ['front.pid', 'ptyhost.pid'].map((f) => join(USER_DIR, 'zmx', f)).filter(existsSync)
    .map((f) => Number(readFileSync(f, 'utf8'))).filter((p) => p > 0);

  before(async () => {
    // A login shell's environment: XDG_RUNTIME_DIR set, the config under HOME.
    sb = new Sandbox({ XDG_RUNTIME_DIR: USER_DIR, ZMX_DIR: undefined, ZMX_CONFIG_DIR: undefined });
    assertOk(await sb.zmx(['new', '-d', '-s', 'desk', '-c', sb.home]), 'new -d -s desk');
    assert.ok(existsSync(join(USER_DIR, 'zmx', 'front.sock')), 'the server runs in /run/user/UID/zmx');
    // The SDK's default environment is made from this process's: its HOME is the sandbox's.
    process.env['HOME'] = sb.home;
  });

  after(async () => {
    process.env['HOME'] = homeBefore;
    const pids = serverPids();
    for (const pid of pids) try { process.kill(pid, 'SIGTERM'); } catch { /* gone */ }
    await until(() => pids.every((p) => !alive(p)), 'the servers to exit').catch(() => {
      for (const pid of pids) try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
    });
    await sb?.cleanup();
    rmSync(USER_DIR, { recursive: true, force: true });
  });

  test('zmx mcp started with no env finds the session', async () => {
    const c = await mcpClient(['mcp', '-t', 'desk'], undefined);
    try {
      const r = await call(c.client, 'list_sessions');
      assert.notEqual(r.isError, true, text(r));
      assert.match(text(r), /^\* desk\troot=/m);
      const pwd = await call(c.client, 'run_command', { argv: ['pwd'] });
      assert.equal((pwd.structuredContent as { stdout: string }).stdout, `${sb.home}\n`);
    } finally {
      await closeMcp(c);
    }
  });

  test('any command from a stripped environment (cron, a systemd unit) finds it too', async () => {
    const r = await sb.zmx(['ls', '--short'], { env: { XDG_RUNTIME_DIR: undefined, SHELL: undefined, TERM: undefined, LANG: undefined, ZMX_KEYRING: undefined } });
    assertOk(r, 'ls');
    assert.equal(r.stdout, 'desk\n');
  });

  test('--print-config needs no ZMX_DIR here: the client finds the server by itself', async () => {
    const cfg = await printed(sb, 'claude', ['-t', 'desk']);
    assert.deepEqual(cfg, { type: 'stdio', command: ZMX_BIN, args: ['mcp', '-t', 'desk'] });
    const c = await mcpClient(cfg.args, undefined, cfg.command);
    try {
      assert.match(text(await call(c.client, 'list_sessions')), /^\* desk\t/m);
    } finally {
      await closeMcp(c);
    }
  });
});

describe('zmx mcp --print-config', () => {
  test('each client\'s configuration starts a zmx mcp that reaches the session, ZMX_DIR and ZMX_CONFIG_DIR given where a minimal environment would not find them', async (t) => {
    const sb = sandbox(t);
    assertOk(await sb.zmx(['new', '-d', '-s', 'cfg']), 'new');
    sb.notePids();
    for (const client of ['claude', 'codex', 'cursor', 'vscode']) {
      const cfg = await printed(sb, client, ['-t', 'cfg']);
      assert.equal(cfg.command, ZMX_BIN, client);
      assert.deepEqual(cfg.args, ['mcp', '-t', 'cfg'], client);
      assert.deepEqual(cfg.env, { ZMX_DIR: sb.dir, ZMX_CONFIG_DIR: sb.configDir }, client);
      // As the client starts it: its default environment (this process's HOME...) plus the configuration's.
      const c = await mcpClient(cfg.args, cfg.env, cfg.command);
      try {
        assert.match(text(await call(c.client, 'list_sessions')), /^\* cfg\t/m, client);
      } finally {
        await closeMcp(c);
      }
    }
  });

  test('an unknown client is one line on stderr', async (t) => {
    const sb = sandbox(t);
    const r = await sb.zmx(['mcp', '--print-config', 'emacs', '-t', 'x']);
    assert.notEqual(r.status, 0);
    assert.equal(r.stderr, 'zmx: --print-config takes one of claude, codex, cursor, vscode, not "emacs"\n');
    assert.equal(r.stdout, '');
  });
});
