/**
 * Measure 4: server memory per idle session. A fresh server per round;
 * sessions are added in steps (each printed 3,000 lines of history, then
 * idles in `cat`) and the server's RSS read at each step.
 */
import type { Measure } from '../lib/measure.js';
import { Cleanup, sleep } from '../lib/procs.js';
import { skipReason, tmuxKeeper, zmxKeeper, type SessionKeeper } from '../lib/terminals.js';

/** Session counts RSS is read at. */
const STEPS = [1, 50, 200];
const STEPS_QUICK = [1, 20];
/** Lines of history each session printed. */
const HISTORY_LINES = 3_000;
/** Pause after the last session of a step, so its history is in and the server is idle again. */
const IDLE_MS = 2_000;
const IDLE_MS_QUICK = 1_000;
/** Sessions created at once (the rest wait): keeps the machine from drowning in bash start-ups. */
const CREATE_BATCH = 10;

function steps(quick: boolean): number[] {
  return quick ? STEPS_QUICK : STEPS;
}

export const memory: Measure = {
  id: 'memory',
  title: 'Memory per idle session',
  how: `A fresh server per round. Sessions are added until there are ${STEPS.join(', ')} (--quick: ${STEPS_QUICK.join(', ')}); each ran \`seq 1 ${HISTORY_LINES}\` and then idles in \`cat\`. ${IDLE_MS / 1000} s (--quick: ${IDLE_MS_QUICK / 1000} s) after the last one of a step the server's resident memory is read from /proc/PID/status (VmRSS): for zmx the front and the pty host summed, for tmux its server (\`#{pid}\`); the sessions' own programs are not counted. "per added session" is (RSS at the largest count − RSS at 1) / (count − 1).`,
  metrics: [
    ...[...new Set([...STEPS, ...STEPS_QUICK])].sort((a, b) => a - b).map((n) => ({ key: `rss${n}`, label: `RSS, ${n} session${n === 1 ? '' : 's'}`, unit: 'MiB' })),
    { key: 'perSession', label: 'per added session', unit: 'MiB' },
  ],
  chartMetric: 'perSession',
  maxRounds: 3,
  contenders(opts) {
    const keepers: SessionKeeper[] = [zmxKeeper('raw'), tmuxKeeper()];
    return keepers.map((k) => ({
      name: k.name === 'zmx (raw)' ? 'zmx' : k.name,
      zmx: k.zmx,
      skip: skipReason(k, opts.missing),
      async sample() {
        const local = new Cleanup();
        try {
          await k.start(local);
          const rss = () => (k.zmxServer ? k.zmxServer.serverRssKiB() : k.tmuxServer!.rssKiB()) / 1024;
          const out: Record<string, number> = {};
          let made = 0;
          for (const n of steps(opts.quick)) {
            while (made < n) {
              const batch = [];
              for (let i = 0; i < CREATE_BATCH && made < n; i++, made++) batch.push(`m${made}`);
              if (k.tmuxServer) await k.tmuxServer.newSessions(batch, `seq 1 ${HISTORY_LINES}; exec cat`);
              else await Promise.all(batch.map((name) => k.newSession(name, `seq 1 ${HISTORY_LINES}; exec cat`)));
            }
            await sleep(opts.quick ? IDLE_MS_QUICK : IDLE_MS);
            out[`rss${n}`] = rss();
          }
          const s = steps(opts.quick);
          const last = s[s.length - 1]!;
          out['perSession'] = (out[`rss${last}`]! - out['rss1']!) / (last - 1);
          return out;
        } finally { await local.close(); }
      },
    }));
  },
};
