/**
 * Measure 3: reattach. A pane holds 10,000 lines of scrollback under a full
 * screen; a fresh client is started in a new outer pty and timed until the
 * screen's last row (a marker) is drawn.
 */
import type { Measure } from '../lib/measure.js';
import { ROWS } from '../lib/pty.js';
import { hrms } from '../lib/procs.js';
import { Cleanup } from '../lib/procs.js';
import { dtachKeeper, screenKeeper, skipReason, tmuxKeeper, zmxKeeper, type SessionKeeper } from '../lib/terminals.js';

/** Lines of history above the screen. */
const SCROLLBACK_LINES = 10_000;
/** The bottom row of the pane once the history is printed (no newline after it). */
const MARKER = 'REATTACH-BOTTOM';
/** Bytes at the end of the output searched for the marker. */
const MARKER_WINDOW = 16_384;
const ATTACH_TIMEOUT_MS = 30_000;
/** The pane's command: the history, the screen's last rows, the marker, then idle. */
const PANE = `seq 1 ${SCROLLBACK_LINES + ROWS - 1}; printf %s ${MARKER}; exec cat`;

export const reattach: Measure = {
  id: 'reattach',
  title: 'Reattach',
  how: `A detached pane ran \`seq 1 ${(SCROLLBACK_LINES + ROWS - 1).toLocaleString('en')}\` then printed a marker on its bottom row: ${SCROLLBACK_LINES.toLocaleString('en')} lines of scrollback under a full ${ROWS}-row screen (each tool keeps ${SCROLLBACK_LINES.toLocaleString('en')} lines). Each round starts a fresh client in a new outer pty (\`zmx attach\`, \`zmx attach --raw\`, \`tmux attach\`, \`screen -r\`) and times from spawning it until the marker and the row above it are drawn; the client is then ended (SIGHUP, as a closed terminal) and the next contender goes. This includes starting the client process (Node for zmx, C for the others). \`zmx attach --raw\` redraws the scrollback into the terminal too, so the terminal's own scrollback works.`,
  metrics: [
    { key: 'ms', label: 'attach to full screen', unit: 'ms' },
    { key: 'kb', label: 'drawn', unit: 'KB', ratio: false },
  ],
  chartMetric: 'ms',
  contenders(opts) {
    const keepers: SessionKeeper[] = [zmxKeeper('tui'), zmxKeeper('raw'), tmuxKeeper(), screenKeeper(), dtachKeeper()];
    return keepers.map((k) => ({
      name: k.name,
      zmx: k.zmx,
      skip: k.name === 'dtach' ? 'dtach keeps no screen or scrollback: a reattaching client is sent nothing until the program redraws itself, so there is no screen to time' : skipReason(k, opts.missing),
      async setup(cleanup: Cleanup) {
        await k.start(cleanup);
        await k.newSession('hist', PANE);
        // The history is in once a first attach shows the marker.
        const first = new Cleanup();
        try {
          const term = k.attach('hist', first);
          await term.waitForText(MARKER, ATTACH_TIMEOUT_MS, MARKER_WINDOW);
          await term.settle();
        } finally { await first.close(); }
      },
      async sample() {
        const local = new Cleanup();
        try {
          const t0 = hrms();
          const term = k.attach('hist', local);
          const above = String(SCROLLBACK_LINES + ROWS - 1);
          await term.waitFor((t) => t.includes(MARKER) && t.includes(above), 'the full screen', ATTACH_TIMEOUT_MS, MARKER_WINDOW);
          const ms = hrms() - t0;
          // What else the client draws right after (status line) counts in the bytes, not the time.
          await term.settle(100);
          return { ms, kb: term.bytes / 1e3 };
        } finally { await local.close(); }
      },
    }));
  },
};
