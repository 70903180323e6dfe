/**
 * A renderer for blessed's Screen that draws what a terminal program drew:
 * true colour, italic, dim and strikethrough as well as blessed's own styles,
 * and wide characters by the continuation convention of cells.ts.
 *
 * It replaces the screen's `draw(start, end)`, which blessed's `render()`
 * calls after the widgets have painted `screen.lines`. Like blessed's, it
 * compares each dirty line cell by cell with `screen.olines` (what the
 * terminal shows) and writes only the cells that differ, moving the cursor
 * over the rest; unlike blessed's, it keeps the SGR state across cells and
 * lines and changes only what differs. It assumes an ANSI terminal in UTF-8
 * (no terminfo lookups, no ACS, no BCE), and has no artificial cursor.
 */
import type { Widgets } from 'blessed';
import { isContinuation, isSurelyWide, mayBeWide } from './cells.js';
import { DEFAULT_COLOR, DEFAULT_STYLE, EXTENDED_ATTR_BASE, StyleTable, blessedStyle, sgr, type Style } from './style.js';

/** One cell of blessed's screen buffers: [attr, ch]. */
export type Cell = [number, string];
/** A row of `screen.lines`; blessed draws only rows marked dirty. */
export type ScreenLine = Cell[] & { dirty?: boolean };

/** The parts of blessed's Screen the renderer uses, which @types/blessed leaves out. */
export interface ScreenBuffers {
  lines: ScreenLine[];
  olines: Cell[][];
  /** The default attr (default colours, no flags): what blank cells hold. */
  dattr: number;
}
interface ScreenInternals extends ScreenBuffers {
  /** Output blessed queued for the next draw (e.g. from program calls made while buffering). */
  _buf: string;
  draw(start: number, end: number): void;
  program: { cursorHidden?: boolean; _write(data: string): unknown };
}

export function screenBuffers(screen: Widgets.Screen): ScreenBuffers {
  return screen as unknown as ScreenBuffers;
}

export interface DrawOptions {
  /** Emit 24-bit colour as is (default); false maps it to the nearest of the 256 colours. */
  trueColor?: boolean;
  /**
   * The escape sequence placing the real cursor after a frame (cursorSequence
   * of cursor.ts). When given, every frame ends with it inside the same write
   * (instead of blessed's saved cursor), and a frame is written when only the
   * cursor moved.
   */
  cursor?: () => string;
}

/**
 * Wrap each frame in synchronized output (DEC mode 2026): terminals that know
 * it show the frame at once instead of mid-way; the rest ignore it.
 */
const SYNCHRONIZED_OUTPUT = true;
/**
 * After a wide character, place the next character with an absolute cursor
 * move instead of trusting the terminal to have advanced two columns: its
 * idea of a character's width (Unicode version, emoji presentation) may
 * differ from ours, and one disagreement would shift the rest of the line.
 */
const CUP_AFTER_WIDE = true;

const SAVE_CURSOR = '\x1b7';
const RESTORE_CURSOR = '\x1b8';
const HIDE_CURSOR = '\x1b[?25l';
const SHOW_CURSOR = '\x1b[?25h';
const SYNC_BEGIN = '\x1b[?2026h';
const SYNC_END = '\x1b[?2026l';
const RESET = '\x1b[m';

const cup = (y: number, x: number): string => `\x1b[${y + 1};${x + 1}H`;
const cuf = (n: number): string => (n === 1 ? '\x1b[C' : `\x1b[${n}C`);

/**
 * Installs the renderer on a screen and returns the table its extended attrs
 * index. Pass that table to blitTerminal. The table is checked at every
 * render's start ('prerender') and cleared if it outgrew MAX_STYLES, after
 * which the next draw repaints everything.
 */
export function installExtendedDraw(screen: Widgets.Screen, options: DrawOptions = {}): StyleTable {
  const s = screen as unknown as ScreenInternals;
  const styles = new StyleTable();
  const trueColor = options.trueColor ?? true;
  const blessedStyles = new Map<number, Style>();
  let drawnGeneration = styles.generation;
  /** The cursor sequence the last frame ended with, so an unmoved cursor is not rewritten. */
  let lastCursor: string | undefined;

  screen.on('prerender', () => styles.startFrame());

  const styleOf = (attr: number): Style => {
    if (attr >= EXTENDED_ATTR_BASE) return styles.get(attr) ?? DEFAULT_STYLE;
    let st = blessedStyles.get(attr);
    if (!st) blessedStyles.set(attr, (st = blessedStyle(attr)));
    return st;
  };

  s.draw = function draw(start: number, end: number): void {
    let out = s._buf;
    s._buf = '';
    // After the table was cleared, attrs in olines may name other styles now: repaint all.
    const full = styles.generation !== drawnGeneration;
    drawnGeneration = styles.generation;
    let curAttr = s.dattr;
    let cur = DEFAULT_STYLE;

    for (let y = start; y <= end; y++) {
      const line = s.lines[y];
      const o = s.olines[y];
      if (!line || !o || !(line.dirty || full)) continue;
      line.dirty = false;
      if (full) for (const cell of o) cell[0] = -1;
      const n = Math.min(line.length, o.length);
      /** Where the terminal's cursor is on this row, or -1 if not known. */
      let cx = -1;
      /** The terminal lost what it showed at x (a wide character we overwrote spanned it). */
      let forceNext = false;

      for (let x = 0; x < n; x++) {
        const cell = line[x]!;
        const ocell = o[x]!;
        const attr = cell[0];
        let ch = cell[1];
        const next = x + 1 < n ? line[x + 1] : undefined;
        const onext = x + 1 < n ? o[x + 1] : undefined;
        const nextCont = next !== undefined && isContinuation(next[1]);
        const onextCont = onext !== undefined && isContinuation(onext[1]);

        // The common case first: the same cell, followed by a marker in both or neither.
        if (!forceNext && attr === ocell[0] && ch === ocell[1] && nextCont === onextCont) {
          if (nextCont && mayBeWide(ch)) {
            onext![0] = next![0];
            onext![1] = next![1];
            x++;
          }
          continue;
        }
        const wide = nextCont && mayBeWide(ch);
        const owide = onextCont && mayBeWide(ocell[1]);

        // Writing over part of a wide character blanks its other half too.
        forceNext = wide ? x + 2 < n && isContinuation(o[x + 2]![1]) : owide;

        if (cx !== x) out += cx >= 0 && x > cx ? cuf(x - cx) : cup(y, x);
        if (attr !== curAttr) {
          const st = styleOf(attr);
          out += sgr(cur, st, trueColor);
          cur = st;
          curAttr = attr;
        }
        ocell[0] = attr;
        ocell[1] = ch;

        if (wide) {
          onext![0] = next![0];
          onext![1] = next![1];
          out += ch;
          x++;
          cx = CUP_AFTER_WIDE ? -1 : x + 1;
          continue;
        }
        // An orphan marker shows as a blank; a wide character with no room is dropped.
        if (isContinuation(ch) || (x === n - 1 && isSurelyWide(ch))) ch = ' ';
        out += ch;
        cx = mayBeWide(ch) ? -1 : x + 1;
      }
    }

    const cursor = options.cursor?.();
    if (!out && (cursor === undefined || cursor === lastCursor)) return;
    if (cur.flags !== 0 || cur.fg !== DEFAULT_COLOR || cur.bg !== DEFAULT_COLOR) out += RESET;
    let pre: string;
    let post: string;
    if (cursor !== undefined) {
      lastCursor = cursor;
      pre = out ? HIDE_CURSOR : '';
      post = cursor;
    } else {
      pre = SAVE_CURSOR;
      post = RESTORE_CURSOR;
      if (!s.program.cursorHidden) {
        pre += HIDE_CURSOR;
        post += SHOW_CURSOR;
      }
    }
    if (SYNCHRONIZED_OUTPUT && out) {
      pre = SYNC_BEGIN + pre;
      post += SYNC_END;
    }
    s.program._write(pre + out + post);
  };

  return styles;
}
