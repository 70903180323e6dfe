/**
 * Cell styles beyond what blessed can express, and the SGR that draws them.
 *
 * blessed packs a cell's style in one number, `(flags << 18) | (fg << 9) | bg`
 * (colours 0-255, 0x1ff = default; flags bold, underline, blink, inverse,
 * invisible), so it has no true colour, italic, dim or strikethrough. A pane
 * needs all of those, so its cells carry an *extended* attr instead: a number
 * >= EXTENDED_ATTR_BASE, the index of an interned Style in a StyleTable.
 * blessed's attrs stay below 2^23, so the two never meet, and either kind can
 * sit in `screen.lines` side by side (a pane beside a bordered box).
 */

/** A colour: DEFAULT_COLOR, a palette index 0-255, or RGB_COLOR | 0xRRGGBB. */
export type Color = number;
export const DEFAULT_COLOR = -1;
export const RGB_COLOR = 0x1000000;

/** Style flags. The first five have blessed's bit values, so its flags convert as they are. */
export const Flag = {
  BOLD: 1,
  UNDERLINE: 2,
  BLINK: 4,
  INVERSE: 8,
  INVISIBLE: 16,
  DIM: 32,
  ITALIC: 64,
  STRIKETHROUGH: 128,
} as const;

export interface Style {
  readonly fg: Color;
  readonly bg: Color;
  /** Bits of Flag. */
  readonly flags: number;
}

export const DEFAULT_STYLE: Style = { fg: DEFAULT_COLOR, bg: DEFAULT_COLOR, flags: 0 };

/** Extended attrs are EXTENDED_ATTR_BASE + an index into the StyleTable; far above blessed's 23 bits. */
export const EXTENDED_ATTR_BASE = 2 ** 32;

/**
 * How many distinct styles the table keeps before it starts over. Real
 * screens use tens to a few hundred; a program painting a true-colour
 * gradient could intern one per cell, so the table must not grow forever.
 * Starting over costs one full redraw of the screen.
 */
export const MAX_STYLES = 4096;

/**
 * Interned styles, so a cell's style is one number that compares with `===`
 * (which is how the renderer diffs cells). Bounded: `startFrame()` clears it
 * when it has grown past MAX_STYLES, and bumps `generation` so the renderer
 * knows every extended attr it drew before is stale and redraws everything.
 */
export class StyleTable {
  private styles: Style[] = [];
  /** (fg + 1) * 256 + flags -> bg -> index; two levels because the three together exceed 2^53. */
  private readonly index = new Map<number, Map<number, number>>();
  /** Bumped whenever the table is cleared; attrs from an older generation mean nothing. */
  generation = 0;

  get size(): number {
    return this.styles.length;
  }

  /** The extended attr for a style, interning it if new. */
  intern(fg: Color, bg: Color, flags: number): number {
    const key = (fg + 1) * 256 + flags;
    let byBg = this.index.get(key);
    if (!byBg) this.index.set(key, (byBg = new Map()));
    let i = byBg.get(bg);
    if (i === undefined) {
      i = this.styles.length;
      this.styles.push({ fg, bg, flags });
      byBg.set(bg, i);
    }
    return EXTENDED_ATTR_BASE + i;
  }

  /** The style of an extended attr, or undefined if it is not one of this generation's. */
  get(attr: number): Style | undefined {
    return this.styles[attr - EXTENDED_ATTR_BASE];
  }

  /**
   * Call at a frame's start, before anything interns: clears the table if it
   * outgrew MAX_STYLES. Returns true if it did (every extended attr is stale).
   */
  startFrame(): boolean {
    if (this.styles.length <= MAX_STYLES) return false;
    this.styles = [];
    this.index.clear();
    this.generation++;
    return true;
  }
}

/** blessed's "default colour" value in its 9-bit colour fields. */
const BLESSED_DEFAULT = 0x1ff;

/** The Style of a blessed attr (colours above 255 are blessed's internal defaults). */
export function blessedStyle(attr: number): Style {
  const bg = attr & 0x1ff;
  const fg = (attr >> 9) & 0x1ff;
  return {
    fg: fg === BLESSED_DEFAULT || fg > 255 ? DEFAULT_COLOR : fg,
    bg: bg === BLESSED_DEFAULT || bg > 255 ? DEFAULT_COLOR : bg,
    flags: (attr >> 18) & 0x1f,
  };
}

/** SGR parameters turning each flag on, in Flag bit order. */
const FLAG_ON: ReadonlyArray<readonly [number, string]> = [
  [Flag.BOLD, '1'],
  [Flag.DIM, '2'],
  [Flag.ITALIC, '3'],
  [Flag.UNDERLINE, '4'],
  [Flag.BLINK, '5'],
  [Flag.INVERSE, '7'],
  [Flag.INVISIBLE, '8'],
  [Flag.STRIKETHROUGH, '9'],
];

function colorParams(c: Color, background: boolean, trueColor: boolean): string {
  if (c === DEFAULT_COLOR) return background ? '49' : '39';
  if (c >= RGB_COLOR) {
    const rgb = c - RGB_COLOR;
    if (!trueColor) return colorParams(rgbTo256(rgb), background, trueColor);
    return `${background ? 48 : 38};2;${(rgb >> 16) & 0xff};${(rgb >> 8) & 0xff};${rgb & 0xff}`;
  }
  if (c < 8) return String((background ? 40 : 30) + c);
  if (c < 16) return String((background ? 100 : 90) + c - 8);
  return `${background ? 48 : 38};5;${c}`;
}

/**
 * The shortest simple SGR taking the terminal from style `from` to `to`:
 * nothing if they are equal, only the added flags and changed colours if no
 * flag goes off, else a reset followed by all of `to`. ('' when equal.)
 */
export function sgr(from: Style, to: Style, trueColor = true): string {
  if (from === to) return '';
  const params: string[] = [];
  let added = to.flags & ~from.flags;
  let { fg, bg } = from;
  if (from.flags & ~to.flags) {
    params.push('0');
    added = to.flags;
    fg = bg = DEFAULT_COLOR;
  }
  for (const [bit, p] of FLAG_ON) if (added & bit) params.push(p);
  if (to.fg !== fg) params.push(colorParams(to.fg, false, trueColor));
  if (to.bg !== bg) params.push(colorParams(to.bg, true, trueColor));
  return params.length ? `\x1b[${params.join(';')}m` : '';
}

/** The nearest colour of xterm's 6x6x6 cube or grey ramp, for terminals without true colour. */
export function rgbTo256(rgb: number): number {
  const r = (rgb >> 16) & 0xff;
  const g = (rgb >> 8) & 0xff;
  const b = rgb & 0xff;
  const level = (v: number): number => (v < 48 ? 0 : v < 115 ? 1 : Math.floor((v - 35) / 40));
  const steps = [0, 95, 135, 175, 215, 255];
  const [lr, lg, lb] = [level(r), level(g), level(b)];
  const cube = 16 + 36 * lr + 6 * lg + lb;
  const dist = (x: number, y: number, z: number): number => (x - r) ** 2 + (y - g) ** 2 + (z - b) ** 2;
  const cubeDist = dist(steps[lr]!, steps[lg]!, steps[lb]!);
  const greyIndex = Math.min(23, Math.max(0, Math.round(((r + g + b) / 3 - 8) / 10)));
  const grey = 8 + 10 * greyIndex;
  return dist(grey, grey, grey) < cubeDist ? 232 + greyIndex : cube;
}
