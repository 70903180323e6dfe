import type { CommandSpec, OptionSpec } from '../command.js';
import { UsageError } from '../command.js';
import type { Context } from '../context.js';
import { PortalClient } from '../../client/portal.js';
import type { FileStat } from '../../common/portal.js';
import { PORTAL } from '../../common/constants.js';

export const TARGET: OptionSpec = { flags: '-t, --target <name>', description: 'the session whose root the paths are in (default: this one)' };
export const HOST: OptionSpec = { flags: '-H, --host <name>', description: 'act on a remote host (zmx host add; default $ZMX_HOST); also before the command: zmx -H HOST fs ...' };
const JSON_OPT: OptionSpec = { flags: '--json', description: 'machine-readable JSON' };
const PATHS = 'Paths are relative to the session\'s root (an absolute path must lie inside it); one that leads outside, by .. or a symlink, is refused (EOUTSIDE).';

/** The session a portal command acts on, and a client for it. */
export async function portalFor(ctx: Context, opts: Record<string, unknown>): Promise<PortalClient> {
  const name = ctx.sessionName(opts['target'] as string | undefined, 'a session (-t NAME)');
  return new PortalClient(await ctx.connectFor(name), name);
}

/** A non-negative integer option, or the default. */
export function intOpt(opts: Record<string, unknown>, key: string, flag: string, dflt: number): number {
  const raw = opts[key];
  if (raw === undefined) return dflt;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 0) throw new UsageError(`${flag} takes a whole number, not "${String(raw)}"`);
  return n;
}

function statLine(s: FileStat): string {
  const kind = s.type === 'dir' ? 'd' : s.type === 'symlink' ? 'l' : s.type === 'file' ? '-' : '?';
  return `${kind}${s.mode.toString(8).padStart(4, '0')}\t${s.size}\t${new Date(s.mtimeMs).toISOString()}\t${s.path}${s.type === 'dir' ? '/' : ''}\n`;
}

function sub(spec: Omit<CommandSpec, 'aliases'> & { aliases?: string[] }): CommandSpec {
  return { aliases: [], ...spec, options: [TARGET, ...spec.options, HOST] };
}

const read = sub({
  name: 'read',
  summary: 'Print a file (or a byte range of it) to stdout',
  args: [{ name: 'path', description: 'the file', required: true }],
  options: [
    { flags: '--offset <bytes>', description: 'start here (default 0)' },
    { flags: '--length <bytes>', description: 'at most this many bytes (default: to the end)' },
  ],
  details: `Streams files of any size in chunks, with bounded memory. ${PATHS}`,
  examples: ['zmx fs read -t agent src/main.ts', 'zmx fs read -t agent big.log --offset 1000000 --length 4096'],
  async run(ctx, args, opts) {
    const portal = await portalFor(ctx, opts);
    const offset = intOpt(opts, 'offset', '--offset', 0);
    if (opts['offset'] !== undefined || opts['length'] !== undefined) {
      let left = intOpt(opts, 'length', '--length', Number.MAX_SAFE_INTEGER);
      let at = offset;
      while (left > 0) {
        const r = await portal.readRange(args[0]!, at, left);
        if (r.data.length === 0) break;
        await write(ctx, r.data);
        at += r.data.length;
        left -= r.data.length;
      }
      return 0;
    }
    await portal.readStream(args[0]!, (chunk) => write(ctx, chunk));
    return 0;
  },
});

/** Writes to stdout, waiting when the pipe is full (memory stays bounded however slow the reader). */
function write(ctx: Context, data: Buffer): Promise<void> | void {
  if (ctx.stdout.write(data)) return;
  return new Promise((resolve) => ctx.stdout.once('drain', resolve));
}

const writeCmd = sub({
  name: 'write',
  summary: 'Write stdin to a file, atomically',
  args: [{ name: 'path', description: 'the file', required: true }],
  options: [
    { flags: '-p, --parents', description: 'create missing parent directories' },
    { flags: '--mode <octal>', description: 'permission bits, e.g. 644 (default: the old file\'s, else 644)' },
  ],
  details: `The content goes to a temporary file beside the target, renamed over it once complete: readers see the old file or the new one, never part of one. ${PATHS}`,
  examples: ['echo hello | zmx fs write -t agent notes/hello.txt -p', 'zmx fs write -t agent run.sh --mode 755 < run.sh'],
  async run(ctx, args, opts) {
    let mode: number | null = null;
    if (opts['mode'] !== undefined) {
      if (!/^[0-7]{3,4}$/.test(String(opts['mode']))) throw new UsageError(`--mode takes octal permission bits like 644, not "${String(opts['mode'])}"`);
      mode = parseInt(String(opts['mode']), 8);
    }
    const portal = await portalFor(ctx, opts);
    const it = ctx.stdin[Symbol.asyncIterator]();
    let pending = Buffer.alloc(0);
    let ended = ctx.stdinIsTTY;
    /** The next chunk of stdin, at most PORTAL.chunkBytes, however stdin delivers it; null at its end. */
    const next = async (): Promise<Buffer | null> => {
      while (!ended && pending.length < PORTAL.chunkBytes) {
        const n = await it.next();
        if (n.done) ended = true;
        else pending = Buffer.concat([pending, n.value as Buffer]);
      }
      if (pending.length === 0) return null;
      const chunk = pending.subarray(0, PORTAL.chunkBytes);
      pending = pending.subarray(chunk.length);
      return chunk;
    };
    const write = { mode, parents: Boolean(opts['parents']) };
    const first = (await next()) ?? Buffer.alloc(0);
    // What fits in one chunk goes in one message; more is an upload.
    let head: Buffer | null = first;
    const r = ended && pending.length === 0
      ? await portal.write(args[0]!, first, write)
      : await portal.upload(args[0]!, async () => { const h = head; head = null; return h ?? next(); }, write);
    ctx.out(`wrote ${r.bytes} bytes to ${r.path}\n`);
    return 0;
  },
});

const edit = sub({
  name: 'edit',
  summary: 'Replace an exact string in a file (as agents\' edit tools do)',
  args: [{ name: 'path', description: 'the file', required: true }],
  options: [
    { flags: '--old <text>', description: 'the text to replace, exactly' },
    { flags: '--new <text>', description: 'what to put instead' },
    { flags: '--count <n>', description: 'how many occurrences there must be (default 1); otherwise nothing is written' },
  ],
  details: `Fails without writing when the text occurs a different number of times than --count. ${PATHS}`,
  examples: ['zmx fs edit -t agent src/a.ts --old "let x = 1" --new "let x = 2"'],
  async run(ctx, args, opts) {
    if (typeof opts['old'] !== 'string' || typeof opts['new'] !== 'string') throw new UsageError('fs edit needs --old TEXT and --new TEXT');
    const portal = await portalFor(ctx, opts);
    const r = await portal.edit(args[0]!, opts['old'], opts['new'], intOpt(opts, 'count', '--count', 1));
    ctx.out(`replaced ${r.replaced} in ${r.path}\n`);
    return 0;
  },
});

const ls = sub({
  name: 'ls',
  aliases: ['list'],
  summary: 'List a directory: type and mode, size, time, path',
  args: [{ name: 'path', description: 'the directory (default: the root)' }],
  options: [
    { flags: '-R, --recursive', description: 'everything below, too' },
    { flags: '--glob <pattern>', description: 'only paths matching, e.g. "**/*.ts"' },
    { flags: '-a, --all', description: 'include .git and node_modules' },
    JSON_OPT,
  ],
  details: PATHS,
  examples: ['zmx fs ls -t agent', 'zmx fs ls -t agent src -R --glob "**/*.ts"'],
  async run(ctx, args, opts) {
    const portal = await portalFor(ctx, opts);
    const r = await portal.list(args[0] ?? '', { recursive: Boolean(opts['recursive']), glob: (opts['glob'] as string | undefined) ?? '', all: Boolean(opts['all']) });
    if (opts['json']) ctx.out(JSON.stringify(r, null, 2) + '\n');
    else for (const e of r.entries) ctx.out(statLine(e));
    if (r.truncated) ctx.err('zmx: the list was cut at its limit; narrow it with a path or --glob\n');
    return 0;
  },
});

const stat = sub({
  name: 'stat',
  summary: 'Show a path\'s type, mode, size and time',
  args: [{ name: 'path', description: 'the path', required: true }],
  options: [JSON_OPT],
  details: `A symlink is shown as itself, not its target. ${PATHS}`,
  async run(ctx, args, opts) {
    const s = await (await portalFor(ctx, opts)).stat(args[0]!);
    ctx.out(opts['json'] ? JSON.stringify(s, null, 2) + '\n' : statLine(s));
    return 0;
  },
});

const rm = sub({
  name: 'rm',
  summary: 'Remove a file, a symlink or (with -r) a directory',
  args: [{ name: 'path', description: 'the path', required: true }],
  options: [{ flags: '-r, --recursive', description: 'remove a directory and everything in it' }],
  details: `A symlink is removed, never what it points to. The root itself cannot be removed. ${PATHS}`,
  async run(ctx, args, opts) {
    const r = await (await portalFor(ctx, opts)).rm(args[0]!, Boolean(opts['recursive']));
    ctx.out(`removed ${r.path}\n`);
    return 0;
  },
});

const mv = sub({
  name: 'mv',
  summary: 'Move or rename a path within the root',
  args: [{ name: 'from', description: 'what to move', required: true }, { name: 'to', description: 'where to', required: true }],
  options: [{ flags: '-f, --force', description: 'replace what is at the destination' }],
  details: PATHS,
  async run(ctx, args, opts) {
    const r = await (await portalFor(ctx, opts)).mv(args[0]!, args[1]!, Boolean(opts['force']));
    ctx.out(`moved ${r.from} to ${r.to}\n`);
    return 0;
  },
});

const mkdir = sub({
  name: 'mkdir',
  summary: 'Make a directory',
  args: [{ name: 'path', description: 'the directory', required: true }],
  options: [{ flags: '-p, --parents', description: 'make missing parents too; no error if it exists' }],
  details: PATHS,
  async run(ctx, args, opts) {
    const r = await (await portalFor(ctx, opts)).mkdir(args[0]!, Boolean(opts['parents']));
    ctx.out(`made ${r.path}\n`);
    return 0;
  },
});

const grep = sub({
  name: 'grep',
  summary: 'Search files for a regular expression: path:line:text',
  args: [{ name: 'pattern', description: 'a JavaScript regular expression', required: true }, { name: 'path', description: 'a file or directory (default: the root)' }],
  options: [
    { flags: '--glob <pattern>', description: 'only files matching, e.g. "*.ts"' },
    { flags: '-i, --ignore-case', description: 'case-insensitive' },
    { flags: '--max <n>', description: 'at most this many matches (default 1000)' },
    JSON_OPT,
  ],
  details: `Skips .git, node_modules, binary files and files over 8 MiB. Exits 1 when nothing matches, as grep does. ${PATHS}`,
  examples: ['zmx fs grep -t agent "TODO|FIXME" src --glob "*.ts"'],
  async run(ctx, args, opts) {
    const portal = await portalFor(ctx, opts);
    const r = await portal.grep(args[0]!, { path: args[1] ?? '', glob: (opts['glob'] as string | undefined) ?? '', ignoreCase: Boolean(opts['ignoreCase']), max: intOpt(opts, 'max', '--max', 0) });
    if (opts['json']) ctx.out(JSON.stringify(r, null, 2) + '\n');
    else for (const m of r.matches) ctx.out(`${m.path}:${m.line}:${m.text}\n`);
    if (r.truncated) ctx.err('zmx: more matches than shown; raise --max or narrow the search\n');
    return r.matches.length ? 0 : 1;
  },
});

const watch = sub({
  name: 'watch',
  summary: 'Print changes under a path as they happen: kind and path',
  args: [{ name: 'path', description: 'a file or directory (default: the root)' }],
  options: [{ flags: '--no-recursive', description: 'only the directory itself, not below' }, JSON_OPT],
  details: `Kinds: create, write, remove, rename. Runs until interrupted. ${PATHS}`,
  examples: ['zmx fs watch -t agent src'],
  async run(ctx, args, opts) {
    const portal = await portalFor(ctx, opts);
    const stop = await portal.watch(args[0] ?? '', opts['recursive'] !== false, (c) => {
      ctx.out(opts['json'] ? JSON.stringify({ kind: c.kind, path: c.path }) + '\n' : `${c.kind}\t${c.path}\n`);
    });
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
      portal.conn.onLink((state) => { if (state === 'lost') resolve(); });
    });
    await stop();
    return 0;
  },
});

export const fs: CommandSpec = {
  name: 'fs',
  aliases: [],
  summary: 'Files in a session\'s root: read, write, edit, ls, stat, rm, mv, mkdir, grep, watch',
  args: [],
  options: [],
  details: PATHS,
  subcommands: [read, writeCmd, edit, ls, stat, rm, mv, mkdir, grep, watch],
};
