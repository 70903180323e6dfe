/**
 * zmx mcp, black-box: the SDK's own Client spawns `bin/zmx mcp -t SESSION`
 * over stdio against a private server and a real session, and calls each
 * tool as an agent would. The files are checked on disk, the terminal on
 * the pane's real shell.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { Sandbox, alive, until } from '../helpers/harness.js';
import { assertOk } from '../helpers/assert.js';
import { call, closeMcp, sandboxMcp, text, type McpSession } from '../helpers/mcp.js';

const TOOLS = ['command_kill', 'command_output', 'command_wait', 'edit_file', 'glob', 'grep', 'list_directory', 'list_sessions', 'read_file', 'read_files', 'run_command', 'terminal_read', 'terminal_send', 'write_file'];

describe('zmx mcp', () => {
  let sb: Sandbox;
  let root: string;
  let mcp: McpSession;

  before(async () => {
    sb = new Sandbox();
    root = join(sb.base, 'root');
    mkdirSync(join(root, 'src', 'deep'), { recursive: true });
    writeFileSync(join(root, 'src', 'a.ts'), 'export const needle = 1;\n');
    writeFileSync(join(root, 'src', 'deep', 'b.ts'), 'const x = 2;\n// NEEDLE here\n');
    writeFileSync(join(root, 'notes.md'), 'no needle in the glob\n');
    writeFileSync(join(sb.base, 'secret.txt'), 'outside the root\n');
    symlinkSync(join(sb.base, 'secret.txt'), join(root, 'escape'));
    assertOk(await sb.zmx(['new', '-d', '-s', 'work', '-c', root]), 'new -d -s work');
    sb.notePids();
    mcp = await sandboxMcp(sb, ['-t', 'work']);
  });

  after(async () => {
    if (mcp) await closeMcp(mcp);
    await sb.cleanup();
  });

  test('lists every tool with its input schema', async () => {
    const { tools } = await mcp.client.listTools();
    assert.deepEqual(tools.map((t) => t.name).sort(), TOOLS);
    for (const t of tools) assert.equal(t.inputSchema.type, 'object', t.name);
    const read = tools.find((t) => t.name === 'read_file')!;
    assert.deepEqual(read.inputSchema.required, ['path']);
    assert.ok(tools.find((t) => t.name === 'run_command')!.outputSchema, 'run_command declares its structured output');
  });

  test('write_file then read_file round-trips, creating parents; the bytes are on disk', async () => {
    const content = 'first line\nsecond — ünïcode ✓\n\ttabbed\n';
    const w = await call(mcp.client, 'write_file', { path: 'new/dir/file.txt', content });
    assert.notEqual(w.isError, true, text(w));
    assert.equal(readFileSync(join(root, 'new', 'dir', 'file.txt'), 'utf8'), content);
    const r = await call(mcp.client, 'read_file', { path: 'new/dir/file.txt' });
    assert.notEqual(r.isError, true, text(r));
    assert.equal(text(r), content);
  });

  test('edit_file with the wrong count fails and leaves the file unchanged; the right count edits it', async () => {
    const file = join(root, 'edit.txt');
    writeFileSync(file, 'alpha beta alpha\n');
    const before = readFileSync(file);
    const wrong = await call(mcp.client, 'edit_file', { path: 'edit.txt', old_string: 'alpha', new_string: 'gamma' });
    assert.equal(wrong.isError, true);
    assert.match(text(wrong), /^EINVAL: /);
    assert.deepEqual(readFileSync(file), before, 'not a byte changed');
    const right = await call(mcp.client, 'edit_file', { path: 'edit.txt', old_string: 'alpha', new_string: 'gamma', expected_replacements: 2 });
    assert.notEqual(right.isError, true, text(right));
    assert.equal(readFileSync(file, 'utf8'), 'gamma beta gamma\n');
  });

  test('grep finds matching lines as path:line: text; glob finds files by pattern', async () => {
    const g = await call(mcp.client, 'grep', { pattern: 'needle', path: 'src', ignore_case: true });
    assert.notEqual(g.isError, true, text(g));
    assert.deepEqual(text(g).split('\n').sort(), ['src/a.ts:1: export const needle = 1;', 'src/deep/b.ts:2: // NEEDLE here']);
    const cased = await call(mcp.client, 'grep', { pattern: 'needle' });
    assert.deepEqual(text(cased).split('\n').sort(), ['notes.md:1: no needle in the glob', 'src/a.ts:1: export const needle = 1;']);
    const files = await call(mcp.client, 'glob', { pattern: '**/*.ts' });
    assert.notEqual(files.isError, true, text(files));
    assert.deepEqual(text(files).split('\n').sort(), ['src/a.ts', 'src/deep/b.ts']);
  });

  test('run_command returns stdout, stderr and the exit code separately', async () => {
    const r = await call(mcp.client, 'run_command', { command: 'echo out; echo err >&2; exit 3' });
    assert.notEqual(r.isError, true, text(r));
    const s = r.structuredContent as Record<string, unknown>;
    assert.equal(s['exitCode'], 3);
    assert.equal(s['stdout'], 'out\n');
    assert.equal(s['stderr'], 'err\n');
    assert.equal(s['signal'], null);
    assert.equal(s['timedOut'], false);
    assert.match(text(r), /exit code 3/);
    const pwd = await call(mcp.client, 'run_command', { argv: ['pwd'], cwd: 'src' });
    assert.equal((pwd.structuredContent as { stdout: string }).stdout.trim(), join(root, 'src'));
  });

  test('a command that outlives its call goes on with an id; command_wait sends its output as progress and gets its end', async () => {
    // Gates the test opens: the command goes on only when told, so nothing depends on timing.
    const script = 'echo started; while [ ! -e gate1 ]; do sleep 0.05; done; echo middle; while [ ! -e gate2 ]; do sleep 0.05; done; echo finished >&2';
    const r = await call(mcp.client, 'run_command', { command: script, wait_seconds: 0 });
    const s = r.structuredContent as { id: number; running: boolean };
    assert.equal(s.running, true, text(r));
    const messages: string[] = [];
    const waited = (await mcp.client.callTool({ name: 'command_wait', arguments: { id: s.id } }, undefined, {
      onprogress: (p) => {
        messages.push(p.message ?? '');
        writeFileSync(join(root, p.message?.includes('middle') ? 'gate2' : 'gate1'), '');
      },
    })) as CallToolResult;
    assert.notEqual(waited.isError, true, text(waited));
    const w = waited.structuredContent as Record<string, unknown>;
    assert.deepEqual([w['running'], w['exitCode'], w['stdout'], w['stderr']], [false, 0, 'started\nmiddle\n', 'finished\n']);
    assert.ok(messages.some((m) => m.includes('middle')), `progress carried the output: ${JSON.stringify(messages)}`);
    assert.deepEqual((await call(mcp.client, 'command_output', { id: s.id })).structuredContent, waited.structuredContent);
  });

  test('command_kill ends a background command\'s process group', async () => {
    const r = await call(mcp.client, 'run_command', { command: 'echo $$; exec sleep 300', background: true });
    const id = (r.structuredContent as { id: number }).id;
    const pid = Number(await until(async () => ((await call(mcp.client, 'command_output', { id })).structuredContent as { stdout: string }).stdout.trim(), 'its pid'));
    assert.ok(alive(pid));
    assert.match(text(await call(mcp.client, 'command_kill', { id })), /^sent SIGTERM to command \d+/);
    const ended = (await call(mcp.client, 'command_wait', { id })).structuredContent as { running: boolean; signal: string };
    assert.deepEqual([ended.running, ended.signal], [false, 'SIGTERM']);
    assert.equal(alive(pid), false);
  });

  test('a path outside the root is a tool error EOUTSIDE, by .. or by a symlink', async () => {
    for (const path of ['../secret.txt', join(sb.base, 'secret.txt'), 'escape']) {
      const r = await call(mcp.client, 'read_file', { path });
      assert.equal(r.isError, true, `${path}: ${text(r)}`);
      assert.match(text(r), /^EOUTSIDE: /, path);
      assert.doesNotMatch(text(r), /outside the root\n/, 'the content is not shown');
    }
    const w = await call(mcp.client, 'write_file', { path: '../planted.txt', content: 'x' });
    assert.match(text(w), /^EOUTSIDE: /);
  });

  test('list_sessions lists the session with its root', async () => {
    const r = await call(mcp.client, 'list_sessions');
    assert.notEqual(r.isError, true, text(r));
    assert.match(text(r), new RegExp(`^\\* work\\troot=${root.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\tpanes=1\\t`, 'm'));
  });

  test('terminal_send types into the pane\'s shell and terminal_read sees what it printed', async () => {
    const s = await call(mcp.client, 'terminal_send', { text: 'echo "zmx-mcp-$((6 * 7))"', enter: true });
    assert.notEqual(s.isError, true, text(s));
    // The shell's answer, not the typed line: only the output has 42 in it.
    const screen = await until(async () => {
      const r = await call(mcp.client, 'terminal_read', {});
      return /^zmx-mcp-42$/m.test(text(r)) ? text(r) : '';
    }, 'the shell to print zmx-mcp-42');
    assert.match(screen, /echo "zmx-mcp-\$\(\(6 \* 7\)\)"/, 'the typed line is on the screen too');
    const last = await call(mcp.client, 'terminal_read', { lines: 2 });
    assert.ok(text(last).split('\n').length <= 2);
  });

  test('stdout held MCP only; nothing was logged on stderr', () => {
    assert.equal(mcp.stderr(), '');
  });
});

describe('zmx mcp ending', { concurrency: 2 }, () => {
  /** A session with an MCP client that started a command still running; the command's pid. */
  async function withCommand(t: { after(fn: () => Promise<void>): void }): Promise<{ c: McpSession; pid: number }> {
    const sb = new Sandbox();
    t.after(() => sb.cleanup());
    assertOk(await sb.zmx(['new', '-d', '-s', 'bye']), 'new');
    sb.notePids();
    const c = await sandboxMcp(sb, ['-t', 'bye']);
    const r = await call(c.client, 'run_command', { command: 'echo $$; exec sleep 300', background: true });
    const id = (r.structuredContent as { id: number }).id;
    const pid = Number(await until(async () => ((await call(c.client, 'command_output', { id })).structuredContent as { stdout: string }).stdout.trim(), 'its pid'));
    assert.ok(alive(pid));
    return { c, pid };
  }

  test('when stdin closes, it ends the commands it started that still run', async (t) => {
    const { c, pid } = await withCommand(t);
    await closeMcp(c);
    await until(() => !alive(pid), 'the command to be ended');
  });

  test('SIGTERM ends it the same way', async (t) => {
    const { c, pid } = await withCommand(t);
    process.kill(c.transport.pid!, 'SIGTERM');
    await until(() => !alive(pid) && !alive(c.transport.pid!), 'the command and zmx mcp to end');
    await c.client.close();
  });
});

describe('zmx mcp without a server', () => {
  test('answers EUNAVAIL as a tool error and keeps serving', async (t) => {
    const sb = new Sandbox();
    const c = await sandboxMcp(sb, ['-t', 'ghost']);
    t.after(async () => { await closeMcp(c); await sb.cleanup(); });
    for (let i = 0; i < 2; i++) {
      const r = await call(c.client, 'list_sessions');
      assert.equal(r.isError, true);
      assert.match(text(r), /^EUNAVAIL: /);
    }
    assert.equal(sb.frontPid(), null, 'no server was started');
  });

  test('names the directory it looked in and how to point elsewhere', async (t) => {
    const sb = new Sandbox();
    const c = await sandboxMcp(sb, ['-t', 'ghost']);
    t.after(async () => { await closeMcp(c); await sb.cleanup(); });
    const r = await call(c.client, 'read_file', { path: 'x' });
    assert.equal(text(r), `EUNAVAIL: no zmx server is running on this machine: looked in ${sb.dir} (from ZMX_DIR); if the server runs elsewhere, set ZMX_DIR to its run-time directory; or start the session with zmx new -d -s ghost`);
  });

  test('-t is required: one line on stderr', async (t) => {
    const sb = new Sandbox();
    t.after(() => sb.cleanup());
    const r = await sb.zmx(['mcp']);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /^zmx: mcp needs the session its tools act on: zmx mcp -t SESSION\n$/);
    assert.equal(r.stdout, '');
  });
});
