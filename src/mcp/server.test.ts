/**
 * The MCP tools against a fake of the portal (files in a Map, canned
 * commands), through the SDK's own Client over an in-memory transport:
 * what each tool asks the portal, what the agent gets back, and how
 * failures become `CODE: message` tool errors. The real server is test/cli/mcp.test.ts's.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { ZmxError } from '../common/errors.js';
import { PORTAL } from '../common/constants.js';
import type { SessionInfo } from '../common/protocol.js';
import type { ExecOptions, ExecOutcome } from '../client/portal.js';
import { LazyBackend, createMcpServer, serveStdio, type Backend, type OpenedBackend } from './server.js';

const TOOLS = ['read_file', 'read_files', 'write_file', 'edit_file', 'list_directory', 'glob', 'grep', 'run_command', 'terminal_send', 'terminal_read', 'list_sessions'];

/** Paths like the portal's: relative, and '..' leads outside. */
function check(path: string): string {
  if (path.startsWith('/') || path.split('/').includes('..')) throw new ZmxError('EOUTSIDE', `${path} is outside the session's root`);
  return path.replace(/^\.\//, '');
}

class FakeBackend implements Backend {
  files = new Map<string, Buffer>();
  calls: { op: string; args: unknown }[] = [];
  sent: Buffer[] = [];
  screen = '';
  scrollback = '';
  execResult: Partial<ExecOutcome> = {};
  killed: number[] = [];

  private file(path: string): Buffer {
    const data = this.files.get(check(path));
    if (!data) throw new ZmxError('ENOENT', `${path} does not exist`);
    return data;
  }

  portal: Backend['portal'] = {
    readRange: async (path: string, offset: number, length: number) => {
      const data = this.file(path);
      this.calls.push({ op: 'readRange', args: { path, offset, length } });
      return { size: data.length, data: data.subarray(offset, offset + Math.min(length, PORTAL.chunkBytes)) };
    },
    readFiles: async (paths: string[]) => paths.map((p) => {
      try {
        const data = this.file(p);
        return { path: p, size: data.length, content: data, truncated: false, error: null };
      } catch (err) {
        const e = err as ZmxError;
        return { path: p, size: 0, content: null, truncated: false, error: { code: e.code, message: e.message } };
      }
    }),
    write: async (path: string, data: Buffer, opts: { parents?: boolean } = {}) => {
      this.calls.push({ op: 'write', args: { path, parents: opts.parents } });
      this.files.set(check(path), Buffer.from(data));
      return { path, bytes: data.length };
    },
    edit: async (path: string, oldText: string, newText: string, count = 1) => {
      const text = this.file(path).toString('utf8');
      const found = text.split(oldText).length - 1;
      if (found !== count) throw new ZmxError('EINVAL', `found ${found} occurrences, expected ${count}`);
      this.files.set(path, Buffer.from(text.split(oldText).join(newText)));
      return { path, replaced: found };
    },
    list: async (path: string, opts: { recursive?: boolean; glob?: string } = {}) => {
      check(path);
      this.calls.push({ op: 'list', args: { path, ...opts } });
      return {
        entries: [
          { path: 'src', type: 'dir' as const, size: 0, mode: 0o755, mtimeMs: 0 },
          { path: 'src/a.ts', type: 'file' as const, size: 12, mode: 0o644, mtimeMs: 0 },
          { path: 'link', type: 'symlink' as const, size: 3, mode: 0o777, mtimeMs: 0 },
        ],
        truncated: false,
      };
    },
    grep: async (pattern: string, opts: { path?: string; glob?: string; ignoreCase?: boolean; max?: number } = {}) => {
      this.calls.push({ op: 'grep', args: { pattern, ...opts } });
      return { matches: [{ path: 'src/a.ts', line: 3, text: 'const x = 1;' }, { path: 'b.md', line: 10, text: 'x marks' }], truncated: true };
    },
    exec: async (o: ExecOptions) => {
      this.calls.push({ op: 'exec', args: { argv: o.argv, shell: o.shell, cwd: o.cwd, timeoutMs: o.timeoutMs, stdin: o.stdin?.toString() } });
      o.onStart?.({ id: 7, pid: 70, argv: o.argv ?? [], cwd: '', started: 0, result: null });
      return { exitCode: 3, signal: null, durationMs: 12, truncated: false, timedOut: false, stdout: Buffer.from('out\n'), stderr: Buffer.from('err\n'), id: 7, ...this.execResult };
    },
    kill: async (id: number) => { this.killed.push(id); },
  } as unknown as Backend['portal'];

  async sessions(): Promise<SessionInfo[]> {
    const s = (name: string, root: string) => ({ name, root, panes: [{}, {}], clients: 1 }) as unknown as SessionInfo;
    return [s('dev', '/srv/dev'), s('other', '/srv/other')];
  }
  async send(data: Buffer): Promise<void> { this.sent.push(data); }
  async capture(): Promise<string> { return this.screen; }
  async history(): Promise<string> { return this.scrollback; }
}

/** A Client talking to the tools over an in-memory pair; closed after the test. */
async function connect(t: { after(fn: () => Promise<void>): void }, backend: () => Promise<Backend>, session = 'dev'): Promise<Client> {
  const server = createMcpServer({ session, backend });
  const [a, b] = InMemoryTransport.createLinkedPair();
  const client = new Client({ name: 'test', version: '0' });
  await Promise.all([server.connect(a), client.connect(b)]);
  t.after(async () => { await client.close(); await server.close(); });
  return client;
}

async function call(client: Client, name: string, args: Record<string, unknown> = {}): Promise<CallToolResult> {
  return (await client.callTool({ name, arguments: args })) as CallToolResult;
}

function text(r: CallToolResult): string {
  return r.content.map((c) => (c.type === 'text' ? c.text : `<${c.type}>`)).join('\n');
}

async function fake(t: { after(fn: () => Promise<void>): void }): Promise<{ client: Client; b: FakeBackend }> {
  const b = new FakeBackend();
  return { client: await connect(t, async () => b), b };
}

test('every tool is listed with a description and an object input schema; run_command has an output schema', async (t) => {
  const { client } = await fake(t);
  const { tools } = await client.listTools();
  assert.deepEqual(tools.map((x) => x.name).sort(), [...TOOLS].sort());
  for (const tool of tools) {
    assert.ok((tool.description ?? '').length > 40, `${tool.name} has a description`);
    assert.equal(tool.inputSchema.type, 'object', tool.name);
  }
  const byName = new Map(tools.map((x) => [x.name, x]));
  assert.deepEqual(byName.get('edit_file')!.inputSchema.required?.sort(), ['new_string', 'old_string', 'path']);
  assert.deepEqual(Object.keys(byName.get('run_command')!.outputSchema?.properties ?? {}).sort(), ['durationMs', 'exitCode', 'signal', 'stderr', 'stdout', 'timedOut', 'truncated']);
});

test('read_file gives the file exactly; offset and limit pick lines and a note says where it goes on', async (t) => {
  const { client, b } = await fake(t);
  b.files.set('a.txt', Buffer.from('one\ntwo\nthree\nfour'));
  assert.equal(text(await call(client, 'read_file', { path: 'a.txt' })), 'one\ntwo\nthree\nfour');
  const part = text(await call(client, 'read_file', { path: 'a.txt', offset: 2, limit: 2 }));
  assert.match(part, /^two\nthree\n\[zmx: lines 2-3 of a\.txt .* offset 4\.\]$/);
  assert.equal(text(await call(client, 'read_file', { path: 'a.txt', offset: 4 })), 'four');
  assert.match(text(await call(client, 'read_file', { path: 'a.txt', offset: 9 })), /has 4 lines; offset 9 is past its end/);
  b.files.set('empty', Buffer.alloc(0));
  assert.equal(text(await call(client, 'read_file', { path: 'empty' })), '');
});

test('read_file finds lines past the first chunk, characters split across chunks intact', async (t) => {
  const { client, b } = await fake(t);
  const lines = Array.from({ length: 200_000 }, (_, i) => `line ${i + 1} é\n`);
  b.files.set('big.txt', Buffer.from(lines.join('')));
  assert.ok(b.files.get('big.txt')!.length > 2 * PORTAL.chunkBytes);
  const got = text(await call(client, 'read_file', { path: 'big.txt', offset: 150_000, limit: 3 }));
  assert.ok(got.startsWith('line 150000 é\nline 150001 é\nline 150002 é\n[zmx: lines 150000-150002'), got.slice(0, 80));
  // Every line from the start of a chunk boundary on decodes: no U+FFFD anywhere.
  const around = text(await call(client, 'read_file', { path: 'big.txt', offset: 70_000, limit: 20_000 }));
  assert.ok(!around.includes('\ufffd'));
  // An 'é' whose two bytes straddle the first chunk's end.
  b.files.set('split.txt', Buffer.concat([Buffer.from('x'.repeat(PORTAL.chunkBytes - 2) + '\n'), Buffer.from('é\nz')]));
  assert.equal(b.files.get('split.txt')![PORTAL.chunkBytes - 1], 0xc3);
  assert.match(text(await call(client, 'read_file', { path: 'split.txt', offset: 2 })), /^é\nz$/);
  assert.ok(b.calls.filter((c) => c.op === 'readRange').every((c) => (c.args as { length: number }).length <= PORTAL.chunkBytes));
});

test('read_file does not show a binary file, and says so', async (t) => {
  const { client, b } = await fake(t);
  b.files.set('x.bin', Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0, 1, 2]));
  const r = await call(client, 'read_file', { path: 'x.bin' });
  assert.notEqual(r.isError, true);
  assert.match(text(r), /binary file of 7 bytes; not shown/);
});

test('a portal error is a tool error "CODE: message"; anything else is EINTERNAL', async (t) => {
  const { client, b } = await fake(t);
  const outside = await call(client, 'read_file', { path: '../etc/passwd' });
  assert.equal(outside.isError, true);
  assert.match(text(outside), /^EOUTSIDE: /);
  const missing = await call(client, 'write_file', { path: '../x', content: 'y' });
  assert.match(text(missing), /^EOUTSIDE: /);
  assert.match(text(await call(client, 'read_file', { path: 'nope' })), /^ENOENT: nope does not exist$/);
  b.portal.grep = async () => { throw new TypeError('boom\nstack'); };
  const r = await call(client, 'grep', { pattern: 'x' });
  assert.equal(r.isError, true);
  assert.equal(text(r), 'EINTERNAL: boom');
});

test('write_file creates parents; edit_file replaces the expected count or fails leaving the file as it was', async (t) => {
  const { client, b } = await fake(t);
  assert.match(text(await call(client, 'write_file', { path: 'd/e/f.txt', content: 'a b a' })), /wrote 5 bytes to d\/e\/f\.txt/);
  assert.deepEqual(b.calls.find((c) => c.op === 'write')!.args, { path: 'd/e/f.txt', parents: true });
  const wrong = await call(client, 'edit_file', { path: 'd/e/f.txt', old_string: 'a', new_string: 'c' });
  assert.equal(wrong.isError, true);
  assert.match(text(wrong), /^EINVAL: found 2 occurrences, expected 1$/);
  assert.equal(b.files.get('d/e/f.txt')!.toString(), 'a b a');
  assert.match(text(await call(client, 'edit_file', { path: 'd/e/f.txt', old_string: 'a', new_string: 'c', expected_replacements: 2 })), /replaced 2 occurrences/);
  assert.equal(b.files.get('d/e/f.txt')!.toString(), 'c b c');
});

test('read_files answers each file, and the error of one that failed', async (t) => {
  const { client, b } = await fake(t);
  b.files.set('a', Buffer.from('A'));
  const r = await call(client, 'read_files', { paths: ['a', 'missing', '../out'] });
  assert.notEqual(r.isError, true);
  assert.deepEqual(r.content.map((c) => (c.type === 'text' ? c.text : '')), ['==> a <==\nA', '==> missing <==\nENOENT: missing does not exist', "==> ../out <==\nEOUTSIDE: ../out is outside the session's root"]);
});

test('list_directory marks directories and symlinks; glob lists recursively with the pattern, files only', async (t) => {
  const { client, b } = await fake(t);
  assert.equal(text(await call(client, 'list_directory', {})), 'src/\nsrc/a.ts\t12\nlink@');
  assert.deepEqual(b.calls.at(-1)!.args, { path: '.', recursive: false, glob: '' });
  assert.equal(text(await call(client, 'glob', { pattern: '**/*.ts', path: 'src' })), 'src/a.ts\nlink@');
  assert.deepEqual(b.calls.at(-1)!.args, { path: 'src', recursive: true, glob: '**/*.ts' });
});

test('grep answers "path:line: text" lines and says when there were more', async (t) => {
  const { client, b } = await fake(t);
  const out = text(await call(client, 'grep', { pattern: 'x', path: 'src', glob: '*.ts', ignore_case: true, max_results: 2 }));
  assert.equal(out.split('\n').slice(0, 2).join('\n'), 'src/a.ts:3: const x = 1;\nb.md:10: x marks');
  assert.match(out, /more matches not shown/);
  assert.deepEqual(b.calls.at(-1)!.args, { pattern: 'x', path: 'src', glob: '*.ts', ignoreCase: true, max: 2 });
});

test('run_command returns stdout, stderr and the exit code apart, structured and as text', async (t) => {
  const { client, b } = await fake(t);
  const r = await call(client, 'run_command', { command: 'echo out; echo err >&2; exit 3', cwd: 'sub', timeout_seconds: 5, stdin: 'in' });
  assert.notEqual(r.isError, true, 'a failing command is a result, not a tool error');
  assert.deepEqual(r.structuredContent, { exitCode: 3, signal: null, durationMs: 12, truncated: false, timedOut: false, stdout: 'out\n', stderr: 'err\n' });
  assert.equal(text(r), 'exit code 3\n--- stdout ---\nout\n--- stderr ---\nerr\n');
  assert.deepEqual(b.calls.at(-1)!.args, { argv: undefined, shell: 'echo out; echo err >&2; exit 3', cwd: 'sub', timeoutMs: 5000, stdin: 'in' });
  await call(client, 'run_command', { argv: ['ls', '-l'] });
  assert.deepEqual(b.calls.at(-1)!.args, { argv: ['ls', '-l'], shell: undefined, cwd: '', timeoutMs: 120_000, stdin: undefined });
  for (const args of [{}, { command: 'ls', argv: ['ls'] }]) {
    const bad = await call(client, 'run_command', args);
    assert.equal(bad.isError, true);
    assert.match(text(bad), /^EINVAL: give command/);
  }
});

test('run_command keeps the end of a long output and marks it truncated', async (t) => {
  const { client, b } = await fake(t);
  b.execResult = { stdout: Buffer.from('é'.repeat(100_000) + 'END'), signal: 'SIGKILL', exitCode: null, timedOut: true };
  const r = await call(client, 'run_command', { command: 'yes' });
  const s = r.structuredContent as { stdout: string; truncated: boolean; timedOut: boolean };
  assert.equal(s.truncated, true);
  assert.equal(s.timedOut, true);
  assert.ok(s.stdout.endsWith('éEND'));
  assert.ok(!s.stdout.includes('\ufffd'), 'cut on a character boundary');
  assert.ok(Buffer.byteLength(s.stdout) < 70 * 1024);
  assert.match(text(r), /^timed out after 12 ms \(killed by SIGKILL\)/);
});

test('terminal_send types the text, with Enter when asked; terminal_read gives the last lines, from the scrollback if need be', async (t) => {
  const { client, b } = await fake(t);
  await call(client, 'terminal_send', { text: 'ls' });
  await call(client, 'terminal_send', { text: 'pwd', enter: true });
  assert.deepEqual(b.sent.map((d) => d.toString()), ['ls', 'pwd\r']);
  assert.match(text(await call(client, 'terminal_send', { text: '' })), /^EINVAL: /);
  b.screen = '$ a   \n$ b\n$ c\n\n\n';
  b.scrollback = 'old 1\nold 2\n$ a\n$ b\n$ c\n';
  assert.equal(text(await call(client, 'terminal_read', {})), '$ a\n$ b\n$ c');
  assert.equal(text(await call(client, 'terminal_read', { lines: 2 })), '$ b\n$ c');
  assert.equal(text(await call(client, 'terminal_read', { lines: 4 })), 'old 2\n$ a\n$ b\n$ c');
});

test('list_sessions lists the server\'s sessions and marks the one the tools act on', async (t) => {
  const { client } = await fake(t);
  assert.equal(text(await call(client, 'list_sessions')), '* dev\troot=/srv/dev\tpanes=2\tclients=1\n  other\troot=/srv/other\tpanes=2\tclients=1');
});

test('with no server the tools answer EUNAVAIL, and work once it is there (opened once, then shared)', async (t) => {
  const b = new FakeBackend();
  b.files.set('f', Buffer.from('hi'));
  let up = false;
  let opens = 0;
  const lazy = new LazyBackend(async () => {
    opens++;
    if (!up) throw new ZmxError('ETIMEDOUT', 'no answer from buildbox');
    return { backend: b, failed: () => false, close: async () => {} };
  });
  const client = await connect(t, () => lazy.get());
  const r = await call(client, 'read_file', { path: 'f' });
  assert.equal(r.isError, true);
  assert.equal(text(r), 'EUNAVAIL: cannot reach the zmx server: no answer from buildbox');
  up = true;
  assert.equal(text(await call(client, 'read_file', { path: 'f' })), 'hi');
  assert.equal(text(await call(client, 'read_file', { path: 'f' })), 'hi');
  assert.equal(opens, 2);
  await lazy.dispose();
});

test('LazyBackend opens a new link when the old one failed, and closes the old one', async () => {
  const closed: number[] = [];
  let n = 0;
  const made: { failed: boolean }[] = [];
  const lazy = new LazyBackend(async () => {
    const i = n++;
    const state = { failed: false };
    made.push(state);
    return { backend: new FakeBackend(), failed: () => state.failed, close: async () => { closed.push(i); } };
  });
  const first = await lazy.get();
  assert.equal(await lazy.get(), first);
  made[0]!.failed = true;
  const second = await lazy.get();
  assert.notEqual(second, first);
  assert.deepEqual(closed, [0]);
  await lazy.dispose();
  assert.deepEqual(closed, [0, 1]);
  await assert.rejects(lazy.get(), /EUNAVAIL|shutting down/);
});

test('serveStdio answers JSON-RPC lines only on stdout, and ends (closing the link) when stdin ends', async () => {
  const stdin = new PassThrough();
  const stdout = new PassThrough();
  let out = '';
  stdout.on('data', (d: Buffer) => { out += d.toString(); });
  let closes = 0;
  const opened: OpenedBackend = { backend: new FakeBackend(), failed: () => false, close: async () => { closes++; } };
  const done = serveStdio({ session: 'dev', open: async () => opened, stdin, stdout });
  const lineOf = (id: number) => new Promise<Record<string, unknown>>((resolve) => {
    const look = () => {
      for (const line of out.split('\n').filter(Boolean)) {
        const msg = JSON.parse(line) as Record<string, unknown>;
        if (msg['id'] === id) { stdout.off('data', look); resolve(msg); return; }
      }
    };
    stdout.on('data', look);
    look();
  });
  stdin.write(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '0' } } }) + '\n');
  const init = await lineOf(1);
  assert.equal((init['result'] as { serverInfo: { name: string } }).serverInfo.name, 'zmx');
  stdin.write(JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }) + '\n');
  stdin.write(JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'list_sessions', arguments: {} } }) + '\n');
  const listed = await lineOf(2);
  assert.match(JSON.stringify(listed['result']), /\* dev/);
  stdin.end();
  await done;
  assert.equal(closes, 1);
  for (const line of out.split('\n').filter(Boolean)) assert.equal((JSON.parse(line) as { jsonrpc: string }).jsonrpc, '2.0');
});
