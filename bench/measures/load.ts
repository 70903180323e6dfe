/**
 * Echo under load. N detached sessions print continuously while
 * keystrokes are timed through a client attached to one more session. A
 * fresh server per round, so one contender's load never runs under another's.
 */
import type { Measure } from '../lib/measure.js';
import { echoKeystrokes } from '../lib/pty.js';
import { percentile, sortedCopy } from '../lib/stats.js';
import { attachReady, skipReason, tmuxKeeper, zmxKeeper, type SessionKeeper } from '../lib/terminals.js';

/** Sessions printing in the background. */
const BUSY_SESSIONS = 200;
const BUSY_SESSIONS_QUICK = 20;
/** Each prints a line, then waits this long (bash's `read -t`: no process forked per line). */
const PRINT_EVERY_S = 0.01;
/** Keystrokes timed per round. */
const KEYSTROKES = 300;
const KEYSTROKES_QUICK = 100;
/** A saturated server answers keys in seconds: each may take this long... */
const KEY_TIMEOUT_MS = 30_000;
/** ...and a round stops timing keys after this long, keeping those timed (their count is reported). */
const ROUND_BUDGET_MS = 60_000;
/** How long the client gets to take the terminal, draw and echo a first key. */
const ATTACH_TIMEOUT_MS = 30_000;
/** Sessions created at once. */
const CREATE_BATCH = 10;
const BUSY = `exec bash --norc --noprofile -c 'while :; do echo "busy $RANDOM $RANDOM $RANDOM"; read -t ${PRINT_EVERY_S}; done'`;

export const load: Measure = {
  id: 'load',
  title: 'Echo under load',
  how: `A fresh server per round with ${BUSY_SESSIONS} detached sessions (--quick: ${BUSY_SESSIONS_QUICK}) each printing a line every ${PRINT_EVERY_S * 1000} ms (\`while :; do echo …; read -t ${PRINT_EVERY_S}; done\`: about ${Math.round(BUSY_SESSIONS / PRINT_EVERY_S).toLocaleString('en')} lines/s in all), and one more session running \`cat\` with a client attached in the outer pty. ${KEYSTROKES} keystrokes (--quick: ${KEYSTROKES_QUICK}) are timed as in "Keystroke echo"; a key may take up to ${KEY_TIMEOUT_MS / 1000} s, and a round stops after ${ROUND_BUDGET_MS / 1000} s of keys (\"keys timed\" says how many made it). The busy sessions are created ${CREATE_BATCH} at a time before timing starts.`,
  metrics: [
    { key: 'p50', label: 'p50', unit: 'ms' },
    { key: 'p99', label: 'p99', unit: 'ms' },
    { key: 'keys', label: 'keys timed', unit: 'count', ratio: false },
  ],
  goals: [{ id: 'load-p99', short: `echo p99, ${BUSY_SESSIONS} busy sessions, raw vs tmux`, quick: `${BUSY_SESSIONS_QUICK} busy sessions`, what: `keystroke echo p99 with ${BUSY_SESSIONS} busy sessions, \`attach --raw\` vs tmux`, metric: 'p99', zmx: 'zmx (raw)', peer: 'tmux', maxRatio: 3 }],
  maxRounds: 3,
  contenders(opts) {
    const keepers: SessionKeeper[] = [zmxKeeper('raw'), zmxKeeper('tui'), tmuxKeeper()];
    const busy = opts.quick ? BUSY_SESSIONS_QUICK : BUSY_SESSIONS;
    const keys = opts.quick ? KEYSTROKES_QUICK : KEYSTROKES;
    return keepers.map((k) => ({
      name: k.name,
      zmx: k.zmx,
      skip: skipReason(k, opts.missing),
      async sample(_round, cleanup) {
        const local = cleanup.child();
        try {
          await k.start(local);
          for (let made = 0; made < busy;) {
            const batch = [];
            for (let i = 0; i < CREATE_BATCH && made < busy; i++, made++) batch.push(`busy${made}`);
            if (k.tmuxServer) await k.tmuxServer.newSessions(batch, BUSY);
            else await Promise.all(batch.map((name) => k.newSession(name, BUSY)));
          }
          await k.newSession('echo', 'exec cat');
          // Under load a client may take seconds to take the terminal and draw.
          const term = await attachReady(k, 'echo', local, ATTACH_TIMEOUT_MS);
          const times = sortedCopy(await echoKeystrokes(term, keys, { keyTimeoutMs: KEY_TIMEOUT_MS, budgetMs: ROUND_BUDGET_MS }));
          return { p50: percentile(times, 50), p99: percentile(times, 99), keys: times.length };
        } finally { await local.close(); }
      },
    }));
  },
};
