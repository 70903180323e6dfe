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
import { ResourceListChangedNotificationSchema, ResourceUpdatedNotificationSchema, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { ZmxError } from '../common/errors.js';
import { PORTAL } from '../common/constants.js';
import type { SessionInfo } from '../common/protocol.js';
import type { ExecInfo, ExecResult } from '../common/portal.js';
import type { ExecOptions } from '../client/portal.js';
import { LazyBackend, type Backend, type ExecRead, type OpenedBackend } from './backend.js';
import type { PaneFollower, PaneSource, PaneView } from './panes.js';
import { createMcpServer, serveStdio } from './server.js';
import { RUN_DEFAULT_TIMEOUT_S } from './command-tools.js';
import { HISTORY_MAX_BYTES } from './resources.js';

const TOOLS = ['read_file', 'read_files', 'write_file', 'edit_file', 'list_directory', 'glob', 'grep', 'run_command', 'command_output', 'command_wait', 'command_kill', 'terminal_send', 'terminal_read', 'list_sessions'];

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
  execResult: Partial<ExecResult & { stdout: Buffer }> = {};
  killed: number[] = [];
  /** Commands started stay running until finishExec (else they end at once with execResult). */
  holdExecs = false;
  nextExec = 7;
  /** Each command's output so far, how it ended, and the reads waiting for news. */
  execs = new Map<number, { stdout: Buffer; stderr: Buffer; result: ExecResult | null; wake: (() => void)[] }>();
  panes = new FakePanes();

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
    execStart: async (o: ExecOptions) => {
      this.calls.push({ op: 'exec', args: { argv: o.argv, shell: o.shell, cwd: o.cwd, timeoutMs: o.timeoutMs, stdin: o.stdin?.toString() } });
      const id = this.nextExec++;
      this.execs.set(id, { stdout: Buffer.alloc(0), stderr: Buffer.alloc(0), result: null, wake: [] });
      if (!this.holdExecs) this.finishExec(id, this.execResult.stdout ?? Buffer.from('out\n'), Buffer.from('err\n'), { exitCode: 3, signal: null, durationMs: 12, truncated: false, timedOut: false, ...this.execResult });
      return this.execInfo(id);
    },
    kill: async (id: number) => {
      this.killed.push(id);
      if (this.execs.get(id)?.result === null) this.finishExec(id, Buffer.alloc(0), Buffer.alloc(0), { exitCode: null, signal: 'SIGTERM', durationMs: 5, truncated: false, timedOut: false });
    },
  } as unknown as Backend['portal'];

  /** Two sessions; dev has window 0 with panes 1 (vim) and 2, and window 1 with pane 5. */
  async sessions(): Promise<SessionInfo[]> {
    const s = (name: string, root: string, windows: number[][]) => ({
      name, root, clients: 1,
      panes: windows.flat().map((id) => ({ id, title: id === 1 ? 'vim' : '', cmd: ['bash'] })),
      windows: windows.map((ids, index) => ({ id: 10 + index, index, layout: ids.length === 1 ? { pane: ids[0] } : { dir: 'h', children: ids.map((pane) => ({ pane })), sizes: ids.map(() => 1) } })),
    }) as unknown as SessionInfo;
    return [s('dev', '/srv/dev', [[1, 2], [5]]), s('a:b', '/srv/ab', [[3]])];
  }
  async send(data: Buffer): Promise<void> { this.sent.push(data); }
  async capture(): Promise<string> { return this.screen; }
  async history(): Promise<string> { return this.scrollback; }

  private execInfo(id: number): ExecInfo {
    return { id, pid: 70, argv: [], cwd: '', started: 0, result: this.execs.get(id)!.result };
  }

  /** More output from a running command (as the server would hold it). */
  printExec(id: number, stdout: string, stderr = ''): void {
    const e = this.execs.get(id)!;
    e.stdout = Buffer.concat([e.stdout, Buffer.from(stdout)]);
    e.stderr = Buffer.concat([e.stderr, Buffer.from(stderr)]);
    for (const w of e.wake.splice(0)) w();
  }

  finishExec(id: number, stdout: Buffer, stderr: Buffer, result: ExecResult): void {
    this.printExec(id, stdout.toString(), stderr.toString());
    this.execs.get(id)!.result = result;
    for (const w of this.execs.get(id)!.wake.splice(0)) w();
  }

  /** As exec.read: what is there from `at`, waiting (up to waitMs) when there is nothing new. */
  async execRead(id: number, at: { stdout: number; stderr: number }, waitMs: number): Promise<ExecRead> {
    const e = this.execs.get(id);
    if (!e) throw new ZmxError('EINVAL', `no command ${id}`);
    const fresh = () => e.stdout.length > at.stdout || e.stderr.length > at.stderr || e.result !== null;
    if (!fresh()) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, waitMs);
        e.wake.push(() => { clearTimeout(timer); resolve(); });
      });
    }
    const done = e.result !== null;
    return { info: { ...this.execInfo(id), result: done ? e.result : null }, from: at, stdout: e.stdout.subarray(at.stdout), stderr: e.stderr.subarray(at.stderr) };
  }
}

/** Panes as text by key "SESSION/PANE", and who follows which. */
class FakePanes implements PaneSource {
  text = new Map<string, string>();
  followers = new Map<string, PaneFollower>();
  layouts: ((session: string) => void)[] = [];
  async read(session: string, pane: number, view: PaneView): Promise<string> {
    const t = this.text.get(`${session}/${pane}/${view}`);
    if (t === undefined) throw new ZmxError('ENOENT', `session "${session}" has no pane ${pane}`);
    return t;
  }
  async follow(session: string, pane: number, follower: PaneFollower): Promise<() => void> {
    await this.read(session, pane, 'screen');
    this.followers.set(`${session}/${pane}`, follower);
    return () => { this.followers.delete(`${session}/${pane}`); };
  }
  onLayout(listener: (session: string) => void): void { this.layouts.push(listener); }
  dispose(): void {}
}

/** A Client talking to the tools over an in-memory pair; closed after the test. */
async function connect(t: { after(fn: () => Promise<void>): void }, backend: () => Promise<Backend>, session = 'dev'): Promise<Client> {
  const mcp = createMcpServer({ session, backend });
  const [a, b] = InMemoryTransport.createLinkedPair();
  const client = new Client({ name: 'test', version: '0' });
  await Promise.all([mcp.server.connect(a), client.connect(b)]);
  t.after(async () => { await client.close(); await mcp.dispose(); await mcp.server.close(); });
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

test('every tool is listed with a description and an object input schema; the command tools have an output schema', async (t) => {
  const { client } = await fake(t);
  const { tools } = await client.listTools();
  assert.deepEqual(tools.map((x) => x.name).sort(), [...TOOLS].sort());
  for (const tool of tools) {
    assert.ok((tool.description ?? '').length > 40, `${tool.name} has a description`);
    assert.equal(tool.inputSchema.type, 'object', tool.name);
  }
  const byName = new Map(tools.map((x) => [x.name, x]));
  assert.deepEqual(byName.get('edit_file')!.inputSchema.required?.sort(), ['new_string', 'old_string', 'path']);
  for (const name of ['run_command', 'command_wait', 'command_output']) {
    assert.deepEqual(Object.keys(byName.get(name)!.outputSchema?.properties ?? {}).sort(), ['durationMs', 'exitCode', 'id', 'running', 'signal', 'stderr', 'stdout', 'timedOut', 'truncated'], name);
  }
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

test('read_file agrees with a line-by-line model: every offset and limit, files with and without a last newline, the 256 KiB cut', async (t) => {
  const { client, b } = await fake(t);
  const MAX = 256 * 1024;
  /** What read_file answers, written the plain way: split into lines, pick, cut at MAX bytes. */
  const model = (path: string, content: string, offset: number, limit: number): string => {
    const lines = content.split(/(?<=\n)/).filter((l) => l !== '');
    if (lines.length === 0) return '';
    if (offset > lines.length) return `[zmx: ${path} has ${lines.length} lines; offset ${offset} is past its end.]`;
    const out: string[] = [];
    let bytes = 0;
    let cut = false;
    for (const line of lines.slice(offset - 1, offset - 1 + limit)) {
      if (bytes + Buffer.byteLength(line) > MAX) { cut = true; break; }
      out.push(line);
      bytes += Buffer.byteLength(line);
    }
    const body = out.join('');
    const last = offset + out.length - 1;
    if (!cut && last >= lines.length) return body;
    const why = cut ? `the answer is limited to ${MAX} bytes` : `limit is ${limit} lines`;
    return `${body}${body.endsWith('\n') || body === '' ? '' : '\n'}[zmx: lines ${offset}-${last} of ${path} (${Buffer.byteLength(content)} bytes) shown, ${why}; the file goes on: call read_file with offset ${last + 1}.]`;
  };
  const files: Record<string, string> = {
    'nl.txt': 'a\nbb\n\nccc\n',
    'open.txt': 'a\nbb\n\nccc',
    'one.txt': 'x',
    'blank.txt': '\n\n\n',
    'wide.txt': 'é😀\r\nz\r\n',
    // Lines of 100 KiB: the third crosses the byte limit.
    'long.txt': Array.from({ length: 5 }, (_, i) => `${String(i).repeat(100 * 1024)}\n`).join(''),
  };
  for (const [path, content] of Object.entries(files)) {
    b.files.set(path, Buffer.from(content));
    const n = content.split('\n').length + 1;
    for (let offset = 1; offset <= n; offset++) {
      for (const limit of [1, 2, 3, 2000]) {
        const got = text(await call(client, 'read_file', { path, offset, limit }));
        assert.equal(got, model(path, content, offset, limit), `${path} offset ${offset} limit ${limit}`);
      }
    }
  }
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
  assert.deepEqual(r.structuredContent, { id: 7, running: false, exitCode: 3, signal: null, durationMs: 12, truncated: false, timedOut: false, stdout: 'out\n', stderr: 'err\n' });
  assert.equal(text(r), 'exit code 3\n--- stdout ---\nout\n--- stderr ---\nerr\n');
  assert.deepEqual(b.calls.at(-1)!.args, { argv: undefined, shell: 'echo out; echo err >&2; exit 3', cwd: 'sub', timeoutMs: 5000, stdin: 'in' });
  await call(client, 'run_command', { argv: ['ls', '-l'] });
  assert.deepEqual(b.calls.at(-1)!.args, { argv: ['ls', '-l'], shell: undefined, cwd: '', timeoutMs: RUN_DEFAULT_TIMEOUT_S * 1000, stdin: undefined });
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
  assert.equal(text(await call(client, 'list_sessions')), '* dev\troot=/srv/dev\tpanes=3\tclients=1\n  a:b\troot=/srv/ab\tpanes=1\tclients=1');
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

// ---------------------------------------------------------------- commands that outlive their call

test('a command that outlives wait_seconds answers running with its id; command_output, command_wait and command_kill take it from there', async (t) => {
  const { client, b } = await fake(t);
  b.holdExecs = true;
  const started = await call(client, 'run_command', { command: 'make', wait_seconds: 0 });
  assert.notEqual(started.isError, true, text(started));
  const s = started.structuredContent as { id: number; running: boolean; exitCode: number | null };
  assert.equal(s.running, true);
  assert.equal(s.exitCode, null);
  assert.match(text(started), /^running for \d+ s \(command 7, still going\): command_wait \{"id": 7\}/);
  b.printExec(7, 'compiling\n', 'warning\n');
  b.finishExec(7, Buffer.from('done\n'), Buffer.alloc(0), { exitCode: 0, signal: null, durationMs: 900, truncated: false, timedOut: false });
  const waited = await call(client, 'command_wait', { id: 7 });
  assert.deepEqual(waited.structuredContent, { id: 7, running: false, exitCode: 0, signal: null, durationMs: 900, truncated: false, timedOut: false, stdout: 'compiling\ndone\n', stderr: 'warning\n' });
  assert.deepEqual((await call(client, 'command_output', { id: 7 })).structuredContent, waited.structuredContent, 'its end stays readable');
  assert.match(text(await call(client, 'command_kill', { id: 7 })), /^command 7 has already ended \(exit code 0\)$/);

  const bg = await call(client, 'run_command', { argv: ['sleep', '100'], background: true });
  assert.equal((bg.structuredContent as { running: boolean; id: number }).running, true);
  assert.match(text(await call(client, 'command_kill', { id: 8, signal: 'SIGINT' })), /^sent SIGINT to command 8; command_wait/);
  assert.deepEqual(b.killed, [8]);
  const killed = await call(client, 'command_wait', { id: 8 });
  assert.equal((killed.structuredContent as { signal: string }).signal, 'SIGTERM');
  const unknown = await call(client, 'command_output', { id: 99 });
  assert.equal(unknown.isError, true);
  assert.match(text(unknown), /^EINVAL: no command 99 was started by this MCP server/);
});

test('while a command runs, the call sends progress notifications carrying its output', async (t) => {
  const { client, b } = await fake(t);
  b.holdExecs = true;
  const progress: { progress: number; message?: string }[] = [];
  let heard!: () => void;
  const printed = new Promise<void>((resolve) => { heard = resolve; });
  const result = client.callTool({ name: 'run_command', arguments: { command: 'npm test', wait_seconds: 60 } }, undefined, {
    onprogress: (p) => {
      progress.push(p);
      if (p.message?.includes('test 1 ok')) heard();
    },
  });
  await until(() => b.execs.has(7));
  b.printExec(7, 'test 1 ok\n');
  await printed;
  b.finishExec(7, Buffer.from('all ok\n'), Buffer.alloc(0), { exitCode: 0, signal: null, durationMs: 1500, truncated: false, timedOut: false });
  const r = (await result) as CallToolResult;
  assert.equal((r.structuredContent as { stdout: string }).stdout, 'test 1 ok\nall ok\n');
  assert.ok(progress.every((p, i) => i === 0 || p.progress > progress[i - 1]!.progress), 'progress grows');
});

test('ending the MCP server ends the commands it started that still run', async () => {
  const b = new FakeBackend();
  b.holdExecs = true;
  const mcp = createMcpServer({ session: 'dev', backend: async () => b });
  const [x, y] = InMemoryTransport.createLinkedPair();
  const client = new Client({ name: 'test', version: '0' });
  await Promise.all([mcp.server.connect(x), client.connect(y)]);
  await call(client, 'run_command', { command: 'serve', background: true });
  await call(client, 'run_command', { command: 'quick', background: true });
  b.finishExec(8, Buffer.alloc(0), Buffer.alloc(0), { exitCode: 0, signal: null, durationMs: 1, truncated: false, timedOut: false });
  await until(async () => !(await call(client, 'command_output', { id: 8 })).structuredContent?.['running']);
  await client.close();
  await mcp.dispose();
  await mcp.server.close();
  assert.deepEqual(b.killed, [7], 'the running one only');
});

/** Polls `check` (a fake's state with no event to await) until it holds. */
async function until(check: () => boolean | Promise<boolean>): Promise<void> {
  for (let i = 0; i < 500 && !(await check()); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(await check(), 'the condition came about');
}

// ---------------------------------------------------------------- panes as resources

test('resources/list gives every pane of every session, screen and history, named by position, addressed by id', async (t) => {
  const { client } = await fake(t);
  const { resources } = await client.listResources();
  assert.deepEqual(resources.map((r) => [r.uri, r.name]), [
    ['zmx://dev/1/screen', 'dev:0.0 screen'], ['zmx://dev/1/history', 'dev:0.0 history'],
    ['zmx://dev/2/screen', 'dev:0.1 screen'], ['zmx://dev/2/history', 'dev:0.1 history'],
    ['zmx://dev/5/screen', 'dev:1.0 screen'], ['zmx://dev/5/history', 'dev:1.0 history'],
    ['zmx://a%3Ab/3/screen', 'a:b:0.0 screen'], ['zmx://a%3Ab/3/history', 'a:b:0.0 history'],
  ]);
  assert.match(resources[0]!.title ?? '', /^dev:0\.0 \(pane 1\) vim: screen$/);
  assert.ok(resources.every((r) => r.mimeType === 'text/plain'));
  const { resourceTemplates } = await client.listResourceTemplates();
  assert.deepEqual(resourceTemplates.map((r) => r.uriTemplate), ['zmx://{session}/{pane}/{view}']);
});

test('resources/read gives a pane\'s screen, or the end of its history; a missing pane is "not found"', async (t) => {
  const { client, b } = await fake(t);
  b.panes.text.set('a:b/3/screen', '$ make\nok\n');
  b.panes.text.set('dev/2/history', Array.from({ length: 40_000 }, (_, i) => `line ${i}`).join('\n') + '\n');
  const screen = await client.readResource({ uri: 'zmx://a%3Ab/3/screen' });
  assert.deepEqual(screen.contents, [{ uri: 'zmx://a%3Ab/3/screen', mimeType: 'text/plain', text: '$ make\nok\n' }]);
  const history = (await client.readResource({ uri: 'zmx://dev/2/history' })).contents[0] as { text: string };
  assert.ok(Buffer.byteLength(history.text) <= HISTORY_MAX_BYTES + 100);
  assert.match(history.text, /^\[zmx: the first \d+ lines are not shown\]\nline \d+\n/);
  assert.ok(history.text.endsWith('line 39999\n'));
  await assert.rejects(client.readResource({ uri: 'zmx://dev/9/screen' }), (e: { code: number; message: string }) => e.code === -32002 && /ENOENT: session "dev" has no pane 9/.test(e.message));
  await assert.rejects(client.readResource({ uri: 'zmx://dev/9/scroll' }), /EINVAL: .* is not a zmx pane resource/);
});

test('resources/subscribe follows the pane: updates after it prints, throttled; a pane that ends gets a last update and leaves the list', async (t) => {
  const { client, b } = await fake(t);
  b.panes.text.set('dev/2/screen', '$ ');
  const updates: string[] = [];
  let listChanged = 0;
  const waiters: (() => void)[] = [];
  client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => { updates.push(n.params.uri); for (const w of waiters.splice(0)) w(); });
  client.setNotificationHandler(ResourceListChangedNotificationSchema, () => { listChanged++; });
  const next = (count: number) => new Promise<void>((resolve) => {
    const check = () => { if (updates.length >= count) resolve(); else waiters.push(check); };
    check();
  });
  await client.subscribeResource({ uri: 'zmx://dev/2/screen' });
  await client.subscribeResource({ uri: 'zmx://dev/2/history' });
  await assert.rejects(client.subscribeResource({ uri: 'zmx://dev/9/screen' }), /ENOENT/);
  const follower = b.panes.followers.get('dev/2')!;
  assert.ok(follower, 'the pane is followed');
  follower.change();
  follower.change();
  follower.change();
  await next(4);
  // One announcement at once, the two later changes in one more: not three.
  assert.deepEqual(updates, ['zmx://dev/2/screen', 'zmx://dev/2/history', 'zmx://dev/2/screen', 'zmx://dev/2/history']);
  await client.unsubscribeResource({ uri: 'zmx://dev/2/history' });
  assert.ok(b.panes.followers.has('dev/2'), 'still followed for its screen');
  follower.end('gone');
  await next(5);
  assert.equal(updates[4], 'zmx://dev/2/screen');
  await until(() => listChanged > 0);
});

test('a followed pane whose link dropped is followed again; unsubscribing stops it', async (t) => {
  const { client, b } = await fake(t);
  b.panes.text.set('dev/1/screen', 'x');
  await client.subscribeResource({ uri: 'zmx://dev/1/screen' });
  const first = b.panes.followers.get('dev/1')!;
  first.end('lost');
  b.panes.followers.delete('dev/1');
  await until(() => b.panes.followers.has('dev/1'));
  assert.notEqual(b.panes.followers.get('dev/1'), first);
  await client.unsubscribeResource({ uri: 'zmx://dev/1/screen' });
  assert.ok(!b.panes.followers.has('dev/1'));
});

test('LazyBackend uses an open already under way instead of opening another', async () => {
  let opens = 0;
  const b = new FakeBackend();
  const opened: OpenedBackend = { backend: b, failed: () => false, close: async () => {} };
  const lazy = new LazyBackend(async () => { opens++; return opened; }, Promise.resolve(opened));
  assert.equal(await lazy.get(), b);
  assert.equal(await lazy.get(), b);
  assert.equal(opens, 0);
  await lazy.dispose();
});
