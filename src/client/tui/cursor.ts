/**
 * The real terminal cursor for the active pane: where its program left it,
 * in the shape it asked for (DECSCUSR) and shown or hidden (DECTCEM).
 *
 * xterm's public API has neither the shape a program set nor whether it hid
 * the cursor (`term.options.cursorStyle` is the embedder's setting, which
 * DECSCUSR does not change; IModes has no DECTCEM), so both are read from its
 * core, as the pty host's snapshots do (src/ptyhost/pane.ts); if a newer
 * xterm moves them, the cursor degrades to visible in the user's default shape.
 */
import type { Terminal } from '@xterm/headless';
import type { Rect } from './blit.js';

export type CursorShape = 'block' | 'underline' | 'bar';

export interface CursorState {
  /** Column and row in the terminal's screen (not counting scrollback). */
  x: number;
  y: number;
  /** The terminal's width: x equals it while a wrap is pending at the right margin. */
  cols: number;
  visible: boolean;
  /** undefined: the program never chose, so the user's own default applies. */
  shape: CursorShape | undefined;
  blink: boolean;
}

/** The parts of xterm's private core holding cursor state. */
interface XtermCore {
  coreService?: { isCursorHidden?: boolean; decPrivateModes?: { cursorStyle?: CursorShape; cursorBlink?: boolean } };
}

export function cursorState(term: Terminal): CursorState {
  const core = (term as unknown as { _core?: XtermCore })._core?.coreService;
  const buffer = term.buffer.active;
  return {
    x: buffer.cursorX,
    y: buffer.cursorY,
    cols: term.cols,
    visible: !core?.isCursorHidden,
    shape: core?.decPrivateModes?.cursorStyle,
    blink: !!core?.decPrivateModes?.cursorBlink,
  };
}

const HIDE = '\x1b[?25l';
const SHOW = '\x1b[?25h';

/** DECSCUSR's parameter: 0 = the terminal's default, then blinking/steady pairs per shape. */
function decscusr(shape: CursorShape | undefined, blink: boolean): number {
  if (!shape) return 0;
  const base = { block: 1, underline: 3, bar: 5 }[shape];
  return blink ? base : base + 1;
}

/**
 * The escape sequence that puts the real cursor where the pane's is, with its
 * shape, or hides it: when the program hid it, when the pane is not shown
 * whole there (scrolled back by `scrollback` lines in copy mode, or the
 * cursor clipped out of `rect`). Call after each render, or give it to
 * installExtendedDraw's `cursor` option so it ends every frame.
 */
export function cursorSequence(state: CursorState, rect: Rect, scrollback = 0): string {
  // With a wrap pending at the right margin x = cols, and the cursor shows on the last column.
  const x = Math.min(state.x, state.cols - 1);
  const y = state.y + scrollback;
  if (!state.visible || x < 0 || x >= rect.width || y >= rect.height) return HIDE;
  return `\x1b[${rect.y + y + 1};${rect.x + x + 1}H\x1b[${decscusr(state.shape, state.blink)} q${SHOW}`;
}
