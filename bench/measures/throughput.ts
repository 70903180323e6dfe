/**
 * Output throughput with a client attached. A shell in the pane
 * runs `seq 1 N; echo MARKER`; the wall time from typing the command into
 * the outer pty until the marker is drawn there.
 */
import type { Measure } from '../lib/measure.js';
import type { OuterPty } from '../lib/pty.js';
import { hrms } from '../lib/procs.js';
import { barePty, screenKeeper, skipReason, tmuxKeeper, zmxKeeper, type SessionKeeper } from '../lib/terminals.js';

/** Lines `seq` prints per round (2,000,000 is 14.9 MB). */
const SEQ_LINES = 2_000_000;
const SEQ_LINES_QUICK = 200_000;
/** Bytes at the end of the output searched for the marker. */
const MARKER_WINDOW = 4096;
/** A round slower than this has failed. */
const ROUND_TIMEOUT_MS = 180_000;
const ROUND_TIMEOUT_MS_QUICK = 30_000;
/**
 * Copies of the marker line: a client may cut one by drawing something
 * else in its middle (tmux's status line, when the line came in two reads);
 * it cannot cut all of them.
 */
const MARKER_COPIES = 3;
/** Quiet time that counts as "done drawing" between rounds. */
const SETTLE_MS = 150;
const SHELL = 'exec bash --norc --noprofile';
const QUICK_NOTE = `\`seq 1 ${SEQ_LINES_QUICK}\``;

/** Bytes `seq 1 n` prints: every number's digits and a newline. */
export function seqBytes(n: number): number {
  let total = 0;
  for (let digits = 1, lo = 1; lo <= n; digits++, lo *= 10) total += (Math.min(n, lo * 10 - 1) - lo + 1) * (digits + 1);
  return total;
}

export const throughput: Measure = {
  id: 'throughput',
  title: 'Output throughput',
  how: `A pane runs bash; \`seq 1 ${SEQ_LINES.toLocaleString('en')}\` and a marker line (${(seqBytes(SEQ_LINES) / 1e6).toFixed(1)} MB; ${SEQ_LINES_QUICK.toLocaleString('en')} lines with --quick) is typed into the outer pty, and the wall time runs until the marker is drawn in the outer pty's output (the marker is spelled so its echo does not match, and printed ${MARKER_COPIES} times so a status-line redraw in the middle of one copy cannot hide it). The client stays attached throughout; \"seq output rate\" is seq's bytes over the wall time, \"drawn to the terminal\" what the client actually wrote to the outer pty: a multiplexer may skip frames (draw only the latest screen), a raw client passes every byte.`,
  metrics: [
    { key: 'seconds', label: 'wall time', unit: 's' },
    { key: 'mbps', label: 'seq output rate', unit: 'MB/s', ratio: false },
    { key: 'termMB', label: 'drawn to the terminal', unit: 'MB', ratio: false },
  ],
  goals: [
    { id: 'seq-tui', short: `seq 1 ${SEQ_LINES} attached, TUI vs tmux`, quick: QUICK_NOTE, what: `\`seq 1 ${SEQ_LINES}\` attached, TUI vs tmux`, metric: 'seconds', zmx: 'zmx (TUI)', peer: 'tmux', maxRatio: 1.2 },
    { id: 'seq-raw', short: `seq 1 ${SEQ_LINES} attached, raw vs tmux`, quick: QUICK_NOTE, what: `\`seq 1 ${SEQ_LINES}\` attached, \`attach --raw\` vs tmux`, metric: 'seconds', zmx: 'zmx (raw)', peer: 'tmux', maxRatio: 1.2 },
  ],
  contenders(opts) {
    const keepers: SessionKeeper[] = [zmxKeeper('tui'), zmxKeeper('raw'), tmuxKeeper(), screenKeeper(), barePty()];
    const lines = opts.quick ? SEQ_LINES_QUICK : SEQ_LINES;
    return keepers.map((k) => {
      let term: OuterPty;
      return {
        name: k.name,
        zmx: k.zmx,
        skip: skipReason(k, opts.missing),
        async setup(cleanup) {
          await k.start(cleanup);
          await k.newSession('seq', SHELL);
          term = k.attach('seq', cleanup);
          term.write('echo READY-$((6*7))\r');
          await term.waitForText('READY-42', 15_000);
          await term.settle();
        },
        async sample(round) {
          const marker = `SEQDONE${round}x`;
          term.mark();
          const t0 = hrms();
          term.write(`seq 1 ${lines}; printf 'SEQ%s\\n'${` DONE${round}x`.repeat(MARKER_COPIES)}\r`);
          await term.waitForText(marker, opts.quick ? ROUND_TIMEOUT_MS_QUICK : ROUND_TIMEOUT_MS, MARKER_WINDOW);
          const s = (hrms() - t0) / 1000;
          const mb = term.bytes / 1e6;
          // Clear the screen between rounds so the next marker is drawn fresh.
          await term.settle(SETTLE_MS);
          term.write('clear\r');
          await term.settle(SETTLE_MS);
          return { seconds: s, mbps: seqBytes(lines) / 1e6 / s, termMB: mb };
        },
      };
    });
  },
};
