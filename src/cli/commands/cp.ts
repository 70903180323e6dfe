import { open, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { CommandSpec } from '../command.js';
import { UsageError } from '../command.js';
import { PORTAL } from '../../common/constants.js';
import { PortalClient } from '../../client/portal.js';
import type { Context } from '../context.js';

/** `SESSION:PATH` (as scp's HOST:PATH); a local path with a colon is written ./a:b. */
const REMOTE = /^([^/:]+):(.*)$/;
/** The bar redraws at most this often: a fast copy must not spend its time drawing. */
const PROGRESS_FPS = 10;

interface Bar { update(done: number): void; stop(): void }

/** A progress bar on a terminal (stderr), nothing in a pipe. */
async function progress(ctx: Context, label: string, total: number): Promise<Bar> {
  if (!ctx.stderr.isTTY) return { update() {}, stop() {} };
  // Loaded only when a bar is drawn: no other command pays for it.
  const { default: cliProgress } = await import('cli-progress');
  const bar = new cliProgress.SingleBar({
    stream: ctx.stderr, fps: PROGRESS_FPS, hideCursor: true, clearOnComplete: false,
    format: `${label} [{bar}] {percentage}% | {done}/{size} | {speed}/s | ETA {eta_formatted}`,
  }, cliProgress.Presets.shades_classic);
  const started = Date.now();
  bar.start(total, 0, { done: human(0), size: human(total), speed: human(0) });
  return {
    update(done) { bar.update(done, { done: human(done), speed: human(done / Math.max(0.001, (Date.now() - started) / 1000)) }); },
    stop() { bar.stop(); },
  };
}

function human(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
}

async function upload(ctx: Context, portal: PortalClient, local: string, remote: string): Promise<{ path: string; bytes: number }> {
  const st = await stat(local).catch(() => { throw new UsageError(`${local}: no such file`); });
  if (!st.isFile()) throw new UsageError(`${local} is not a file (zmx cp copies one file)`);
  const target = remote === '' || remote.endsWith('/') ? `${remote}${basename(local)}` : remote;
  const fh = await open(local, 'r');
  const bar = await progress(ctx, basename(local), st.size);
  let at = 0;
  try {
    return await portal.upload(target, async () => {
      const buf = Buffer.allocUnsafe(PORTAL.chunkBytes);
      const { bytesRead } = await fh.read(buf, 0, buf.length, at);
      at += bytesRead;
      return bytesRead === 0 ? null : buf.subarray(0, bytesRead);
    }, { mode: st.mode & 0o777, parents: false }, (done) => bar.update(done));
  } finally {
    bar.stop();
    await fh.close();
  }
}

async function download(ctx: Context, portal: PortalClient, remote: string, local: string): Promise<{ path: string; bytes: number }> {
  const st = await portal.stat(remote);
  if (st.type !== 'file') throw new UsageError(`${portal.session}:${remote} is not a file (zmx cp copies one file)`);
  const isDir = await stat(local).then((s) => s.isDirectory(), () => false);
  const target = isDir ? join(local, basename(remote)) : local;
  // As the server writes: a temporary file beside the target, renamed once whole.
  const tmp = join(dirname(target), `.${basename(target)}.zmx-${randomBytes(4).toString('hex')}.tmp`);
  const fh = await open(tmp, 'wx', st.mode & 0o777);
  const bar = await progress(ctx, basename(remote), st.size);
  try {
    const bytes = await portal.readStream(remote, async (chunk) => { await fh.write(chunk); }, (done) => bar.update(done));
    await fh.close();
    await rename(tmp, target);
    return { path: target, bytes };
  } catch (err) {
    await fh.close().catch(() => {});
    await rm(tmp, { force: true });
    throw err;
  } finally {
    bar.stop();
  }
}

export const cp: CommandSpec = {
  name: 'cp',
  aliases: [],
  summary: 'Copy a file to or from a session\'s root: zmx cp FILE SESSION:PATH, or back',
  args: [{ name: 'from', description: 'LOCAL or SESSION:PATH', required: true }, { name: 'to', description: 'SESSION:PATH or LOCAL', required: true }],
  options: [],
  details: 'As scp does, SESSION:PATH names a path in a session\'s root (relative to it); a path ending in / (or a directory) keeps the file\'s name. Files of any size go in chunks with a few in flight, so memory stays bounded; the file appears at its destination only when complete (a temporary file, then rename). A progress bar is drawn on a terminal, nothing in a pipe.',
  examples: ['zmx cp build.tar.gz agent:dist/', 'zmx cp agent:logs/test.log .', 'zmx cp -H box data.db agent:data.db'],
  async run(ctx, args) {
    const [from, to] = [args[0]!, args[1]!];
    const src = REMOTE.exec(from);
    const dst = REMOTE.exec(to);
    if (src && dst) throw new UsageError('copy between two sessions is not supported: copy to here first');
    if (!src && !dst) throw new UsageError('one side must be SESSION:PATH (e.g. zmx cp file.txt agent:file.txt)');
    const [, session, path] = (src ?? dst)!;
    const name = ctx.sessionName(session);
    const portal = new PortalClient(await ctx.connectFor(name), name);
    const r = src ? await download(ctx, portal, path!, to) : await upload(ctx, portal, from, path!);
    ctx.out(`copied ${r.bytes} bytes to ${src ? r.path : `${name}:${r.path}`}\n`);
    return 0;
  },
};
