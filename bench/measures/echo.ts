/**
 * Keystroke echo through an attached client. A pane runs `cat`;
 * the bench, as the user's terminal, writes one letter to the outer pty and
 * times until that letter is drawn in the outer pty's output.
 */
import type { Measure } from '../lib/measure.js';
import { echoKeystrokes, type OuterPty } from '../lib/pty.js';
import { percentile, sortedCopy } from '../lib/stats.js';
import { WARMUP_KEYS, attachReady, barePty, dtachKeeper, screenKeeper, skipReason, tmuxKeeper, zmxKeeper, type SessionKeeper } from '../lib/terminals.js';

/** Keystrokes timed per round (p99 needs a few hundred). */
const KEYSTROKES = 300;
const KEYSTROKES_QUICK = 100;
/** How long a client gets to attach and draw before the first key. */
const ATTACH_TIMEOUT_MS = 15_000;

export const echo: Measure = {
  id: 'echo',
  title: 'Keystroke echo',
  how: `A pane runs \`cat\` (the pane's line discipline echoes). The bench is the user's terminal: a pty whose slave runs the client (\`zmx attach\`, \`zmx attach --raw\`, \`zmx attach -H HOST --raw\` to a server listening on TCP loopback with CurveZMQ, \`tmux attach\`, \`screen -r\`, \`dtach -a\`; for the bare pty, \`cat\` itself). Keys start once the client has put the tty in raw mode (read with \`stty -F\`; before that the tty itself echoes). One letter is written to the pty master and waited for in what the master reads (escape sequences stripped); the output is then parsed on a headless xterm that models the outer terminal, and the key counts as drawn at the first output chunk after which the line typed so far ends at the cursor (so a status bar's redrawn letters cannot pass for it); then the next. Every 50 letters an untimed Enter ends the line, and the next key waits until the typed line and cat's copy of it stand on the two rows above the cursor. ${KEYSTROKES} keystrokes per round (${KEYSTROKES_QUICK} with --quick), after ${WARMUP_KEYS} untimed ones; p50 and p99 are per round, reported as the median (and range) over rounds.`,
  metrics: [
    { key: 'p50', label: 'p50', unit: 'ms' },
    { key: 'p99', label: 'p99', unit: 'ms' },
  ],
  goals: [
    { id: 'echo-raw', short: 'echo p50, attach --raw vs tmux', what: 'keystroke echo p50, `attach --raw` vs tmux', metric: 'p50', zmx: 'zmx (raw)', peer: 'tmux', maxRatio: 2 },
    { id: 'echo-tui', short: 'echo p50, TUI vs tmux', what: 'keystroke echo p50, full-screen TUI vs tmux', metric: 'p50', zmx: 'zmx (TUI)', peer: 'tmux', maxRatio: 3 },
  ],
  contenders(opts) {
    const keepers: SessionKeeper[] = [zmxKeeper('raw'), zmxKeeper('tui'), zmxKeeper('tcp'), tmuxKeeper(), screenKeeper(), dtachKeeper(), barePty()];
    const count = opts.quick ? KEYSTROKES_QUICK : KEYSTROKES;
    return keepers.map((k) => {
      let term: OuterPty;
      return {
        name: k.name,
        zmx: k.zmx,
        skip: skipReason(k, opts.missing),
        async setup(cleanup) {
          await k.start(cleanup);
          await k.newSession('echo', 'exec cat');
          term = await attachReady(k, 'echo', cleanup, ATTACH_TIMEOUT_MS);
        },
        async sample() {
          const times = sortedCopy(await echoKeystrokes(term, count));
          return { p50: percentile(times, 50), p99: percentile(times, 99) };
        },
      };
    });
  },
};
