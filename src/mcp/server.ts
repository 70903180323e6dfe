/**
 * `zmx mcp`: a Model Context Protocol server on stdio whose tools act on one
 * session's root (files, commands) and its terminal, through the portal
 * (src/client/portal.ts) over one Connection to the local or a remote server,
 * and whose resources are the server's panes (src/mcp/resources.ts).
 *
 * stdout carries MCP JSON-RPC and nothing else. A tool never throws: a
 * failure is a result with isError and the text `CODE: message` (the
 * portal's error code), so an agent can tell EOUTSIDE from ENOENT. The
 * connection is opened at start and again on the next call after it failed,
 * so a server that is down answers EUNAVAIL instead of ending this process.
 */
import { StringDecoder } from 'node:string_decoder';
import type { Readable, Writable } from 'node:stream';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { z } from 'zod';
import { ZmxError } from '../common/errors.js';
import { PORTAL } from '../common/constants.js';
import { VERSION } from '../common/version.js';
import { LazyBackend, type Backend, type OpenedBackend } from './backend.js';
import { CommandTracker } from './commands.js';
import { registerCommandTools } from './command-tools.js';
import { PaneResources } from './resources.js';
import { guarded, textResult } from './results.js';

export { errorResult } from './results.js';

/** read_file gives this many lines unless asked for another number (as agents' own Read tools do). */
const READ_DEFAULT_LINES = 2000;
/** read_file answers at most this many bytes of text; the rest is left for a call with a later offset. */
const READ_MAX_BYTES = 256 * 1024;
/** read_file reads at most this far into a file looking for `offset`; past it, use run_command (sed -n). */
const READ_MAX_SCAN_BYTES = 64 * 1024 * 1024;
/** A NUL byte in this many leading bytes makes a file binary: read_file does not show it. */
const BINARY_SNIFF_BYTES = 8 * 1024;
function isBinary(data: Buffer): boolean {
  return data.subarray(0, BINARY_SNIFF_BYTES).includes(0);
}

/** From `pos`, past at most `n` complete lines of `text`: where they end, and how many there were. */
function pastLines(text: string, pos: number, n: number): { to: number; count: number } {
  let count = 0;
  while (count < n) {
    const nl = text.indexOf('\n', pos);
    if (nl < 0) break;
    pos = nl + 1;
    count++;
  }
  return { to: pos, count };
}

/**
 * Lines [offset, offset + limit) of a file (offset from 1), read in chunks
 * from the start until they are in; at most READ_MAX_BYTES of them. Lines
 * are found with indexOf and taken as one slice per chunk (a line at a time
 * only near the byte limit): most calls read one small file whole, and a
 * split into line strings was most of this function's time.
 */
async function readLines(b: Backend, path: string, offset: number, limit: number): Promise<string> {
  let at = 0;
  let size = 0;
  /** The number of the next line to be found; once it is past `offset`, lineNo - offset lines are taken. */
  let lineNo = 1;
  let partial = '';
  const out: string[] = [];
  let outBytes = 0;
  let cut = false;
  let more = false;
  const decoder = new StringDecoder('utf8');
  /** Takes text[from, to), `count` lines; line by line near the byte limit. False once it is reached. */
  const take = (text: string, from: number, to: number, count: number): boolean => {
    const slice = text.slice(from, to);
    const bytes = Buffer.byteLength(slice);
    if (outBytes + bytes <= READ_MAX_BYTES) {
      out.push(slice);
      outBytes += bytes;
      lineNo += count;
      return true;
    }
    for (let pos = from; pos < to;) {
      // `to` ends a line (or the file), so a newline found from here lies within it.
      const { to: past, count: found } = pastLines(text, pos, 1);
      const line = text.slice(pos, found ? past : to);
      const lineBytes = Buffer.byteLength(line);
      if (outBytes + lineBytes > READ_MAX_BYTES) { cut = true; more = true; return false; }
      out.push(line);
      outBytes += lineBytes;
      lineNo++;
      pos += line.length;
    }
    return true;
  };
  /**
   * Skips the lines of `text` before `offset` and takes those after it;
   * `end` when text is the rest of the file. The index where its unfinished
   * last line starts, or -1 once enough are taken.
   */
  const walk = (text: string, end: boolean): number => {
    const skipped = pastLines(text, 0, offset - lineNo);
    lineNo += skipped.count;
    const pos = skipped.to;
    if (lineNo < offset) {
      if (!end || pos === text.length) return pos;
      lineNo++; // the file's unfinished last line, before `offset` too
      return text.length;
    }
    const want = limit - (lineNo - offset);
    let { to, count } = pastLines(text, pos, want);
    // At the end of the file, an unfinished last line is a line too.
    if (end && to < text.length && count < want) { to = text.length; count++; }
    if (count > 0 && !take(text, pos, to, count)) return -1;
    if (count < want) return to;
    // Enough; the file goes on if anything is left after them.
    if (to < text.length || !end) more = true;
    return -1;
  };
  for (;;) {
    const r = await b.portal.readRange(path, at, PORTAL.chunkBytes);
    size = r.size;
    if (at === 0 && isBinary(r.data)) return `[zmx: ${path} is a binary file of ${size} bytes; not shown. Copy it with zmx cp, or inspect it with run_command (xxd, file).]`;
    at += r.data.length;
    const end = r.data.length === 0 || at >= size;
    const text = partial + (r.data.length ? decoder.write(r.data) : '') + (end ? decoder.end() : '');
    const rest = walk(text, end);
    if (rest < 0 || end) break;
    partial = text.slice(rest);
    if (at >= READ_MAX_SCAN_BYTES) {
      if (out.length === 0) throw new ZmxError('ETOOBIG', `line ${offset} is past the first ${READ_MAX_SCAN_BYTES} bytes of ${path} (${size} bytes); read it with run_command, e.g. sed -n '${offset},${offset + limit - 1}p'`);
      more = true;
      break;
    }
  }
  if (out.length === 0) {
    if (size === 0) return '';
    if (cut) throw new ZmxError('ETOOBIG', `line ${offset} of ${path} is longer than ${READ_MAX_BYTES} bytes; read it with run_command, e.g. sed -n '${offset}p' | cut -c1-10000`);
    if (offset > 1) return `[zmx: ${path} has ${lineNo - 1} lines; offset ${offset} is past its end.]`;
  }
  const text = out.join('');
  if (!more) return text;
  const last = lineNo - 1;
  const why = cut ? `the answer is limited to ${READ_MAX_BYTES} bytes` : `limit is ${limit} lines`;
  return `${text}${text.endsWith('\n') || text === '' ? '' : '\n'}[zmx: lines ${offset}-${last} of ${path} (${size} bytes) shown, ${why}; the file goes on: call read_file with offset ${last + 1}.]`;
}

/** The MCP server and what it owns besides: the commands it follows, the panes it watches. */
export interface ZmxMcpServer {
  server: McpServer;
  /** Ends the commands still running and stops following panes; then close the server and the backend. */
  dispose(): Promise<void>;
}

/** The MCP server with zmx's tools on `session` and the panes as resources; `backend` is called by each call. */
export function createMcpServer(opts: { session: string; backend: () => Promise<Backend> }): ZmxMcpServer {
  const { session } = opts;
  const server = new McpServer({ name: 'zmx', version: VERSION });
  const commands = new CommandTracker(opts.backend);
  const resources = new PaneResources(server, opts.backend);
  const where = `in the zmx session "${session}"`;
  const pathNote = 'Paths are relative to the session\'s root (an absolute path must lie inside it); one that leads outside fails with EOUTSIDE.';

  server.registerTool('read_file', {
    title: 'Read a file',
    description: `Reads a text file ${where} (UTF-8). Gives up to ${READ_DEFAULT_LINES} lines from \`offset\` (a line number, from 1), exactly as stored; a note at the end says when the file goes on and which offset to ask for next. Binary files are not shown. ${pathNote}`,
    inputSchema: {
      path: z.string().describe('the file, relative to the session root'),
      offset: z.number().int().min(1).optional().describe('first line to read, from 1 (default 1)'),
      limit: z.number().int().min(1).optional().describe(`how many lines (default ${READ_DEFAULT_LINES})`),
    },
    annotations: { readOnlyHint: true },
  }, guarded(async (a) => textResult(await readLines(await opts.backend(), a.path, a.offset ?? 1, a.limit ?? READ_DEFAULT_LINES))));

  server.registerTool('read_files', {
    title: 'Read several files',
    description: `Reads several text files ${where} in one call. Each file comes as its own text block headed "==> PATH <=="; a file that cannot be read shows its error (CODE: message) and the others are still read. Each file is cut at ${PORTAL.readFilesPerFileBytes} bytes (use read_file with an offset for the rest). ${pathNote}`,
    inputSchema: { paths: z.array(z.string()).min(1).describe('the files, relative to the session root') },
    annotations: { readOnlyHint: true },
  }, guarded(async (a) => {
    const files = await (await opts.backend()).portal.readFiles(a.paths);
    return {
      content: files.map((f) => {
        let body: string;
        if (f.error) body = `${f.error.code}: ${f.error.message}`;
        else if (f.content && isBinary(f.content)) body = `[zmx: a binary file of ${f.size} bytes; not shown]`;
        else body = (f.content ?? Buffer.alloc(0)).toString('utf8') + (f.truncated ? `\n[zmx: cut at ${f.content?.length ?? 0} of ${f.size} bytes; read the rest with read_file]` : '');
        return { type: 'text' as const, text: `==> ${f.path} <==\n${body}` };
      }),
    };
  }));

  server.registerTool('write_file', {
    title: 'Write a file',
    description: `Writes a whole file ${where}, replacing it if it exists, creating missing parent directories. The write is atomic (a temporary file renamed into place): readers see the old or the new content, never half. ${pathNote}`,
    inputSchema: {
      path: z.string().describe('the file, relative to the session root'),
      content: z.string().describe('the complete new content (UTF-8)'),
    },
    annotations: { destructiveHint: true, idempotentHint: true },
  }, guarded(async (a) => {
    const r = await (await opts.backend()).portal.write(a.path, Buffer.from(a.content, 'utf8'), { parents: true });
    return textResult(`wrote ${r.bytes} bytes to ${r.path}`);
  }));

  server.registerTool('edit_file', {
    title: 'Edit a file',
    description: `Replaces an exact string in a file ${where}. \`old_string\` must occur exactly \`expected_replacements\` times (default 1): otherwise nothing is written and the call fails with EINVAL, so include enough surrounding text to make it unique. Whitespace and indentation must match the file exactly. ${pathNote}`,
    inputSchema: {
      path: z.string().describe('the file, relative to the session root'),
      old_string: z.string().min(1).describe('the exact text to replace'),
      new_string: z.string().describe('the text to put in its place'),
      expected_replacements: z.number().int().min(1).optional().describe('how many occurrences there must be (default 1); all of them are replaced'),
    },
    annotations: { destructiveHint: true },
  }, guarded(async (a) => {
    const r = await (await opts.backend()).portal.edit(a.path, a.old_string, a.new_string, a.expected_replacements ?? 1);
    return textResult(`replaced ${r.replaced} occurrence${r.replaced === 1 ? '' : 's'} in ${r.path}`);
  }));

  const listing = async (path: string, recursive: boolean, glob: string, dirs: boolean) => {
    const r = await (await opts.backend()).portal.list(path, { recursive, glob });
    const lines = r.entries.filter((e) => dirs || e.type !== 'dir').map((e) => {
      if (e.type === 'dir') return `${e.path}/`;
      if (e.type === 'symlink') return `${e.path}@`;
      return dirs ? `${e.path}\t${e.size}` : e.path;
    });
    if (r.truncated) lines.push(`[zmx: more entries not shown; narrow the path or the glob]`);
    return textResult(lines.length ? lines.join('\n') : '(nothing)');
  };

  server.registerTool('list_directory', {
    title: 'List a directory',
    description: `Lists a directory ${where}: one entry per line, its path from the root; directories end in "/", symlinks in "@", files are followed by a tab and their size in bytes. \`recursive\` walks subdirectories (skipping .git and node_modules); \`glob\` keeps entries whose path below the listed directory matches (e.g. "*.ts", "**/*.md"). ${pathNote}`,
    inputSchema: {
      path: z.string().optional().describe('the directory (default: the root)'),
      recursive: z.boolean().optional().describe('include everything below (default false)'),
      glob: z.string().optional().describe('only entries matching this glob, relative to the directory'),
    },
    annotations: { readOnlyHint: true },
  }, guarded(async (a) => listing(a.path ?? '.', a.recursive ?? false, a.glob ?? '', true)));

  server.registerTool('glob', {
    title: 'Find files by name',
    description: `Finds files ${where} whose path matches a glob ("**/*.ts", "src/**/test_*.py", "*.json"), searching recursively from \`path\` (default: the root) and skipping .git and node_modules. The pattern is matched against the path below \`path\`; "*" stays within one directory, "**" crosses them. Answers one path (from the root) per line. ${pathNote}`,
    inputSchema: {
      pattern: z.string().min(1).describe('the glob, relative to `path`'),
      path: z.string().optional().describe('the directory to search (default: the root)'),
    },
    annotations: { readOnlyHint: true },
  }, guarded(async (a) => listing(a.path ?? '.', true, a.pattern, false)));

  server.registerTool('grep', {
    title: 'Search file contents',
    description: `Searches the text files ${where} for lines matching a JavaScript regular expression, recursively from \`path\` (a directory or one file; default the root), skipping .git, node_modules, binary and very large files. Answers "path:line: text" lines (paths from the root, lines from 1). ${pathNote}`,
    inputSchema: {
      pattern: z.string().min(1).describe('a JavaScript regular expression, e.g. "function\\\\s+main"'),
      path: z.string().optional().describe('directory or file to search (default: the root)'),
      glob: z.string().optional().describe('only files whose path below `path` matches, e.g. "**/*.ts"'),
      ignore_case: z.boolean().optional().describe('case-insensitive (default false)'),
      max_results: z.number().int().min(1).optional().describe(`stop after this many matches (default and most: ${PORTAL.grepMaxResults})`),
    },
    annotations: { readOnlyHint: true },
  }, guarded(async (a) => {
    const r = await (await opts.backend()).portal.grep(a.pattern, { path: a.path ?? '', glob: a.glob ?? '', ignoreCase: a.ignore_case ?? false, max: a.max_results ?? 0 });
    const lines = r.matches.map((m) => `${m.path}:${m.line}: ${m.text}`);
    if (r.truncated) lines.push(`[zmx: more matches not shown; narrow the pattern, path or glob]`);
    return textResult(lines.length ? lines.join('\n') : 'no matches');
  }));

  registerCommandTools(server, commands, where);

  server.registerTool('terminal_send', {
    title: 'Type into the terminal',
    description: `Types text into the terminal of the zmx session "${session}" (its active pane, usually a shell a person may be watching), as if typed on a keyboard. \`enter\` presses Enter after it. It does not wait for anything: read the screen with terminal_read. Control keys are characters: "\\u0003" is Ctrl-C. To run a command and get its output, prefer run_command.`,
    inputSchema: {
      text: z.string().describe('what to type'),
      enter: z.boolean().optional().describe('press Enter after the text (default false)'),
    },
    annotations: { destructiveHint: true, openWorldHint: true },
  }, guarded(async (a) => {
    const data = Buffer.from(a.text + (a.enter ? '\r' : ''), 'utf8');
    if (data.length === 0) throw new ZmxError('EINVAL', 'nothing to send: give text, or enter true');
    await (await opts.backend()).send(data);
    return textResult(`sent ${data.length} bytes`);
  }));

  server.registerTool('terminal_read', {
    title: 'Read the terminal',
    description: `Reads what the terminal of the zmx session "${session}" shows (its active pane) as plain text, without trailing blank lines. \`lines\` gives the last N lines; more than the screen holds reaches into its scrollback. To watch a pane (any pane, of any session) without polling, subscribe to its resource zmx://SESSION/PANE/screen (PANE: the pane id; resources/list has them all).`,
    inputSchema: { lines: z.number().int().min(1).optional().describe('only the last N lines (default: the whole screen)') },
    annotations: { readOnlyHint: true },
  }, guarded(async (a) => {
    const b = await opts.backend();
    const trimmed = (text: string) => {
      const lines = text.replace(/\r/g, '').split('\n').map((l) => l.replace(/\s+$/, ''));
      while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
      return lines;
    };
    let lines = trimmed(await b.capture());
    if (a.lines !== undefined && a.lines > lines.length) lines = trimmed(await b.history());
    if (a.lines !== undefined) lines = lines.slice(-a.lines);
    return textResult(lines.join('\n'));
  }));

  server.registerTool('list_sessions', {
    title: 'List sessions',
    description: `Lists the sessions on the zmx server these tools reach: name, root directory, number of panes and attached clients. The tools act on "${session}" (marked *).`,
    inputSchema: {},
    annotations: { readOnlyHint: true },
  }, guarded(async () => {
    const sessions = await (await opts.backend()).sessions();
    if (sessions.length === 0) return textResult('no sessions');
    return textResult(sessions.map((s) => `${s.name === session ? '*' : ' '} ${s.name}\troot=${s.root}\tpanes=${s.panes.length}\tclients=${s.clients}`).join('\n'));
  }));

  return {
    server,
    dispose: async () => {
      resources.dispose();
      await commands.dispose();
    },
  };
}

/**
 * Serves MCP on stdin/stdout until stdin ends, then closes the connection.
 * `open` makes the connection (called at start, and again after a failure).
 */
export async function serveStdio(opts: { session: string; open: () => Promise<OpenedBackend>; first?: Promise<OpenedBackend>; stdin?: Readable; stdout?: Writable; log?: (msg: string) => void }): Promise<void> {
  const stdin = opts.stdin ?? process.stdin;
  const stdout = opts.stdout ?? process.stdout;
  const backend = new LazyBackend(opts.open, opts.first);
  const mcp = createMcpServer({ session: opts.session, backend: () => backend.get() });
  const transport = new StdioServerTransport(stdin, stdout);
  transport.onerror = (err) => opts.log?.(`zmx mcp: ${err.message}`);
  const ended = new Promise<void>((resolve) => {
    stdin.once('end', resolve);
    stdin.once('close', resolve);
    stdin.once('error', () => resolve());
  });
  await mcp.server.connect(transport);
  // Connect now (unless under way already), so the first call is quick; a failure here is answered by that call.
  backend.get().catch(() => {});
  await ended;
  await mcp.dispose().catch(() => {});
  await mcp.server.close().catch(() => {});
  await backend.dispose().catch(() => {});
}
