/**
 * Copying a large file from the session's machine: scp through
 * the throwaway sshd vs `zmx cp` over zmx's TCP listener (loopback both).
 */
import { createWriteStream, rmSync, statSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { Measure } from '../lib/measure.js';
import { Cleanup, hrms, runOk, tempDir } from '../lib/procs.js';
import { SESSION, ZMX_HOST, makeWorld, zmxCliMissing, type World } from '../lib/portal.js';
import { ZMX_BIN } from '../lib/zmx.js';

/** The file copied, MB (random bytes: nothing to gain from compression). */
const FILE_MB = 200;
const FILE_MB_QUICK = 20;
/** Random bytes generated per write while making it. */
const BLOCK = 1024 * 1024;
const NAME = 'big.bin';

async function makeFile(path: string, mb: number): Promise<void> {
  const out = createWriteStream(path);
  for (let i = 0; i < mb; i++) if (!out.write(randomBytes(BLOCK))) await new Promise<void>((r) => out.once('drain', () => r()));
  await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
}

export const copy: Measure = {
  id: 'copy',
  title: 'Copy a large file',
  how: `A ${FILE_MB} MB file of random bytes (--quick: ${FILE_MB_QUICK} MB) in the session's root is copied to a local temp dir: \`scp host:FILE DIR/\` through the throwaway sshd (OpenSSH's scp, SFTP underneath; a new connection each time, as a user runs it), \`zmx cp -H HOST SESSION:FILE DIR/\` to the server's CurveZMQ listener, and \`zmx cp\` to the local server. Loopback, no added delay; the copy is removed after each round.`,
  metrics: [
    { key: 'seconds', label: 'copy', unit: 's' },
    { key: 'mbps', label: 'rate', unit: 'MB/s', ratio: false },
  ],
  goals: [{ id: 'cp-H', short: `zmx cp -H ${FILE_MB} MB vs scp`, quick: `${FILE_MB_QUICK} MB`, what: `\`zmx cp -H\` ${FILE_MB} MB over loopback vs scp`, metric: 'seconds', zmx: 'zmx cp -H (TCP+Curve)', peer: 'scp', maxRatio: 1 }],
  maxRounds: 3,
  contenders(opts) {
    const mb = opts.quick ? FILE_MB_QUICK : FILE_MB;
    let world: Promise<World> | null = null;
    let dest = '';
    const get = (cleanup: Cleanup) => (world ??= makeWorld(cleanup, !opts.missing['sshd']).then(async (w) => {
      await makeFile(join(w.root, NAME), mb);
      dest = tempDir(cleanup, 'zb-copy-');
      return w;
    }));
    let w: World;
    const timed = async (work: () => Promise<unknown>) => {
      const target = join(dest, NAME);
      const t0 = hrms();
      await work();
      const s = (hrms() - t0) / 1000;
      const size = statSync(target).size;
      rmSync(target, { force: true });
      if (size !== mb * BLOCK) throw new Error(`copied ${size} bytes, not ${mb * BLOCK}`);
      return { seconds: s, mbps: size / 1e6 / s };
    };
    const cliSkip = zmxCliMissing(opts.zmxCommands, 'cp');
    const sshSkip = opts.missing['sshd'] ?? opts.missing['scp'];
    return [
      {
        name: 'scp', zmx: false, skip: sshSkip && `not run: ${sshSkip}`,
        async setup(c) { w = await get(c); if (!w.sshd) throw new Error(`sshd: ${w.sshdError}`); },
        sample: () => timed(() => w.sshd!.scp(`bench:${join(w.root, NAME)}`, `${dest}/`)),
      },
      {
        name: 'zmx cp -H (TCP+Curve)', zmx: true, skip: cliSkip,
        async setup(c) { w = await get(c); },
        sample: () => timed(() => runOk(ZMX_BIN, ['cp', '-H', ZMX_HOST, `${SESSION}:${NAME}`, `${dest}/`], { env: w.client.env, cwd: w.client.home, timeoutMs: 600_000 })),
      },
      {
        name: 'zmx cp (local server)', zmx: true, skip: cliSkip,
        async setup(c) { w = await get(c); },
        sample: () => timed(() => runOk(ZMX_BIN, ['cp', `${SESSION}:${NAME}`, `${dest}/`], { env: w.server.env, cwd: w.server.home, timeoutMs: 600_000 })),
      },
    ];
  },
};
