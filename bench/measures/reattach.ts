/**
 * Reattach. A pane holds 10,000 lines of scrollback under a full screen; a
 * fresh client is started in a new outer pty and timed until the screen's
 * last row (a marker) is drawn. And without a process start-up: an
 * in-process client connecting and receiving the attach snapshot.
 */
import type { Contender, Measure } from '../lib/measure.js';
import { COLS, ROWS, drawnText } from '../lib/pty.js';
import { Cleanup, hrms, until } from '../lib/procs.js';
import { median } from '../lib/stats.js';
import { Zmx } from '../lib/zmx.js';
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
/** The row above the marker: the last number printed. */
const ABOVE = String(SCROLLBACK_LINES + ROWS - 1);
/** In-process attaches per round (the round's value is their median): each takes milliseconds. */
const IN_PROCESS_ATTACHES = 10;
const IN_PROCESS = 'zmx in-process client (connect + raw attach)';

/**
 * An in-process client of the protocol, as a new `zmx attach --raw` would be
 * once started: a new connection (Curve handshake, hello), session.attach,
 * and the snapshot (scrollback and screen) in its reply.
 */
function inProcess(): Contender {
  let zmx: Zmx;
  return {
    name: IN_PROCESS, zmx: true, versus: [],
    async setup(cleanup) {
      zmx = new Zmx(cleanup, 'inproc');
      await zmx.start();
      await zmx.create('hist', ['sh', '-c', PANE], COLS, ROWS);
      await until(() => zmx.screenHas('hist', MARKER), 'the history to be in', ATTACH_TIMEOUT_MS);
    },
    async sample() {
      const times: number[] = [];
      let bytes = 0;
      for (let i = 0; i < IN_PROCESS_ATTACHES; i++) {
        const t0 = hrms();
        const conn = await zmx.openConnection();
        try {
          const r = await conn.request('session.attach', { name: 'hist', cols: COLS, rows: ROWS, create: null, readOnly: false, mode: 'raw' });
          times.push(hrms() - t0);
          const shown = drawnText((r.frames[0] ?? Buffer.alloc(0)).toString('latin1'));
          if (!shown.includes(MARKER) || !shown.includes(ABOVE)) throw new Error(`the attach snapshot lacks the screen's last rows: ${JSON.stringify(shown.slice(-200))}`);
          bytes = r.frames[0]!.length;
          conn.detach(r.result.sid);
        } finally { await conn.close(); }
      }
      return { ms: median(times), kb: bytes / 1e3 };
    },
  };
}

export const reattach: Measure = {
  id: 'reattach',
  title: 'Reattach',
  how: `A detached pane ran \`seq 1 ${(SCROLLBACK_LINES + ROWS - 1).toLocaleString('en')}\` then printed a marker on its bottom row: ${SCROLLBACK_LINES.toLocaleString('en')} lines of scrollback under a full ${ROWS}-row screen (each tool keeps ${SCROLLBACK_LINES.toLocaleString('en')} lines). Each round starts a fresh client in a new outer pty (\`zmx attach\`, \`zmx attach --raw\`, \`tmux attach\`, \`screen -r\`) and times from spawning it until the marker and the row above it are drawn; the client is then ended (SIGHUP, as a closed terminal) and the next contender goes. This includes starting the client process (Node for zmx, C for the others). \`zmx attach --raw\` redraws the scrollback into the terminal too, so the terminal's own scrollback works. "${IN_PROCESS}" leaves out the process start-up: the bench itself opens a new connection to the server (CurveZMQ handshake and hello), sends \`session.attach\` (raw) and times until the reply holds the snapshot (scrollback and screen; checked for the marker and the row above), ${IN_PROCESS_ATTACHES} times per round (the median), each connection closed after; its "drawn" is the snapshot's size.`,
  metrics: [
    { key: 'ms', label: 'attach to full screen', unit: 'ms' },
    { key: 'kb', label: 'drawn', unit: 'KB', ratio: false },
  ],
  goals: [
    { id: 'reattach-tui', short: 'reattach 10k lines, new process, TUI vs tmux', what: 'reattach a pane with 10k lines from a new process, TUI vs tmux', metric: 'ms', zmx: 'zmx (TUI)', peer: 'tmux', maxRatio: 5 },
    { id: 'reattach-raw', short: 'reattach 10k lines, new process, raw vs tmux', what: 'reattach a pane with 10k lines from a new process, `attach --raw` vs tmux', metric: 'ms', zmx: 'zmx (raw)', peer: 'tmux', maxRatio: 5 },
    { id: 'reattach-in-process', short: 'reattach 10k lines, in-process client', what: 'reattach a pane with 10k lines, in-process client (no process start-up)', metric: 'ms', zmx: IN_PROCESS, max: 50 },
  ],
  contenders(opts) {
    const keepers: SessionKeeper[] = [zmxKeeper('tui'), zmxKeeper('raw'), tmuxKeeper(), screenKeeper(), dtachKeeper()];
    const spawned: Contender[] = keepers.map((k) => ({
      name: k.name,
      zmx: k.zmx,
      skip: k.name === 'dtach' ? 'dtach keeps no screen or scrollback: a reattaching client is sent nothing until the program redraws itself, so there is no screen to time' : skipReason(k, opts.missing),
      async setup(cleanup: Cleanup) {
        await k.start(cleanup);
        await k.newSession('hist', PANE);
        // The history is in once a first attach shows the marker.
        const first = cleanup.child();
        try {
          const term = k.attach('hist', first);
          await term.waitForText(MARKER, ATTACH_TIMEOUT_MS, MARKER_WINDOW);
          await term.settle();
        } finally { await first.close(); }
      },
      async sample(_round, cleanup) {
        const local = cleanup.child();
        try {
          const t0 = hrms();
          const term = k.attach('hist', local);
          await term.waitFor((t) => t.includes(MARKER) && t.includes(ABOVE), 'the full screen', ATTACH_TIMEOUT_MS, MARKER_WINDOW);
          const ms = hrms() - t0;
          // What else the client draws right after (status line) counts in the bytes, not the time.
          await term.settle(100);
          return { ms, kb: term.bytes / 1e3 };
        } finally { await local.close(); }
      },
    }));
    return [...spawned, inProcess()];
  },
};
