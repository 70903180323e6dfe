/**
 * Copies what an @xterm/headless terminal shows into a rectangle of blessed's
 * `screen.lines`, as extended attrs (style.ts) and the wide-character
 * convention of cells.ts, for the renderer of draw.ts to put on screen.
 *
 * It runs every frame for every visible pane, so it reads cells through one
 * reused IBufferCell, reuses the style of the previous cell when nothing
 * changed, and touches a screen cell (and marks its row dirty) only when its
 * content differs: an unchanged pane costs the read and nothing downstream.
 */
import type { Widgets } from 'blessed';
import type { IBufferCell, Terminal } from '@xterm/headless';
import { CONTINUATION } from './cells.js';
import { screenBuffers } from './draw.js';
import { DEFAULT_COLOR, Flag, RGB_COLOR, type Color, type StyleTable } from './style.js';

export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

export type Highlight = 'match' | 'selection' | null;

export interface BlitOptions {
  /** Lines scrolled up from the bottom (copy mode); clamped to the scrollback there is. */
  scrollback?: number;
  /**
   * Marks cells of copy mode: `row` is the line's index in the buffer
   * (0 = the oldest scrollback line, as buffer.getLine takes it), `col` its column.
   * A selection shows inverted; a match in MATCH_FG on MATCH_BG.
   */
  highlight?: (row: number, col: number) => Highlight;
}

/** Search matches: black on bright yellow, as most terminals and tmux show them. */
const MATCH_FG = 0;
const MATCH_BG = 11;

/** xterm's colour modes as getFgColorMode/getBgColorMode return them (values of its attribute bits). */
const CM_DEFAULT = 0;
const CM_RGB = 0x3000000;

function color(mode: number, value: number): Color {
  if (mode === CM_DEFAULT) return DEFAULT_COLOR;
  return mode === CM_RGB ? RGB_COLOR | value : value;
}

function flagsOf(c: IBufferCell): number {
  let f = 0;
  if (c.isBold()) f |= Flag.BOLD;
  if (c.isUnderline()) f |= Flag.UNDERLINE;
  if (c.isBlink()) f |= Flag.BLINK;
  if (c.isInverse()) f |= Flag.INVERSE;
  if (c.isInvisible()) f |= Flag.INVISIBLE;
  if (c.isDim()) f |= Flag.DIM;
  if (c.isItalic()) f |= Flag.ITALIC;
  if (c.isStrikethrough()) f |= Flag.STRIKETHROUGH;
  return f;
}

/**
 * Blits the terminal's active buffer (its bottom screenful, or `scrollback`
 * lines above it) into `rect` of the screen: clipped to the rect and the
 * screen, blanks where the terminal is smaller than the rect.
 */
export function blitTerminal(screen: Widgets.Screen, styles: StyleTable, term: Terminal, rect: Rect, opts: BlitOptions = {}): void {
  const { lines, dattr } = screenBuffers(screen);
  const buffer = term.buffer.active;
  const cell = buffer.getNullCell();
  const top = buffer.baseY - Math.max(0, Math.min(opts.scrollback ?? 0, buffer.baseY));
  const highlight = opts.highlight;
  const width = Math.min(rect.width, (lines[0]?.length ?? 0) - rect.x);
  const cols = Math.min(width, term.cols);

  // The previous cell's colours and flags, and the attr they interned to.
  let pFgMode = -1, pFg = -1, pBgMode = -1, pBg = -1, pFlags = -1, pAttr = dattr;

  for (let r = 0; r < rect.height; r++) {
    const line = lines[rect.y + r];
    if (!line) break;
    const src = r < term.rows ? buffer.getLine(top + r) : undefined;
    let dirty = false;
    let c = 0;
    if (src) {
      for (; c < cols; c++) {
        src.getCell(c, cell);
        const w = cell.getWidth();
        let ch: string;
        if (w === 0) ch = CONTINUATION;
        else if (w === 2 && c + 1 >= cols) ch = ' '; // its right half is clipped
        else ch = cell.getChars() || ' ';

        const fgMode = cell.getFgColorMode();
        const fg = cell.getFgColor();
        const bgMode = cell.getBgColorMode();
        const bg = cell.getBgColor();
        const flags = flagsOf(cell);
        if (fgMode !== pFgMode || fg !== pFg || bgMode !== pBgMode || bg !== pBg || flags !== pFlags) {
          pFgMode = fgMode; pFg = fg; pBgMode = bgMode; pBg = bg; pFlags = flags;
          // Plain cells take blessed's default attr, so blank pane areas equal a fresh screen's.
          pAttr = fgMode === CM_DEFAULT && bgMode === CM_DEFAULT && flags === 0 ? dattr : styles.intern(color(fgMode, fg), color(bgMode, bg), flags);
        }
        let attr = pAttr;
        if (highlight) {
          const h = highlight(top + r, c);
          if (h === 'selection') attr = styles.intern(color(fgMode, fg), color(bgMode, bg), flags ^ Flag.INVERSE);
          else if (h === 'match') attr = styles.intern(MATCH_FG, MATCH_BG, flags & ~Flag.INVERSE);
        }

        const dst = line[rect.x + c]!;
        if (dst[0] !== attr || dst[1] !== ch) {
          dst[0] = attr;
          dst[1] = ch;
          dirty = true;
        }
      }
    }
    for (; c < width; c++) {
      const dst = line[rect.x + c]!;
      if (dst[0] !== dattr || dst[1] !== ' ') {
        dst[0] = dattr;
        dst[1] = ' ';
        dirty = true;
      }
    }
    if (dirty) line.dirty = true;
  }
}
