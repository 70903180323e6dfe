/**
 * One CLI call, as a user or an agent's shell tool makes it — a
 * whole process from spawn to exit: `zmx ls` against `tmux ls`, each with
 * a server holding one session, and `zmx version` (no server asked)
 * against `node -e 0`, the floor of any Node program.
 */
import { tmpdir } from 'node:os';
import type { Contender, Measure } from '../lib/measure.js';
import { hrms, run, type Cleanup } from '../lib/procs.js';
import { Tmux } from '../lib/peers.js';
import { Zmx, ZMX_BIN, baseEnv } from '../lib/zmx.js';
import { median } from '../lib/stats.js';

/** Calls timed per round (the round's value is their median). */
const CALLS = 20;
const CALLS_QUICK = 6;
/** The session each server holds. */
const SESSION = 'one';

/** `calls` runs of a command, one after another; the median wall time, ms. Each must exit 0 and print `expect`. */
async function timeCalls(calls: number, file: string, args: string[], opts: { env: NodeJS.ProcessEnv; cwd: string }, expect = ''): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < calls; i++) {
    const t0 = hrms();
    const r = await run(file, args, opts);
    times.push(hrms() - t0);
    if (r.status !== 0 || !r.stdout.includes(expect)) throw new Error(`${file} ${args.join(' ')}: status ${r.status}, printed ${JSON.stringify((r.stdout + r.stderr).slice(0, 200))}`);
  }
  return median(times);
}

export const cliCall: Measure = {
  id: 'cli-call',
  title: 'One CLI call',
  how: `A whole process, from spawn to exit, timed in the bench: \`zmx ls\` against a private zmx server holding one session (\`cat\`), \`tmux ls\` against a private tmux server holding one; \`zmx version\` (which asks no server) against \`node -e 0\`, the start-up every Node program pays. ${CALLS} calls per contender per round (--quick: ${CALLS_QUICK}), one after another; a round's value is their median. \`zmx ls\` is compared with \`tmux ls\` only, \`zmx version\` with \`node -e 0\` only.`,
  metrics: [{ key: 'ms', label: 'one call', unit: 'ms' }],
  goals: [{ id: 'cli-ls', short: 'one CLI call: zmx ls vs tmux ls', what: 'one CLI call: `zmx ls` vs `tmux ls` (wall, a server with one session each)', metric: 'ms', zmx: 'zmx ls', peer: 'tmux ls', maxRatio: 5 }],
  contenders(opts) {
    const calls = opts.quick ? CALLS_QUICK : CALLS;
    let zmx: Zmx;
    let tmux: Tmux;
    let zmxReady: Promise<void> | null = null;
    const zmxSetup = (cleanup: Cleanup) => (zmxReady ??= (async () => {
      zmx = new Zmx(cleanup, 'cli');
      await zmx.start();
      await zmx.create(SESSION, ['cat']);
    })());
    const zmxCall = (args: string[], expect: string) => timeCalls(calls, ZMX_BIN, args, { env: zmx.env, cwd: zmx.home }, expect);
    const contenders: Contender[] = [
      {
        name: 'zmx ls', zmx: true, versus: ['tmux ls'],
        setup: zmxSetup,
        sample: async () => ({ ms: await zmxCall(['ls'], SESSION) }),
      },
      {
        name: 'tmux ls', zmx: false, skip: opts.missing['tmux'] && `not run: ${opts.missing['tmux']}`,
        async setup(cleanup) { tmux = new Tmux(cleanup); await tmux.newSession(SESSION, 'exec cat'); },
        sample: async () => ({ ms: await timeCalls(calls, 'tmux', tmux.args('ls'), { env: tmux.env, cwd: tmux.dir }, SESSION) }),
      },
      {
        name: 'zmx version', zmx: true, versus: ['node -e 0'],
        setup: zmxSetup,
        sample: async () => ({ ms: await zmxCall(['version'], '') }),
      },
      {
        name: 'node -e 0', zmx: false,
        // The node on PATH, as bin/zmx's `#!/usr/bin/env node` finds it.
        sample: async () => ({ ms: await timeCalls(calls, 'node', ['-e', '0'], { env: baseEnv(tmpdir()), cwd: tmpdir() }) }),
      },
    ];
    return contenders;
  },
};
