/**
 * Server memory per idle session. A fresh server per round; sessions are
 * added in steps (each prints its history, then idles in `cat`) and the
 * server's memory is read once every session of the step has printed all
 * of it. With the default settings at 1, 51 and 200 sessions of 3,000
 * lines; and, with the history limit raised to hold 50,000 lines, the cost
 * of one more session holding 0, 3,000 or 50,000 lines.
 */
import type { Contender, Measure } from '../lib/measure.js';
import { sleep, until, type Cleanup } from '../lib/procs.js';
import { Tmux } from '../lib/peers.js';
import { BENCH_HISTORY_LINES, Zmx } from '../lib/zmx.js';

/** Session counts memory is read at, default settings. */
const STEPS = [1, 51, 200];
const STEPS_QUICK = [1, 51];
/** The headline: this many sessions (the per-session figure is from 1 to it). */
const HEADLINE = 51;
/** Lines of history each of them printed. */
const HISTORY_LINES = 3_000;
/** History sizes whose per-session cost is read, lines, with the limit raised to the largest. */
const COST_LINES = [0, 3_000, 50_000];
const HISTORY_LIMIT = Math.max(...COST_LINES);
/** Sessions added per history size (the cost is the memory they added, over this). */
const COST_SESSIONS = 10;
const COST_SESSIONS_QUICK = 5;
/**
 * Pause once a step's sessions have all printed their history (and been read
 * to check it), so the server is idle again: longer than zmx's pane
 * hibernation delay (HIBERNATE_IDLE_MS, 5 s, src/ptyhost/pane.ts) and the
 * collection and trims that follow it (1 + 2 and 6 s, src/platform/memory.ts),
 * as a session that sat detached would be.
 */
const IDLE_MS = 15_000;
/** Sessions created at once (the rest wait): keeps the machine from drowning in shell start-ups. */
const CREATE_BATCH = 10;
/** Printed after the history: on the screen once the server has taken it all in. */
const DONE = 'HISTORY-DONE';
/** How long a step's sessions get to print their history. */
const STEP_TIMEOUT_MS = 120_000;

const MIB = 1024;

/** What the measure needs of a server: sessions, their screens, its memory (KiB). */
interface Server {
  create(names: string[], command: string): Promise<void>;
  screenHas(name: string, text: string): Promise<boolean>;
  mem(): { rss: number; pss: number };
}

async function zmxServer(cleanup: Cleanup, historyLimit?: number): Promise<Server> {
  const zmx = new Zmx(cleanup, 'mem');
  if (historyLimit !== undefined) await zmx.setHistoryLimit(historyLimit);
  await zmx.start();
  return {
    create: async (names, command) => { await Promise.all(names.map((n) => zmx.create(n, ['sh', '-c', command]))); },
    screenHas: (name, text) => zmx.screenHas(name, text),
    mem: () => zmx.serverMemKiB(),
  };
}

async function tmuxServer(cleanup: Cleanup, historyLimit?: number): Promise<Server> {
  const tmux = new Tmux(cleanup, historyLimit ?? BENCH_HISTORY_LINES);
  return {
    create: (names, command) => tmux.newSessions(names, command),
    screenHas: (name, text) => tmux.screenHas(name, text),
    mem: () => tmux.memKiB(),
  };
}

/** Sessions with `lines` lines of history, made until there are `to`; resolves once all have printed it and the server idled. */
async function grow(s: Server, made: { n: number }, to: number, lines: number): Promise<void> {
  const command = `${lines > 0 ? `seq 1 ${lines}; ` : ''}echo ${DONE}; exec cat`;
  const names: string[] = [];
  while (made.n < to) {
    const batch = [];
    for (let i = 0; i < CREATE_BATCH && made.n < to; i++, made.n++) batch.push(`m${made.n}`);
    await s.create(batch, command);
    names.push(...batch);
  }
  for (const n of names) await until(() => s.screenHas(n, DONE), `session ${n} to print its history`, STEP_TIMEOUT_MS);
  await sleep(IDLE_MS);
}

type Start = (cleanup: Cleanup, historyLimit?: number) => Promise<Server>;

/** Default settings: memory at each step of 3,000-line sessions. */
function headline(name: string, zmx: boolean, start: Start, steps: number[], skip?: string): Contender {
  return {
    name, zmx, versus: zmx ? ['tmux'] : undefined, skip,
    async sample(_round, cleanup) {
      const local = cleanup.child();
      try {
        const s = await start(local);
        const out: Record<string, number> = {};
        const made = { n: 0 };
        for (const n of steps) {
          await grow(s, made, n, HISTORY_LINES);
          const m = s.mem();
          out[`rss${n}`] = m.rss / MIB;
          out[`pss${n}`] = m.pss / MIB;
        }
        out['perSession'] = (out[`rss${HEADLINE}`]! - out['rss1']!) / (HEADLINE - 1);
        return out;
      } finally { await local.close(); }
    },
  };
}

/** History limit raised: what `sessions` more sessions of each history size add, per session. */
function cost(name: string, zmx: boolean, start: Start, sessions: number, versus: string, skip?: string): Contender {
  return {
    name, zmx, versus: zmx ? [versus] : undefined, skip,
    async sample(_round, cleanup) {
      const local = cleanup.child();
      try {
        const s = await start(local, HISTORY_LIMIT);
        const made = { n: 0 };
        await grow(s, made, 1, 0);
        const out: Record<string, number> = {};
        let before = s.mem().rss;
        for (const lines of COST_LINES) {
          await grow(s, made, made.n + sessions, lines);
          const now = s.mem().rss;
          out[`cost${lines}`] = (now - before) / MIB / sessions;
          before = now;
        }
        return out;
      } finally { await local.close(); }
    },
  };
}

function steps(quick: boolean): number[] {
  return quick ? STEPS_QUICK : STEPS;
}

const lines = (n: number) => (n >= 1000 ? `${n / 1000}k` : String(n));
const COST_NAME = `history-limit ${HISTORY_LIMIT.toLocaleString('en')}`;

export const memory: Measure = {
  id: 'memory',
  title: 'Memory per idle session',
  how: `A fresh server per round. With ${BENCH_HISTORY_LINES.toLocaleString('en')} lines of history allowed on both sides (zmx's and tmux's history-limit; each one's default is 2,000, fewer than the sessions print), sessions are added until there are ${STEPS.join(', ')} (--quick: ${STEPS_QUICK.join(', ')}); each runs \`seq 1 ${HISTORY_LINES}; echo ${DONE}\` and then idles in \`cat\`. Once every session of a step shows ${DONE} on its screen (the server has taken in all its history) and ${IDLE_MS / 1000} s more have passed (a zmx pane that nobody watches and that printed nothing for 5 s hibernates: its emulator gives way to the snapshot that rebuilds it, as a detached session's would), the server's memory is read: for zmx the front and the pty host summed, for tmux its server (\`#{pid}\`); the sessions' own programs are not counted. RSS is VmRSS from /proc/PID/status; PSS is Pss from /proc/PID/smaps_rollup, which counts a page shared by several processes by its share — zmx's two Node processes map the same node binary and libraries (and so does every other Node process on the machine), which RSS counts in full for each. "per added session" is (RSS at ${HEADLINE} − RSS at 1) / ${HEADLINE - 1}. The "${COST_NAME}" contenders hold 50,000 lines (\`zmx config set history-limit ${HISTORY_LIMIT}\`, or \`scrollback-lines\` in builds before that name; tmux's \`history-limit\`): after one idle session, ${COST_SESSIONS} sessions (--quick: ${COST_SESSIONS_QUICK}) are added with ${COST_LINES.map((n) => n.toLocaleString('en')).join(', then ')} lines of history, and "per session, N lines" is the RSS each group added over its count.`,
  metrics: [
    ...STEPS.map((n) => ({ key: `rss${n}`, label: `RSS, ${n} session${n === 1 ? '' : 's'}`, unit: 'MiB' })),
    ...STEPS.map((n) => ({ key: `pss${n}`, label: `PSS, ${n} session${n === 1 ? '' : 's'}`, unit: 'MiB' })),
    { key: 'perSession', label: 'per added session', unit: 'MiB' },
    ...COST_LINES.map((n) => ({ key: `cost${n}`, label: `per session, ${lines(n)} lines`, unit: 'MiB' })),
  ],
  goals: [
    { id: 'memory-51', short: `memory, ${HEADLINE} idle sessions × ${lines(HISTORY_LINES)} lines vs tmux`, what: `memory: ${HEADLINE} idle sessions, ${HISTORY_LINES.toLocaleString('en')} lines each (server RSS) vs tmux`, metric: `rss${HEADLINE}`, zmx: 'zmx', peer: 'tmux', maxRatio: 4 },
    { id: 'memory-per-session', short: `memory per added session (${lines(HISTORY_LINES)} lines)`, what: `memory per added session, ${HISTORY_LINES.toLocaleString('en')} lines ((RSS at ${HEADLINE} − RSS at 1) / ${HEADLINE - 1}) vs tmux`, metric: 'perSession', zmx: 'zmx', peer: 'tmux', unit: 'MiB/session', max: 1.5 },
  ],
  maxRounds: 3,
  // Memory varies little from round to round; one keeps --quick within its two minutes.
  maxRoundsQuick: 1,
  contenders(opts) {
    const tmuxSkip = opts.missing['tmux'] && `not run: ${opts.missing['tmux']}`;
    const sessions = opts.quick ? COST_SESSIONS_QUICK : COST_SESSIONS;
    return [
      headline('zmx', true, zmxServer, steps(opts.quick)),
      headline('tmux', false, tmuxServer, steps(opts.quick), tmuxSkip),
      cost(`zmx, ${COST_NAME}`, true, zmxServer, sessions, `tmux, ${COST_NAME}`),
      cost(`tmux, ${COST_NAME}`, false, tmuxServer, sessions, '', tmuxSkip),
    ];
  },
};
