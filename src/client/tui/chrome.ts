/**
 * The client's own cells — borders, titles, status bar — styled by the
 * theme, as extended attrs of the renderer's style table (so a theme's
 * `#rrggbb` stays true colour).
 */
import { ANSI_COLOURS, type Colour, type Style as ThemeStyle, type Theme, type ThemePart } from '../../common/theme.js';
import { DEFAULT_COLOR, Flag, RGB_COLOR, type StyleTable } from './style.js';

function colour(c: Colour | undefined): number {
  if (c === undefined || c === 'default') return DEFAULT_COLOR;
  if (typeof c === 'number') return c;
  if (c.startsWith('#')) return RGB_COLOR | parseInt(c.slice(1), 16);
  return (ANSI_COLOURS as readonly string[]).indexOf(c);
}

function flags(s: ThemeStyle): number {
  return (s.bold ? Flag.BOLD : 0) | (s.italic ? Flag.ITALIC : 0) | (s.underline ? Flag.UNDERLINE : 0) | (s.inverse ? Flag.INVERSE : 0);
}

/** The attr of a theme part, interned in this frame's table. */
export function chromeAttr(styles: StyleTable, theme: Theme, part: ThemePart): number {
  const s = theme[part];
  return styles.intern(colour(s.fg), colour(s.bg), flags(s));
}

/** A theme style as blessed widgets take it (the help box). */
export function blessedStyle(s: ThemeStyle): { fg?: string | number; bg?: string | number; bold?: boolean; inverse?: boolean } {
  const c = (v: Colour | undefined) => (v === undefined || v === 'default' ? undefined : typeof v === 'number' ? v : v.startsWith('#') ? v : (ANSI_COLOURS as readonly string[]).indexOf(v));
  const out: { fg?: string | number; bg?: string | number; bold?: boolean; inverse?: boolean } = {};
  const fg = c(s.fg);
  const bg = c(s.bg);
  if (fg !== undefined) out.fg = fg;
  if (bg !== undefined) out.bg = bg;
  if (s.bold) out.bold = true;
  if (s.inverse) out.inverse = true;
  return out;
}
